/**
 * The audit Queue consumer, for `routero-audit` and its dead-letter queue alike: validates each
 * metadata event, prices it and stores the batch with one multi-row INSERT … ON CONFLICT (id) DO
 * NOTHING — at-least-once delivery, exactly-once storage (DESIGN §4.6).
 *
 * One bad value must never cost other events:
 * - an event that fails the strict schema is salvaged (bad fields cleaned or nulled) and stored, or
 *   set aside in `audit_quarantine` when it lacks what a row needs — never acknowledged and lost;
 * - when Postgres refuses the multi-row insert for a data error (SQLSTATE class 22/23/54), the rows
 *   are inserted one by one and acknowledged at once; a refused row is stored again with its
 *   nullable fields nulled, and set aside in the quarantine only if even that is refused;
 * - only a failure that may pass (connection down, timeout) retries the messages not yet stored,
 *   with exponential backoff. After `max_retries` the Queue moves them to the dead-letter queue,
 *   whose consumer runs this same code: data problems never reach it, and what it cannot store
 *   while the database stays down is retried until its own `max_retries`, then logged as lost
 *   with every request id (there is no queue after it).
 */
import { uuidv7 } from '../../lib/crypto/encoding';
import { auditEventSchema, type AuditEvent } from '../../lib/audit/event';
import { closePool, openDatabase, type Database } from '../db/client';
import { auditEvents, auditQuarantine } from '../db/schema';
import { alert, log } from '../../lib/log';
import type { AdminEnv } from '../env';
import { priceEvent } from '../pricing';
import { publishPrices, settleCosts } from '../limits';
import { enqueueAlerts } from '../webhooks';
import { describeDbError, isDataError, sqlState } from './db-errors';
import { quarantineRecord, requestIdOf, salvageEvent } from './salvage';

type AuditRow = typeof auditEvents.$inferInsert;

/** numeric(20,10) holds less than 10^10: a larger price is not a price. */
const MAX_COST_USD = 1e10;

/** Must match `max_retries` of `routero-audit-dlq` in admin/wrangler.toml. */
export const DLQ_MAX_RETRIES = 50;
export const DEAD_LETTER_QUEUE = 'routero-audit-dlq';

export function toAuditRow(event: AuditEvent): AuditRow {
  const cost = priceEvent(event);
  const attempts = event.attempts ?? [];
  return {
    ...event,
    reasoning_tokens: event.reasoning_tokens ?? null,
    route: event.route ?? null,
    attempts,
    attempt_count: attempts.length,
    started_at: new Date(event.started_at),
    finished_at: new Date(event.finished_at),
    latency_ms: Math.round(event.latency_ms),
    ttfb_ms: event.ttfb_ms === null ? null : Math.round(event.ttfb_ms),
    cost_usd: cost === null || !Number.isFinite(cost) || cost < 0 || cost >= MAX_COST_USD ? null : cost.toFixed(10),
  };
}

/**
 * The last resort for a row Postgres refused: every nullable field nulled, the times replaced by
 * the queue message's timestamp. What is left (id, endpoint, stream, status, latency) still records
 * that the request happened.
 */
export function minimalRow(row: AuditRow, receivedAt: Date): AuditRow {
  return {
    id: row.id,
    request_id: row.id,
    started_at: receivedAt,
    finished_at: receivedAt,
    org_id: null,
    key_id: null,
    provider: null,
    model: null,
    endpoint: row.endpoint,
    stream: row.stream,
    status: row.status,
    error_type: null,
    input_tokens: null,
    output_tokens: null,
    cache_read_tokens: null,
    cache_write_tokens: null,
    cost_usd: null,
    latency_ms: row.latency_ms,
    ttfb_ms: null,
    reasoning_tokens: null,
    route: null,
    attempt_count: 0,
    attempts: [],
  };
}

export function backoffSeconds(attempts: number): number {
  return Math.min(300, 2 ** Math.max(0, attempts - 1));
}

/** One queue message on its way to a row, or to the quarantine with the reason. */
export type Pending =
  | { msg: Message<unknown>; row: AuditRow }
  | { msg: Message<unknown>; quarantine: { reason: string; requestId: string | null; raw: Record<string, unknown> } };

export function prepare(msg: Message<unknown>, queue: string): Pending {
  try {
    return classify(msg, queue);
  } catch (e) {
    // A bug here must not cost the message either: set it aside with the reason.
    const reason = `consumer error: ${e instanceof Error ? e.message : String(e)}`;
    return { msg, quarantine: { reason, requestId: requestIdOf(msg.body), raw: quarantineRecord(msg.body) } };
  }
}

function classify(msg: Message<unknown>, queue: string): Pending {
  const strict = auditEventSchema.safeParse(msg.body);
  if (strict.success) return { msg, row: toAuditRow(strict.data) };
  const issue = strict.error.issues[0];
  const why = `schema: ${issue?.path.join('.') || 'event'}: ${issue?.message ?? 'invalid'}`;
  const salvaged = salvageEvent(msg.body, msg.timestamp);
  if (salvaged.ok) {
    log('warn', 'audit event salvaged', { queue, request_id: salvaged.event.request_id, message_id: msg.id, repaired: salvaged.repaired, issue: why });
    return { msg, row: toAuditRow(salvaged.event) };
  }
  return { msg, quarantine: { reason: `${why}; ${salvaged.reason}`, requestId: requestIdOf(msg.body), raw: quarantineRecord(msg.body) } };
}

export async function storeBatch(batch: MessageBatch<unknown>, env: AdminEnv, ctx: ExecutionContext): Promise<void> {
  // Anything on the dead-letter queue failed 10 deliveries: an operator must look (README "Alerts").
  if (batch.queue === DEAD_LETTER_QUEUE && batch.messages.length > 0) {
    alert('audit_dlq_growth', 'audit events reached the dead-letter queue', { messages: batch.messages.length, max_attempts: Math.max(...batch.messages.map((m) => m.attempts)) });
  }
  const items = batch.messages.map((msg) => prepare(msg, batch.queue));
  const { db, pool } = openDatabase(env);
  try {
    await storePending(db, batch.queue, items);
    await settleBudgets(env, db, items);
  } finally {
    ctx.waitUntil(closePool(pool));
  }
}

/**
 * After the batch is stored: publishes the prices of the models it names (the gateway's cost
 * estimates), settles each priced event's cost into its key's budget counters, and queues the
 * alerts that crossed a threshold. A failure here is logged, not retried: the gateway already
 * settled each request's cost from the published prices, and this only refines it.
 */
async function settleBudgets(env: AdminEnv, db: Database, items: Pending[]): Promise<void> {
  const rows = items.flatMap((i) => ('row' in i ? [i.row] : []));
  try {
    const models = [...new Set(rows.map((r) => r.model).filter((m): m is string => typeof m === 'string'))];
    if (models.length > 0) await publishPrices(env.ROUTERO_KV, models);
    const priced = rows
      .filter((r) => r.cost_usd !== null && r.cost_usd !== undefined && r.key_id)
      .map((r) => ({ id: r.id, key_id: r.key_id ?? null, org_id: r.org_id ?? null, started_at: (r.started_at as Date).toISOString(), cost: Number(r.cost_usd) }));
    if (priced.length === 0) return;
    const crossed = await settleCosts(env, db, priced);
    if (crossed.length > 0) await enqueueAlerts(env, db, crossed);
  } catch (e) {
    log('error', 'budget settlement of a stored batch failed', { size: rows.length, reason: e instanceof Error ? e.message : String(e) });
  }
}

/**
 * Stores rows and quarantines, acknowledging each message as soon as it is safe in Postgres.
 * Exported for the tests that run it against a real Postgres.
 */
export async function storePending(db: Database, queue: string, items: Pending[]): Promise<void> {
  const done = new Set<Message<unknown>>();
  const ack = (msg: Message<unknown>) => {
    msg.ack();
    done.add(msg);
  };
  try {
    const rows = items.filter((i): i is Extract<Pending, { row: AuditRow }> => 'row' in i);
    if (rows.length > 0) {
      try {
        await insertEvents(db, rows.map((r) => r.row));
        for (const r of rows) ack(r.msg);
        log('info', 'audit batch stored', { queue, size: rows.length });
      } catch (e) {
        if (!isDataError(e)) throw e;
        log('warn', 'audit batch refused by Postgres; storing row by row', { queue, size: rows.length, reason: describeDbError(e) });
        for (const r of rows) await storeOne(db, queue, r, ack);
      }
    }
    for (const item of items) {
      if ('quarantine' in item) await setAside(db, queue, item.msg, item.quarantine, ack);
    }
  } catch (e) {
    retryRest(queue, items, done, e);
  }
}

async function insertEvents(db: Database, rows: AuditRow[]): Promise<void> {
  await db.insert(auditEvents).values(rows).onConflictDoNothing({ target: [auditEvents.started_at, auditEvents.id] });
}

/** One row: as built, else minimal, else quarantined. A failure that may pass is thrown. */
async function storeOne(db: Database, queue: string, item: { msg: Message<unknown>; row: AuditRow }, ack: (m: Message<unknown>) => void): Promise<void> {
  const { msg, row } = item;
  try {
    await insertEvents(db, [row]);
    ack(msg);
    return;
  } catch (e) {
    if (!isDataError(e)) throw e;
    const reason = describeDbError(e);
    try {
      await insertEvents(db, [minimalRow(row, msg.timestamp)]);
      ack(msg);
      log('warn', 'audit event stored with its refused fields nulled', { queue, request_id: row.request_id, reason });
      return;
    } catch (e2) {
      if (!isDataError(e2)) throw e2;
      await setAside(db, queue, msg, { reason: `postgres refused the row: ${reason}`, requestId: row.request_id, raw: quarantineRecord(msg.body) }, ack);
    }
  }
}

async function setAside(
  db: Database,
  queue: string,
  msg: Message<unknown>,
  q: { reason: string; requestId: string | null; raw: Record<string, unknown> },
  ack: (m: Message<unknown>) => void,
): Promise<void> {
  const base = { id: uuidv7(), message_key: `${queue}:${msg.id}`, request_id: q.requestId, queue, reason: q.reason.slice(0, 1000) };
  try {
    await db.insert(auditQuarantine).values({ ...base, raw: q.raw }).onConflictDoNothing({ target: auditQuarantine.message_key });
  } catch (e) {
    if (!isDataError(e)) throw e;
    // The cleaned record itself was refused: keep the row without it rather than lose the trace.
    await db
      .insert(auditQuarantine)
      .values({ ...base, reason: `${base.reason}; raw refused: SQLSTATE ${sqlState(e)}`.slice(0, 1000), raw: null })
      .onConflictDoNothing({ target: auditQuarantine.message_key });
  }
  ack(msg);
  log('error', 'audit event quarantined', { queue, request_id: q.requestId, message_id: msg.id, reason: q.reason });
}

function retryRest(queue: string, items: Pending[], done: Set<Message<unknown>>, e: unknown): void {
  const rest = items.filter((i) => !done.has(i.msg));
  if (rest.length === 0) return;
  const attempts = Math.max(...rest.map((i) => i.msg.attempts));
  const requestIds = rest.map((i) => ('row' in i ? i.row.request_id : i.quarantine.requestId));
  const lastTry = queue === DEAD_LETTER_QUEUE && attempts >= DLQ_MAX_RETRIES;
  log(lastTry ? 'error' : 'warn', lastTry ? 'audit events lost: the database stayed unreachable through every retry' : 'audit events not stored; will retry', {
    queue,
    size: rest.length,
    attempts,
    request_ids: requestIds,
    reason: describeDbError(e),
  });
  for (const i of rest) i.msg.retry({ delaySeconds: backoffSeconds(i.msg.attempts) });
}
