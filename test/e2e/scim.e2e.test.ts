/**
 * SCIM 2.0 provisioning on the real stack (workerd, Postgres, Cerbos, KV, the gateway): the request
 * sequences Okta and Microsoft Entra ID send (test/fixtures/scim/), filters, errors, pagination, and
 * instant deprovisioning — the person's virtual keys refused at the gateway (measured), their API
 * tokens and UI session dead, audit rows naming `scim:<token id>`.
 *
 * The stack runs with the product's default key cache TTL (30 s), so the measured time from the
 * SCIM call to the first gateway refusal of a key the gateway had just verified is the real bound.
 */
import fc from 'fast-check';
import fs from 'node:fs';
import path from 'node:path';
import OpenAI from 'openai';
import { chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startE2E, type E2E, type Json } from './stack-fixture';
import { claim } from '../support/claims';

const KEY_CACHE_TTL_SECONDS = 30;
const FIXTURES = path.join(import.meta.dirname, '..', 'fixtures', 'scim');
const run = Date.now().toString(36);

let e2e: E2E;
let orgOkta: string;
let orgEntra: string;
let oktaToken: { id: string; token: string };
let entraToken: { id: string; token: string };
const measurements: string[] = [];

interface Step {
  name: string;
  method: string;
  path: string;
  body?: unknown;
  expect: { status: number; totalResults?: number; body?: Record<string, unknown> };
  save?: Record<string, string>;
  hook?: string;
}

async function scim(token: string, method: string, p: string, body?: unknown, contentType = 'application/scim+json') {
  const res = await fetch(`${e2e.stack.adminUrl}/scim/v2${p}`, {
    method,
    headers: { authorization: `Bearer ${token}`, accept: 'application/scim+json', ...(body === undefined ? {} : { 'content-type': contentType }) },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, json: text ? (JSON.parse(text) as Json) : null, headers: res.headers, text };
}

async function login(email: string): Promise<{ status: number; cookie: string | null }> {
  const res = await fetch(`${e2e.stack.adminUrl}/ui/test-login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email }) });
  const cookie = res.headers.getSetCookie().find((c) => c.startsWith('routero_session='))?.split(';')[0] ?? null;
  return { status: res.status, cookie };
}

async function asCookie(cookie: string, method: string, p: string, body?: unknown) {
  const res = await fetch(`${e2e.stack.adminUrl}/api/v1${p}`, {
    method,
    headers: { cookie, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, json: text ? (JSON.parse(text) as Json) : null };
}

async function roleIn(orgId: string, email: string): Promise<string | null> {
  const rows = await e2e.query<{ role: string }>('select m.role from org_memberships m join users u on u.id = m.user_id where m.org_id = $1 and u.email = $2', [orgId, email]);
  return rows[0]?.role ?? null;
}

function fill<T>(value: T, vars: Record<string, string>): T {
  const text = JSON.stringify(value).replace(/\{\{(\w+)\}\}/g, (_, name: string) => {
    if (!(name in vars)) throw new Error(`fixture placeholder {{${name}}} has no value`);
    return JSON.stringify(vars[name]).slice(1, -1);
  });
  return JSON.parse(text) as T;
}

/** Runs a fixture's steps in order; a hook gets the moment its step was sent. */
async function runSequence(file: string, token: string, vars: Record<string, string>, hooks: Record<string, (sentAt: number) => Promise<void>>) {
  const fixture = JSON.parse(fs.readFileSync(path.join(FIXTURES, file), 'utf8')) as { steps: Step[] };
  const used = new Set<string>();
  for (const raw of fixture.steps) {
    const step = fill(raw, vars);
    const sentAt = Date.now();
    const res = await scim(token, step.method, step.path, step.body);
    expect(res.status, `${step.name}: ${res.text}`).toBe(step.expect.status);
    if (res.status !== 204) expect(res.headers.get('content-type'), step.name).toMatch(/^application\/scim\+json/);
    if (step.expect.totalResults !== undefined) {
      expect(res.json.schemas, step.name).toEqual(['urn:ietf:params:scim:api:messages:2.0:ListResponse']);
      expect(res.json.totalResults, step.name).toBe(step.expect.totalResults);
      expect(res.json.Resources, step.name).toHaveLength(step.expect.totalResults);
    }
    if (step.expect.body) expect(res.json, step.name).toMatchObject(step.expect.body);
    for (const [name, field] of Object.entries(step.save ?? {})) vars[name] = res.json[field];
    if (step.hook) {
      const hook = hooks[step.hook];
      if (!hook) throw new Error(`no hook ${step.hook}`);
      used.add(step.hook);
      await hook(sentAt);
    }
  }
  expect([...used].sort()).toEqual(Object.keys(hooks).sort());
}

async function scimToken(orgId: string, name: string) {
  const res = await e2e.admin('POST', `/orgs/${orgId}/scim-tokens`, { name });
  expect(res.status, JSON.stringify(res.json)).toBe(201);
  return { id: res.json.id as string, token: res.json.token as string };
}

function gatewayClient(key: string) {
  return new OpenAI({ baseURL: `${e2e.stack.gatewayUrl}/v1`, apiKey: key, maxRetries: 0 });
}

async function chat(key: string): Promise<number> {
  try {
    await gatewayClient(key).chat.completions.create({ model: 'mock/echo', messages: [{ role: 'user', content: 'hi' }] });
    return 200;
  } catch (e) {
    return (e as { status?: number }).status ?? -1;
  }
}

beforeAll(async () => {
  e2e = await startE2E({ testLogin: true, keyCacheTtlSeconds: KEY_CACHE_TTL_SECONDS });
  orgOkta = (await e2e.admin('POST', '/orgs', { name: 'SCIM Okta', allowed_models: ['mock/*'] })).json.id;
  orgEntra = (await e2e.admin('POST', '/orgs', { name: 'SCIM Entra', allowed_models: ['mock/*'] })).json.id;
  // role_mapping lives on the organisation's SSO connection; SCIM groups map through it.
  const okta = await e2e.admin('POST', `/orgs/${orgOkta}/sso/oidc`, {
    issuer: 'https://okta-scim.example.com',
    client_id: 'routero',
    client_secret: 'not-used-by-these-tests',
    allowed_domains: [`okta-${run}.test`],
    role_mapping: { 'Routero Admins': 'org_admin', 'Routero Developers': 'developer' },
    default_role: 'auditor',
  });
  expect(okta.status, JSON.stringify(okta.json)).toBe(201);
  const entra = await e2e.admin('POST', `/orgs/${orgEntra}/sso/oidc`, {
    issuer: 'https://login.microsoftonline.example.com/tenant/v2.0',
    client_id: 'routero',
    client_secret: 'not-used-by-these-tests',
    allowed_domains: [`entra-${run}.test`],
    // Entra's groups claim carries object ids: the mapping names the group by its object id.
    role_mapping: { '6f1c2e0a-1b2c-4d3e-9f00-000000000001': 'auditor' },
  });
  expect(entra.status, JSON.stringify(entra.json)).toBe(201);
  oktaToken = await scimToken(orgOkta, 'Okta');
  entraToken = await scimToken(orgEntra, 'Entra ID');
}, 240_000);

afterAll(async () => {
  for (const m of measurements) console.log(m);
  await e2e?.close();
});

describe('SCIM tokens', () => {
  it('are shown once, kept as a hash, listed with last use, and revocable', async () => {
    expect(oktaToken.token).toMatch(/^rtsc_[a-z2-7]{16}_[A-Za-z0-9]{43}$/);
    const [row] = await e2e.query<{ secret_sha256: string }>('select secret_sha256 from scim_tokens where id = $1', [oktaToken.id]);
    expect(row!.secret_sha256).toMatch(/^[0-9a-f]{64}$/);
    const spare = await scimToken(orgOkta, 'spare');
    expect((await scim(spare.token, 'GET', '/Users')).status).toBe(200);
    const list = await e2e.admin('GET', `/orgs/${orgOkta}/scim-tokens`);
    expect(list.status).toBe(200);
    expect(JSON.stringify(list.json)).not.toContain(spare.token.split('_').at(-1));
    const listed = (list.json.data as Json[]).find((t) => t.id === spare.id);
    expect(listed).toMatchObject({ name: 'spare', status: 'active' });
    expect(listed.last_used_at).not.toBeNull();
    expect((await e2e.admin('DELETE', `/orgs/${orgOkta}/scim-tokens/${spare.id}`)).status).toBe(200);
    const refused = await scim(spare.token, 'GET', '/Users');
    expect(refused.status).toBe(401);
    expect(refused.json).toEqual({ schemas: ['urn:ietf:params:scim:api:messages:2.0:Error'], status: '401', detail: 'Invalid or revoked SCIM bearer token.' });
    // Another organisation's admin path cannot revoke it: the token id is hidden there.
    expect((await e2e.admin('DELETE', `/orgs/${orgEntra}/scim-tokens/${oktaToken.id}`)).status).toBe(404);
  });

  it('only an org_admin makes them; a SCIM token reaches nothing of the management API', async () => {
    await e2e.admin('POST', `/orgs/${orgOkta}/members`, { email: `dev@okta-${run}.test`, role: 'developer' });
    const dev = await login(`dev@okta-${run}.test`);
    expect((await asCookie(dev.cookie!, 'POST', `/orgs/${orgOkta}/scim-tokens`, { name: 'nope' })).status).toBe(403);
    const api = await fetch(`${e2e.stack.adminUrl}/api/v1/orgs`, { headers: { authorization: `Bearer ${oktaToken.token}` } });
    expect(api.status).toBe(401);
  });
});

describe('Okta sequence', () => {
  it(claim('scim-deprovisioning', 'create → update → group membership and roles → deactivate (keys, tokens, session dead) → reactivate'), async () => {
    const userName = `alice@okta-${run}.test`;
    const password = `Okta-Pa55-${run}`;
    let cookie = '';
    let warmKey = '';
    let coldKey = '';
    let apiToken = '';
    const vars: Record<string, string> = { userName, password, run };
    await runSequence('okta.json', oktaToken.token, vars, {
      created: async () => {
        expect(await roleIn(orgOkta, userName)).toBe('auditor'); // no group yet: the connection's default_role
        const stored = JSON.stringify(await e2e.query('select * from scim_users where user_id = $1', [vars.userId]));
        expect(stored).not.toContain(password);
        const audit = await e2e.query<Json>("select actor, login_method, outcome from admin_audit_log where action = 'scim.user.create' and target_id = $1", [vars.userId]);
        expect(audit).toEqual([{ actor: `scim:${oktaToken.id}`, login_method: 'scim_token', outcome: 'allowed' }]);
      },
      developer_by_group: async () => expect(await roleIn(orgOkta, userName)).toBe('developer'),
      admin_by_rename: async () => expect(await roleIn(orgOkta, userName)).toBe('org_admin'),
      default_role_without_group: async () => expect(await roleIn(orgOkta, userName)).toBe('auditor'),
      before_deactivation: async () => {
        expect(await roleIn(orgOkta, userName)).toBe('org_admin');
        const signedIn = await login(userName);
        expect(signedIn.status).toBe(200);
        cookie = signedIn.cookie!;
        const warm = await asCookie(cookie, 'POST', '/keys', { org_id: orgOkta, name: 'warm', models: ['mock/*'] });
        const cold = await asCookie(cookie, 'POST', '/keys', { org_id: orgOkta, name: 'cold', models: ['mock/*'] });
        expect(warm.status, JSON.stringify(warm.json)).toBe(201);
        warmKey = warm.json.key;
        coldKey = cold.json.key;
        const token = await asCookie(cookie, 'POST', '/api-tokens', { org_id: orgOkta, name: 'alice automation', role: 'developer' });
        expect(token.status, JSON.stringify(token.json)).toBe(201);
        apiToken = token.json.token;
        // The gateway verifies the warm key now and keeps it in its isolate cache.
        expect(await chat(warmKey)).toBe(200);
        expect(await chat(warmKey)).toBe(200);
        expect((await fetch(`${e2e.stack.adminUrl}/api/v1/orgs`, { headers: { authorization: `Bearer ${apiToken}` } })).status).toBe(200);
      },
      deactivated: async (sentAt) => {
        // In the same request: session, API token, and KV (a key the gateway never cached is refused at once).
        expect((await asCookie(cookie, 'GET', '/keys')).status).toBe(401);
        const page = await fetch(`${e2e.stack.adminUrl}/ui/keys`, { headers: { cookie }, redirect: 'manual' });
        expect(page.status).toBe(302);
        expect(page.headers.get('location')).toContain('/ui/login');
        expect((await fetch(`${e2e.stack.adminUrl}/api/v1/orgs`, { headers: { authorization: `Bearer ${apiToken}` } })).status).toBe(401);
        expect(await chat(coldKey)).toBe(401);
        const coldRefusedMs = Date.now() - sentAt;
        // The warm key: refused when the gateway's isolate cache entry expires (≤ KEY_CACHE_TTL).
        let refusedMs = -1;
        while (Date.now() - sentAt < (KEY_CACHE_TTL_SECONDS + 5) * 1000) {
          const status = await chat(warmKey);
          if (status !== 200) {
            expect(status).toBe(401);
            refusedMs = Date.now() - sentAt;
            break;
          }
          await new Promise((r) => setTimeout(r, 100));
        }
        measurements.push(
          `SCIM deactivation → first gateway refusal: ${refusedMs} ms for a key the gateway had cached (key cache TTL ${KEY_CACHE_TTL_SECONDS} s); ${coldRefusedMs} ms for a key it had not`,
        );
        expect(refusedMs).toBeGreaterThanOrEqual(0);
        expect(refusedMs).toBeLessThanOrEqual(KEY_CACHE_TTL_SECONDS * 1000 + 2000);
        const [user] = await e2e.query<{ status: string }>('select status from users where email = $1', [userName]);
        expect(user!.status).toBe('suspended');
        const keys = await e2e.query<{ revoked_at: Date | null }>('select revoked_at from virtual_keys where owner_user_id = $1', [vars.userId]);
        expect(keys.length).toBe(2);
        expect(keys.every((k) => k.revoked_at !== null)).toBe(true);
        const open = await e2e.query('select id from admin_sessions where user_id = $1 and ended_at is null', [vars.userId]);
        expect(open).toEqual([]);
        const audit = await e2e.query<{ action: string; actor: string }>(
          "select action, actor from admin_audit_log where actor = $1 and action in ('scim.user.patch', 'virtual_key.revoke', 'api_token.revoke') and outcome = 'allowed' order by seq",
          [`scim:${oktaToken.id}`],
        );
        expect(audit.map((a) => a.action).sort()).toEqual(expect.arrayContaining(['api_token.revoke', 'scim.user.patch', 'virtual_key.revoke', 'virtual_key.revoke']));
        expect((await login(userName)).status).toBe(403);
      },
      reactivated: async () => {
        // Sign-in comes back; the revoked keys and tokens do not.
        const again = await login(userName);
        expect(again.status).toBe(200);
        expect(await chat(coldKey)).toBe(401);
        expect(await chat(warmKey)).toBe(401);
        expect((await fetch(`${e2e.stack.adminUrl}/api/v1/orgs`, { headers: { authorization: `Bearer ${apiToken}` } })).status).toBe(401);
        expect(await roleIn(orgOkta, userName)).toBe('org_admin');
      },
    });
  }, 120_000);
});

describe('Entra ID sequence', () => {
  it(claim('scim-deprovisioning', 'probes → create → PATCH with Entra quirks → group by object id → disable ("False") → delete'), async () => {
    const userName = `bob@entra-${run}.test`;
    const newEmail = `robert@entra-${run}.test`;
    const vars: Record<string, string> = { userName, newEmail, run, probeGuid: crypto.randomUUID(), groupObjectId: '6f1c2e0a-1b2c-4d3e-9f00-000000000001' };
    let cookie = '';
    await runSequence('entra.json', entraToken.token, vars, {
      // No group and no default_role: provisioned, but no membership, so no sign-in yet.
      created: async () => expect(await roleIn(orgEntra, userName)).toBeNull(),
      email_changed: async () => {
        const [row] = await e2e.query<{ email: string }>('select email from users where id = $1', [vars.userId]);
        expect(row!.email).toBe(newEmail);
      },
      auditor_by_object_id: async () => {
        expect(await roleIn(orgEntra, newEmail)).toBe('auditor');
        const signedIn = await login(newEmail);
        expect(signedIn.status).toBe(200);
        cookie = signedIn.cookie!;
        expect((await asCookie(cookie, 'GET', '/orgs')).status).toBe(200);
      },
      no_role_without_group: async () => expect(await roleIn(orgEntra, newEmail)).toBeNull(),
      deactivated: async () => {
        expect((await asCookie(cookie, 'GET', '/orgs')).status).toBe(401);
        const [row] = await e2e.query<{ status: string }>('select status from users where id = $1', [vars.userId]);
        expect(row!.status).toBe('suspended');
      },
      deleted: async () => {
        // Kept for the audit trail, suspended, no longer visible to SCIM.
        const [row] = await e2e.query<{ status: string }>('select status from users where id = $1', [vars.userId]);
        expect(row!.status).toBe('suspended');
        expect(await e2e.query('select 1 from scim_users where user_id = $1', [vars.userId])).toEqual([]);
        const actions = await e2e.query<{ action: string }>('select action from admin_audit_log where actor = $1 and target_id = $2 order by seq', [`scim:${entraToken.id}`, vars.userId]);
        expect(actions.map((a) => a.action)).toEqual(expect.arrayContaining(['scim.user.create', 'scim.user.patch', 'scim.user.delete']));
      },
    });
  }, 120_000);
});

describe('SCIM filters, pagination, errors', () => {
  const T = () => entraToken.token;
  const ids: string[] = [];

  beforeAll(async () => {
    for (let i = 0; i < 5; i++) {
      const res = await scim(T(), 'POST', '/Users', {
        schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'],
        userName: `Page${i}@entra-${run}.test`,
        externalId: `ext-${i}`,
        emails: [{ type: 'work', value: `page${i}.work@entra-${run}.test`, primary: true }],
        active: i % 2 === 0,
      });
      expect(res.status, res.text).toBe(201);
      ids.push(res.json.id);
    }
  });

  const list = async (query: string) => scim(T(), 'GET', `/Users?${query}`);
  const names = (res: { json: Json }) => (res.json.Resources as Json[]).map((r) => r.userName);

  it('filters: userName eq (case-insensitive), externalId eq, work email, and/or, active', async () => {
    expect(names(await list(`filter=${encodeURIComponent(`userName eq "page1@ENTRA-${run}.test"`)}`))).toEqual([`Page1@entra-${run}.test`]);
    expect(names(await list(`filter=${encodeURIComponent('externalId eq "ext-2"')}`))).toEqual([`Page2@entra-${run}.test`]);
    expect((await list(`filter=${encodeURIComponent('externalId eq "EXT-2"')}`)).json.totalResults).toBe(0); // externalId is case-exact
    expect(names(await list(`filter=${encodeURIComponent(`emails[type eq "work"].value eq "page3.work@entra-${run}.test"`)}`))).toEqual([`Page3@entra-${run}.test`]);
    expect(names(await list(`filter=${encodeURIComponent(`userName eq "page0@entra-${run}.test" or externalId eq "ext-4"`)}`))).toEqual([`Page0@entra-${run}.test`, `Page4@entra-${run}.test`]);
    expect((await list(`filter=${encodeURIComponent(`userName eq "page0@entra-${run}.test" and externalId eq "ext-4"`)}`)).json.totalResults).toBe(0);
    const inactive = await list(`filter=${encodeURIComponent(`active eq false and userName sw "page"`)}`);
    expect(names(inactive)).toEqual([`Page1@entra-${run}.test`, `Page3@entra-${run}.test`]);
  });

  it('paginates with startIndex and count, and totalResults counts all matches', async () => {
    const filter = encodeURIComponent(`userName sw "page"`);
    const p1 = await list(`filter=${filter}&startIndex=1&count=2`);
    const p2 = await list(`filter=${filter}&startIndex=3&count=2`);
    const p3 = await list(`filter=${filter}&startIndex=5&count=2`);
    expect([p1, p2, p3].map((p) => p.json.totalResults)).toEqual([5, 5, 5]);
    expect([p1, p2, p3].map((p) => p.json.itemsPerPage)).toEqual([2, 2, 1]);
    expect(p2.json.startIndex).toBe(3);
    expect([...names(p1), ...names(p2), ...names(p3)]).toEqual([0, 1, 2, 3, 4].map((i) => `Page${i}@entra-${run}.test`));
    const all = await list('startIndex=0&count=1000');
    expect(all.json.startIndex).toBe(1);
    expect(all.json.itemsPerPage).toBeLessThanOrEqual(200);
    const none = await list('count=0');
    expect(none.json.Resources).toEqual([]);
    expect(none.json.totalResults).toBeGreaterThanOrEqual(5);
  });

  it('answers errors in SCIM format: uniqueness, invalidFilter, invalidSyntax, noTarget, invalidValue, 404', async () => {
    const dup = await scim(T(), 'POST', '/Users', { schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'], userName: `PAGE0@entra-${run}.test` });
    expect(dup.status).toBe(409);
    expect(dup.json).toMatchObject({ schemas: ['urn:ietf:params:scim:api:messages:2.0:Error'], status: '409', scimType: 'uniqueness' });
    const badFilter = await list(`filter=${encodeURIComponent('userName eq')}`);
    expect(badFilter.status).toBe(400);
    expect(badFilter.json).toMatchObject({ status: '400', scimType: 'invalidFilter' });
    const badJson = await scim(T(), 'POST', '/Users', '{"userName": ');
    expect(badJson.json).toMatchObject({ status: '400', scimType: 'invalidSyntax' });
    const noTarget = await scim(T(), 'PATCH', `/Users/${ids[0]}`, { schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'], Operations: [{ op: 'remove' }] });
    expect(noTarget.json).toMatchObject({ status: '400', scimType: 'noTarget' });
    const badActive = await scim(T(), 'PATCH', `/Users/${ids[0]}`, { schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'], Operations: [{ op: 'replace', path: 'active', value: 'maybe' }] });
    expect(badActive.json).toMatchObject({ status: '400', scimType: 'invalidValue' });
    const noEmail = await scim(T(), 'POST', '/Users', { userName: 'not-an-email' });
    expect(noEmail.json).toMatchObject({ status: '400', scimType: 'invalidValue' });
    const badMember = await scim(T(), 'POST', '/Groups', { displayName: `g-${run}`, members: [{ value: crypto.randomUUID() }] });
    expect(badMember.json).toMatchObject({ status: '400', scimType: 'invalidValue' });
    for (const p of ['/Users/00000000-0000-4000-8000-000000000000', '/Users/not-a-uuid', '/Groups/00000000-0000-4000-8000-000000000000', '/Nope']) {
      const missing = await scim(T(), 'GET', p);
      expect(missing.status, p).toBe(404);
      expect(missing.json).toMatchObject({ schemas: ['urn:ietf:params:scim:api:messages:2.0:Error'], status: '404' });
    }
    // Nothing half-written: the refused create left no user behind.
    expect(await e2e.query("select 1 from users where email = 'not-an-email'")).toEqual([]);
  });

  it('a token reaches only its own organisation: another org’s user is a missing user', async () => {
    const other = await scim(oktaToken.token, 'GET', `/Users/${ids[0]}`);
    expect(other.status).toBe(404);
    expect((await scim(oktaToken.token, 'PATCH', `/Users/${ids[0]}`, { schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'], Operations: [{ op: 'replace', value: { active: false } }] })).status).toBe(404);
    expect((await scim(oktaToken.token, 'DELETE', `/Users/${ids[0]}`)).status).toBe(404);
    const listed = await scim(oktaToken.token, 'GET', `/Users?filter=${encodeURIComponent(`userName eq "page0@entra-${run}.test"`)}`);
    expect(listed.json.totalResults).toBe(0);
    expect((await scim(T(), 'GET', `/Users/${ids[0]}`)).json.active).toBe(true);
  });

  it('serves the discovery documents', async () => {
    const spc = await scim(T(), 'GET', '/ServiceProviderConfig');
    expect(spc.json).toMatchObject({ patch: { supported: true }, filter: { supported: true }, bulk: { supported: false } });
    const types = await scim(T(), 'GET', '/ResourceTypes');
    expect((types.json.Resources as Json[]).map((t) => t.id)).toEqual(['User', 'Group']);
    const schemas = await scim(T(), 'GET', '/Schemas');
    expect((schemas.json.Resources as Json[]).map((s) => s.id)).toContain('urn:ietf:params:scim:schemas:core:2.0:User');
    expect((await scim(T(), 'GET', '/Schemas/urn:ietf:params:scim:schemas:core:2.0:Group')).json.name).toBe('Group');
    expect((await fetch(`${e2e.stack.adminUrl}/scim/v2/ServiceProviderConfig`)).status).toBe(401);
    // An admin credential is no SCIM token.
    const master = await fetch(`${e2e.stack.adminUrl}/scim/v2/Users`, { headers: { authorization: `Bearer ${e2e.stack.masterKey}` } });
    expect(master.status).toBe(401);
    expect(master.headers.get('content-type')).toMatch(/^application\/scim\+json/);
  });
});

describe('a person in two organisations', () => {
  it("one organisation's IdP ends access there only: no global suspension, no email change, the other org's keys live", async () => {
    const email = `carol@shared-${run}.test`;
    expect((await e2e.admin('POST', `/orgs/${orgOkta}/members`, { email, role: 'developer' })).status).toBe(201);
    // Entra's SCIM links her only because an admin made her a member there too (README, SCIM).
    expect((await scim(entraToken.token, 'POST', '/Users', { userName: email })).status).toBe(409);
    expect((await e2e.admin('POST', `/orgs/${orgEntra}/members`, { email, role: 'auditor' })).status).toBe(201);
    const created = await scim(entraToken.token, 'POST', '/Users', { schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'], userName: email, emails: [{ type: 'work', value: email, primary: true }] });
    expect(created.status, created.text).toBe(201);
    const group = await scim(entraToken.token, 'POST', '/Groups', { displayName: `Shared auditors ${run}`, externalId: '6f1c2e0a-1b2c-4d3e-9f00-000000000001', members: [{ value: created.json.id }] });
    expect(group.status, group.text).toBe(201);
    expect(await roleIn(orgEntra, email)).toBe('auditor');
    expect(await roleIn(orgOkta, email)).toBe('developer');

    const session = (await login(email)).cookie!;
    const oktaKey = await asCookie(session, 'POST', '/keys', { org_id: orgOkta, name: 'carol okta', models: ['mock/*'] });
    expect(oktaKey.status, JSON.stringify(oktaKey.json)).toBe(201);
    const entraKey = await e2e.admin('POST', '/keys', { org_id: orgEntra, name: 'carol entra', models: ['mock/*'] });
    await e2e.query('update virtual_keys set owner_user_id = $1 where id = $2', [created.json.id, entraKey.json.id]);

    const renamed = await scim(entraToken.token, 'PATCH', `/Users/${created.json.id}`, {
      schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'],
      Operations: [{ op: 'Replace', path: 'emails[type eq "work"].value', value: `attacker-${run}@entra.test` }],
    });
    expect(renamed.status, renamed.text).toBe(200);
    expect((await e2e.query<{ email: string }>('select email from users where id = $1', [created.json.id]))[0]!.email).toBe(email);

    const off = await scim(entraToken.token, 'PATCH', `/Users/${created.json.id}`, { schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'], Operations: [{ op: 'Replace', path: 'active', value: 'False' }] });
    expect(off.status, off.text).toBe(200);
    expect((await e2e.query<{ status: string }>('select status from users where id = $1', [created.json.id]))[0]!.status).toBe('active');
    expect(await roleIn(orgEntra, email)).toBeNull();
    expect(await roleIn(orgOkta, email)).toBe('developer');
    expect(await chat(entraKey.json.key)).toBe(401);
    expect(await chat(oktaKey.json.key)).toBe(200);
    expect((await login(email)).status).toBe(200);
  }, 60_000);
});

describe("one organisation's IdP and everyone else", () => {
  it('cannot link a person of another organisation, give an address of its domains, or reach Object.prototype', async () => {
    const erin = `erin@shared-${run}.test`;
    expect((await e2e.admin('POST', `/orgs/${orgEntra}/members`, { email: erin, role: 'developer' })).status).toBe(201);
    const link = await scim(oktaToken.token, 'POST', '/Users', { userName: erin });
    expect(link.json).toMatchObject({ status: '409', scimType: 'uniqueness' });
    const foreign = await scim(oktaToken.token, 'POST', '/Users', { userName: `newbie@entra-${run}.test` });
    expect(foreign.json).toMatchObject({ status: '400', scimType: 'invalidValue' });

    const own = await scim(oktaToken.token, 'POST', '/Users', { userName: `pp@okta-${run}.test` });
    expect(own.status, own.text).toBe(201);
    const rename = await scim(oktaToken.token, 'PATCH', `/Users/${own.json.id}`, { schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'], Operations: [{ op: 'replace', path: 'userName', value: `ceo@entra-${run}.test` }] });
    expect(rename.json).toMatchObject({ status: '400', scimType: 'invalidValue' });
    for (const attack of [
      '{"Operations":[{"op":"add","path":"__proto__.platform_admin","value":true}]}',
      '{"Operations":[{"op":"add","path":"constructor.prototype.platform_admin","value":true}]}',
      '{"Operations":[{"op":"add","value":{"__proto__":{"platform_admin":true}}}]}',
    ]) {
      const res = await scim(oktaToken.token, 'PATCH', `/Users/${own.json.id}`, attack);
      expect(res.status, attack).toBe(400);
    }
    const fresh = await scim(oktaToken.token, 'POST', '/Users', { userName: `fresh@okta-${run}.test` });
    expect(fresh.status, fresh.text).toBe(201);
    expect(await e2e.query('select email from users where platform_admin')).not.toContainEqual({ email: `fresh@okta-${run}.test` });
    expect((await e2e.query<{ email: string }>('select email from users where id = $1', [own.json.id]))[0]!.email).toBe(`pp@okta-${run}.test`);
  }, 60_000);
});

describe('an admin suspension and the IdP', () => {
  it("a routine PUT with active: true does not undo it; the IdP's own false → true does", async () => {
    const email = `dave@okta-${run}.test`;
    const user = { schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'], userName: email, emails: [{ type: 'work', value: email, primary: true }], active: true };
    const created = await scim(oktaToken.token, 'POST', '/Users', user);
    expect(created.status, created.text).toBe(201);
    expect((await e2e.admin('POST', `/users/${created.json.id}/suspend`)).status).toBe(200);
    const put = await scim(oktaToken.token, 'PUT', `/Users/${created.json.id}`, { ...user, name: { givenName: 'Dave' } });
    expect(put.status, put.text).toBe(200);
    expect((await login(email)).status).toBe(403);
    const patch = (active: boolean) => scim(oktaToken.token, 'PATCH', `/Users/${created.json.id}`, { schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'], Operations: [{ op: 'replace', value: { active } }] });
    expect((await patch(false)).status).toBe(200);
    expect((await patch(true)).status).toBe(200);
    expect((await login(email)).status).toBe(200);
  }, 60_000);
});

describe('SCIM page in the admin UI (headless Chromium)', () => {
  it('an org_admin creates a token (shown once), sees its last use, and revokes it; an auditor sees no form', async () => {
    const lead = `lead@okta-${run}.test`;
    const auditor = `auditor@okta-${run}.test`;
    expect((await e2e.admin('POST', `/orgs/${orgOkta}/members`, { email: lead, role: 'org_admin' })).status).toBe(201);
    expect((await e2e.admin('POST', `/orgs/${orgOkta}/members`, { email: auditor, role: 'auditor' })).status).toBe(201);
    const browser = await chromium.launch({
      executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
      args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    try {
      const context = await browser.newContext();
      expect((await context.request.post(`${e2e.stack.adminUrl}/ui/test-login`, { data: { email: lead } })).status()).toBe(200);
      const page = await context.newPage();
      page.on('dialog', (d) => void d.accept());
      await page.goto(`${e2e.stack.adminUrl}/ui/scim`);
      expect(await page.textContent('[data-testid=scim-base-url]')).toBe(`${e2e.stack.adminUrl}/scim/v2`);
      await page.selectOption('#s-org', { label: 'SCIM Okta' });
      await page.fill('#s-name', 'Okta from the UI');
      await page.click('button:has-text("Create SCIM token")');
      await page.locator('[data-testid=new-scim-token]').waitFor();
      const token = (await page.textContent('[data-testid=new-scim-token]'))!.trim();
      expect(token).toMatch(/^rtsc_[a-z2-7]{16}_[A-Za-z0-9]{43}$/);
      const id = token.split('_')[1]!;
      expect((await scim(token, 'GET', '/Users?count=1')).status).toBe(200);

      await page.goto(`${e2e.stack.adminUrl}/ui/scim`);
      const row = page.locator(`tr[data-token-id="${id}"]`);
      expect(await row.textContent()).toContain('Okta from the UI');
      expect(await page.content()).not.toContain(token.split('_')[2]!);
      const lastUsed = (await e2e.query<{ last_used_at: Date | null }>('select last_used_at from scim_tokens where id = $1', [id]))[0]!.last_used_at;
      expect(lastUsed).not.toBeNull();
      await row.locator('button:has-text("Revoke")').click();
      await page.waitForURL((u) => u.pathname === '/ui/scim');
      expect(await page.locator(`tr[data-token-id="${id}"]`).textContent()).toContain('revoked');
      expect((await scim(token, 'GET', '/Users')).status).toBe(401);
      const audit = await e2e.query<{ actor_email: string }>("select actor_email from admin_audit_log where action = 'scim_token.revoke' and target_id = $1", [id]);
      expect(audit).toEqual([{ actor_email: lead }]);

      const auditorContext = await browser.newContext();
      expect((await auditorContext.request.post(`${e2e.stack.adminUrl}/ui/test-login`, { data: { email: auditor } })).status()).toBe(200);
      const auditorPage = await auditorContext.newPage();
      await auditorPage.goto(`${e2e.stack.adminUrl}/ui/scim`);
      expect(await auditorPage.locator(`tr[data-token-id="${oktaToken.id}"]`).count()).toBe(1);
      expect(await auditorPage.locator('form[action="/ui/scim"]').count()).toBe(0);
      expect(await auditorPage.locator('button:has-text("Revoke")').count()).toBe(0);
    } finally {
      await browser.close();
    }
  }, 60_000);
});

describe('hostile SCIM input', () => {
  it('never answers 5xx, always answers in SCIM format, and leaves the audit chain intact (fast-check)', async () => {
    const T = entraToken.token;
    const victim = await scim(T, 'POST', '/Users', { userName: `fuzz-target@entra-${run}.test` });
    const group = await scim(T, 'POST', '/Groups', { displayName: `fuzz group ${run}` });
    expect(victim.status).toBe(201);
    const text = fc.oneof(
      fc.string({ maxLength: 60 }),
      fc.string({ unit: 'binary', maxLength: 60 }),
      fc.constantFrom('\u0000', '"', ']', '[', 'eq', 'userName eq "x" and', 'emails[type eq "work"', 'not(', 'a'.repeat(2100), '__proto__', 'constructor'),
    );
    const json: fc.Arbitrary<unknown> = fc.letrec((tie) => ({
      value: fc.oneof({ depthSize: 'small' }, text, fc.integer(), fc.boolean(), fc.constant(null), fc.array(tie('value'), { maxLength: 3 }), fc.dictionary(text, tie('value'), { maxKeys: 3 })),
    })).value;
    const userBody = fc.record(
      { userName: fc.oneof(text, json), emails: fc.oneof(json, fc.array(fc.record({ value: fc.oneof(text, json), type: text, primary: json }, { requiredKeys: [] }), { maxLength: 2 })), active: json, externalId: json, name: json },
      { requiredKeys: [] },
    );
    const op = fc.record({ op: fc.oneof(fc.constantFrom('add', 'Replace', 'remove', 'REMOVE'), text), path: fc.oneof(text, fc.constantFrom('active', 'members', 'emails[type eq "work"].value', 'name.givenName', 'members[value eq "x"]')), value: json }, { requiredKeys: [] });
    const patchBody = fc.oneof(fc.record({ schemas: fc.oneof(fc.constant(['urn:ietf:params:scim:api:messages:2.0:PatchOp']), json), Operations: fc.oneof(fc.array(op, { maxLength: 3 }), json) }, { requiredKeys: [] }), json);
    const request = fc.oneof(
      fc.record({ method: fc.constant('POST'), path: fc.constant('/Users'), body: fc.oneof(userBody, json) }),
      fc.record({ method: fc.constant('PUT'), path: fc.constant(`/Users/${victim.json.id}`), body: fc.oneof(userBody, json) }),
      fc.record({ method: fc.constant('PATCH'), path: fc.constant(`/Users/${victim.json.id}`), body: patchBody }),
      fc.record({ method: fc.constant('PATCH'), path: fc.constant(`/Groups/${group.json.id}`), body: patchBody }),
      fc.record({ method: fc.constant('POST'), path: fc.constant('/Groups'), body: fc.record({ displayName: fc.oneof(text, json), members: json }, { requiredKeys: [] }) }),
      fc.record({ method: fc.constant('GET'), path: fc.tuple(fc.constantFrom('/Users', '/Groups'), text, text).map(([p, f, n]) => `${p}?filter=${encodeURIComponent(f)}&startIndex=${encodeURIComponent(n)}&count=${encodeURIComponent(n)}`) }),
      fc.record({ method: fc.constantFrom('GET', 'DELETE'), path: text.map((t) => `/Users/${encodeURIComponent(t.slice(0, 200))}`) }),
    );
    const seed = Number(process.env.FUZZ_SEED ?? Date.now() % 100_000);
    await fc.assert(
      fc.asyncProperty(request, async (r) => {
        const res = await scim(T, r.method, r.path, 'body' in r ? JSON.stringify(r.body) : undefined);
        expect(res.status, `${r.method} ${r.path} → ${res.text.slice(0, 300)}`).toBeLessThan(500);
        if (res.status !== 204) expect(res.headers.get('content-type')).toMatch(/^application\/scim\+json/);
        if (res.status >= 400) expect(res.json).toMatchObject({ schemas: ['urn:ietf:params:scim:api:messages:2.0:Error'], status: String(res.status) });
      }),
      { numRuns: Number(process.env.FUZZ_RUNS ?? 150), seed },
    );
    // Changes and refusals were all appended to the hash-chained audit log without breaking it.
    const verify = await e2e.admin('GET', '/audit-log/verify');
    expect(verify.json.ok, JSON.stringify(verify.json.problems)).toBe(true);
  }, 300_000);
});
