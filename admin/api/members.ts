/** Organisation members and user suspension over the JSON API (DESIGN §7). */
import { Hono } from 'hono';
import type { AdminEnv } from '../env';
import { actionContext, type AdminVariables } from '../middleware';
import { authorize } from '../domain/change';
import { addMember, changeMemberRole, listMembers, reactivateUser, removeMember, suspendUser } from '../domain/users';
import { addMemberSchema, changeRoleSchema, uuidField } from '../schemas';
import { parseBody, parseWith } from '../validation';

export function memberRoutes() {
  const app = new Hono<{ Bindings: AdminEnv; Variables: AdminVariables }>();
  const orgParam = (v: string) => parseWith(uuidField('organisation'), v);
  const userParam = (v: string) => parseWith(uuidField('user'), v);

  app.get('/orgs/:org_id/members', async (c) => {
    const orgId = orgParam(c.req.param('org_id'));
    await authorize(actionContext(c), { kind: 'member', orgId }, 'list');
    return c.json({ data: await listMembers(c.var.db, orgId) });
  });
  app.post('/orgs/:org_id/members', async (c) => {
    const orgId = orgParam(c.req.param('org_id'));
    return c.json(await addMember(actionContext(c), orgId, await parseBody(c, addMemberSchema)), 201);
  });
  app.patch('/orgs/:org_id/members/:user_id', async (c) => {
    const orgId = orgParam(c.req.param('org_id'));
    const { role } = await parseBody(c, changeRoleSchema);
    return c.json(await changeMemberRole(actionContext(c), orgId, userParam(c.req.param('user_id')), role));
  });
  app.delete('/orgs/:org_id/members/:user_id', async (c) => {
    const orgId = orgParam(c.req.param('org_id'));
    return c.json(await removeMember(actionContext(c), orgId, userParam(c.req.param('user_id'))));
  });
  app.post('/users/:user_id/suspend', async (c) => c.json(await suspendUser(actionContext(c), userParam(c.req.param('user_id')))));
  app.post('/users/:user_id/reactivate', async (c) => c.json(await reactivateUser(actionContext(c), userParam(c.req.param('user_id')))));
  return app;
}
