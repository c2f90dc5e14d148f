/**
 * OIDC single sign-on with enforced MFA, end to end: the stack `npm start` runs (admin Worker in
 * workerd, Postgres, Cerbos), a real OpenID Provider (oidc-provider on loopback, test/support),
 * and Chromium for the person signing in. The IdP is `http://localhost:<port>` and the admin UI
 * `http://127.0.0.1:<port>`: different sites, so cookies behave as with a real IdP.
 */
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startTestIdp, type TestIdp } from '../support/oidc-idp';
import { launchChromium, signInThroughSso } from '../support/chromium';
import { startE2E, type E2E, type Json } from './stack-fixture';
import { claim } from '../support/claims';

let e2e: E2E;
let idp: TestIdp;
let browser: Browser;
let orgId: string;
let connection: Json;
let clientSecret: string;

beforeAll(async () => {
  [e2e, idp] = await Promise.all([startE2E(), startTestIdp()]);
  browser = await launchChromium();
  const org = await e2e.admin('POST', '/orgs', { name: `SSO org ${Date.now()}` });
  expect(org.status).toBe(201);
  orgId = org.json.id;
  const client = await idp.registerClient(`${e2e.stack.adminUrl}/sso/oidc/callback`);
  clientSecret = client.clientSecret;
  const created = await e2e.admin('POST', `/orgs/${orgId}/sso/oidc`, {
    issuer: idp.issuer,
    client_id: client.clientId,
    client_secret: client.clientSecret,
    allowed_domains: ['acme.test'],
    role_mapping: { 'routero-admins': 'org_admin' },
    default_role: 'developer',
    scopes: ['openid', 'email', 'profile', 'groups'],
    jit: true,
  });
  expect(created.status).toBe(201);
  connection = created.json;
});

afterAll(async () => {
  await browser?.close();
  await idp?.close();
  await e2e?.close();
});

beforeEach(() => {
  idp.tamper = null;
});

/** The newest admin audit rows for login attempts through SSO. */
async function lastLoginRow(): Promise<Json> {
  const [row] = await e2e.query(`select actor, actor_email, login_method, mfa, org_id, action, outcome, target_type, target_id from admin_audit_log where action = 'login' and login_method = 'oidc' order by seq desc limit 1`);
  return row;
}

describe('SSO connections over the API', () => {
  it('returns the connection with its redirect URI, never the client secret, and stores the secret sealed', async () => {
    expect(connection).toMatchObject({
      org_id: orgId,
      protocol: 'oidc',
      issuer: idp.issuer,
      allowed_domains: ['acme.test'],
      require_mfa: true,
      jit: true,
      redirect_uri: `${e2e.stack.adminUrl}/sso/oidc/callback`,
    });
    expect(JSON.stringify(connection)).not.toContain(clientSecret);
    const listed = await e2e.admin('GET', `/orgs/${orgId}/sso`);
    expect(listed.status).toBe(200);
    expect(listed.json.data.map((c: Json) => c.id)).toEqual([connection.id]);
    expect(JSON.stringify(listed.json)).not.toContain(clientSecret);
    const [row] = await e2e.query<{ ciphertext: string; kek_version: number }>('select ciphertext, kek_version from sso_connections where id = $1', [connection.id]);
    expect(row!.kek_version).toBeGreaterThan(0);
    expect(JSON.stringify(await e2e.query('select * from sso_connections'))).not.toContain(clientSecret);
    const [audit] = await e2e.query(`select actor, outcome, target_id, org_id from admin_audit_log where action = 'sso_connection.create' order by seq desc limit 1`);
    expect(audit).toMatchObject({ actor: 'master', outcome: 'allowed', target_id: connection.id, org_id: orgId });
  });

  it('refuses a second connection for a domain that already signs in elsewhere, and bad input, with clear 4xx errors', async () => {
    const base = { issuer: idp.issuer, client_id: 'x', client_secret: 'y', allowed_domains: ['acme.test'] };
    const taken = await e2e.admin('POST', `/orgs/${orgId}/sso/oidc`, base);
    expect(taken.status).toBe(409);
    expect(taken.json.error.message).toContain('acme.test');
    const badRole = await e2e.admin('POST', `/orgs/${orgId}/sso/oidc`, { ...base, allowed_domains: ['b.test'], role_mapping: { g: 'platform_admin' } });
    expect(badRole.status).toBe(400);
    expect(badRole.json.error.param).toBe('role_mapping.g');
    const badIssuer = await e2e.admin('POST', `/orgs/${orgId}/sso/oidc`, { ...base, allowed_domains: ['b.test'], issuer: 'ftp://idp.example' });
    expect(badIssuer.status).toBe(400);
    expect(badIssuer.json.error.param).toBe('issuer');
    const missingOrg = await e2e.admin('POST', `/orgs/${crypto.randomUUID()}/sso/oidc`, { ...base, allowed_domains: ['c.test'] });
    expect(missingOrg.status).toBe(404);
    expect((await e2e.admin('DELETE', `/sso/${crypto.randomUUID()}`)).status).toBe(404);
  });
});

describe('signing in with SSO in Chromium', () => {
  it(claim('sso-mfa', 'signs in a person who used MFA: lands in the UI as them, with the role their group maps to'), async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    await signInThroughSso(page, e2e.stack.adminUrl, 'alice@acme.test', idp.issuer, 'alice');
    await page.waitForURL((u) => u.origin === e2e.stack.adminUrl && u.pathname === '/ui');
    expect(await page.textContent('header')).toContain('alice@acme.test');

    const [user] = await e2e.query('select id, email, display_name, last_login_mfa from users where email = $1', ['alice@acme.test']);
    expect(user).toMatchObject({ email: 'alice@acme.test', display_name: 'Alice Admin', last_login_mfa: true });
    const memberships = await e2e.query('select org_id, role from org_memberships where user_id = $1', [user!.id]);
    expect(memberships).toEqual([{ org_id: orgId, role: 'org_admin' }]);
    const [identity] = await e2e.query('select connection_id, subject from user_identities where user_id = $1', [user!.id]);
    expect(identity).toEqual({ connection_id: connection.id, subject: 'sub-alice' });
    const [session] = await e2e.query('select login_method, mfa from admin_sessions where user_id = $1 and ended_at is null', [user!.id]);
    expect(session).toEqual({ login_method: 'oidc', mfa: true });
    expect(await lastLoginRow()).toMatchObject({ actor: user!.id, actor_email: 'alice@acme.test', login_method: 'oidc', mfa: true, org_id: orgId, outcome: 'allowed' });

    // As org_admin of the organisation, Alice manages its SSO connections.
    await page.goto(`${e2e.stack.adminUrl}/ui/sso`);
    expect(await page.textContent('[data-testid=sso-connections]')).toContain(connection.issuer);

    const cookies = await context.cookies(e2e.stack.adminUrl);
    const sessionCookie = cookies.find((c) => c.name === 'routero_session');
    expect(sessionCookie).toMatchObject({ httpOnly: true, sameSite: 'Strict' });
    await context.close();
  });

  it(claim('sso-mfa', 'refuses a person who signed in without MFA: a clear page and a denied audit row with the reason'), async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    await signInThroughSso(page, e2e.stack.adminUrl, 'paul@acme.test', idp.issuer, 'paul');
    await page.waitForURL((u) => u.pathname === '/sso/oidc/callback');
    const refused = page.locator('[data-testid=sso-refused]');
    expect(await refused.getAttribute('data-reason')).toBe('mfa_required');
    expect(await refused.textContent()).toContain('requires multi-factor authentication');
    expect(await lastLoginRow()).toMatchObject({ actor: 'unknown', actor_email: 'paul@acme.test', login_method: 'oidc', mfa: false, org_id: orgId, outcome: 'denied', target_type: 'oidc_refusal:mfa_required', target_id: connection.id });
    expect(await e2e.query('select id from users where email = $1', ['paul@acme.test'])).toEqual([]);
    expect((await context.cookies(e2e.stack.adminUrl)).some((c) => c.name === 'routero_session')).toBe(false);
    await page.goto(`${e2e.stack.adminUrl}/ui`);
    expect(new URL(page.url()).pathname).toBe('/ui/login');
    await context.close();
  });

  it('lets an admin add a connection in the UI (the secret is never shown again) and delete it', async () => {
    const secret = `ui-secret-${crypto.randomUUID()}`;
    const context = await browser.newContext();
    const page = await context.newPage();
    page.on('dialog', (d) => void d.accept());
    await page.goto(`${e2e.stack.adminUrl}/ui/login`);
    await page.fill('#master_key', e2e.stack.masterKey);
    await page.click('button:has-text("Log in")');
    await page.waitForURL((u) => u.pathname === '/ui');
    await page.goto(`${e2e.stack.adminUrl}/ui/sso?org_id=${orgId}`);
    expect(await page.textContent('[data-testid=sso-connections]')).toContain(`${e2e.stack.adminUrl}/sso/oidc/callback`);
    // A domain that already signs in elsewhere: the form says so (409) and keeps everything but the secret.
    await page.fill('#sso-issuer', idp.issuer);
    await page.fill('#sso-client-id', 'ui-client');
    await page.fill('#sso-client-secret', secret);
    await page.fill('#sso-domains', 'acme.test');
    const [taken] = await Promise.all([page.waitForResponse((r) => r.url().endsWith('/ui/sso') && r.request().method() === 'POST'), page.click('button:has-text("Add SSO connection")')]);
    expect(taken.status()).toBe(409);
    expect(await page.textContent('.error')).toContain('acme.test already signs in through another SSO connection');
    expect(await page.inputValue('#sso-client-id')).toBe('ui-client');
    expect(await page.content()).not.toContain(secret);
    await page.fill('#sso-client-secret', secret);
    await page.fill('#sso-domains', 'ui.test');
    await page.fill('#sso-roles', 'platform-team = org_admin');
    await page.selectOption('#sso-default-role', 'auditor');
    await page.click('button:has-text("Add SSO connection")');
    const row = page.locator('[data-testid=sso-connections] tr', { hasText: 'ui.test' });
    await row.waitFor();
    expect(await row.textContent()).toContain('platform-team → org_admin');
    expect(await page.content()).not.toContain(secret);
    expect(await e2e.query('select issuer from sso_connections where org_id = $1 order by created_at', [orgId])).toHaveLength(2);
    await row.locator('button:has-text("Delete")').click();
    await page.locator('[data-testid=sso-connections] tr', { hasText: 'ui.test' }).waitFor({ state: 'detached' });
    expect(await e2e.query('select domain from sso_connection_domains where domain = $1', ['ui.test'])).toEqual([]);
    await context.close();
  });

  it('says so when no connection signs in the email domain', async () => {
    const page = await browser.newPage();
    await page.goto(`${e2e.stack.adminUrl}/ui/login`);
    await page.fill('#sso_email', 'someone@nowhere.test');
    await page.click('button:has-text("Sign in with SSO")');
    const refused = page.locator('[data-testid=sso-refused]');
    expect(await refused.getAttribute('data-reason')).toBe('no_sso_for_domain');
    expect(await refused.textContent()).toContain("No single sign-on is set up for that email address's domain");
    await page.close();
  });
});

/** A cookie-keeping HTTP client for the admin origin, playing the browser around the IdP. */
async function startLogin(username: string) {
  const start = await fetch(`${e2e.stack.adminUrl}/sso/oidc/${connection.id}/start`, { redirect: 'manual' });
  expect(start.status).toBe(302);
  const cookie = start.headers.getSetCookie().map((c) => c.split(';')[0]).join('; ');
  expect(cookie).toMatch(/^routero_oidc=/);
  const callback = await idp.signIn(start.headers.get('location')!, username);
  expect(callback.origin + callback.pathname).toBe(`${e2e.stack.adminUrl}/sso/oidc/callback`);
  const finish = async (url: URL = callback, withCookie = cookie) => {
    const res = await fetch(url, { redirect: 'manual', headers: withCookie ? { cookie: withCookie } : {} });
    const html = await res.text();
    return { status: res.status, html, reason: /data-reason="([a-z_]+)"/.exec(html)?.[1] ?? null, session: res.headers.getSetCookie().some((c) => c.startsWith('routero_session=')) };
  };
  return { callback, cookie, finish };
}

describe('refusals at the callback (HTTP)', () => {
  it('a valid callback starts a session once; replaying it is refused before the code reaches the IdP', async () => {
    const login = await startLogin('dave');
    const first = await login.finish();
    expect(first).toMatchObject({ status: 200, session: true });
    const before = idp.tokenRequests;
    const replay = await login.finish();
    expect(replay).toMatchObject({ status: 400, reason: 'state_invalid', session: false });
    expect(idp.tokenRequests).toBe(before);
    const [member] = await e2e.query(`select m.role from org_memberships m join users u on u.id = m.user_id where u.email = 'dave@acme.test'`);
    expect(member).toEqual({ role: 'developer' });
  });

  it('refuses a replayed code under a fresh state: the IdP will not redeem it twice', async () => {
    const used = await startLogin('alice');
    expect((await used.finish()).status).toBe(200);
    const fresh = await startLogin('alice');
    const mixed = new URL(fresh.callback);
    mixed.searchParams.set('code', used.callback.searchParams.get('code')!);
    expect(await fresh.finish(mixed)).toMatchObject({ status: 400, reason: 'code_rejected', session: false });
    expect(await lastLoginRow()).toMatchObject({ outcome: 'denied', target_type: 'oidc_refusal:code_rejected' });
  });

  it('refuses a tampered state', async () => {
    const login = await startLogin('alice');
    const tampered = new URL(login.callback);
    tampered.searchParams.set('state', `${tampered.searchParams.get('state')}A`);
    expect(await login.finish(tampered)).toMatchObject({ status: 400, reason: 'state_invalid', session: false });
    expect(await lastLoginRow()).toMatchObject({ outcome: 'denied', target_type: 'oidc_refusal:state_invalid' });
  });

  it('refuses a callback carried to another browser (no binding cookie): login CSRF', async () => {
    const login = await startLogin('alice');
    expect(await login.finish(login.callback, '')).toMatchObject({ status: 400, reason: 'state_invalid', session: false });
  });

  it('refuses an ID token with another nonce', async () => {
    const login = await startLogin('alice');
    idp.tamper = 'wrong-nonce';
    expect(await login.finish()).toMatchObject({ status: 400, reason: 'token_invalid', session: false });
    expect(await lastLoginRow()).toMatchObject({ outcome: 'denied', target_type: 'oidc_refusal:token_invalid', org_id: orgId });
  });

  it('refuses an ID token signed by a key the IdP never published', async () => {
    const login = await startLogin('alice');
    idp.tamper = 'unpublished-key';
    const before = idp.tokenRequests;
    expect(await login.finish()).toMatchObject({ status: 400, reason: 'token_invalid', session: false });
    expect(idp.tokenRequests).toBe(before + 1);
  });

  it('refuses an email outside the allowed domains', async () => {
    const login = await startLogin('olga');
    expect(await login.finish()).toMatchObject({ status: 403, reason: 'domain_not_allowed', session: false });
    expect(await e2e.query('select id from users where email = $1', ['olga@other.test'])).toEqual([]);
  });

  it("refuses an IdP asserting the email of someone who belongs to another organisation", async () => {
    const other = await e2e.admin('POST', '/orgs', { name: `Other org ${Date.now()}` });
    const added = await e2e.admin('POST', `/orgs/${other.json.id}/members`, { email: 'victim@acme.test', role: 'org_admin' });
    expect(added.status).toBe(201);
    idp.accounts.set('mallory', { sub: 'sub-mallory', email: 'victim@acme.test', name: 'Not Victim', groups: ['routero-admins'], amr: ['pwd', 'otp'] });
    const login = await startLogin('mallory');
    expect(await login.finish()).toMatchObject({ status: 403, reason: 'identity_conflict', session: false });
    const memberships = await e2e.query(`select m.org_id from org_memberships m join users u on u.id = m.user_id where u.email = 'victim@acme.test'`);
    expect(memberships).toEqual([{ org_id: other.json.id }]);
    expect(await e2e.query(`select subject from user_identities where subject = 'sub-mallory'`)).toEqual([]);
  });

  it('with jit off, refuses people who have no account yet', async () => {
    const org = await e2e.admin('POST', '/orgs', { name: `SSO no-JIT ${Date.now()}` });
    const client = await idp.registerClient(`${e2e.stack.adminUrl}/sso/oidc/callback`);
    const noJit = await e2e.admin('POST', `/orgs/${org.json.id}/sso/oidc`, {
      issuer: idp.issuer,
      client_id: client.clientId,
      client_secret: client.clientSecret,
      allowed_domains: ['other.test'],
      default_role: 'developer',
      jit: false,
    });
    expect(noJit.status).toBe(201);
    const start = await fetch(`${e2e.stack.adminUrl}/sso/oidc/${noJit.json.id}/start`, { redirect: 'manual' });
    const cookie = start.headers.getSetCookie().map((c) => c.split(';')[0]).join('; ');
    const callback = await idp.signIn(start.headers.get('location')!, 'olga');
    const res = await fetch(callback, { headers: { cookie } });
    expect(res.status).toBe(403);
    expect(await res.text()).toContain('data-reason="not_provisioned"');
    expect(await e2e.query('select id from users where email = $1', ['olga@other.test'])).toEqual([]);
    expect((await e2e.admin('DELETE', `/sso/${noJit.json.id}`)).status).toBe(200);
    expect((await fetch(`${e2e.stack.adminUrl}/sso/oidc/${noJit.json.id}/start`, { redirect: 'manual' })).status).toBe(404);
  });
});
