/**
 * The gateway's internal routes (worker/routes/internal.ts) and their service tokens
 * (lib/auth/service-token.ts, worker/middleware/service-auth.ts): only a valid, unexpired,
 * correctly addressed token from the admin key, minted for that route and used once, opens them.
 * "Test connection" and the deep health check against the fake providers, never showing the key.
 */
import { createExecutionContext, waitOnExecutionContext } from 'cloudflare:test';
import { importJWK, SignJWT, type JWK } from 'jose';
import { describe, expect, inject, it } from 'vitest';
import { generateServiceKeyPair, INTERNAL_GATEWAY_HOST, loadSigningKey, signServiceToken } from '../../lib/auth/service-token';
import type { Env } from '../../worker/env';
import { createGateway } from '../../worker/index';
import { harness, seedProviderKey } from './harness';
import { claim } from '../support/claims';

const T0 = Date.parse('2026-06-01T12:00:00Z');
const TEST_ROUTE = 'POST /internal/provider-keys/test';

async function setup(extra: Partial<Record<keyof Env, unknown>> = {}) {
  const pair = await generateServiceKeyPair('k1');
  const signing = await loadSigningKey(pair.privateJwk);
  let t = T0;
  const env = harness({ INTERNAL_TOKEN_PUBLIC_KEYS: pair.publicJwks, ...extra }).env;
  const app = createGateway({ now: () => t });
  const call = async (path: string, init: { method?: string; token?: string | null; body?: unknown; host?: string } = {}) => {
    const headers = new Headers();
    if (init.token) headers.set('authorization', `Bearer ${init.token}`);
    if (init.body !== undefined) headers.set('content-type', 'application/json');
    const ctx = createExecutionContext();
    const res = await app.fetch(
      new Request(`https://${init.host ?? INTERNAL_GATEWAY_HOST}${path}`, { method: init.method ?? 'GET', headers, body: init.body === undefined ? undefined : JSON.stringify(init.body) }),
      env,
      ctx,
    );
    const text = await res.text();
    await waitOnExecutionContext(ctx);
    return { res, text, json: (() => { try { return JSON.parse(text) as Record<string, unknown>; } catch { return null; } })() };
  };
  return {
    pair,
    call,
    token: (route = TEST_ROUTE) => signServiceToken(signing, route, t),
    setTime: (v: number) => (t = v),
    /** A token with chosen claims, signed by the admin key or another. */
    custom: async (claims: Record<string, unknown>, opts: { key?: CryptoKey; alg?: string; kid?: string } = {}) => {
      const iat = Math.floor(t / 1000);
      return new SignJWT({ route: TEST_ROUTE, ...claims })
        .setProtectedHeader({ alg: opts.alg ?? 'ES256', kid: opts.kid ?? 'k1' })
        .setIssuer((claims.iss as string) ?? 'routero-admin')
        .setAudience((claims.aud as string) ?? 'routero-gateway')
        .setSubject((claims.sub as string) ?? 'service:admin')
        .setIssuedAt((claims.iat as number) ?? iat)
        .setExpirationTime((claims.exp as number) ?? iat + 30)
        .setJti((claims.jti as string) ?? crypto.randomUUID())
        .sign(opts.key ?? signing.key);
    },
  };
}

const ORG_A = '5b0c4f51-0000-4000-8000-0000000000a1';
const ORG_B = '5b0c4f51-0000-4000-8000-0000000000b2';

describe('internal service tokens', () => {
  it('opens the internal route with a valid token, once', async () => {
    const s = await setup();
    const entry = await seedProviderKey('openai', 'sk-test-SERVICE-OK-0001', `${inject('fakeOpenAIUrl')}/v1`, ORG_A);
    const body = { org_id: ORG_A, provider: 'openai', provider_key_id: entry.id };
    const token = await s.token();
    const ok = await s.call('/internal/provider-keys/test', { method: 'POST', token, body });
    expect(ok.res.status).toBe(200);
    expect(ok.json).toMatchObject({ ok: true, status: 200, provider: 'openai', provider_key_id: entry.id, error: null });
    expect(ok.res.headers.get('cache-control')).toBe('no-store');
    // The same token again: refused (one call per token), though it has not expired.
    const replay = await s.call('/internal/provider-keys/test', { method: 'POST', token, body });
    expect(replay.res.status).toBe(401);
  });

  it(claim('signed-service-tokens', 'refuses forged, expired, wrong-audience, wrong-issuer, over-long, misrouted and malformed tokens with one 401'), async () => {
    const s = await setup();
    const other = await generateServiceKeyPair('k1'); // same kid, another key: a forgery
    const otherKey = (await loadSigningKey(other.privateJwk)).key;
    const now = Math.floor(T0 / 1000);
    const hmacKey = await importJWK({ kty: 'oct', k: btoa(s.pair.publicJwks).replace(/=+$/, '').replace(/\+/g, '-').replace(/\//g, '_') } as JWK, 'HS256');
    const cases: Record<string, string | null> = {
      'no token': null,
      'not a JWT': 'not-a-token',
      forged: await s.custom({}, { key: otherKey }),
      'unknown kid': await s.custom({}, { kid: 'k2' }),
      expired: await s.custom({ iat: now - 120, exp: now - 60 }),
      'wrong audience': await s.custom({ aud: 'routero-admin' }),
      'wrong issuer': await s.custom({ iss: 'someone-else' }),
      'other subject': await s.custom({ sub: 'service:billing' }),
      'lifetime over 60 s': await s.custom({ exp: now + 3600 }),
      'issued in the future': await s.custom({ iat: now + 600, exp: now + 630 }),
      'minted for another route': await s.token('GET /healthz/deep'),
      'HS256 keyed with the public key': await s.custom({}, { key: hmacKey as CryptoKey, alg: 'HS256' }),
      'alg none': `${btoa(JSON.stringify({ alg: 'none', typ: 'JWT' })).replace(/=+$/, '')}.${btoa(JSON.stringify({ iss: 'routero-admin', aud: 'routero-gateway', sub: 'service:admin', iat: now, exp: now + 30, jti: crypto.randomUUID(), route: TEST_ROUTE })).replace(/=+$/, '')}.`,
    };
    const bodies = new Set<string>();
    for (const [name, token] of Object.entries(cases)) {
      const r = await s.call('/internal/provider-keys/test', { method: 'POST', token, body: { org_id: ORG_A, provider: 'openai', provider_key_id: 'x' } });
      expect(r.res.status, name).toBe(401);
      bodies.add(r.text);
    }
    expect(bodies.size).toBe(1);
    expect(JSON.parse([...bodies][0]!)).toMatchObject({ error: { message: 'Invalid service token.' } });
    // A valid token after its expiry (30 s lifetime + 5 s skew) is refused too: the clock moves, no sleeping.
    const late = await s.token();
    s.setTime(T0 + 36_000);
    expect((await s.call('/internal/provider-keys/test', { method: 'POST', token: late, body: {} })).res.status).toBe(401);
  });

  it('answers internal routes only on the internal host: the public host sees an unknown URL', async () => {
    const s = await setup();
    const r = await s.call('/healthz/deep', { token: await s.token('GET /healthz/deep'), host: 'gateway.example.com' });
    expect(r.res.status).toBe(404);
    const r2 = await s.call('/internal/provider-keys/test', { method: 'POST', token: await s.token(), host: 'gateway.example.com', body: {} });
    expect(r2.res.status).toBe(404);
  });

  it('refuses to serve internal routes (503) without verification keys, or with a private key configured', async () => {
    const none = await setup({ INTERNAL_TOKEN_PUBLIC_KEYS: undefined });
    expect((await none.call('/healthz/deep', { token: await none.token('GET /healthz/deep') })).res.status).toBe(503);
    const pair = await generateServiceKeyPair('k1');
    const priv = await setup({ INTERNAL_TOKEN_PUBLIC_KEYS: JSON.stringify({ keys: [JSON.parse(pair.privateJwk)] }) });
    expect((await priv.call('/healthz/deep', { token: await priv.token('GET /healthz/deep') })).res.status).toBe(503);
  });
});

describe('authorization of the service principal', () => {
  it(claim('signed-service-tokens', 'answers 503, never open, when Cerbos cannot be asked'), async () => {
    const s = await setup({ CERBOS_URL: 'http://127.0.0.1:9' });
    const r = await s.call('/healthz/deep', { token: await s.token('GET /healthz/deep') });
    expect(r.res.status).toBe(503);
    expect(r.json).toMatchObject({ error: { message: 'The policy service is unavailable; try again shortly.' } });
  });
});

describe('Test connection through the internal route', () => {
  it('reports a refused provider key clearly, without the key or any fragment of it', async () => {
    const s = await setup();
    const secret = 'sk-bad-SERVICE-CANARY-7f3a9c2e5b1d';
    const openai = await seedProviderKey('openai', secret, `${inject('fakeOpenAIUrl')}/v1`, ORG_A);
    const r = await s.call('/internal/provider-keys/test', { method: 'POST', token: await s.token(), body: { org_id: ORG_A, provider: 'openai', provider_key_id: openai.id } });
    expect(r.res.status).toBe(200);
    expect(r.json).toMatchObject({ ok: false, status: 401, error: "The provider rejected the organisation's provider key (upstream HTTP 401)." });
    expect(r.text).not.toContain('CANARY');
    expect(r.text).not.toContain('sk-bad');

    const anthropic = await seedProviderKey('anthropic', 'sk-bad-ant-CANARY-22', inject('fakeAnthropicUrl'), ORG_A);
    const a = await s.call('/internal/provider-keys/test', { method: 'POST', token: await s.token(), body: { org_id: ORG_A, provider: 'anthropic', provider_key_id: anthropic.id } });
    expect(a.json).toMatchObject({ ok: false, status: 401 });
    expect(a.text).not.toContain('CANARY');
    const good = await seedProviderKey('anthropic', 'sk-ant-good-33', inject('fakeAnthropicUrl'), ORG_A);
    const g = await s.call('/internal/provider-keys/test', { method: 'POST', token: await s.token(), body: { org_id: ORG_A, provider: 'anthropic', provider_key_id: good.id } });
    expect(g.json).toMatchObject({ ok: true, status: 200 });
    expect(typeof g.json?.latency_ms).toBe('number');
  });

  it('says unreachable for a provider that does not answer, and not at the edge for a key KV lacks', async () => {
    const s = await setup();
    const dead = await seedProviderKey('openai', 'sk-test-dead-44', 'http://127.0.0.1:9/v1', ORG_B);
    const r = await s.call('/internal/provider-keys/test', { method: 'POST', token: await s.token(), body: { org_id: ORG_B, provider: 'openai', provider_key_id: dead.id } });
    expect(r.json).toMatchObject({ ok: false, status: null, error: 'The provider could not be reached.' });
    const missing = await s.call('/internal/provider-keys/test', { method: 'POST', token: await s.token(), body: { org_id: ORG_B, provider: 'openai', provider_key_id: crypto.randomUUID() } });
    expect(missing.res.status).toBe(200);
    expect(missing.json).toMatchObject({ ok: false, status: null, error: 'The gateway does not have this provider key yet; if this persists, run npm run kv:rebuild.' });
    const bad = await s.call('/internal/provider-keys/test', { method: 'POST', token: await s.token(), body: { org_id: ORG_B, provider: 'nope' } });
    expect(bad.res.status).toBe(400);
  });

  it('runs the deep health check: KV, Cerbos, KEKs and every provider key', async () => {
    const s = await setup();
    const ok = await seedProviderKey('openai', 'sk-test-deep-ok-55', `${inject('fakeOpenAIUrl')}/v1`, ORG_A);
    const bad = await seedProviderKey('anthropic', 'sk-bad-deep-CANARY-66', inject('fakeAnthropicUrl'), ORG_B);
    const r = await s.call('/healthz/deep', { token: await s.token('GET /healthz/deep') });
    expect(r.res.status).toBe(200);
    const body = r.json as Record<string, unknown> & { provider_keys: Array<Record<string, unknown>> };
    expect(body).toMatchObject({ status: 'degraded', kv: { ok: true }, cerbos: { ok: true }, keks: { ok: true, active_version: 1, loaded_versions: [1] } });
    const byId = new Map(body.provider_keys.map((p) => [p.provider_key_id, p]));
    expect(byId.get(ok.id)).toMatchObject({ ok: true, status: 200, org_id: ORG_A });
    expect(byId.get(bad.id)).toMatchObject({ ok: false, status: 401, org_id: ORG_B });
    expect(r.text).not.toContain('CANARY');
    expect(r.text).not.toContain(bad.ciphertext);
  });
});
