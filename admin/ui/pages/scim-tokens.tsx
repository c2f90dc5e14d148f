/**
 * UI page: SCIM tokens (issue 9) — the bearer tokens an organisation's identity provider provisions
 * people with, their last use, and the base URL to give the IdP. Create one (shown once, only its
 * hash is kept) and revoke one after a confirmation. Forms only where Cerbos allows.
 */
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import * as actions from '../../actions';
import { createScimToken, createScimTokenSchema, listScimTokens, revokeScimToken, scimTokenIdField } from '../../domain/scim-tokens';
import { actionContext } from '../../middleware';
import { route, type AdminRoute } from '../../route-table';
import { uuidField } from '../../schemas';
import { can, orgsWhereCreate, withAnswers } from '../can';
import { formOf, parse, problem, statusOf, type FormValues } from '../forms';
import { ActionButton, Badge, Csrf, ErrorBox, fmtTime, Layout, ShownOnce } from '../layout';
import { userEmails } from '../names';
import type { UiContext, UiEnv } from '../session-middleware';

const scimBase = (c: UiContext) => `${new URL(c.req.url).origin}/scim/v2`;

async function scimTokensPage(c: UiContext, error: string | null = null, values: FormValues = {}, status: ContentfulStatusCode = 200) {
  const ctx = actionContext(c);
  const [orgRows, tokens] = await Promise.all([actions.listOrgs(ctx), listScimTokens(ctx)]);
  const orgName = new Map(orgRows.map((o) => [o.id, o.name]));
  const [creators, createIn, rows] = await Promise.all([
    userEmails(c.var.db, tokens.map((t) => t.created_by_user_id)),
    orgsWhereCreate(c, 'scim_token', orgRows),
    withAnswers(tokens, (t) => (t.status === 'active' ? can(c, { kind: 'scim_token', id: t.id, orgId: t.org_id }, 'revoke') : Promise.resolve(false))),
  ]);
  const csrf = c.var.page.csrf;
  return c.html(
    <Layout title="SCIM provisioning" page={c.var.page}>
      <p class="muted">
        Your identity provider (Okta, Microsoft Entra ID) creates, updates and deactivates people here through SCIM 2.0. Base URL: <code data-testid="scim-base-url">{scimBase(c)}</code>; the
        token decides the organisation. Deactivating a person ends their sessions and revokes their keys at once.
      </p>
      {createIn.length ? null : <ErrorBox message={error} />}
      <table data-testid="scim-tokens-table">
        <thead><tr><th>name</th><th>id</th><th>organisation</th><th>status</th><th>last used</th><th>created by</th><th>created</th><th></th></tr></thead>
        <tbody>
          {rows.map(({ item: t, may: revocable }) => (
            <tr data-token-id={t.id}>
              <td>{t.name}</td><td><code>{t.id}</code></td><td>{orgName.get(t.org_id) ?? t.org_id}</td><td><Badge value={t.status} /></td>
              <td>{fmtTime(t.last_used_at)}</td>
              <td>{(t.created_by_user_id ? creators.get(t.created_by_user_id) : null) ?? t.created_by}</td><td>{fmtTime(t.created_at)}</td>
              <td>
                {revocable ? (
                  <ActionButton action={`/ui/scim/${t.id}/revoke`} csrf={csrf} label="Revoke" danger confirm={`Revoke the SCIM token "${t.name}"? The identity provider using it is refused at once. This cannot be undone.`} />
                ) : null}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {createIn.length ? (
        <div class="card">
          <h2>Create a SCIM token</h2>
          <ErrorBox message={error} />
          <form method="post" action="/ui/scim">
            <Csrf token={csrf} />
            <label for="s-org">Organisation</label>
            <select id="s-org" name="org_id">{createIn.map((o) => <option value={o.id} selected={values.org_id === o.id}>{o.name}</option>)}</select>
            <label for="s-name">Name (e.g. the identity provider)</label>
            <input type="text" id="s-name" name="name" value={values.name ?? ''} required />
            <p><button type="submit">Create SCIM token</button></p>
          </form>
        </div>
      ) : null}
    </Layout>,
    status,
  );
}

async function createToken(c: UiContext) {
  const form = await formOf(c);
  const org = uuidField('organisation').safeParse(form.org_id);
  const parsed = parse(createScimTokenSchema, { name: form.name });
  if (!org.success) return scimTokensPage(c, `org_id: ${org.error.issues[0]!.message}`, form, 400);
  if (!parsed.ok) return scimTokensPage(c, parsed.message, form, 400);
  let created: Awaited<ReturnType<typeof createScimToken>>;
  try {
    created = await createScimToken(actionContext(c), org.data, parsed.value);
  } catch (e) {
    return scimTokensPage(c, problem(e), form, statusOf(e));
  }
  return c.html(
    <Layout title="Your new SCIM token" page={c.var.page}>
      <div class="card">
        <ShownOnce id="new-scim-token" secret={created.token} what="token" />
        <p>Name: {created.name} · id <code>{created.id}</code> · SCIM base URL <code>{scimBase(c)}</code></p>
        <p><a href="/ui/scim">Back to SCIM provisioning</a></p>
      </div>
    </Layout>,
    201,
  );
}

export const SCIM_TOKEN_ROUTES: AdminRoute<UiEnv>[] = [
  route('GET', '/scim', 'scim_token', 'list', (c) => scimTokensPage(c)),
  route('POST', '/scim', 'scim_token', 'create', createToken),
  route('POST', '/scim/:id/revoke', 'scim_token', 'revoke', async (c) => {
    const id = scimTokenIdField.safeParse(c.req.param('id'));
    if (!id.success) return scimTokensPage(c, `id: ${id.error.issues[0]!.message}`, {}, 400);
    // The token's organisation, from the tokens this person may see (others do not exist for them).
    const token = (await listScimTokens(actionContext(c))).find((t) => t.id === id.data);
    if (!token) return scimTokensPage(c, `SCIM token ${id.data} does not exist.`, {}, 404);
    try {
      await revokeScimToken(actionContext(c), token.org_id, id.data);
    } catch (e) {
      return scimTokensPage(c, problem(e), {}, statusOf(e));
    }
    return c.redirect('/ui/scim', 303);
  }),
];
