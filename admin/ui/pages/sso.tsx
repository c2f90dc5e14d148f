/**
 * UI page: an organisation's SSO connections (OIDC and SAML 2.0). Lists them with what to register
 * at the IdP (OIDC redirect URI; SAML entity id, ACS URL, metadata URL), adds one (an OIDC client
 * secret is sent once and never shown again; SAML takes IdP metadata XML), deletes one.
 * Mounted by the UI router behind its session and CSRF middleware; the add form and the delete
 * buttons appear only where Cerbos allows them.
 */
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import * as actions from '../../actions';
import { adminOrigin } from '../../api/sso';
import { ORG_ROLES } from '../../db/schema';
import { createSamlConnection, createSamlConnectionSchema } from '../../domain/saml-connections';
import { createOidcConnection, createOidcConnectionSchema, deleteSsoConnection, listSsoConnections } from '../../domain/sso-connections';
import { actionContext } from '../../middleware';
import { route, type AdminRoute } from '../../route-table';
import { uuidField } from '../../schemas';
import { can, withAnswers } from '../can';
import { formOf, lines, problem, statusOf, words, type FormValues } from '../forms';
import { ActionButton, Badge, Csrf, ErrorBox, fmtTime, Layout } from '../layout';
import type { UiContext, UiEnv } from '../session-middleware';

type Ctx = UiContext;

/** "group = role" per line → {group: role}. */
function roleMapping(v: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of (v ?? '').split('\n')) {
    const at = line.lastIndexOf('=');
    if (at > 0) out[line.slice(0, at).trim()] = line.slice(at + 1).trim();
  }
  return out;
}

async function ssoPage(c: Ctx, orgId: string | undefined, error: string | null = null, values: FormValues = {}, status: ContentfulStatusCode = 200) {
  const ctx = actionContext(c);
  const orgs = await actions.listOrgs(ctx);
  const org = orgs.find((o) => o.id === orgId) ?? orgs[0];
  // With no organisation yet, the page still asks its one question (may they list connections?).
  if (!org) await can(c, { kind: 'sso_connection' }, 'list');
  const connections = org ? await listSsoConnections(ctx, org.id, adminOrigin(c)) : [];
  const [mayCreate, rows] = await Promise.all([
    org ? can(c, { kind: 'sso_connection', orgId: org.id }, 'create') : false,
    withAnswers(connections, (k) => can(c, { kind: 'sso_connection', id: k.id, orgId: k.org_id }, 'delete')),
  ]);
  const csrf = c.var.page.csrf;
  const samlError = values.saml_form ? error : null;
  return c.html(
    <Layout title="Single sign-on" page={c.var.page}>
      <form class="filters" method="get" action="/ui/sso">
        <div>
          <label for="sso-org">Organisation</label>
          <select id="sso-org" name="org_id">{orgs.map((o) => <option value={o.id} selected={o.id === org?.id}>{o.name}</option>)}</select>
        </div>
        <button class="secondary" type="submit">Show</button>
      </form>
      <table data-testid="sso-connections">
        <thead><tr><th>protocol</th><th>identity provider</th><th>domains</th><th>MFA</th><th>roles</th><th>JIT</th><th>configure at the IdP</th><th>created</th><th></th></tr></thead>
        <tbody>
          {rows.map(({ item: k, may: mayDelete }) => {
            const idp = k.protocol === 'saml' ? k.idp_entity_id : k.issuer;
            return (
              <tr data-protocol={k.protocol}>
                <td>{k.protocol === 'saml' ? 'SAML 2.0' : 'OIDC'}</td>
                <td>{idp}{k.protocol === 'oidc' ? <> (client <code>{k.client_id}</code>)</> : null}</td>
                <td>{k.allowed_domains.join(', ')}</td>
                <td>
                  {k.require_mfa ? <Badge value="required" /> : 'not required'}
                  {k.protocol === 'oidc' && k.acr_values.length ? ` (acr: ${k.acr_values.join(' ')})` : ''}
                  {k.protocol === 'saml' && k.require_mfa ? ` (${k.mfa_contexts.length} accepted contexts)` : ''}
                </td>
                <td>{[...Object.entries(k.role_mapping).map(([g, r]) => `${g} → ${r}`), `default → ${k.default_role ?? 'refuse'}`].join('; ')}</td>
                <td>{k.jit ? 'yes' : 'no'}</td>
                <td>
                  {k.protocol === 'saml' ? (
                    <>
                      entity id <code>{k.sp_entity_id}</code>, ACS <code>{k.acs_url}</code>, <a href={k.metadata_url}>metadata</a>
                    </>
                  ) : (
                    <code>{k.redirect_uri}</code>
                  )}
                </td>
                <td>{fmtTime(k.created_at)}</td>
                <td>
                  {mayDelete ? (
                    <ActionButton action={`/ui/sso/${k.id}/delete`} csrf={csrf} orgId={k.org_id} label="Delete" danger confirm={`Delete the SSO connection to ${idp}? People of ${k.allowed_domains.join(', ')} will no longer be able to sign in with it.`} />
                  ) : null}
                </td>
              </tr>
            );
          })}
        </tbody>
      </table>
      {org && mayCreate ? (
        <div class="card">
          <h2>Add an OIDC connection</h2>
          <p class="muted">
            Register <code>{`${adminOrigin(c)}/sso/oidc/callback`}</code> as the redirect URI at your identity provider. The client secret is encrypted (AES-256-GCM) and never shown again.
          </p>
          <ErrorBox message={error} />
          <form method="post" action="/ui/sso">
            <Csrf token={csrf} />
            <input type="hidden" name="org_id" value={org.id} />
            <label for="sso-issuer">Issuer URL</label>
            <input type="url" id="sso-issuer" name="issuer" value={values.issuer ?? ''} placeholder="https://example.okta.com" required />
            <label for="sso-client-id">Client ID</label>
            <input type="text" id="sso-client-id" name="client_id" value={values.client_id ?? ''} required />
            <label for="sso-client-secret">Client secret</label>
            <input type="password" id="sso-client-secret" name="client_secret" autocomplete="off" required />
            <label for="sso-domains">Allowed email domains (one per line)</label>
            <textarea id="sso-domains" name="allowed_domains" required>{values.allowed_domains ?? ''}</textarea>
            <label for="sso-roles">Role mapping (one "group = role" per line; roles: {ORG_ROLES.join(', ')})</label>
            <textarea id="sso-roles" name="role_mapping">{values.role_mapping ?? ''}</textarea>
            <label for="sso-default-role">Default role (for people in no mapped group)</label>
            <select id="sso-default-role" name="default_role">
              <option value="">none: refuse them</option>
              {ORG_ROLES.map((r) => <option value={r} selected={values.default_role === r}>{r}</option>)}
            </select>
            <label for="sso-groups-claim">Groups claim</label>
            <input type="text" id="sso-groups-claim" name="groups_claim" value={values.groups_claim ?? 'groups'} />
            <label for="sso-scopes">Scopes (space separated)</label>
            <input type="text" id="sso-scopes" name="scopes" value={values.scopes ?? 'openid email profile'} />
            <label for="sso-acr">acr values that count as MFA (space separated, optional)</label>
            <input type="text" id="sso-acr" name="acr_values" value={values.acr_values ?? ''} />
            <label><input type="checkbox" name="require_mfa" value="true" checked={values.require_mfa !== 'false'} /> Require multi-factor authentication</label>
            <label><input type="checkbox" name="jit" value="true" checked={values.jit !== 'false'} /> Create people on their first sign-in (just in time)</label>
            <p><button type="submit">Add SSO connection</button></p>
          </form>
        </div>
      ) : null}
      {org && mayCreate ? (
        <div class="card">
          <h2>Add a SAML 2.0 connection</h2>
          <p class="muted">
            Paste your identity provider's metadata XML. After adding, configure the IdP with the entity id and ACS URL shown in the table (or its metadata URL). Only signed assertions (RSA-SHA256 or stronger) are accepted; IdP-initiated sign-in is off.
          </p>
          <ErrorBox message={samlError} />
          <form method="post" action="/ui/sso/saml">
            <Csrf token={csrf} />
            <input type="hidden" name="org_id" value={org.id} />
            <label for="saml-metadata">IdP metadata XML</label>
            <textarea id="saml-metadata" name="idp_metadata_xml" required>{values.idp_metadata_xml ?? ''}</textarea>
            <label for="saml-domains">Allowed email domains (one per line)</label>
            <textarea id="saml-domains" name="allowed_domains" required>{values.saml_form ? values.allowed_domains ?? '' : ''}</textarea>
            <label for="saml-roles">Role mapping (one "group = role" per line; roles: {ORG_ROLES.join(', ')})</label>
            <textarea id="saml-roles" name="role_mapping">{values.saml_form ? values.role_mapping ?? '' : ''}</textarea>
            <label for="saml-default-role">Default role (for people in no mapped group)</label>
            <select id="saml-default-role" name="default_role">
              <option value="">none: refuse them</option>
              {ORG_ROLES.map((r) => <option value={r} selected={values.saml_form === 'true' && values.default_role === r}>{r}</option>)}
            </select>
            <label for="saml-groups">Groups attribute</label>
            <input type="text" id="saml-groups" name="groups_attribute" value={values.groups_attribute ?? 'groups'} />
            <label for="saml-mfa-contexts">AuthnContextClassRef values that count as MFA (one per line; empty: the defaults for Okta, Entra ID and the SAML two-factor classes)</label>
            <textarea id="saml-mfa-contexts" name="mfa_contexts">{values.mfa_contexts ?? ''}</textarea>
            <input type="hidden" name="saml_form" value="true" />
            <label><input type="checkbox" name="require_mfa" value="true" checked={values.require_mfa !== 'false'} /> Require multi-factor authentication</label>
            <label><input type="checkbox" name="jit" value="true" checked={values.jit !== 'false'} /> Create people on their first sign-in (just in time)</label>
            <p><button type="submit">Add SAML connection</button></p>
          </form>
        </div>
      ) : org ? (
        <ErrorBox message={error} />
      ) : (
        <p class="muted">Create an organisation first.</p>
      )}
    </Layout>,
    status,
  );
}

/** The end of both "add a connection" forms: show the first problem in the form, or create and go back to the list. */
async function createFromForm<T>(
  c: Ctx,
  form: FormValues,
  values: FormValues,
  parsed: { success: true; data: T } | { success: false; error: { issues: { path: PropertyKey[]; message: string }[] } },
  create: (ctx: ReturnType<typeof actionContext>, orgId: string, input: T, origin: string) => Promise<unknown>,
) {
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    return ssoPage(c, form.org_id, `${issue.path.join('.') || 'input'}: ${issue.message}`, values, 400);
  }
  const orgId = uuidField('organisation').safeParse(form.org_id);
  if (!orgId.success) return ssoPage(c, undefined, 'org_id: must be an organisation id (UUID)', values, 400);
  try {
    await create(actionContext(c), orgId.data, parsed.data, adminOrigin(c));
  } catch (e) {
    return ssoPage(c, orgId.data, problem(e), values, statusOf(e));
  }
  return c.redirect(`/ui/sso?org_id=${encodeURIComponent(form.org_id ?? '')}`, 303);
}

export const SSO_ROUTES: AdminRoute<UiEnv>[] = [
  route('GET', '/sso', 'sso_connection', 'list', (c) => ssoPage(c, c.req.query('org_id'))),
  route('POST', '/sso', 'sso_connection', 'create', async (c) => {
    const form = await formOf(c);
    const { client_secret: _secret, ...keep } = form; // never echo the secret back
    const values = { ...keep, require_mfa: form.require_mfa ?? 'false', jit: form.jit ?? 'false' };
    const parsed = createOidcConnectionSchema(c.env.ALLOW_PRIVATE_UPSTREAMS === 'true').safeParse({
      issuer: form.issuer,
      client_id: form.client_id,
      client_secret: form.client_secret,
      allowed_domains: lines(form.allowed_domains),
      role_mapping: roleMapping(form.role_mapping),
      default_role: form.default_role || null,
      groups_claim: form.groups_claim || undefined,
      scopes: form.scopes ? words(form.scopes) : undefined,
      require_mfa: form.require_mfa === 'true',
      acr_values: words(form.acr_values),
      jit: form.jit === 'true',
    });
    return createFromForm(c, form, values, parsed, createOidcConnection);
  }),
  route('POST', '/sso/saml', 'sso_connection', 'create', async (c) => {
    const form = await formOf(c);
    const values = { ...form, require_mfa: form.require_mfa ?? 'false', jit: form.jit ?? 'false', saml_form: 'true' };
    const parsed = createSamlConnectionSchema(c.env.ALLOW_PRIVATE_UPSTREAMS === 'true').safeParse({
      idp_metadata_xml: form.idp_metadata_xml,
      allowed_domains: lines(form.allowed_domains),
      role_mapping: roleMapping(form.role_mapping),
      default_role: form.default_role || null,
      groups_attribute: form.groups_attribute || undefined,
      require_mfa: form.require_mfa === 'true',
      mfa_contexts: lines(form.mfa_contexts),
      jit: form.jit === 'true',
    });
    return createFromForm(c, form, values, parsed, createSamlConnection);
  }),
  route('POST', '/sso/:id/delete', 'sso_connection', 'delete', async (c) => {
    const form = await formOf(c);
    try {
      await deleteSsoConnection(actionContext(c), c.req.param('id') ?? '', adminOrigin(c));
    } catch (e) {
      return ssoPage(c, form.org_id, problem(e), {}, statusOf(e));
    }
    return c.redirect(`/ui/sso?org_id=${encodeURIComponent(form.org_id ?? '')}`, 303);
  }),
];
