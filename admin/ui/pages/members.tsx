/**
 * UI page: an organisation's members — role, status, last login and whether that login used MFA.
 * Add a person by email with a role, change a role, suspend or reactivate a person (suspension
 * ends their sessions and revokes their keys: admin/domain/users.ts), remove a membership. Every
 * form appears only where Cerbos allows the action; the actions are the API's domain functions.
 */
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { GatewayError } from '../../../lib/errors';
import * as actions from '../../actions';
import { ORG_ROLES } from '../../db/schema';
import { authorize } from '../../domain/change';
import { addMember, changeMemberRole, listMembers, membershipsOf, reactivateUser, removeMember, suspendUser } from '../../domain/users';
import { actionContext } from '../../middleware';
import { route, type AdminRoute } from '../../route-table';
import { addMemberSchema, changeRoleSchema, uuidField } from '../../schemas';
import { can, withAnswers } from '../can';
import { formOf, parse, problem, statusOf, type FormValues } from '../forms';
import { ActionButton, Badge, Csrf, ErrorBox, fmtTime, Layout } from '../layout';
import type { UiContext, UiEnv } from '../session-middleware';

type Member = Awaited<ReturnType<typeof listMembers>>[number];

const orgIdOf = (v: string | undefined) => uuidField('organisation').safeParse(v);
const userIdOf = (c: UiContext) => uuidField('user').safeParse(c.req.param('user_id'));
const back = (orgId: string) => `/ui/members?org_id=${encodeURIComponent(orgId)}`;

/** What this principal may do to one member, asked of Cerbos row by row. */
async function rowPermissions(c: UiContext, orgId: string, m: Member) {
  const orgIds = (await membershipsOf(c.var.db, m.id)).map((x) => x.orgId);
  const [update, remove, suspend] = await Promise.all([
    can(c, { kind: 'member', id: m.id, orgId }, 'update'),
    can(c, { kind: 'member', id: m.id, orgId }, 'delete'),
    can(c, { kind: 'user', id: m.id, attr: { org_ids: orgIds } }, 'suspend'),
  ]);
  return { update, remove, suspend };
}

async function membersPage(c: UiContext, orgId: string | undefined, error: string | null = null, values: FormValues = {}, status: ContentfulStatusCode = 200) {
  const ctx = actionContext(c);
  const orgs = await actions.listOrgs(ctx);
  const org = orgs.find((o) => o.id === orgId) ?? orgs[0];
  // With no organisation to show, still the one question this page asks: may they list members at all?
  if (org) await authorize(ctx, { kind: 'member', orgId: org.id }, 'list');
  else await can(c, { kind: 'member' }, 'list');
  const members = org ? await listMembers(c.var.db, org.id) : [];
  const [mayAdd, rows] = await Promise.all([
    org ? can(c, { kind: 'member', orgId: org.id }, 'create') : false,
    org ? withAnswers(members, (m) => rowPermissions(c, org.id, m)) : [],
  ]);
  const csrf = c.var.page.csrf;
  return c.html(
    <Layout title="Members" page={c.var.page}>
      <form class="filters" method="get" action="/ui/members">
        <div>
          <label for="m-org-filter">Organisation</label>
          <select id="m-org-filter" name="org_id">{orgs.map((o) => <option value={o.id} selected={o.id === org?.id}>{o.name}</option>)}</select>
        </div>
        <button class="secondary" type="submit">Show</button>
      </form>
      {mayAdd ? null : <ErrorBox message={error} />}
      <table data-testid="members-table">
        <thead><tr><th>email</th><th>name</th><th>role</th><th>status</th><th>last login</th><th>MFA at last login</th><th>member since</th><th></th></tr></thead>
        <tbody>
          {rows.map(({ item: m, may: p }) => {
            return (
              <tr data-member-email={m.email}>
                <td>{m.email}</td>
                <td>{m.display_name ?? '—'}</td>
                <td>
                  {p.update && org ? (
                    <form class="inline" method="post" action={`/ui/members/${m.id}/role`}>
                      <Csrf token={csrf} />
                      <input type="hidden" name="org_id" value={org.id} />
                      <select name="role" aria-label={`Role of ${m.email}`}>{ORG_ROLES.map((r) => <option value={r} selected={r === m.role}>{r}</option>)}</select>
                      <button class="secondary" type="submit">Change role</button>
                    </form>
                  ) : (
                    m.role
                  )}
                </td>
                <td><Badge value={m.status} /></td>
                <td>{fmtTime(m.last_login_at)}</td>
                <td>{m.last_login_at === null ? '—' : m.last_login_mfa ? 'yes' : 'no'}</td>
                <td>{fmtTime(m.member_since)}</td>
                <td>
                  {p.suspend && org && m.status === 'active' ? (
                    <ActionButton action={`/ui/members/${m.id}/suspend`} csrf={csrf} orgId={org.id} label="Suspend" danger
                      confirm={`Suspend ${m.email}? Their sessions end and every virtual key they own is revoked, now.`} />
                  ) : null}
                  {p.suspend && org && m.status !== 'active' ? <ActionButton action={`/ui/members/${m.id}/reactivate`} csrf={csrf} orgId={org.id} label="Reactivate" /> : null}
                  {p.remove && org ? (
                    <ActionButton action={`/ui/members/${m.id}/remove`} csrf={csrf} orgId={org.id} label="Remove" danger confirm={`Remove ${m.email} from ${org.name}?`} />
                  ) : null}
                </td>
              </tr>
            );
          })}
        </tbody>
      </table>
      {mayAdd && org ? (
        <div class="card">
          <h2>{`Add a member to ${org.name}`}</h2>
          <p class="muted">A person new to Routero gets an account with this email; they sign in through the organisation's single sign-on.</p>
          <ErrorBox message={error} />
          <form method="post" action="/ui/members">
            <Csrf token={csrf} />
            <input type="hidden" name="org_id" value={org.id} />
            <label for="m-email">Email</label>
            <input type="email" id="m-email" name="email" value={values.email ?? ''} required />
            <label for="m-role">Role</label>
            <select id="m-role" name="role">{ORG_ROLES.map((r) => <option value={r} selected={values.role === r}>{r}</option>)}</select>
            <p><button type="submit">Add member</button></p>
          </form>
        </div>
      ) : null}
    </Layout>,
    status,
  );
}

/** A per-member action: validate the ids, run it, and show the page again with any failure. */
function memberAction(run: (c: UiContext, orgId: string, userId: string, form: FormValues) => Promise<unknown>) {
  return async (c: UiContext) => {
    const form = await formOf(c);
    const orgId = orgIdOf(form.org_id);
    const userId = userIdOf(c);
    if (!orgId.success) return membersPage(c, undefined, 'org_id: must be an organisation id (UUID)', {}, 400);
    if (!userId.success) return membersPage(c, orgId.data, 'user_id: must be a user id (UUID)', {}, 400);
    try {
      await run(c, orgId.data, userId.data, form);
    } catch (e) {
      return membersPage(c, orgId.data, problem(e), {}, statusOf(e));
    }
    return c.redirect(back(orgId.data), 303);
  };
}

export const MEMBER_ROUTES: AdminRoute<UiEnv>[] = [
  route('GET', '/members', 'member', 'list', (c) => membersPage(c, c.req.query('org_id'))),
  route('POST', '/members', 'member', 'create', async (c) => {
    const form = await formOf(c);
    const orgId = orgIdOf(form.org_id);
    if (!orgId.success) return membersPage(c, undefined, 'org_id: must be an organisation id (UUID)', form, 400);
    const parsed = parse(addMemberSchema, { email: form.email, role: form.role });
    if (!parsed.ok) return membersPage(c, orgId.data, parsed.message, form, 400);
    try {
      await addMember(actionContext(c), orgId.data, parsed.value);
    } catch (e) {
      return membersPage(c, orgId.data, problem(e), form, statusOf(e));
    }
    return c.redirect(back(orgId.data), 303);
  }),
  route('POST', '/members/:user_id/role', 'member', 'update', memberAction(async (c, orgId, userId, form) => {
    const parsed = parse(changeRoleSchema, { role: form.role });
    if (!parsed.ok) throw new GatewayError('invalid_request', parsed.message, { param: 'role' });
    return changeMemberRole(actionContext(c), orgId, userId, parsed.value.role);
  })),
  route('POST', '/members/:user_id/suspend', 'user', 'suspend', memberAction((c, _orgId, userId) => suspendUser(actionContext(c), userId))),
  route('POST', '/members/:user_id/reactivate', 'user', 'suspend', memberAction((c, _orgId, userId) => reactivateUser(actionContext(c), userId))),
  route('POST', '/members/:user_id/remove', 'member', 'delete', memberAction((c, orgId, userId) => removeMember(actionContext(c), orgId, userId))),
];
