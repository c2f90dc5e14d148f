/**
 * Monthly partitions of audit_events (migration 0012). The admin Worker's daily cron creates the
 * partitions of this month and the next two, and — when AUDIT_RETENTION_MONTHS is set — drops the
 * monthly partitions that ended more than that many months ago (a DROP TABLE: instant, no bloat),
 * and deletes the same old rows from the DEFAULT partition. The clock is a parameter, so tests and
 * the benchmark can run any date.
 */
import { sql } from 'drizzle-orm';
import type { Queryable } from './db/client';

const monthStart = (d: Date, offset = 0) => new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + offset, 1));

/** Creates the partitions of the month of `now` and the `ahead` months after it; returns the ones created. */
export async function ensureEventPartitions(db: Queryable, now: Date, ahead = 2): Promise<string[]> {
  const created: string[] = [];
  for (let m = 0; m <= ahead; m++) {
    const res = await db.execute<{ name: string | null }>(sql`select routero_ensure_event_partition(${monthStart(now, m).toISOString()}::timestamptz) as name`);
    const name = res.rows[0]?.name;
    if (name) created.push(name);
  }
  return created;
}

/**
 * The first instant still kept with `retentionMonths` of retention at `now`: the start of the month
 * `retentionMonths` before the current one (whole months are kept, never a partial one).
 */
export function retentionCutoff(retentionMonths: number, now: Date): Date {
  return monthStart(now, -retentionMonths);
}

/** Drops every monthly partition wholly before the cutoff; returns their names. */
export async function dropExpiredEventPartitions(db: Queryable, retentionMonths: number, now: Date): Promise<string[]> {
  if (!Number.isInteger(retentionMonths) || retentionMonths < 1) throw new Error('retention must be a whole number of months, at least 1');
  const res = await db.execute<{ name: string }>(sql`select routero_drop_event_partitions_before(${retentionCutoff(retentionMonths, now).toISOString()}::timestamptz) as name`);
  return res.rows.map((r) => r.name);
}

/** AUDIT_RETENTION_MONTHS as a number of months, or null (keep for ever). Invalid values are an error. */
export function parseRetention(raw: string | undefined): number | null {
  if (raw === undefined || raw.trim() === '') return null;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1 || n > 1200) throw new Error(`AUDIT_RETENTION_MONTHS must be a whole number of months from 1 to 1200, not "${raw}"`);
  return n;
}
