/** Usage aggregates and the metadata event log (never content: there is none stored). */
import { Hono } from 'hono';
import { and, desc, eq, gte, lt, sql, type SQL } from 'drizzle-orm';
import { z } from 'zod';
import { auditEvents } from '../../lib/db/schema';
import type { AdminEnv } from '../env';
import { authorize, type AdminVariables } from '../middleware';
import { parseQuery } from '../validation';
import { uuidField } from './lookups';

const isoDate = z.iso.datetime({ offset: true, error: 'must be an ISO 8601 date-time' }).or(z.iso.date({ error: 'must be an ISO 8601 date' }));

const rangeSchema = {
  org_id: uuidField('organisation').optional(),
  from: isoDate.optional(),
  to: isoDate.optional(),
};

function rangeFilters(q: { org_id?: string; from?: string; to?: string }): SQL[] {
  const filters: SQL[] = [];
  if (q.org_id) filters.push(eq(auditEvents.org_id, q.org_id));
  if (q.from) filters.push(gte(auditEvents.started_at, new Date(q.from)));
  if (q.to) filters.push(lt(auditEvents.started_at, new Date(q.to)));
  return filters;
}

const usageQuerySchema = z.object({
  ...rangeSchema,
  group_by: z.enum(['model', 'key', 'day'], { error: 'must be one of: model, key, day' }).default('model'),
});

const eventsQuerySchema = z.object({
  ...rangeSchema,
  key_id: z.string().max(64).optional(),
  model: z.string().max(200).optional(),
  status: z.coerce.number({ error: 'must be an HTTP status code' }).int().min(100).max(599).optional(),
  limit: z.coerce.number({ error: 'must be a number' }).int().min(1, 'must be at least 1').max(500, 'must be at most 500').default(50),
});

const toNumber = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));

export function usageRoutes() {
  const app = new Hono<{ Bindings: AdminEnv; Variables: AdminVariables }>();

  app.get('/usage', async (c) => {
    const q = parseQuery(c, usageQuerySchema);
    await authorize(c, 'usage', 'read', { attr: q.org_id ? { org_id: q.org_id } : {} });
    const group =
      q.group_by === 'model' ? sql<string>`coalesce(${auditEvents.model}, '(none)')`
      : q.group_by === 'key' ? sql<string>`coalesce(${auditEvents.key_id}, '(none)')`
      : sql<string>`to_char(date_trunc('day', ${auditEvents.started_at} at time zone 'UTC'), 'YYYY-MM-DD')`;
    const rows = await c.var.db
      .select({
        group,
        requests: sql<number>`count(*)::int`,
        errors: sql<number>`count(*) filter (where ${auditEvents.status} >= 400)::int`,
        input_tokens: sql<number>`coalesce(sum(${auditEvents.input_tokens}), 0)::bigint`,
        output_tokens: sql<number>`coalesce(sum(${auditEvents.output_tokens}), 0)::bigint`,
        cost_usd: sql<string | null>`sum(${auditEvents.cost_usd})`,
        unpriced_requests: sql<number>`count(*) filter (where ${auditEvents.cost_usd} is null)::int`,
      })
      .from(auditEvents)
      .where(and(...rangeFilters(q)))
      .groupBy(group)
      .orderBy(group);
    return c.json({
      group_by: q.group_by,
      data: rows.map((r) => ({
        [q.group_by]: r.group,
        requests: Number(r.requests),
        errors: Number(r.errors),
        input_tokens: Number(r.input_tokens),
        output_tokens: Number(r.output_tokens),
        cost_usd: toNumber(r.cost_usd),
        unpriced_requests: Number(r.unpriced_requests),
      })),
    });
  });

  app.get('/events', async (c) => {
    const q = parseQuery(c, eventsQuerySchema);
    await authorize(c, 'event', 'list', { attr: q.org_id ? { org_id: q.org_id } : {} });
    const filters = rangeFilters(q);
    if (q.key_id) filters.push(eq(auditEvents.key_id, q.key_id));
    if (q.model) filters.push(eq(auditEvents.model, q.model));
    if (q.status !== undefined) filters.push(eq(auditEvents.status, q.status));
    const rows = await c.var.db
      .select()
      .from(auditEvents)
      .where(and(...filters))
      .orderBy(desc(auditEvents.started_at), desc(auditEvents.id))
      .limit(q.limit);
    return c.json({ data: rows.map((r) => ({ ...r, cost_usd: toNumber(r.cost_usd) })) });
  });

  return app;
}
