/** SSO connections over the JSON API (DESIGN §7), as route-table entries: create an OIDC or SAML connection, list, read one, delete. */
import type { Context } from 'hono';
import { createSamlConnection, createSamlConnectionSchema } from '../domain/saml-connections';
import { createOidcConnection, createOidcConnectionSchema, deleteSsoConnection, getSsoConnection, listSsoConnections } from '../domain/sso-connections';
import type { AdminEnv } from '../env';
import { actionContext, type AdminVariables } from '../middleware';
import { route, type AdminRoute } from '../route-table';
import { uuidField } from '../schemas';
import { parseBody, parseWith } from '../validation';

type E = { Bindings: AdminEnv; Variables: AdminVariables };

/** The admin Worker's own origin, as the browser reaches it: the redirect URI is built from it. */
export const adminOrigin = (c: Context) => new URL(c.req.url).origin;

const orgParam = (v: string | undefined) => parseWith(uuidField('organisation'), v);

export const SSO_API_ROUTES: AdminRoute<E>[] = [
  route('POST', '/orgs/:org_id/sso/oidc', 'sso_connection', 'create', async (c) => {
    const orgId = orgParam(c.req.param('org_id'));
    const input = await parseBody(c, createOidcConnectionSchema(c.env.ALLOW_PRIVATE_UPSTREAMS === 'true'));
    return c.json(await createOidcConnection(actionContext(c), orgId, input, adminOrigin(c)), 201, { 'cache-control': 'no-store' });
  }),
  route('POST', '/orgs/:org_id/sso/saml', 'sso_connection', 'create', async (c) => {
    const orgId = orgParam(c.req.param('org_id'));
    const input = await parseBody(c, createSamlConnectionSchema(c.env.ALLOW_PRIVATE_UPSTREAMS === 'true'));
    return c.json(await createSamlConnection(actionContext(c), orgId, input, adminOrigin(c)), 201, { 'cache-control': 'no-store' });
  }),
  route('GET', '/orgs/:org_id/sso/saml', 'sso_connection', 'list', async (c) =>
    c.json({ data: (await listSsoConnections(actionContext(c), orgParam(c.req.param('org_id')), adminOrigin(c))).filter((k) => k.protocol === 'saml') }),
  ),
  route('GET', '/sso/:connection_id', 'sso_connection', 'read', async (c) => c.json(await getSsoConnection(actionContext(c), c.req.param('connection_id') ?? '', adminOrigin(c)))),
  route('GET', '/orgs/:org_id/sso', 'sso_connection', 'list', async (c) =>
    c.json({ data: await listSsoConnections(actionContext(c), orgParam(c.req.param('org_id')), adminOrigin(c)) }),
  ),
  route('DELETE', '/sso/:connection_id', 'sso_connection', 'delete', async (c) =>
    c.json(await deleteSsoConnection(actionContext(c), c.req.param('connection_id') ?? '', adminOrigin(c))),
  ),
];
