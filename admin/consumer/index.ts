/**
 * The audit Queue consumer: validates each metadata event, prices it and stores the batch with one
 * multi-row INSERT … ON CONFLICT (id) DO NOTHING — at-least-once delivery, exactly-once storage
 * (DESIGN §4.6). A failed batch is retried with exponential backoff; after max_retries the Queue
 * moves it to the dead-letter queue, whose consumer tries once more and logs what still fails.
 */
import { auditEventSchema, type AuditEvent } from '../../lib/audit/event';
import { closePool, openDatabase } from '../db/client';
import { auditEvents } from '../db/schema';
import { log } from '../../lib/log';
import type { AdminEnv } from '../env';
import { priceEvent } from '../pricing';

export function toAuditRow(event: AuditEvent): typeof auditEvents.$inferInsert {
  const cost = priceEvent(event);
  return {
    ...event,
    started_at: new Date(event.started_at),
    finished_at: new Date(event.finished_at),
    latency_ms: Math.round(event.latency_ms),
    ttfb_ms: event.ttfb_ms === null ? null : Math.round(event.ttfb_ms),
    cost_usd: cost === null ? null : cost.toFixed(10),
  };
}

export function backoffSeconds(attempts: number): number {
  return Math.min(300, 2 ** Math.max(0, attempts - 1));
}

export async function storeBatch(batch: MessageBatch<unknown>, env: AdminEnv, ctx: ExecutionContext): Promise<void> {
  const valid: Array<{ msg: Message<unknown>; row: typeof auditEvents.$inferInsert }> = [];
  for (const msg of batch.messages) {
    const parsed = auditEventSchema.safeParse(msg.body);
    if (parsed.success) valid.push({ msg, row: toAuditRow(parsed.data) });
    else {
      // A malformed event can never succeed: drop it (acknowledged) rather than poison the batch.
      log('error', 'audit event rejected', { queue: batch.queue, message_id: msg.id, issue: parsed.error.issues[0]?.message });
      msg.ack();
    }
  }
  if (valid.length === 0) return;

  const { db, pool } = openDatabase(env);
  try {
    await db.insert(auditEvents).values(valid.map((v) => v.row)).onConflictDoNothing({ target: auditEvents.id });
    for (const v of valid) v.msg.ack();
    log('info', 'audit batch stored', { queue: batch.queue, size: valid.length });
  } catch (e) {
    const attempts = Math.max(...valid.map((v) => v.msg.attempts));
    log('warn', 'audit batch not stored; will retry', {
      queue: batch.queue,
      size: valid.length,
      attempts,
      reason: e instanceof Error ? e.message : String(e),
    });
    for (const v of valid) v.msg.retry({ delaySeconds: backoffSeconds(v.msg.attempts) });
  } finally {
    ctx.waitUntil(closePool(pool));
  }
}
