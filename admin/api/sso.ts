/** SSO connections over the JSON API (DESIGN §7): create an OIDC connection, list, delete. */
import { Hono, type Context } from 'hono';
import { createOidcConnection, createOidcConnectionSchema, deleteSsoConnection, listSsoConnections } from '../domain/sso-connections';
import type { AdminEnv } from '../env';
import { actionContext, type AdminVariables } from '../middleware';
import { uuidField } from '../schemas';
import { parseBody, parseWith } from '../validation';

/** The admin Worker's own origin, as the browser reaches it: the redirect URI is built from it. */
export const adminOrigin = (c: Context) => new URL(c.req.url).origin;

export function ssoRoutes() {
  const app = new Hono<{ Bindings: AdminEnv; Variables: AdminVariables }>();
  const orgParam = (v: string) => parseWith(uuidField('organisation'), v);

  app.post('/orgs/:org_id/sso/oidc', async (c) => {
    const orgId = orgParam(c.req.param('org_id'));
    const input = await parseBody(c, createOidcConnectionSchema(c.env.ALLOW_PRIVATE_UPSTREAMS === 'true'));
    return c.json(await createOidcConnection(actionContext(c), orgId, input, adminOrigin(c)), 201, { 'cache-control': 'no-store' });
  });
  app.get('/orgs/:org_id/sso', async (c) => c.json({ data: await listSsoConnections(actionContext(c), orgParam(c.req.param('org_id')), adminOrigin(c)) }));
  app.delete('/sso/:connection_id', async (c) => c.json(await deleteSsoConnection(actionContext(c), c.req.param('connection_id'), adminOrigin(c))));
  return app;
}
