/**
 * GET /api/v1/audit-quarantine: the audit events the consumer could not store and set aside
 * (admin/consumer), newest first. Metadata only, like the events themselves. Each row names the
 * request id, the queue, and why it was set aside, so an operator can account for every request.
 */
import { and, desc, eq, lt, type SQL } from 'drizzle-orm';
import { z } from 'zod';
import type { Database } from '../db/client';
import { auditQuarantine } from '../db/schema';

export const quarantineQuerySchema = z.object({
  request_id: z.string().max(256).optional(),
  queue: z.string().max(100).optional(),
  limit: z.coerce.number({ error: 'must be a number' }).int().min(1, 'must be at least 1').max(500, 'must be at most 500').default(50),
  /** The `id` of the last row of the previous page (ids are UUIDv7, so they sort by time). */
  cursor: z.uuid({ error: 'must be a next_cursor from a previous page' }).optional(),
});

export async function listQuarantine(db: Database, q: z.infer<typeof quarantineQuerySchema>) {
  const filters: SQL[] = [];
  if (q.request_id) filters.push(eq(auditQuarantine.request_id, q.request_id));
  if (q.queue) filters.push(eq(auditQuarantine.queue, q.queue));
  if (q.cursor) filters.push(lt(auditQuarantine.id, q.cursor));
  const rows = await db
    .select()
    .from(auditQuarantine)
    .where(and(...filters))
    .orderBy(desc(auditQuarantine.id))
    .limit(q.limit + 1);
  const page = rows.slice(0, q.limit);
  return {
    data: page.map(({ message_key: _messageKey, ...row }) => row),
    next_cursor: rows.length > q.limit ? (page.at(-1)?.id ?? null) : null,
  };
}
