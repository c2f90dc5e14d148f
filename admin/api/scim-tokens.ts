/** SCIM bearer tokens over the JSON API (issue 9), as route-table entries: create (shown once), list, revoke. */
import { createScimToken, createScimTokenSchema, listScimTokens, revokeScimToken, scimTokenIdField } from '../domain/scim-tokens';
import type { AdminEnv } from '../env';
import { actionContext, type AdminVariables } from '../middleware';
import { route, type AdminRoute } from '../route-table';
import { uuidField } from '../schemas';
import { parseBody, parseWith } from '../validation';

type E = { Bindings: AdminEnv; Variables: AdminVariables };

const orgParam = (v: string | undefined) => parseWith(uuidField('organisation'), v);
const tokenParam = (v: string | undefined) => parseWith(scimTokenIdField, v);

export const SCIM_TOKEN_API_ROUTES: AdminRoute<E>[] = [
  route('POST', '/orgs/:org_id/scim-tokens', 'scim_token', 'create', async (c) => {
    const orgId = orgParam(c.req.param('org_id'));
    const created = await createScimToken(actionContext(c), orgId, await parseBody(c, createScimTokenSchema));
    // The base URL an IdP is given: the token decides the organisation.
    return c.json({ ...created, scim_base_url: `${new URL(c.req.url).origin}/scim/v2` }, 201, { 'cache-control': 'no-store' });
  }),
  route('GET', '/orgs/:org_id/scim-tokens', 'scim_token', 'list', async (c) => c.json({ data: await listScimTokens(actionContext(c), orgParam(c.req.param('org_id'))) })),
  route('DELETE', '/orgs/:org_id/scim-tokens/:id', 'scim_token', 'revoke', async (c) =>
    c.json(await revokeScimToken(actionContext(c), orgParam(c.req.param('org_id')), tokenParam(c.req.param('id')))),
  ),
];
