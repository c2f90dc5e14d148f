/** Read-only reports over the audit store and the admin audit log (no content: there is none). */
import { and, desc, eq, gte, lt, or, sql, type SQL } from 'drizzle-orm';
import type { z } from 'zod';
import type { Database } from './db/client';
import { adminAuditLog, auditEvents, virtualKeys } from './db/schema';
import { GatewayError } from '../lib/errors';
import type { AttrColumns } from './auth/plan';
import type { auditLogQuerySchema, eventsQuerySchema, usageQuerySchema } from './schemas';

/**
 * A request counts as an error when it was answered with a 4xx/5xx, and also when a 200 stream
 * failed inside (`upstream_error:<type>`), ended without its end marker (`incomplete`), or was cut
 * off (a 499 from the client already counts by status): the client did not get a whole answer.
 */
const failedRequest = sql`(${auditEvents.status} >= 400 or ${auditEvents.error_type} is not null)`;

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

const toNumber = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));

/**
 * What the policy's query plan may refer to, for events and usage: the event's organisation, and
 * the owner of the key that made the request (developers see their own keys' traffic).
 */
export const eventVisibility: AttrColumns = {
  org_id: auditEvents.org_id,
  owner_user_id: sql`(select ${virtualKeys.owner_user_id} from ${virtualKeys} where ${virtualKeys.id} = ${auditEvents.key_id})`,
};

/** For the admin audit log: the organisation each action concerned. */
export const auditVisibility: AttrColumns = { org_id: adminAuditLog.org_id };

function rangeFilters(q: { org_id?: string; from?: string; to?: string }, allowed?: SQL): SQL[] {
  const filters: SQL[] = allowed ? [allowed] : [];
  if (q.org_id) filters.push(eq(auditEvents.org_id, q.org_id));
  if (q.from) filters.push(gte(auditEvents.started_at, new Date(q.from)));
  if (q.to) filters.push(lt(auditEvents.started_at, new Date(q.to)));
  return filters;
}

export async function usageSummary(db: Database, q: z.infer<typeof usageQuerySchema>, allowed: SQL | undefined) {
  const group =
    q.group_by === 'model' ? sql<string>`coalesce(${auditEvents.model}, '(none)')`
    : q.group_by === 'key' ? sql<string>`coalesce(${auditEvents.key_id}, '(none)')`
    : sql<string>`to_char(date_trunc('day', ${auditEvents.started_at} at time zone 'UTC'), 'YYYY-MM-DD')`;
  const rows = await db
    .select({
      group,
      requests: sql<number>`count(*)::int`,
      errors: sql<number>`(count(*) filter (where ${failedRequest}))::int`,
      input_tokens: sql<number>`coalesce(sum(${auditEvents.input_tokens}), 0)::bigint`,
      output_tokens: sql<number>`coalesce(sum(${auditEvents.output_tokens}), 0)::bigint`,
      cost_usd: sql<string | null>`sum(${auditEvents.cost_usd})`,
      unpriced_requests: sql<number>`(count(*) filter (where ${auditEvents.cost_usd} is null))::int`,
    })
    .from(auditEvents)
    .where(and(...rangeFilters(q, allowed)))
    .groupBy(group)
    .orderBy(group);
  return rows.map((r) => ({
    [q.group_by]: r.group,
    requests: Number(r.requests),
    errors: Number(r.errors),
    input_tokens: Number(r.input_tokens),
    output_tokens: Number(r.output_tokens),
    cost_usd: toNumber(r.cost_usd),
    unpriced_requests: Number(r.unpriced_requests),
  }));
}

/** Cursor = "<started_at ISO>|<id>" of the last row of the previous page, base64url-encoded. */
export function encodeCursor(startedAt: Date, id: string): string {
  return btoa(`${startedAt.toISOString()}|${id}`).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

function decodeCursor(cursor: string): { at: Date; id: string } {
  try {
    const [at, id] = atob(cursor.replace(/-/g, '+').replace(/_/g, '/')).split('|');
    const date = new Date(at!);
    // A forged cursor must be a 400, not a database error: check both parts before using them.
    if (!id || !UUID_RE.test(id) || Number.isNaN(date.getTime()) || date.getUTCFullYear() < 1970 || date.getUTCFullYear() > 9999) throw new Error('bad');
    return { at: date, id };
  } catch {
    throw new GatewayError('invalid_request', "Invalid request: 'cursor': is not a cursor from a previous page", { param: 'cursor' });
  }
}

export async function listEvents(db: Database, q: z.infer<typeof eventsQuerySchema>, allowed: SQL | undefined) {
  const filters = rangeFilters(q, allowed);
  if (q.key_id) filters.push(eq(auditEvents.key_id, q.key_id));
  if (q.model) filters.push(eq(auditEvents.model, q.model));
  if (q.status !== undefined) filters.push(eq(auditEvents.status, q.status));
  if (q.cursor) {
    const c = decodeCursor(q.cursor);
    filters.push(or(lt(auditEvents.started_at, c.at), and(eq(auditEvents.started_at, c.at), lt(auditEvents.id, c.id)))!);
  }
  const rows = await db
    .select()
    .from(auditEvents)
    .where(and(...filters))
    .orderBy(desc(auditEvents.started_at), desc(auditEvents.id))
    .limit(q.limit + 1);
  const page = rows.slice(0, q.limit);
  const last = page.at(-1);
  return {
    data: page.map((r) => ({ ...r, cost_usd: toNumber(r.cost_usd) })),
    next_cursor: rows.length > q.limit && last ? encodeCursor(last.started_at, last.id) : null,
  };
}

export interface OverviewBucket {
  bucket: string;
  requests: number;
  errors: number;
  tokens: number;
  cost_usd: number;
  p50_ms: number | null;
  p95_ms: number | null;
}

/** Time series for the overview charts: requests, errors, tokens, spend, latency p50/p95. */
export async function overviewSeries(db: Database, from: Date, to: Date, bucket: 'hour' | 'day', allowed: SQL | undefined): Promise<OverviewBucket[]> {
  const b = bucket === 'hour' ? sql.raw(`'hour'`) : sql.raw(`'day'`);
  const rows = await db
    .select({
      bucket: sql<string>`to_char(date_trunc(${b}, ${auditEvents.started_at} at time zone 'UTC'), 'YYYY-MM-DD"T"HH24:00')`,
      requests: sql<number>`count(*)::int`,
      errors: sql<number>`(count(*) filter (where ${failedRequest}))::int`,
      tokens: sql<number>`coalesce(sum(coalesce(${auditEvents.input_tokens}, 0) + coalesce(${auditEvents.output_tokens}, 0)), 0)::bigint`,
      cost_usd: sql<string>`coalesce(sum(${auditEvents.cost_usd}), 0)`,
      p50_ms: sql<number | null>`percentile_cont(0.5) within group (order by ${auditEvents.latency_ms})`,
      p95_ms: sql<number | null>`percentile_cont(0.95) within group (order by ${auditEvents.latency_ms})`,
    })
    .from(auditEvents)
    .where(and(allowed, gte(auditEvents.started_at, from), lt(auditEvents.started_at, to)))
    .groupBy(sql`1`)
    .orderBy(sql`1`);
  return rows.map((r) => ({
    bucket: r.bucket,
    requests: Number(r.requests),
    errors: Number(r.errors),
    tokens: Number(r.tokens),
    cost_usd: Number(r.cost_usd),
    p50_ms: toNumber(r.p50_ms),
    p95_ms: toNumber(r.p95_ms),
  }));
}

export async function topBy(db: Database, from: Date, to: Date, by: 'model' | 'key', allowed: SQL | undefined, limit = 5) {
  const col = by === 'model' ? auditEvents.model : auditEvents.key_id;
  const rows = await db
    .select({
      name: sql<string>`coalesce(${col}, '(none)')`,
      requests: sql<number>`count(*)::int`,
      tokens: sql<number>`coalesce(sum(coalesce(${auditEvents.input_tokens}, 0) + coalesce(${auditEvents.output_tokens}, 0)), 0)::bigint`,
      cost_usd: sql<string>`coalesce(sum(${auditEvents.cost_usd}), 0)`,
    })
    .from(auditEvents)
    .where(and(allowed, gte(auditEvents.started_at, from), lt(auditEvents.started_at, to)))
    .groupBy(sql`1`)
    .orderBy(sql`2 desc`)
    .limit(limit);
  return rows.map((r) => ({ name: r.name, requests: Number(r.requests), tokens: Number(r.tokens), cost_usd: Number(r.cost_usd) }));
}

/** Last use of each key (for the keys page). */
export async function lastUsedByKey(db: Database): Promise<Map<string, Date>> {
  const rows = await db
    .select({ key_id: auditEvents.key_id, last: sql<string>`max(${auditEvents.started_at})` })
    .from(auditEvents)
    .innerJoin(virtualKeys, eq(virtualKeys.id, auditEvents.key_id))
    .groupBy(auditEvents.key_id);
  return new Map(rows.filter((r) => r.key_id).map((r) => [r.key_id!, new Date(r.last)]));
}

export async function auditLogPage(db: Database, q: z.infer<typeof auditLogQuerySchema>, allowed: SQL | undefined) {
  const filters: SQL[] = allowed ? [allowed] : [];
  if (q.actor) filters.push(eq(adminAuditLog.actor, q.actor));
  if (q.action) filters.push(eq(adminAuditLog.action, q.action));
  if (q.outcome) filters.push(eq(adminAuditLog.outcome, q.outcome));
  if (q.from) filters.push(gte(adminAuditLog.at, new Date(q.from).toISOString()));
  if (q.to) filters.push(lt(adminAuditLog.at, new Date(q.to).toISOString()));
  if (q.cursor) filters.push(lt(adminAuditLog.seq, q.cursor));
  const rows = await db
    .select()
    .from(adminAuditLog)
    .where(and(...filters))
    .orderBy(desc(adminAuditLog.seq))
    .limit(q.limit + 1);
  const page = rows.slice(0, q.limit);
  return { data: page, next_cursor: rows.length > q.limit ? page.at(-1)!.seq : null };
}
