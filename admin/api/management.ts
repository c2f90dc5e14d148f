/** The management JSON API: thin wrappers that validate, call the shared actions, and answer JSON. */
import { Hono } from 'hono';
import type { AdminEnv } from '../env';
import * as actions from '../actions';
import { actionContext, type AdminVariables } from '../middleware';
import { createKeySchema, createOrgSchema, createProviderKeySchema, listQuerySchema } from '../schemas';
import { parseBody, parseQuery } from '../validation';

export function managementRoutes() {
  const app = new Hono<{ Bindings: AdminEnv; Variables: AdminVariables }>();

  app.post('/orgs', async (c) => c.json(await actions.createOrg(actionContext(c), await parseBody(c, createOrgSchema)), 201));
  app.get('/orgs', async (c) => c.json({ data: await actions.listOrgs(actionContext(c)) }));

  app.post('/provider-keys', async (c) => {
    const input = await parseBody(c, createProviderKeySchema(c.env.ALLOW_PRIVATE_UPSTREAMS === 'true'));
    return c.json(await actions.createProviderKey(actionContext(c), input), 201);
  });
  app.get('/provider-keys', async (c) => c.json({ data: await actions.listProviderKeys(actionContext(c), parseQuery(c, listQuerySchema).org_id) }));
  app.delete('/provider-keys/:id', async (c) => c.json(await actions.deleteProviderKey(actionContext(c), c.req.param('id'))));

  app.post('/keys', async (c) => {
    const created = await actions.createVirtualKey(actionContext(c), await parseBody(c, createKeySchema));
    return c.json(created, 201, { 'cache-control': 'no-store' });
  });
  app.get('/keys', async (c) => c.json({ data: await actions.listVirtualKeys(actionContext(c), parseQuery(c, listQuerySchema).org_id) }));
  app.get('/keys/:id', async (c) => c.json(await actions.findVirtualKey(actionContext(c), c.req.param('id'))));
  app.post('/keys/:id/revoke', async (c) => c.json(await actions.revokeVirtualKey(actionContext(c), c.req.param('id'))));

  app.post('/admin/rebuild-kv', async (c) => c.json(await actions.rebuildKvAction(actionContext(c))));
  app.post('/admin/reencrypt-provider-keys', async (c) => c.json(await actions.reencryptProviderKeys(actionContext(c))));

  return app;
}
