/**
 * The SCIM 2.0 service provider (RFC 7644) at /scim/v2. The bearer token decides the organisation:
 * one base URL serves every organisation, and a token reaches only its own users and groups.
 * Every route is in a route table with its Cerbos decision (admin/route-table.ts); the discovery
 * documents are the same for everyone and still need a valid token. Every answer is
 * `application/scim+json`; every failure goes through the SCIM error funnel (./errors.ts).
 */
import { Hono, type Context } from 'hono';
import { authFailed, GatewayError } from '../../lib/errors';
import { log } from '../../lib/log';
import { recordAction } from '../domain/change';
import { giveBackSlot, MASTER_KEY_LIMITS, takeAttemptSlot } from '../auth/master-key-limiter';
import { anonymousPrincipal } from '../auth/principal';
import type { AdminEnv } from '../env';
import { actionContext, cerbosFor, database, requestMeta, type AdminVariables } from '../middleware';
import { mount, openRoute, route, type AdminRoute } from '../route-table';
import { pageOf, resourceId, type ScimContext } from './context';
import { DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, listResponse, resourceTypes, schemas, serviceProviderConfig } from './discovery';
import { SCIM_CONTENT_TYPE, scimErrorResponse, scimNotFound } from './errors';
import { createScimGroup, deleteScimGroup, getScimGroup, listScimGroups, patchScimGroup, putScimGroup } from './groups';
import { principalForScimToken } from './tokens';
import { createScimUser, deleteScimUser, getScimUser, listScimUsers, patchScimUser, putScimUser } from './users';

export type ScimVariables = AdminVariables & { scimOrgId: string };
type E = { Bindings: AdminEnv; Variables: ScimVariables };

const MAX_BODY_BYTES = 1_048_576;

function scimJson(c: Context<E>, body: unknown, status: 200 | 201 = 200, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), { status, headers: { 'content-type': SCIM_CONTENT_TYPE, 'cache-control': 'no-store', ...headers } });
}

function scimContext(c: Context<E>): ScimContext {
  return { ctx: actionContext(c), orgId: c.get('scimOrgId'), base: `${new URL(c.req.url).origin}/scim/v2` };
}

/** A JSON body of at most 1 MiB (RFC 7644 §3.12: malformed JSON is 400 invalidSyntax). */
async function body(c: Context<E>): Promise<unknown> {
  const text = await c.req.text();
  if (text.length > MAX_BODY_BYTES) throw new GatewayError('payload_too_large', `The request body is larger than ${MAX_BODY_BYTES} bytes.`, { code: 'tooMany' });
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new GatewayError('invalid_request', 'The request body is not valid JSON.', { code: 'invalidSyntax' });
  }
}

/** Bearer SCIM token → principal `scim:<id>`; failures are the one 401, audited, and share the credential-attempt limiter. */
function scimAuth() {
  return async function scimAuth(c: Context<E>, next: () => Promise<void>) {
    c.set('cerbos', cerbosFor(c.env));
    const meta = requestMeta(c);
    const m = /^Bearer\s+(\S+)\s*$/i.exec(c.req.header('authorization') ?? '');
    if (!m) throw authFailed('no SCIM bearer token');
    const slot = await takeAttemptSlot(c.var.db, meta.clientIp);
    const found = slot <= MASTER_KEY_LIMITS.api ? await principalForScimToken(c.var.db, m[1]!) : null;
    if (!found) {
      await recordAction({ db: c.var.db, meta, principal: anonymousPrincipal('scim_token') }, 'scim.authenticate', slot > MASTER_KEY_LIMITS.api ? 'denied' : 'failed', { type: 'scim', id: null });
      throw authFailed(slot > MASTER_KEY_LIMITS.api ? 'credential attempts over the limit' : 'SCIM token unknown or revoked');
    }
    await giveBackSlot(c.var.db, meta.clientIp);
    c.set('principal', found.principal);
    c.set('scimOrgId', found.token.org_id);
    await next();
  };
}

const page = (c: Context<E>) => pageOf(c.req.query(), MAX_PAGE_SIZE, DEFAULT_PAGE_SIZE);
const userId = (c: Context<E>) => resourceId(c.req.param('id'), 'User');
const groupId = (c: Context<E>) => resourceId(c.req.param('id'), 'Group');
const base = (c: Context<E>) => `${new URL(c.req.url).origin}/scim/v2`;
const discovery = 'a fixed discovery document (RFC 7644 §4), the same for every organisation; the token was checked';

export const SCIM_ROUTES: AdminRoute<E>[] = [
  openRoute('GET', '/ServiceProviderConfig', discovery, (c) => scimJson(c, serviceProviderConfig(base(c)))),
  openRoute('GET', '/ResourceTypes', discovery, (c) => {
    const all = resourceTypes(base(c));
    return scimJson(c, listResponse(all, all.length, 1));
  }),
  openRoute('GET', '/ResourceTypes/:id', discovery, (c) => {
    const found = resourceTypes(base(c)).find((t) => t.id === c.req.param('id'));
    if (!found) throw scimNotFound(`ResourceType ${String(c.req.param('id')).slice(0, 100)}`);
    return scimJson(c, found);
  }),
  openRoute('GET', '/Schemas', discovery, (c) => {
    const all = schemas(base(c));
    return scimJson(c, listResponse(all, all.length, 1));
  }),
  openRoute('GET', '/Schemas/:id', discovery, (c) => {
    const found = schemas(base(c)).find((t) => t.id === c.req.param('id'));
    if (!found) throw scimNotFound(`Schema ${String(c.req.param('id')).slice(0, 100)}`);
    return scimJson(c, found);
  }),

  route('GET', '/Users', 'scim_user', 'list', async (c) => scimJson(c, await listScimUsers(scimContext(c), c.req.query('filter'), page(c)))),
  route('POST', '/Users', 'scim_user', 'create', async (c) => {
    const created = await createScimUser(scimContext(c), await body(c));
    return scimJson(c, created, 201, { location: created.meta.location });
  }),
  route('GET', '/Users/:id', 'scim_user', 'read', async (c) => scimJson(c, await getScimUser(scimContext(c), userId(c)))),
  route('PUT', '/Users/:id', 'scim_user', 'update', async (c) => scimJson(c, await putScimUser(scimContext(c), userId(c), await body(c)))),
  route('PATCH', '/Users/:id', 'scim_user', 'update', async (c) => scimJson(c, await patchScimUser(scimContext(c), userId(c), await body(c)))),
  route('DELETE', '/Users/:id', 'scim_user', 'delete', async (c) => {
    await deleteScimUser(scimContext(c), userId(c));
    return c.body(null, 204);
  }),

  route('GET', '/Groups', 'scim_group', 'list', async (c) => scimJson(c, await listScimGroups(scimContext(c), c.req.query('filter'), page(c), c.req.query('excludedAttributes')))),
  route('POST', '/Groups', 'scim_group', 'create', async (c) => {
    const created = await createScimGroup(scimContext(c), await body(c));
    return scimJson(c, created, 201, { location: created.meta.location });
  }),
  route('GET', '/Groups/:id', 'scim_group', 'read', async (c) => scimJson(c, await getScimGroup(scimContext(c), groupId(c), c.req.query('excludedAttributes')))),
  route('PUT', '/Groups/:id', 'scim_group', 'update', async (c) => scimJson(c, await putScimGroup(scimContext(c), groupId(c), await body(c)))),
  route('PATCH', '/Groups/:id', 'scim_group', 'update', async (c) => scimJson(c, await patchScimGroup(scimContext(c), groupId(c), await body(c), c.req.query('excludedAttributes')))),
  route('DELETE', '/Groups/:id', 'scim_group', 'delete', async (c) => {
    await deleteScimGroup(scimContext(c), groupId(c));
    return c.body(null, 204);
  }),
];

export function scimRoutes() {
  const scim = new Hono<E>();
  scim.use('*', database(), scimAuth());
  mount(scim, SCIM_ROUTES);
  scim.all('*', (c) => {
    throw scimNotFound(`${c.req.method} ${c.req.path}`);
  });
  scim.onError((e, c) => {
    const { err, res } = scimErrorResponse(e, c.get('requestId'));
    log(err.status >= 500 ? 'error' : 'warn', 'scim request failed', { request_id: c.get('requestId'), status: err.status, reason: err.reason });
    return res;
  });
  return scim;
}
