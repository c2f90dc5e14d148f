/**
 * UI page: admin API tokens — status, last use, who created them. Create one for an organisation
 * with a role and an optional expiry (the token is shown once, in a copy box, like a virtual key:
 * only its hash is kept); revoke one after a confirmation. Forms only where Cerbos allows.
 */
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import * as actions from '../../actions';
import { ORG_ROLES } from '../../db/schema';
import { createApiToken, listApiTokens, revokeApiToken } from '../../domain/api-tokens';
import { actionContext } from '../../middleware';
import { route, type AdminRoute } from '../../route-table';
import { apiTokenIdField, createApiTokenSchema } from '../../schemas';
import { can, orgsWhereCreate, withAnswers } from '../can';
import { formOf, parse, problem, statusOf, utcFromLocalInput, type FormValues } from '../forms';
import { ActionButton, Badge, Csrf, ErrorBox, fmtTime, Layout, ShownOnce } from '../layout';
import { userEmails } from '../names';
import type { UiContext, UiEnv } from '../session-middleware';

async function apiTokensPage(c: UiContext, error: string | null = null, values: FormValues = {}, status: ContentfulStatusCode = 200) {
  const ctx = actionContext(c);
  const [orgRows, tokens] = await Promise.all([actions.listOrgs(ctx), listApiTokens(ctx)]);
  const orgName = new Map(orgRows.map((o) => [o.id, o.name]));
  const [creators, createIn, rows] = await Promise.all([
    userEmails(c.var.db, tokens.map((t) => t.created_by_user_id)),
    orgsWhereCreate(c, 'api_token', orgRows),
    withAnswers(tokens, (t) => (t.status === 'active' ? can(c, { kind: 'api_token', id: t.id, orgId: t.org_id }, 'revoke') : Promise.resolve(false))),
  ]);
  const csrf = c.var.page.csrf;
  return c.html(
    <Layout title="API tokens" page={c.var.page}>
      <p class="muted">
        Tokens for automation against the management API (<code>Authorization: Bearer rtat_…</code>). A token acts with its role in its organisation and never holds more than the person who made it.
      </p>
      {createIn.length ? null : <ErrorBox message={error} />}
      <table data-testid="api-tokens-table">
        <thead><tr><th>name</th><th>id</th><th>organisation</th><th>role</th><th>status</th><th>expires</th><th>last used</th><th>created by</th><th>created</th><th></th></tr></thead>
        <tbody>
          {rows.map(({ item: t, may: revocable }) => (
            <tr data-token-id={t.id}>
              <td>{t.name}</td><td><code>{t.id}</code></td><td>{orgName.get(t.org_id) ?? t.org_id}</td><td>{t.role}</td><td><Badge value={t.status} /></td>
              <td>{fmtTime(t.expires_at)}</td><td>{fmtTime(t.last_used_at)}</td>
              <td>{(t.created_by_user_id ? creators.get(t.created_by_user_id) : null) ?? t.created_by}</td><td>{fmtTime(t.created_at)}</td>
              <td>
                {revocable ? (
                  <ActionButton action={`/ui/api-tokens/${t.id}/revoke`} csrf={csrf} label="Revoke" danger confirm={`Revoke the API token "${t.name}"? Automation using it is refused at once. This cannot be undone.`} />
                ) : null}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {createIn.length ? (
        <div class="card">
          <h2>Create an API token</h2>
          <ErrorBox message={error} />
          <form method="post" action="/ui/api-tokens">
            <Csrf token={csrf} />
            <label for="t-org">Organisation</label>
            <select id="t-org" name="org_id">{createIn.map((o) => <option value={o.id} selected={values.org_id === o.id}>{o.name}</option>)}</select>
            <label for="t-name">Name</label>
            <input type="text" id="t-name" name="name" value={values.name ?? ''} required />
            <label for="t-role">Role</label>
            <select id="t-role" name="role">{ORG_ROLES.map((r) => <option value={r} selected={values.role === r}>{r}</option>)}</select>
            <label for="t-expires">Expires (UTC, optional)</label>
            <input type="datetime-local" id="t-expires" name="expires_at" value={values.expires_at ?? ''} />
            <p><button type="submit">Create token</button></p>
          </form>
        </div>
      ) : null}
    </Layout>,
    status,
  );
}

async function createToken(c: UiContext) {
  const form = await formOf(c);
  const expiresAt = utcFromLocalInput(form.expires_at);
  const parsed = parse(createApiTokenSchema, { org_id: form.org_id, name: form.name, role: form.role, ...(expiresAt ? { expires_at: expiresAt } : {}) });
  if (!parsed.ok) return apiTokensPage(c, parsed.message, form, 400);
  let created: Awaited<ReturnType<typeof createApiToken>>;
  try {
    created = await createApiToken(actionContext(c), parsed.value);
  } catch (e) {
    return apiTokensPage(c, problem(e), form, statusOf(e));
  }
  return c.html(
    <Layout title="Your new API token" page={c.var.page}>
      <div class="card">
        <ShownOnce id="new-token" secret={created.token} what="token" />
        <p>Name: {created.name} · id <code>{created.id}</code> · role {created.role} · expires {fmtTime(created.expires_at)}</p>
        <p><a href="/ui/api-tokens">Back to API tokens</a></p>
      </div>
    </Layout>,
    201,
  );
}

export const API_TOKEN_ROUTES: AdminRoute<UiEnv>[] = [
  route('GET', '/api-tokens', 'api_token', 'list', (c) => apiTokensPage(c)),
  route('POST', '/api-tokens', 'api_token', 'create', createToken),
  route('POST', '/api-tokens/:id/revoke', 'api_token', 'revoke', async (c) => {
    const id = apiTokenIdField.safeParse(c.req.param('id'));
    if (!id.success) return apiTokensPage(c, `id: ${id.error.issues[0]!.message}`, {}, 400);
    try {
      await revokeApiToken(actionContext(c), id.data);
    } catch (e) {
      return apiTokensPage(c, problem(e), {}, statusOf(e));
    }
    return c.redirect('/ui/api-tokens', 303);
  }),
];
