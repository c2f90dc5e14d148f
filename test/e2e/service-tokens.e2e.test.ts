/**
 * Internal service tokens, "Test connection", the deep health check and key rotation on the real
 * stack (`npm start`'s: both Workers under wrangler dev with the admin Worker's GATEWAY service
 * binding, Postgres, Cerbos), with the fake providers; the admin UI in headless Chromium.
 */
import http from 'node:http';
import path from 'node:path';
import { SignJWT } from 'jose';
import OpenAI from 'openai';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { INTERNAL_GATEWAY_HOST, loadSigningKey, signServiceToken } from '../../lib/auth/service-token';
import { readDotenv } from '../../scripts/dev-vars';
import { BAD_PROVIDER_KEY_PREFIX } from '../support/fake-providers';
import { eventually, startE2E, type E2E, type Json } from './stack-fixture';
import { claim } from '../support/claims';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const GOOD_SECRET = `sk-svc-good-${crypto.randomUUID()}`;
const BAD_SECRET = `${BAD_PROVIDER_KEY_PREFIX}-svc-CANARY-${crypto.randomUUID()}`;

let e2e: E2E;
let orgId: string;
let goodPk: string;
let badPk: string;

beforeAll(async () => {
  e2e = await startE2E({ testClock: true });
  orgId = (await e2e.admin('POST', '/orgs', { name: 'Service tokens' })).json.id;
  goodPk = (await e2e.admin('POST', '/provider-keys', { org_id: orgId, provider: 'openai', name: 'good openai', secret: GOOD_SECRET, base_url: `${e2e.openai.url}/v1` })).json.id;
  badPk = (await e2e.admin('POST', '/provider-keys', { org_id: orgId, provider: 'anthropic', name: 'bad anthropic', secret: BAD_SECRET, base_url: e2e.anthropic.url })).json.id;
}, 180_000);

afterAll(async () => {
  await e2e?.close();
});

/** A raw HTTP request to the gateway port naming any Host (fetch cannot). */
function rawGateway(pathname: string, opts: { host: string; token?: string; method?: string; body?: unknown }): Promise<{ status: number; text: string }> {
  const url = new URL(e2e.stack.gatewayUrl);
  const body = opts.body === undefined ? undefined : JSON.stringify(opts.body);
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: url.hostname,
        port: url.port,
        path: pathname,
        method: opts.method ?? 'GET',
        headers: { host: opts.host, ...(opts.token ? { authorization: `Bearer ${opts.token}` } : {}), ...(body ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } : {}) },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (text += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/** The stack's own admin signing key (the dev launcher generated it into the run's .dev.vars). */
async function stackSigningKey() {
  const vars = readDotenv(path.join(path.dirname(e2e.persistDir), '.dev.vars'));
  return loadSigningKey(vars.INTERNAL_TOKEN_SIGNING_KEY);
}

describe('Test connection (through the service binding)', () => {
  it('reports a working provider key: ok, upstream status and latency, after a real call with the decrypted key', async () => {
    const before = e2e.openai.received.length;
    const res = await e2e.admin('POST', `/provider-keys/${goodPk}/test`);
    expect(res.status, JSON.stringify(res.json)).toBe(200);
    expect(res.json).toMatchObject({ ok: true, status: 200, provider: 'openai', provider_key_id: goodPk, error: null });
    expect(res.json.latency_ms).toBeGreaterThanOrEqual(0);
    const probe = e2e.openai.received.slice(before).find((r) => r.path === '/v1/models');
    expect(probe?.headers.authorization).toBe(`Bearer ${GOOD_SECRET}`);
    expect(JSON.stringify(res.json)).not.toContain(GOOD_SECRET.slice(8));
  });

  it('reports a refused key clearly, never showing it, and audits the test', async () => {
    const res = await e2e.admin('POST', `/provider-keys/${badPk}/test`);
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({ ok: false, status: 401, error: "The provider rejected the organisation's provider key (upstream HTTP 401)." });
    expect(JSON.stringify(res.json)).not.toContain('CANARY');
    const rows = await e2e.query<{ outcome: string }>("select outcome from admin_audit_log where action = 'provider_key.test' and target_id = $1", [badPk]);
    expect(rows.map((r) => r.outcome)).toContain('allowed');
    // A missing key is a 404, as for any provider-key route.
    expect((await e2e.admin('POST', `/provider-keys/${crypto.randomUUID()}/test`)).status).toBe(404);
  });

  it('runs the deep health check: KV, Cerbos, KEKs, and each provider key', async () => {
    const res = await e2e.admin('GET', '/health/deep');
    expect(res.status, JSON.stringify(res.json)).toBe(200);
    expect(res.json).toMatchObject({ status: 'degraded', kv: { ok: true }, cerbos: { ok: true }, keks: { ok: true } });
    const byId = new Map((res.json.provider_keys as Json[]).map((p) => [p.provider_key_id, p]));
    expect(byId.get(goodPk)).toMatchObject({ ok: true, status: 200 });
    expect(byId.get(badPk)).toMatchObject({ ok: false, status: 401 });
    expect(JSON.stringify(res.json)).not.toContain('CANARY');
  });
});

describe('the gateway refuses internal calls that are not the admin Worker’s', () => {
  it('answers internal routes on its public address as unknown URLs', async () => {
    const signing = await stackSigningKey();
    const pub = await rawGateway('/healthz/deep', { host: new URL(e2e.stack.gatewayUrl).host, token: await signServiceToken(signing, 'GET /healthz/deep') });
    expect(pub.status).toBe(404);
  });

  it(claim('signed-service-tokens', 'refuses forged, expired, wrong-audience and missing tokens with 401'), async () => {
    const signing = await stackSigningKey();
    const now = Math.floor(Date.now() / 1000);
    const make = (claims: { aud?: string; iat?: number; exp?: number }, key: CryptoKey = signing.key) =>
      new SignJWT({ route: 'GET /healthz/deep' })
        .setProtectedHeader({ alg: 'ES256', kid: signing.kid })
        .setIssuer('routero-admin')
        .setAudience(claims.aud ?? 'routero-gateway')
        .setSubject('service:admin')
        .setIssuedAt(claims.iat ?? now)
        .setExpirationTime(claims.exp ?? now + 30)
        .setJti(crypto.randomUUID())
        .sign(key);
    const forger = (await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign', 'verify'])) as CryptoKeyPair;
    const cases: Record<string, string | undefined> = {
      missing: undefined,
      forged: await make({}, forger.privateKey),
      expired: await make({ iat: now - 100, exp: now - 40 }),
      'wrong audience': await make({ aud: 'routero-admin' }),
    };
    for (const [name, token] of Object.entries(cases)) {
      const r = await rawGateway('/healthz/deep', { host: INTERNAL_GATEWAY_HOST, token });
      expect(r.status, `${name}: ${r.text}`).toBe(401);
      expect(JSON.parse(r.text).error.message).toBe('Invalid service token.');
    }
    // Control: the same request with a valid token is answered, once.
    const valid = await make({});
    expect((await rawGateway('/healthz/deep', { host: INTERNAL_GATEWAY_HOST, token: valid })).status).toBe(200);
    expect((await rawGateway('/healthz/deep', { host: INTERNAL_GATEWAY_HOST, token: valid })).status).toBe(401);
  });
});

describe('key rotation with a grace period', () => {
  const chat = { model: 'mock/echo', messages: [{ role: 'user' as const, content: 'hi' }] };
  const callWith = (key: string, at?: number) =>
    fetch(`${e2e.stack.gatewayUrl}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', ...(at ? { 'x-routero-test-now': String(at) } : {}) },
      body: JSON.stringify(chat),
    }).then(async (r) => {
      await r.body?.cancel();
      return r.status;
    });

  it('gives the same key a new secret once; the old one works during the grace period and is refused after it', async () => {
    const created = (await e2e.admin('POST', '/keys', { org_id: orgId, name: 'rotating', models: ['mock/*'] })).json;
    const oldKey: string = created.key;
    const client = (key: string) => new OpenAI({ apiKey: key, baseURL: `${e2e.stack.gatewayUrl}/v1`, maxRetries: 0 });
    expect((await client(oldKey).chat.completions.create(chat)).choices.length).toBe(1);

    const rotated = await e2e.admin('POST', `/keys/${created.id}/rotate`, { grace_seconds: 3600 });
    expect(rotated.status, JSON.stringify(rotated.json)).toBe(200);
    const newKey: string = rotated.json.key;
    expect(newKey.startsWith(`rto_${created.id}_`)).toBe(true);
    expect(newKey).toMatch(/^rto_[a-z2-7]{16}_[A-Za-z0-9]{43}$/);
    expect(newKey).not.toBe(oldKey);
    expect(rotated.json).toMatchObject({ id: created.id, org_id: orgId, name: 'rotating', models: ['mock/*'], status: 'active', grace_seconds: 3600 });
    const graceEnds = Date.parse(rotated.json.previous_secret_expires_at);
    expect(graceEnds - Date.now()).toBeGreaterThan(3500_000);
    expect(JSON.stringify(rotated.json)).not.toMatch(/\$2[aby]\$/); // no bcrypt hash, old or new

    // Shown once: reading the key again never gives a secret.
    const read = await e2e.admin('GET', `/keys/${created.id}`);
    expect(read.json.key).toBeUndefined();
    expect(Date.parse(read.json.previous_secret_expires_at)).toBe(graceEnds);

    // Both secrets work during the grace period (the new one as soon as the edge has it).
    await eventually('the new secret accepted', async () => (await callWith(newKey)) === 200);
    expect((await client(newKey).chat.completions.create(chat)).choices.length).toBe(1);
    expect(await callWith(oldKey)).toBe(200);
    expect(await callWith(oldKey, graceEnds - 1000)).toBe(200);
    // After it, the old secret is refused (the clock is the test's, not slept through); the new one keeps working.
    // `eventually` only covers the documented bound for an isolate that cached the old secret as current
    // before the rotation (KEY_CACHE_TTL_SECONDS, 2 s here).
    await eventually('the old secret refused after the grace period', async () => (await callWith(oldKey, graceEnds + 1000)) === 401, 10_000);
    expect(await callWith(newKey, graceEnds + 1000)).toBe(200);

    // Same key: one id in the usage history for requests made with either secret; the rotation is audited.
    const rows = await e2e.query<{ outcome: string }>("select outcome from admin_audit_log where action = 'virtual_key.rotate' and target_id = $1", [created.id]);
    expect(rows.map((r) => r.outcome)).toEqual(['allowed']);
    await eventually('events of both secrets under one key id', async () => {
      const ev = await e2e.query<{ n: number }>('select count(*)::int as n from audit_events where key_id = $1 and status = 200', [created.id]);
      return ev[0]!.n >= 5;
    });
  });

  it('refuses a grace period outside 0..7 days, and rotating a revoked key, with clear errors', async () => {
    const created = (await e2e.admin('POST', '/keys', { org_id: orgId, name: 'validate', models: ['mock/*'] })).json;
    for (const body of [{}, { grace_seconds: -1 }, { grace_seconds: 604_801 }, { grace_seconds: 'soon' }, { grace_seconds: 1.5 }, { grace_seconds: 10, extra: 1 }]) {
      const r = await e2e.admin('POST', `/keys/${created.id}/rotate`, body);
      expect(r.status, JSON.stringify(body)).toBe(400);
      expect(r.json.error.message).toMatch(/grace_seconds|extra|Unrecognized/);
    }
    expect((await e2e.admin('POST', `/keys/${created.id}/rotate`, { grace_seconds: 604_800 })).status).toBe(200);
    await e2e.admin('POST', `/keys/${created.id}/revoke`);
    const revoked = await e2e.admin('POST', `/keys/${created.id}/rotate`, { grace_seconds: 0 });
    expect(revoked.status).toBe(400);
    expect(revoked.json.error.message).toContain('revoked');
    expect((await e2e.admin('POST', '/keys/aaaaaaaaaaaaaaaa/rotate', { grace_seconds: 0 })).status).toBe(404);
  });
});

describe('in the admin UI (Chromium)', () => {
  let browser: Browser;
  let page: Page;
  beforeAll(async () => {
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'] });
    page = await browser.newPage();
    await page.goto(`${e2e.stack.adminUrl}/ui/login`);
    await page.fill('#master_key', e2e.stack.masterKey);
    await page.click('button[type=submit]');
    await page.waitForURL((u) => u.pathname === '/ui');
  });
  afterAll(async () => {
    await browser?.close();
  });

  it('shows the gateway deep health on the overview', async () => {
    await page.click('button:has-text("Check gateway health")');
    const panel = page.locator('[data-testid=deep-health]');
    await panel.waitFor();
    expect(await panel.getAttribute('data-status')).toBe('degraded');
    expect(await panel.locator('tr[data-check=kv] .badge').textContent()).toBe('ok');
    expect(await panel.locator('tr[data-check=cerbos] .badge').textContent()).toBe('ok');
    expect(await panel.locator('tr[data-check=keks] .badge').textContent()).toBe('ok');
    expect(await panel.locator(`tr[data-provider-key-id="${goodPk}"] .badge`).textContent()).toBe('ok');
    expect(await panel.locator(`tr[data-provider-key-id="${badPk}"] .badge`).textContent()).toBe('failed');
    expect(await panel.locator(`tr[data-provider-key-id="${badPk}"]`).textContent()).toContain('bad anthropic');
    expect(await page.content()).not.toContain('CANARY');
  });

  it('tests a provider key’s connection from its row', async () => {
    await page.goto(`${e2e.stack.adminUrl}/ui/provider-keys`);
    await page.locator(`tr[data-provider-key-id="${badPk}"] button:has-text("Test connection")`).click();
    const result = page.locator('[data-testid=connection-result]');
    await result.waitFor();
    expect(await result.getAttribute('data-ok')).toBe('false');
    expect(await result.textContent()).toContain('upstream HTTP 401');
    expect(await page.content()).not.toContain('CANARY');
    await page.locator(`tr[data-provider-key-id="${goodPk}"] button:has-text("Test connection")`).click();
    await page.locator('[data-testid=connection-result][data-ok=true]').waitFor();
  });

  it('rotates a key from its page and shows the new secret once', async () => {
    const created = (await e2e.admin('POST', '/keys', { org_id: orgId, name: 'ui rotation', models: ['mock/*'] })).json;
    await page.goto(`${e2e.stack.adminUrl}/ui/keys/${created.id}`);
    await page.click('a:has-text("Rotate secret")');
    await page.selectOption('#r-grace', '86400');
    await page.click('button:has-text("Rotate secret")');
    const shown = page.locator('[data-testid=new-key]');
    await shown.waitFor();
    const newKey = (await shown.textContent())!.trim();
    expect(newKey.startsWith(`rto_${created.id}_`)).toBe(true);
    expect(await page.textContent('[data-testid=grace]')).toContain('keeps working until');
    await page.goto(`${e2e.stack.adminUrl}/ui/keys/${created.id}`);
    expect(await page.content()).not.toContain(newKey);
    expect(await page.textContent('[data-testid=rotation]')).toContain('the previous secret works until');
    await eventually('the UI-rotated secret accepted', async () => (await callGateway(newKey)) === 200);
    expect(await callGateway(created.key)).toBe(200);
  });
});

describe('secrets stay out of the logs', () => {
  it('no provider key, service token or signing key appears in any captured log line', async () => {
    const text = e2e.logs.join('\n');
    expect(text).not.toContain(GOOD_SECRET);
    expect(text).not.toContain(BAD_SECRET.slice(10));
    expect(text).not.toContain('CANARY');
    const vars = readDotenv(path.join(path.dirname(e2e.persistDir), '.dev.vars'));
    const d = (JSON.parse(vars.INTERNAL_TOKEN_SIGNING_KEY!) as { d: string }).d;
    expect(text).not.toContain(d);
    expect(text).not.toMatch(/eyJ[A-Za-z0-9_-]{10,}\.eyJ/); // no JWT
  });
});

function callGateway(key: string): Promise<number> {
  return fetch(`${e2e.stack.gatewayUrl}/v1/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'mock/echo', messages: [{ role: 'user', content: 'hi' }] }),
  }).then(async (r) => {
    await r.body?.cancel();
    return r.status;
  });
}
