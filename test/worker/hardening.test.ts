/**
 * Gateway hardening (issue 8, findings 5, 7, 8, 9, 10, 11), inside workerd with the real Cerbos
 * server and a hostile local upstream (test/support/hostile-upstream.ts).
 */
import { createExecutionContext, env, waitOnExecutionContext } from 'cloudflare:test';
import { describe, expect, inject, it } from 'vitest';
import { kvKeys } from '../../lib/kv/records';
import type { Env } from '../../worker/env';
import { createGateway } from '../../worker/index';
import { bcryptCounter } from '../../worker/middleware/key-auth';
import { harness, ORG, seedKey, seedProviderKey } from './harness';
import { claim } from '../support/claims';

const PROVIDER_KEY = 'sk-proj-Q7vX2mN9pL4kR8tY1wE6zA3sD5fG0hJ2kL9xC4vB7nM1';
const OTHER_ORG = '5b0c4f51-0000-4000-8000-0000000000b2';
const chat = (model: string) => ({ model, messages: [{ role: 'user', content: 'hi' }] });

const hex = (s: string) => [...new TextEncoder().encode(s)].map((b) => b.toString(16).padStart(2, '0')).join('');
const alnumLower = (s: string) => s.replace(/[^A-Za-z0-9]/g, '').toLowerCase();

/** Every way a fragment of the provider key could show in `text`; empty when none does. */
function keyFragmentsIn(text: string): string[] {
  const found: string[] = [];
  const plain = alnumLower(text);
  const key = alnumLower(PROVIDER_KEY);
  for (let i = 0; i + 8 <= key.length; i++) if (plain.includes(key.slice(i, i + 8))) found.push(`key[${i}..]`);
  for (const enc of [btoa(PROVIDER_KEY), btoa(PROVIDER_KEY.slice(11, 31)), hex(PROVIDER_KEY)]) {
    const e = alnumLower(enc);
    for (let i = 0; i + 12 <= e.length; i++) if (plain.includes(e.slice(i, i + 12))) found.push(`encoded ${enc.slice(0, 6)}…`);
  }
  if (text.includes(PROVIDER_KEY.slice(-4))) found.push('last 4');
  return found;
}

const LEAK_FORMS = [
  'exact', 'lower', 'upper', 'middle12', 'first14last4', 'first14last4lower', 'first8stars', 'first6ellipsis',
  'base64', 'base64url', 'base64middle', 'hex', 'hexmiddle', 'spaced', 'dashed',
];

describe('provider key fragments never reach the client (finding 7)', () => {
  it(claim('provider-keys-encrypted', 'redacts every echoed form of the key from upstream error bodies, both wire formats'), async () => {
    const h = harness();
    const { key } = await seedKey();
    await seedProviderKey('openai', PROVIDER_KEY, `${inject('hostileUpstreamUrl')}/v1`);
    await seedProviderKey('anthropic', PROVIDER_KEY, inject('hostileUpstreamUrl'));
    for (const form of LEAK_FORMS) {
      const openai = await h.call('/v1/chat/completions', { json: chat(`openai/leak-${form}-400`), key });
      expect(openai.res.status, form).toBe(400);
      expect((openai.json as { error: { message: string } }).error.message, form).toMatch(/^Upstream provider returned HTTP 400: Key \[redacted\]/);
      expect(keyFragmentsIn(openai.text), `${form}: ${openai.text}`).toEqual([]);
      const anthropic = await h.call('/v1/messages', { json: { ...chat(`anthropic/leak-${form}-500`), max_tokens: 5 }, key });
      expect(anthropic.res.status, form).toBe(500);
      expect(keyFragmentsIn(anthropic.text), `${form}: ${anthropic.text}`).toEqual([]);
    }
  });

  it('never passes upstream 401/403 text on: a fixed sentence with the status', async () => {
    const h = harness();
    const { key } = await seedKey();
    await seedProviderKey('openai', PROVIDER_KEY, `${inject('hostileUpstreamUrl')}/v1`);
    for (const status of [401, 403]) {
      const { res, json, text } = await h.call('/v1/chat/completions', { json: chat(`openai/leak-middle12-${status}`), key });
      expect(res.status).toBe(status);
      expect((json as { error: { message: string } }).error.message).toBe(
        `The provider rejected the organisation's provider key (upstream HTTP ${status}).`,
      );
      expect(text).not.toContain('refused here');
    }
  });

  it('passes x-upstream-request-id only as a short safe token without key fragments', async () => {
    const h = harness();
    const { key } = await seedKey();
    await seedProviderKey('openai', PROVIDER_KEY, `${inject('hostileUpstreamUrl')}/v1`);
    for (const form of LEAK_FORMS) {
      const { res } = await h.call('/v1/chat/completions', { json: chat(`openai/leak-${form}-200`), key });
      expect(res.status, form).toBe(200);
      const id = res.headers.get('x-upstream-request-id');
      expect(keyFragmentsIn(id ?? ''), `${form}: ${id}`).toEqual([]);
    }
    for (const odd of ['long', 'spaces', 'quote']) {
      const { res } = await h.call('/v1/chat/completions', { json: chat(`openai/reqid-${odd}`), key });
      expect(res.headers.get('x-upstream-request-id'), odd).toBeNull();
    }
    const ok = await h.call('/v1/chat/completions', { json: chat('openai/reqid-ok'), key });
    expect(ok.res.headers.get('x-upstream-request-id')).toBe('req_0123456789abcdef');
  });
});

describe('client headers upstream (finding 8)', () => {
  const clientHeaders = {
    'OpenAI-Organization': 'org-attacker',
    'OpenAI-Project': 'proj_attacker',
    'OpenAI-Beta': 'assistants=v2',
    cookie: 'session=abc',
    'x-forwarded-for': '10.0.0.1',
    'x-forwarded-host': 'evil.example',
    'cf-connecting-ip': '198.51.100.7',
    'x-custom-thing': 'secret-value',
  };

  it('sends OpenAI only the provider configuration: no client identity or routing headers', async () => {
    const h = harness();
    const { key } = await seedKey();
    await seedProviderKey('openai', PROVIDER_KEY, `${inject('hostileUpstreamUrl')}/v1`);
    const { res, json } = await h.call('/v1/chat/completions', { json: chat('openai/echo-headers'), key, headers: clientHeaders });
    expect(res.status).toBe(200);
    const received = JSON.parse((json as { choices: Array<{ message: { content: string } }> }).choices[0]!.message.content) as Record<string, string>;
    for (const name of Object.keys(clientHeaders)) expect(received, name).not.toHaveProperty(name.toLowerCase());
    expect(JSON.stringify(received)).not.toContain('attacker');
    expect(received.authorization).toBe(`Bearer ${PROVIDER_KEY}`);
  });

  it('passes Anthropic the version and beta headers the allowlist names, when well formed', async () => {
    const h = harness();
    const { key } = await seedKey();
    await seedProviderKey('anthropic', PROVIDER_KEY, inject('hostileUpstreamUrl'));
    const body = { ...chat('anthropic/echo-headers'), max_tokens: 5 };
    const read = (j: unknown) => JSON.parse((j as { content: Array<{ text: string }> }).content[0]!.text) as Record<string, string>;
    const good = await h.call('/v1/messages', {
      json: body,
      key,
      headers: { ...clientHeaders, 'anthropic-version': '2023-06-01', 'anthropic-beta': 'prompt-caching-2024-07-31, output-128k-2025-02-19' },
    });
    const received = read(good.json);
    expect(received['anthropic-version']).toBe('2023-06-01');
    expect(received['anthropic-beta']).toBe('prompt-caching-2024-07-31, output-128k-2025-02-19');
    expect(received['x-api-key']).toBe(PROVIDER_KEY);
    for (const name of Object.keys(clientHeaders)) expect(received, name).not.toHaveProperty(name.toLowerCase());
    const odd = await h.call('/v1/messages', { json: body, key, headers: { 'anthropic-version': 'latest', 'anthropic-beta': 'a b c' } });
    const oddReceived = read(odd.json);
    expect(oddReceived['anthropic-version']).toBe('2023-06-01');
    expect(oddReceived).not.toHaveProperty('anthropic-beta');
  });
});

describe('key existence oracle (finding 9)', () => {
  it(claim('virtual-keys-hashed', 'runs one bcrypt comparison for an unknown id as for a wrong secret, then remembers the failure'), async () => {
    const h = harness();
    const { key } = await seedKey();
    const unknownId = `rto_${'a'.repeat(16)}_${'B'.repeat(43)}`;
    const wrongSecret = `${key.slice(0, -4)}AAAA`;
    for (const bad of [unknownId, wrongSecret]) {
      const before = { ...bcryptCounter };
      expect((await h.call('/v1/chat/completions', { json: chat('mock/echo'), key: bad })).res.status).toBe(401);
      expect(bcryptCounter.calls - before.calls, bad).toBe(1);
      expect(bcryptCounter.dummy - before.dummy, bad).toBe(bad === unknownId ? 1 : 0);
      // The same bad key again within 5 s: answered from the failure cache, no bcrypt on either path.
      const again = { ...bcryptCounter };
      expect((await h.call('/v1/chat/completions', { json: chat('mock/echo'), key: bad })).res.status).toBe(401);
      expect(bcryptCounter.calls - again.calls, bad).toBe(0);
    }
  });

  it('sends no Server-Timing unless EXPOSE_SERVER_TIMING=true', async () => {
    const { key } = await seedKey();
    const off = await harness().call('/v1/chat/completions', { json: chat('mock/echo'), key });
    expect(off.res.status).toBe(200);
    expect(off.res.headers.get('server-timing')).toBeNull();
    const on = await harness({ EXPOSE_SERVER_TIMING: 'true' }).call('/v1/chat/completions', { json: chat('mock/echo'), key });
    expect(on.res.headers.get('server-timing')).toMatch(/^auth;desc="(bcrypt|cache)"$/);
  });
});

describe('the data-plane policy decides on the provider key (finding 10)', () => {
  it("denies a key the use of another organisation's provider key found under its own organisation", async () => {
    const h = harness();
    const { key } = await seedKey();
    // A provider key sealed for another organisation (valid ciphertext, its own AAD) that ended up in
    // this organisation's KV list: the resource says whose it is, and the policy compares.
    const foreign = await seedProviderKey('openai', PROVIDER_KEY, `${inject('fakeOpenAIUrl')}/v1`, OTHER_ORG);
    await env.ROUTERO_KV.put(kvKeys.providerKeys(ORG, 'openai'), JSON.stringify([foreign]));
    const { res, json } = await h.call('/v1/chat/completions', { json: chat('openai/gpt-4o-mini'), key });
    expect(res.status).toBe(403);
    expect(json).toMatchObject({ error: { code: 'model_not_allowed' } });
    expect(h.events.at(-1)).toMatchObject({ status: 403 });
    // Its own organisation's key is allowed (a fresh isolate cache reads the new list).
    await seedProviderKey('openai', PROVIDER_KEY, `${inject('fakeOpenAIUrl')}/v1`);
    expect((await harness().call('/v1/chat/completions', { json: chat('openai/gpt-4o-mini'), key })).res.status).toBe(200);
  });
});

describe('SSRF rule at the gateway (finding 5)', () => {
  it('answers 502 "misconfigured" for provider base URLs the rule refuses', async () => {
    const h = harness({ ALLOW_PRIVATE_UPSTREAMS: 'false' });
    const { key } = await seedKey();
    for (const base of ['https://localhost./v1', 'https://metadata.google.internal./', 'https://[::127.0.0.1]/v1', 'https://127.0.0.1.nip.io/v1', 'https://0x7f.1/v1']) {
      await seedProviderKey('openai', PROVIDER_KEY, base);
      const { res, json, text } = await h.call('/v1/chat/completions', { json: chat('openai/gpt-4o-mini'), key });
      expect(res.status, base).toBe(502);
      expect(json, base).toMatchObject({ error: { message: 'The provider for this model is misconfigured.' } });
      expect(text).not.toContain(new URL(base).hostname);
    }
  });
});

describe('CF-Connecting-IP is trusted only behind Cloudflare (finding 11)', () => {
  async function send(envOver: Partial<Env>, cf: boolean, key: string): Promise<Response> {
    const app = createGateway();
    const ctx = createExecutionContext();
    const init: RequestInit<IncomingRequestCfProperties> = {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', 'cf-connecting-ip': '203.0.113.9' },
      body: JSON.stringify(chat('mock/echo')),
      ...(cf ? { cf: { country: 'GB' } as IncomingRequestCfProperties } : {}),
    };
    const res = await app.fetch(new Request('https://gateway.test/v1/chat/completions', init), { ...(env as unknown as Env), ...envOver }, ctx);
    await res.arrayBuffer();
    await waitOnExecutionContext(ctx);
    return res;
  }

  it(claim('key-cidr', 'a production Worker with no request.cf refuses to serve (503); with it, it serves'), async () => {
    const { key } = await seedKey({ cidrs: ['203.0.113.0/24'] });
    expect((await send({ ROUTERO_ENV: 'production' }, false, key)).status).toBe(503);
    expect((await send({ ROUTERO_ENV: undefined }, false, key)).status).toBe(503);
    expect((await send({ ROUTERO_ENV: 'production' }, true, key)).status).toBe(200);
    expect((await send({ ROUTERO_ENV: 'development' }, false, key)).status).toBe(200);
  });
});

describe('a body nested thousands of levels deep', () => {
  it('is a 400 in the caller’s format, never a 500 (JSON.parse reads it; walking it again overflows the stack)', async () => {
    const h = harness();
    const { key } = await seedKey({ models: ['mock/*', 'openai/*'] });
    await seedProviderKey('openai', PROVIDER_KEY, `${inject('hostileUpstreamUrl')}/v1`);
    const deep = `${'['.repeat(50_000)}${']'.repeat(50_000)}`;
    const body = (model: string, extra = '') => `{"model":"${model}",${extra}"messages":[{"role":"user","content":${deep}}]}`;
    for (const [path, model, extra] of [
      ['/v1/chat/completions', 'openai/gpt-4o-mini', ''],
      ['/v1/chat/completions', 'openai/gpt-4o-mini', '"temperature":1,"temperature":1,'],
      ['/v1/messages', 'mock/echo', '"max_tokens":8,'],
    ] as const) {
      const r = await h.call(path, { body: body(model, extra), key });
      expect(r.res.status, `${path} ${extra}: ${r.text}`).toBe(400);
      expect(r.text).toMatch(/nested too deeply/);
    }
  });
});
