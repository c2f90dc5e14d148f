/**
 * SAML 2.0 single sign-on with enforced MFA, end to end: the stack `npm start` runs (admin Worker
 * in workerd with @node-saml/node-saml, Postgres, Cerbos), a real signing SAML IdP on loopback
 * (test/support/saml-idp.ts, key and certificate generated at start), and Chromium for the person.
 * Every hostile Response is refused, leaves no session, and is audited as a denied login.
 */
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startSamlIdp, type SamlTamper, type TestSamlIdp } from '../support/saml-idp';
import { launchChromium, signInThroughSso } from '../support/chromium';
import { startE2E, type E2E, type Json } from './stack-fixture';
import { claim } from '../support/claims';

let e2e: E2E;
let idp: TestSamlIdp;
let browser: Browser;
let orgId: string;
let connection: Json;

beforeAll(async () => {
  [e2e, idp] = await Promise.all([startE2E(), startSamlIdp()]);
  const org = await e2e.admin('POST', '/orgs', { name: `SAML org ${Date.now()}` });
  expect(org.status).toBe(201);
  orgId = org.json.id;
  const created = await e2e.admin('POST', `/orgs/${orgId}/sso/saml`, {
    idp_metadata_xml: idp.metadataXml(),
    allowed_domains: ['saml.test'],
    role_mapping: { 'routero-admins': 'org_admin' },
    default_role: 'developer',
  });
  expect(created.status, JSON.stringify(created.json)).toBe(201);
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

async function lastSamlLogin(): Promise<Json> {
  const [row] = await e2e.query(`select actor, actor_email, login_method, mfa, org_id, outcome, target_type, target_id from admin_audit_log where action = 'login' and login_method = 'saml' order by seq desc limit 1`);
  return row;
}

describe('SAML connections over the API', () => {
  it('returns the connection with the SP entity id, ACS URL and metadata, defaults on, and audits the change', async () => {
    const admin = e2e.stack.adminUrl;
    expect(connection).toMatchObject({
      org_id: orgId,
      protocol: 'saml',
      idp_entity_id: idp.entityId,
      idp_sso_url: idp.ssoUrl,
      sp_entity_id: `${admin}/sso/saml/${connection.id}/metadata`,
      acs_url: `${admin}/sso/saml/${connection.id}/acs`,
      allowed_domains: ['saml.test'],
      require_mfa: true,
      jit: true,
      idp_initiated: false,
    });
    expect(connection.mfa_contexts).toContain('http://schemas.microsoft.com/claims/multipleauthn');
    const one = await e2e.admin('GET', `/sso/${connection.id}`);
    expect(one.status).toBe(200);
    expect(one.json.acs_url).toBe(connection.acs_url);
    const listed = await e2e.admin('GET', `/orgs/${orgId}/sso/saml`);
    expect(listed.json.data.map((c: Json) => c.id)).toEqual([connection.id]);
    const [audit] = await e2e.query(`select actor, outcome, target_id, org_id from admin_audit_log where action = 'sso_connection.create' order by seq desc limit 1`);
    expect(audit).toMatchObject({ actor: 'master', outcome: 'allowed', target_id: connection.id, org_id: orgId });

    const metadata = await fetch(connection.metadata_url);
    expect(metadata.status).toBe(200);
    expect(metadata.headers.get('content-type')).toContain('application/samlmetadata+xml');
    const xml = await metadata.text();
    expect(xml).toContain(`entityID="${connection.sp_entity_id}"`);
    expect(xml).toContain(`Location="${connection.acs_url}"`);
    expect(xml).toContain('WantAssertionsSigned="true"');
  });

  it('accepts entity id + SSO URL + certificate, and refuses bad input with clear 4xx errors', async () => {
    const manual = await e2e.admin('POST', `/orgs/${orgId}/sso/saml`, { idp_entity_id: 'urn:test:manual', idp_sso_url: idp.ssoUrl, idp_certificate_pem: idp.certPem, allowed_domains: ['manual.test'], require_mfa: false });
    expect(manual.status).toBe(201);
    expect(manual.json).toMatchObject({ idp_entity_id: 'urn:test:manual', require_mfa: false });
    expect((await e2e.admin('DELETE', `/sso/${manual.json.id}`)).status).toBe(200);

    const badCert = await e2e.admin('POST', `/orgs/${orgId}/sso/saml`, { idp_entity_id: 'urn:x', idp_sso_url: idp.ssoUrl, idp_certificate_pem: 'not a certificate', allowed_domains: ['b.test'] });
    expect(badCert.status).toBe(400);
    expect(badCert.json.error.param).toBe('idp_certificate_pem');
    const badXml = await e2e.admin('POST', `/orgs/${orgId}/sso/saml`, { idp_metadata_xml: '<md:EntityDescriptor', allowed_domains: ['b.test'] });
    expect(badXml.status).toBe(400);
    expect(badXml.json.error.param).toBe('idp_metadata_xml');
    const missing = await e2e.admin('POST', `/orgs/${orgId}/sso/saml`, { idp_entity_id: 'urn:x', allowed_domains: ['b.test'] });
    expect(missing.status).toBe(400);
    const taken = await e2e.admin('POST', `/orgs/${orgId}/sso/saml`, { idp_metadata_xml: idp.metadataXml(), allowed_domains: ['saml.test'] });
    expect(taken.status).toBe(409);
    expect((await e2e.admin('GET', `/sso/${crypto.randomUUID()}`)).status).toBe(404);
  });
});

describe('signing in with SAML in Chromium', () => {
  beforeAll(async () => {
    browser = await launchChromium();
  });

  it(claim('saml-sso', 'signs in a person who used MFA: lands in the UI as them, with the role their group maps to'), async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    await signInThroughSso(page, e2e.stack.adminUrl, 'sara@saml.test', new URL(idp.ssoUrl).origin, 'sara');
    await page.waitForURL((u) => u.origin === e2e.stack.adminUrl && u.pathname === '/ui');
    expect(await page.textContent('header')).toContain('sara@saml.test');

    const [user] = await e2e.query('select id, display_name, last_login_mfa from users where email = $1', ['sara@saml.test']);
    expect(user).toMatchObject({ display_name: 'Sara Saml', last_login_mfa: true });
    expect(await e2e.query('select org_id, role from org_memberships where user_id = $1', [user!.id])).toEqual([{ org_id: orgId, role: 'org_admin' }]);
    const [session] = await e2e.query('select login_method, mfa from admin_sessions where user_id = $1 and ended_at is null', [user!.id]);
    expect(session).toEqual({ login_method: 'saml', mfa: true });
    expect(await lastSamlLogin()).toMatchObject({ actor: user!.id, actor_email: 'sara@saml.test', mfa: true, org_id: orgId, outcome: 'allowed' });

    // As org_admin she sees the SAML connection, with what to configure at the IdP.
    await page.goto(`${e2e.stack.adminUrl}/ui/sso`);
    const row = page.locator('[data-testid=sso-connections] tr[data-protocol=saml]');
    expect(await row.textContent()).toContain(connection.acs_url);
    await context.close();
  });

  it(claim('saml-sso', 'refuses a person whose IdP login showed no MFA context: a clear page and a denied audit row'), async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    await signInThroughSso(page, e2e.stack.adminUrl, 'pete@saml.test', new URL(idp.ssoUrl).origin, 'pete');
    await page.waitForURL((u) => u.pathname === `/sso/saml/${connection.id}/acs`);
    const refused = page.locator('[data-testid=sso-refused]');
    expect(await refused.getAttribute('data-reason')).toBe('mfa_required');
    expect(await lastSamlLogin()).toMatchObject({ actor: 'unknown', actor_email: 'pete@saml.test', mfa: false, outcome: 'denied', target_type: 'saml_refusal:mfa_required', target_id: connection.id, org_id: orgId });
    expect(await e2e.query('select id from users where email = $1', ['pete@saml.test'])).toEqual([]);
    expect((await context.cookies(e2e.stack.adminUrl)).some((c) => c.name === 'routero_session')).toBe(false);
    await context.close();
  });

  it('lets an admin add a SAML connection from IdP metadata in the UI and delete it', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    page.on('dialog', (d) => void d.accept());
    await page.goto(`${e2e.stack.adminUrl}/ui/login`);
    await page.fill('#master_key', e2e.stack.masterKey);
    await page.click('button:has-text("Log in")');
    await page.waitForURL((u) => u.pathname === '/ui');
    await page.goto(`${e2e.stack.adminUrl}/ui/sso?org_id=${orgId}`);
    await page.fill('#saml-metadata', idp.metadataXml());
    await page.fill('#saml-domains', 'ui-saml.test');
    await page.fill('#saml-roles', 'platform-team = org_admin');
    await page.click('button:has-text("Add SAML connection")');
    const row = page.locator('[data-testid=sso-connections] tr', { hasText: 'ui-saml.test' });
    await row.waitFor();
    expect(await row.textContent()).toContain('platform-team → org_admin');
    expect(await row.textContent()).toMatch(/\/sso\/saml\/[0-9a-f-]+\/acs/);
    await row.locator('button:has-text("Delete")').click();
    await page.locator('[data-testid=sso-connections] tr', { hasText: 'ui-saml.test' }).waitFor({ state: 'detached' });
    await context.close();
  });
});

/** Plays the browser: /start (keeping the binding cookie), then the IdP's Response posted to the ACS. */
async function startLogin(username: string, opts: { tamper?: SamlTamper; assertionId?: string } = {}) {
  const start = await fetch(`${e2e.stack.adminUrl}/sso/saml/${connection.id}/start`, { redirect: 'manual' });
  expect(start.status).toBe(302);
  const cookie = start.headers.getSetCookie().map((c) => c.split(';')[0]).join('; ');
  expect(cookie).toMatch(/^routero_saml=/);
  const answer = idp.respond(start.headers.get('location')!, username, opts);
  expect(answer.acsUrl).toBe(connection.acs_url);
  const post = async (samlResponse = answer.samlResponse, withCookie = cookie) => {
    const res = await fetch(answer.acsUrl, { method: 'POST', redirect: 'manual', headers: { 'content-type': 'application/x-www-form-urlencoded', ...(withCookie ? { cookie: withCookie } : {}) }, body: new URLSearchParams({ SAMLResponse: samlResponse }) });
    const html = await res.text();
    return { status: res.status, reason: /data-reason="([a-z_]+)"/.exec(html)?.[1] ?? null, session: res.headers.getSetCookie().some((c) => c.startsWith('routero_session=')) };
  };
  return { ...answer, cookie, post };
}

describe('refusals at the ACS (HTTP), each audited', () => {
  it('a valid Response signs in once; posting it again is refused', async () => {
    const login = await startLogin('eve');
    expect(await login.post()).toMatchObject({ status: 200, session: true });
    const [member] = await e2e.query(`select m.role from org_memberships m join users u on u.id = m.user_id where u.email = 'eve@saml.test'`);
    expect(member).toEqual({ role: 'developer' });
    expect(await login.post()).toMatchObject({ status: 400, reason: 'state_invalid', session: false });
    expect(await lastSamlLogin()).toMatchObject({ outcome: 'denied', target_type: 'saml_refusal:state_invalid' });
  });

  it('refuses a login without an MFA context, recording who it was and that no MFA was shown', async () => {
    const login = await startLogin('pete');
    expect(await login.post()).toMatchObject({ status: 403, reason: 'mfa_required', session: false });
    expect(await lastSamlLogin()).toMatchObject({ actor: 'unknown', actor_email: 'pete@saml.test', mfa: false, outcome: 'denied', target_type: 'saml_refusal:mfa_required', target_id: connection.id });
    expect(await e2e.query('select id from users where email = $1', ['pete@saml.test'])).toEqual([]);
  });

  it("the login page's SSO form sends a SAML domain to the SAML connection", async () => {
    const res = await fetch(`${e2e.stack.adminUrl}/sso/oidc/find`, { method: 'POST', body: new URLSearchParams({ email: 'someone@saml.test' }) });
    expect(res.status).toBe(200);
    expect(await res.text()).toContain(`url=/sso/saml/${connection.id}/start`);
  });

  it(claim('saml-sso', 'refuses an assertion whose ID was already used, even in a new Response to a new request (replay cache)'), async () => {
    const assertionId = `_replay${crypto.randomUUID().replace(/-/g, '')}`;
    expect(await (await startLogin('sara', { assertionId })).post()).toMatchObject({ status: 200, session: true });
    expect(await (await startLogin('sara', { assertionId })).post()).toMatchObject({ status: 400, reason: 'replayed', session: false });
    expect(await lastSamlLogin()).toMatchObject({ outcome: 'denied', target_type: 'saml_refusal:replayed', org_id: orgId });
  });

  const hostile: [SamlTamper, string][] = [
    ['modified-after-signing', 'an assertion altered after signing'],
    ['other-certificate', 'an assertion signed by another certificate'],
    ['expired', 'an expired assertion'],
    ['wrong-audience', 'an assertion for another audience'],
    ['unsigned', 'an unsigned assertion'],
    ['sha1', 'an assertion signed with RSA-SHA1'],
    ['wrapping', 'an XML signature wrapping payload (unsigned assertion wrapped around the signed one)'],
  ];
  for (const [tamper, what] of hostile) {
    it(claim('saml-sso', `refuses ${what}`), async () => {
      const before = await e2e.query(`select count(*)::int as n from admin_sessions`);
      const login = await startLogin('mallory', { tamper });
      expect(await login.post()).toMatchObject({ status: 400, reason: 'token_invalid', session: false });
      expect(await lastSamlLogin()).toMatchObject({ actor: 'unknown', outcome: 'denied', target_type: 'saml_refusal:token_invalid', target_id: connection.id, org_id: orgId });
      expect(await e2e.query(`select count(*)::int as n from admin_sessions`)).toEqual(before);
      // Nobody was signed in as the victim the payloads name, nor as the attacker.
      expect(await e2e.query(`select id from users where email = 'mallory@saml.test'`)).toEqual([]);
    });
  }

  it('refuses a Response carried to another browser (no binding cookie), and one to a request never made', async () => {
    const login = await startLogin('sara');
    expect(await login.post(login.samlResponse, '')).toMatchObject({ status: 400, reason: 'state_invalid', session: false });
    const unsolicited = await startLogin('sara');
    const forged = Buffer.from(Buffer.from(unsolicited.samlResponse, 'base64').toString('utf8').split(unsolicited.requestId).join('_never-requested'), 'utf8').toString('base64');
    expect(await unsolicited.post(forged)).toMatchObject({ status: 400, session: false });
  });

  it('answers garbage and unknown connections with a clear page, not a 500', async () => {
    const login = await startLogin('sara');
    expect(await login.post('bm90IHhtbA==')).toMatchObject({ status: 400, reason: 'token_invalid' });
    const unknown = await fetch(`${e2e.stack.adminUrl}/sso/saml/${crypto.randomUUID()}/acs`, { method: 'POST', body: new URLSearchParams({ SAMLResponse: 'eA==' }) });
    expect(unknown.status).toBe(404);
    expect((await fetch(`${e2e.stack.adminUrl}/sso/saml/not-a-uuid/start`, { redirect: 'manual' })).status).toBe(404);
  });
});
