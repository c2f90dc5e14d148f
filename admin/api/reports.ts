/** Usage, metadata events and the admin audit log over the JSON API. */
import { Hono } from 'hono';
import type { AdminEnv } from '../env';
import { authorize } from '../actions';
import { verifyAuditChain } from '../audit-log';
import { actionContext, type AdminVariables } from '../middleware';
import { auditLogPage, listEvents, usageSummary } from '../queries';
import { auditLogQuerySchema, eventsQuerySchema, usageQuerySchema } from '../schemas';
import { parseQuery } from '../validation';

export function reportRoutes() {
  const app = new Hono<{ Bindings: AdminEnv; Variables: AdminVariables }>();

  app.get('/usage', async (c) => {
    const q = parseQuery(c, usageQuerySchema);
    await authorize(actionContext(c), { kind: 'usage', orgId: q.org_id }, 'read');
    return c.json({ group_by: q.group_by, data: await usageSummary(c.var.db, q) });
  });

  app.get('/events', async (c) => {
    const q = parseQuery(c, eventsQuerySchema);
    await authorize(actionContext(c), { kind: 'event', orgId: q.org_id }, 'list');
    return c.json(await listEvents(c.var.db, q));
  });

  app.get('/audit-log', async (c) => {
    const q = parseQuery(c, auditLogQuerySchema);
    await authorize(actionContext(c), { kind: 'admin_audit' }, 'list');
    return c.json(await auditLogPage(c.var.db, q));
  });

  app.get('/audit-log/verify', async (c) => {
    await authorize(actionContext(c), { kind: 'admin_audit' }, 'verify');
    return c.json(await verifyAuditChain(c.var.db));
  });

  return app;
}
