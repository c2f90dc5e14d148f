/**
 * The admin Worker's cron triggers (admin/wrangler.toml `[triggers] crons`):
 *   every 5 minutes   anchor the admin audit chain head in KV (admin/audit-anchor.ts)
 *   daily, 03:17 UTC  create the next monthly partitions of audit_events, and drop those past
 *                     AUDIT_RETENTION_MONTHS (admin/event-partitions.ts)
 * A failure is logged with a stable `alert` field and rethrown, so the Cron Events log shows it too.
 */
import { alert, log } from '../lib/log';
import { anchorAuditHead } from './audit-anchor';
import { closePool, openDatabase } from './db/client';
import { dropExpiredEventPartitions, ensureEventPartitions, parseRetention } from './event-partitions';
import type { AdminEnv } from './env';

export const ANCHOR_CRON = '*/5 * * * *';
export const PARTITION_CRON = '17 3 * * *';

export async function runScheduled(controller: Pick<ScheduledController, 'cron' | 'scheduledTime'>, env: AdminEnv, ctx: ExecutionContext): Promise<void> {
  const { db, pool } = openDatabase(env);
  try {
    const now = new Date(controller.scheduledTime);
    if (controller.cron === PARTITION_CRON) {
      const retention = parseRetention(env.AUDIT_RETENTION_MONTHS);
      const created = await ensureEventPartitions(db, now);
      const dropped = retention ? await dropExpiredEventPartitions(db, retention, now) : [];
      log('info', 'audit_events partitions maintained', { created, dropped, retention_months: retention });
      return;
    }
    try {
      await anchorAuditHead(db, env.ROUTERO_KV, now);
    } catch (e) {
      alert('audit_anchor_failed', 'could not anchor the admin audit chain head', { cron: controller.cron, reason: e instanceof Error ? e.message : 'unknown' });
      throw e;
    }
  } finally {
    ctx.waitUntil(closePool(pool));
  }
}
