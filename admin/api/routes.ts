/** The management JSON API (/api/v1) as one route table: method, path, Cerbos decision, handler. */
import type { AdminEnv } from '../env';
import * as actions from '../actions';
import { anchorAuditHead, verifyAuditLog } from '../audit-anchor';
import { planFilter } from '../auth/plan';
import { authorize, change } from '../domain/change';
import { deepHealth, testProviderKeyConnection } from '../domain/gateway-checks';
import { evidenceArchive, evidencePeriod } from '../evidence';
import { createApiToken, listApiTokens, revokeApiToken } from '../domain/api-tokens';
import { addMember, changeMemberRole, listMembers, membershipsOf, publicUser, reactivateUser, removeMember, suspendUser } from '../domain/users';
import { listDeliveries } from '../webhooks';
import { createRoute, deleteRoute, findRoute, listRoutes, updateRoute } from '../domain/routes';
import { actionContext, type AdminVariables } from '../middleware';
import { auditLogPage, auditVisibility, eventVisibility, listEvents, usageSummary } from '../queries';
import { route, type AdminRoute } from '../route-table';
import { listQuarantine, quarantineQuerySchema } from './quarantine';
import { SSO_API_ROUTES } from './sso';
import { SCIM_TOKEN_API_ROUTES } from './scim-tokens';
import {
  addMemberSchema,
  updateOrgSchema,
  apiTokenIdField,
  createApiTokenSchema,
  auditLogQuerySchema,
  changeRoleSchema,
  createKeySchema,
  createOrgSchema,
  createProviderKeySchema,
  createRouteSchema,
  eventsQuerySchema,
  evidenceQuerySchema,
  updateRouteSchema,
  listQuerySchema,
  rotateKeySchema,
  usageQuerySchema,
  updateLimitsSchema,
  uuidField,
  virtualKeyIdField,
} from '../schemas';
import { parseBody, parseQuery, parseWith } from '../validation';

type E = { Bindings: AdminEnv; Variables: AdminVariables };

const orgParam = (v: string | undefined) => parseWith(uuidField('organisation'), v);
const userParam = (v: string | undefined) => parseWith(uuidField('user'), v);
const providerKeyParam = (v: string | undefined) => parseWith(uuidField('provider key'), v);
const keyParam = (v: string | undefined) => parseWith(virtualKeyIdField, v);
const tokenParam = (v: string | undefined) => parseWith(apiTokenIdField, v);
const routeParam = (v: string | undefined) => parseWith(uuidField('route'), v);

export const API_ROUTES: AdminRoute<E>[] = [
  route('POST', '/orgs', 'org', 'create', async (c) => c.json(await actions.createOrg(actionContext(c), await parseBody(c, createOrgSchema)), 201)),
  route('PATCH', '/orgs/:org_id', 'org', 'update', async (c) =>
    c.json(await actions.updateOrg(actionContext(c), orgParam(c.req.param('org_id')), await parseBody(c, updateOrgSchema))),
  ),
  route('GET', '/orgs', 'org', 'list', async (c) => c.json({ data: await actions.listOrgs(actionContext(c)) })),
  route('GET', '/orgs/:org_id/webhook-deliveries', 'org', 'read', async (c) => {
    const orgId = orgParam(c.req.param('org_id'));
    await authorize(actionContext(c), { kind: 'org', id: orgId, orgId }, 'read');
    return c.json({ data: await listDeliveries(c.var.db, orgId) });
  }),

  route('GET', '/orgs/:org_id/members', 'member', 'list', async (c) => {
    const orgId = orgParam(c.req.param('org_id'));
    await authorize(actionContext(c), { kind: 'member', orgId }, 'list');
    return c.json({ data: await listMembers(c.var.db, orgId) });
  }),
  route('POST', '/orgs/:org_id/members', 'member', 'create', async (c) =>
    c.json(await addMember(actionContext(c), orgParam(c.req.param('org_id')), await parseBody(c, addMemberSchema)), 201),
  ),
  route('PATCH', '/orgs/:org_id/members/:user_id', 'member', 'update', async (c) => {
    const orgId = orgParam(c.req.param('org_id'));
    const userId = userParam(c.req.param('user_id'));
    const { role } = await parseBody(c, changeRoleSchema);
    return c.json(await changeMemberRole(actionContext(c), orgId, userId, role));
  }),
  route('DELETE', '/orgs/:org_id/members/:user_id', 'member', 'delete', async (c) =>
    c.json(await removeMember(actionContext(c), orgParam(c.req.param('org_id')), userParam(c.req.param('user_id')))),
  ),
  route('PATCH', '/users/:user_id', 'user', 'set_limits', async (c) => {
    const userId = userParam(c.req.param('user_id'));
    const { limits } = await parseBody(c, updateLimitsSchema);
    const orgIds = (await membershipsOf(c.var.db, userId)).map((m) => m.orgId);
    return c.json(publicUser(await actions.updateUserLimits(actionContext(c), userId, limits, orgIds)));
  }),
  route('POST', '/users/:user_id/suspend', 'user', 'suspend', async (c) => c.json(await suspendUser(actionContext(c), userParam(c.req.param('user_id'))))),
  route('POST', '/users/:user_id/reactivate', 'user', 'suspend', async (c) => c.json(await reactivateUser(actionContext(c), userParam(c.req.param('user_id'))))),

  route('POST', '/provider-keys', 'provider_key', 'create', async (c) => {
    const input = await parseBody(c, createProviderKeySchema(c.env.ALLOW_PRIVATE_UPSTREAMS === 'true'));
    return c.json(await actions.createProviderKey(actionContext(c), input), 201);
  }),
  route('GET', '/provider-keys', 'provider_key', 'list', async (c) =>
    c.json({ data: await actions.listProviderKeys(actionContext(c), parseQuery(c, listQuerySchema).org_id) }),
  ),
  route('POST', '/provider-keys/:id/test', 'provider_key', 'test', async (c) =>
    c.json(await testProviderKeyConnection(actionContext(c), providerKeyParam(c.req.param('id'))), 200, { 'cache-control': 'no-store' }),
  ),
  route('DELETE', '/provider-keys/:id', 'provider_key', 'delete', async (c) => c.json(await actions.deleteProviderKey(actionContext(c), providerKeyParam(c.req.param('id'))))),

  route('POST', '/routes', 'route', 'create', async (c) => c.json(await createRoute(actionContext(c), await parseBody(c, createRouteSchema)), 201)),
  route('GET', '/routes', 'route', 'list', async (c) => c.json({ data: await listRoutes(actionContext(c), parseQuery(c, listQuerySchema).org_id) })),
  route('GET', '/routes/:id', 'route', 'read', async (c) => c.json(await findRoute(actionContext(c), routeParam(c.req.param('id'))))),
  route('PATCH', '/routes/:id', 'route', 'update', async (c) =>
    c.json(await updateRoute(actionContext(c), routeParam(c.req.param('id')), await parseBody(c, updateRouteSchema))),
  ),
  route('DELETE', '/routes/:id', 'route', 'delete', async (c) => c.json(await deleteRoute(actionContext(c), routeParam(c.req.param('id'))))),

  route('POST', '/keys', 'virtual_key', 'create', async (c) => {
    const created = await actions.createVirtualKey(actionContext(c), await parseBody(c, createKeySchema));
    return c.json(created, 201, { 'cache-control': 'no-store' });
  }),
  route('GET', '/keys', 'virtual_key', 'list', async (c) => c.json({ data: await actions.listVirtualKeys(actionContext(c), parseQuery(c, listQuerySchema).org_id) })),
  route('GET', '/keys/:id', 'virtual_key', 'read', async (c) => c.json(await actions.findVirtualKey(actionContext(c), keyParam(c.req.param('id'))))),
  route('PATCH', '/keys/:id', 'virtual_key', 'set_limits', async (c) => {
    const { limits } = await parseBody(c, updateLimitsSchema);
    return c.json(actions.publicVirtualKey(await actions.updateKeyLimits(actionContext(c), keyParam(c.req.param('id')), limits)));
  }),
  route('POST', '/keys/:id/revoke', 'virtual_key', 'revoke', async (c) => c.json(await actions.revokeVirtualKey(actionContext(c), keyParam(c.req.param('id'))))),
  route('POST', '/keys/:id/rotate', 'virtual_key', 'rotate', async (c) => {
    const id = keyParam(c.req.param('id'));
    const { grace_seconds } = await parseBody(c, rotateKeySchema);
    return c.json(await actions.rotateVirtualKey(actionContext(c), id, grace_seconds), 200, { 'cache-control': 'no-store' });
  }),

  route('GET', '/usage', 'usage', 'read', async (c) => {
    const q = parseQuery(c, usageQuerySchema);
    const allowed = await planFilter(actionContext(c), 'usage', 'read', eventVisibility);
    return c.json({ group_by: q.group_by, data: await usageSummary(c.var.db, q, allowed) });
  }),
  route('GET', '/events', 'event', 'list', async (c) => {
    const q = parseQuery(c, eventsQuerySchema);
    const allowed = await planFilter(actionContext(c), 'event', 'list', eventVisibility);
    return c.json(await listEvents(c.var.db, q, allowed));
  }),
  route('GET', '/audit-log', 'admin_audit', 'list', async (c) => {
    const q = parseQuery(c, auditLogQuerySchema);
    const allowed = await planFilter(actionContext(c), 'admin_audit', 'list', auditVisibility);
    return c.json(await auditLogPage(c.var.db, q, allowed));
  }),
  route('GET', '/audit-log/verify', 'admin_audit', 'verify', async (c) => {
    await authorize(actionContext(c), { kind: 'admin_audit' }, 'verify');
    return c.json(await verifyAuditLog(c.var.db, c.env.ROUTERO_KV));
  }),
  route('POST', '/audit-log/anchor', 'admin_audit', 'anchor', async (c) => {
    await authorize(actionContext(c), { kind: 'admin_audit' }, 'anchor');
    const result = await anchorAuditHead(c.var.db, c.env.ROUTERO_KV);
    return c.json({ anchor: result?.anchor ?? null, written: result?.written ?? false });
  }),

  route('GET', '/evidence', 'evidence', 'export', async (c) => {
    const q = parseQuery(c, evidenceQuerySchema);
    const period = evidencePeriod(q);
    const ctx = actionContext(c);
    const archive = await change(ctx, { action: 'evidence.export', cerbosAction: 'export', resource: { kind: 'evidence', orgId: q.org_id } }, async (tx) => ({
      // In the transaction that writes the export's audit row: one consistent snapshot.
      result: await evidenceArchive(tx, c.env, { orgId: q.org_id, ...period, requestedBy: ctx.principal.id }),
    }));
    return c.body(archive.bytes, 200, {
      'content-type': 'application/x-tar',
      'content-disposition': `attachment; filename="${archive.filename}"`,
      'cache-control': 'no-store',
      'x-routero-audit-head': archive.headSha256,
    });
  }),

  route('POST', '/api-tokens', 'api_token', 'create', async (c) =>
    c.json(await createApiToken(actionContext(c), await parseBody(c, createApiTokenSchema)), 201, { 'cache-control': 'no-store' }),
  ),
  route('GET', '/api-tokens', 'api_token', 'list', async (c) => c.json({ data: await listApiTokens(actionContext(c), parseQuery(c, listQuerySchema).org_id) })),
  route('POST', '/api-tokens/:id/revoke', 'api_token', 'revoke', async (c) => c.json(await revokeApiToken(actionContext(c), tokenParam(c.req.param('id'))))),

  route('GET', '/audit-quarantine', 'audit_quarantine', 'list', async (c) => {
    const q = parseQuery(c, quarantineQuerySchema);
    await authorize(actionContext(c), { kind: 'audit_quarantine' }, 'list');
    return c.json(await listQuarantine(c.var.db, q));
  }),

  route('GET', '/health/deep', 'system', 'health', async (c) => c.json(await deepHealth(actionContext(c)), 200, { 'cache-control': 'no-store' })),
  route('POST', '/admin/rebuild-kv', 'system', 'rebuild_kv', async (c) => c.json(await actions.rebuildKvAction(actionContext(c)))),
  route('POST', '/admin/reencrypt-provider-keys', 'system', 'reencrypt', async (c) => c.json(await actions.reencryptProviderKeys(actionContext(c)))),

  ...SSO_API_ROUTES,
  ...SCIM_TOKEN_API_ROUTES,
];
