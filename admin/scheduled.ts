/**
 * The admin Worker's cron triggers (admin/wrangler.toml `[triggers] crons`):
 *   every 5 minutes   anchor the admin audit chain head in KV (admin/audit-anchor.ts)
 * A failure is logged with a stable `alert` field and rethrown, so the Cron Events log shows it too.
 */
import { alert } from '../lib/log';
import { anchorAuditHead } from './audit-anchor';
import { closePool, openDatabase } from './db/client';
import type { AdminEnv } from './env';

export const ANCHOR_CRON = '*/5 * * * *';

export async function runScheduled(controller: Pick<ScheduledController, 'cron' | 'scheduledTime'>, env: AdminEnv, ctx: ExecutionContext): Promise<void> {
  const { db, pool } = openDatabase(env);
  try {
    try {
      await anchorAuditHead(db, env.ROUTERO_KV, new Date(controller.scheduledTime));
    } catch (e) {
      alert('audit_anchor_failed', 'could not anchor the admin audit chain head', { cron: controller.cron, reason: e instanceof Error ? e.message : 'unknown' });
      throw e;
    }
  } finally {
    ctx.waitUntil(closePool(pool));
  }
}
