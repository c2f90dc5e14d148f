/**
 * End to end on the stack `npm start` runs, driven by the official SDKs. Covers the whole path
 * (virtual key → Cerbos → provider key → fake upstream, streamed → Queue → Postgres), the
 * security promises (no content or provider key anywhere it should not be), and failure modes
 * (revocation, expiry, CIDR, scope, Cerbos down, Postgres down).
 */
import Anthropic from '@anthropic-ai/sdk';
import { calcPrice } from '@pydantic/genai-prices';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FAKE_USAGE } from '../support/fake-providers';
import { openaiSchemaErrors } from '../support/openai-spec';
import { eventually, filesUnder, startE2E, type E2E, type Json } from './stack-fixture';
import { claim } from '../support/claims';

const CANARY_PROMPT = `CANARY-PROMPT-${crypto.randomUUID()}`;
const CANARY_OPENAI_KEY = `sk-canary-openai-${crypto.randomUUID()}`;
const CANARY_ANTHROPIC_KEY = `sk-ant-canary-${crypto.randomUUID()}`;

let e2e: E2E;
let orgId: string;
let key: string;
let keyId: string;

const openaiClient = (apiKey = key) => new OpenAI({ baseURL: `${e2e.stack.gatewayUrl}/v1`, apiKey, maxRetries: 0 });
const anthropicClient = (apiKey = key) => new Anthropic({ baseURL: e2e.stack.gatewayUrl, apiKey, maxRetries: 0 });

async function createKey(body: Record<string, unknown>): Promise<{ key: string; id: string }> {
  const res = await e2e.admin('POST', '/keys', { org_id: orgId, name: 'e2e', ...body });
  expect(res.status, JSON.stringify(res.json)).toBe(201);
  return { key: res.json.key, id: res.json.id };
}

async function rowsFor(keyIdFilter: string): Promise<Json[]> {
  return e2e.query('select * from audit_events where key_id = $1 order by started_at', [keyIdFilter]);
}

beforeAll(async () => {
  e2e = await startE2E();
  const org = await e2e.admin('POST', '/orgs', { name: `e2e ${new Date().toISOString()}` });
  expect(org.status).toBe(201);
  orgId = org.json.id;
  const openaiPk = await e2e.admin('POST', '/provider-keys', { org_id: orgId, provider: 'openai', name: 'fake openai', secret: CANARY_OPENAI_KEY, base_url: `${e2e.openai.url}/v1` });
  expect(openaiPk.status, JSON.stringify(openaiPk.json)).toBe(201);
  expect(openaiPk.json.last4).toBe(CANARY_OPENAI_KEY.slice(-4));
  const anthropicPk = await e2e.admin('POST', '/provider-keys', { org_id: orgId, provider: 'anthropic', name: 'fake anthropic', secret: CANARY_ANTHROPIC_KEY, base_url: e2e.anthropic.url });
  expect(anthropicPk.status).toBe(201);
  ({ key, id: keyId } = await createKey({ models: ['openai/*', 'anthropic/*', 'mock/*'] }));
});

afterAll(async () => {
  await e2e?.close();
});

describe('OpenAI SDK through the gateway', () => {
  it('completes a chat, with the wire shape OpenAI publishes, using the decrypted provider key', async () => {
    const before = e2e.openai.received.length;
    const raw = await openaiClient().chat.completions.create({ model: 'openai/gpt-4o-mini', messages: [{ role: 'user', content: CANARY_PROMPT }] }).asResponse();
    expect(raw.status).toBe(200);
    const body = (await raw.json()) as Json;
    expect(openaiSchemaErrors('CreateChatCompletionResponse', body)).toEqual([]);
    expect(body.choices[0].message.content).toBe('The quick brown fox jumps.');
    const got = e2e.openai.received[before]!;
    expect(got.headers.authorization).toBe(`Bearer ${CANARY_OPENAI_KEY}`);
    expect(got.body.model).toBe('gpt-4o-mini');
  });

  it('streams chunk by chunk, exactly the stream the client asked for', async () => {
    const stream = await openaiClient().chat.completions.create({ model: 'openai/gpt-4o-mini', stream: true, messages: [{ role: 'user', content: CANARY_PROMPT }] });
    const chunks: unknown[] = [];
    let text = '';
    for await (const chunk of stream) {
      chunks.push(chunk);
      expect(openaiSchemaErrors('CreateChatCompletionStreamResponse', chunk)).toEqual([]);
      text += chunk.choices[0]?.delta.content ?? '';
    }
    expect(text).toBe('The quick brown fox jumps.');
    // The gateway asked upstream for usage; the client did not, so it sees no usage chunk.
    expect(chunks.every((c) => !('usage' in (c as object)))).toBe(true);
    expect(e2e.openai.received.at(-1)!.body.stream_options).toEqual({ include_usage: true });
  });

  it('passes on usage when the client asks for it', async () => {
    const stream = await openaiClient().chat.completions.create({ model: 'openai/gpt-4o-mini', stream: true, stream_options: { include_usage: true }, messages: [{ role: 'user', content: 'hi' }] });
    let usage: OpenAI.CompletionUsage | null | undefined;
    for await (const chunk of stream) if (chunk.usage) usage = chunk.usage;
    expect(usage?.prompt_tokens).toBe(FAKE_USAGE.openai.prompt_tokens);
  });

  it('delivers bytes as the upstream sends them (no buffering)', async () => {
    const started = Date.now();
    const res = await fetch(`${e2e.stack.gatewayUrl}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'openai/gpt-4o-mini', stream: true, messages: [{ role: 'user', content: 'hi' }] }),
    });
    const reader = res.body!.getReader();
    const arrivals: number[] = [];
    for (;;) {
      const { done } = await reader.read();
      if (done) break;
      arrivals.push(Date.now() - started);
    }
    // The fake sends 9 events 5 ms apart: a buffering gateway would deliver them in one read.
    expect(arrivals.length).toBeGreaterThanOrEqual(4);
    expect(arrivals.at(-1)! - arrivals[0]!).toBeGreaterThanOrEqual(20);
  });

  it('records a client that hangs up mid-stream as one aborted event', async () => {
    const k = await createKey({ models: ['openai/*'] });
    const controller = new AbortController();
    const res = await fetch(`${e2e.stack.gatewayUrl}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${k.key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'openai/slow-stream', stream: true, messages: [{ role: 'user', content: 'hi' }] }),
      signal: controller.signal,
    });
    const reader = res.body!.getReader();
    await reader.read();
    controller.abort();
    const rows = await eventually('aborted event', async () => {
      const r = await rowsFor(k.id);
      return r.length > 0 ? r : undefined;
    });
    await new Promise((r) => setTimeout(r, 3000)); // the upstream would have finished by now
    expect(await rowsFor(k.id)).toHaveLength(1);
    expect(rows[0]).toMatchObject({ status: 499, error_type: 'client_aborted', model: 'openai/slow-stream', stream: true });
  });

  it('lists the models the key may use', async () => {
    const list = await openaiClient().models.list();
    const ids = list.data.map((m) => m.id);
    expect(ids).toContain('openai/gpt-4o-mini');
    expect(ids).toContain('anthropic/claude-sonnet-4-5');
    expect(ids).toContain('mock/echo');
  });

  it('surfaces errors as the SDK’s typed errors', async () => {
    await expect(openaiClient().chat.completions.create({ model: 'openai/fail-429', messages: [{ role: 'user', content: 'x' }] })).rejects.toBeInstanceOf(OpenAI.RateLimitError);
    await expect(openaiClient('rto_aaaaaaaaaaaaaaaa_' + 'C'.repeat(43)).models.list()).rejects.toBeInstanceOf(OpenAI.AuthenticationError);
    const bad = await fetch(`${e2e.stack.gatewayUrl}/v1/chat/completions`, { method: 'POST', headers: { authorization: `Bearer ${key}` }, body: '{"model":' });
    expect(bad.status).toBe(400);
    expect(openaiSchemaErrors('ErrorResponse', await bad.json())).toEqual([]);
  });
});

describe('Anthropic SDK through the gateway', () => {
  it('creates a message and streams one, usage with cache tokens', async () => {
    const before = e2e.anthropic.received.length;
    const msg = await anthropicClient().messages.create({ model: 'anthropic/claude-sonnet-4-5', max_tokens: 64, messages: [{ role: 'user', content: CANARY_PROMPT }] });
    expect(msg.content[0]).toMatchObject({ type: 'text', text: 'The quick brown fox jumps.' });
    expect(e2e.anthropic.received[before]!.headers['x-api-key']).toBe(CANARY_ANTHROPIC_KEY);
    expect(e2e.anthropic.received[before]!.body.model).toBe('claude-sonnet-4-5');

    const stream = anthropicClient().messages.stream({ model: 'anthropic/claude-sonnet-4-5', max_tokens: 64, messages: [{ role: 'user', content: CANARY_PROMPT }] });
    const final = await stream.finalMessage();
    expect(final.usage.output_tokens).toBe(FAKE_USAGE.anthropic.output_tokens);
    expect(final.usage.cache_read_input_tokens).toBe(FAKE_USAGE.anthropic.cache_read_input_tokens);
  });

  it('answers errors in Anthropic’s shape', async () => {
    await expect(anthropicClient().messages.create({ model: 'anthropic/fail-429', max_tokens: 5, messages: [{ role: 'user', content: 'x' }] })).rejects.toBeInstanceOf(Anthropic.RateLimitError);
    await expect(anthropicClient('nope').messages.create({ model: 'anthropic/x', max_tokens: 5, messages: [{ role: 'user', content: 'x' }] })).rejects.toBeInstanceOf(Anthropic.AuthenticationError);
  });

  it('serves the mock provider in both formats', async () => {
    const msg = await anthropicClient().messages.create({ model: 'mock/echo', max_tokens: 5, messages: [{ role: 'user', content: 'hi' }] });
    expect(msg.content[0]).toMatchObject({ type: 'text', text: 'Hello from the Routero mock provider.' });
    const chat = await openaiClient().chat.completions.create({ model: 'mock/echo', messages: [{ role: 'user', content: 'hi' }] });
    expect(chat.choices[0]!.message.content).toBe('Hello from the Routero mock provider.');
  });
});

describe('audit store', () => {
  it('holds one row per request with the right tokens and cost', async () => {
    // openai: 4 answered (1 plain, 3 streamed) + 1 upstream 429 + 1 bad JSON; anthropic: 2 answered
    // + 1 upstream 429; mock: 2. Model listings and other keys' failures are not this key's.
    const rows = await eventually('audit rows', async () => {
      const r = await rowsFor(keyId);
      return r.length >= 11 ? r : undefined;
    });
    await new Promise((r) => setTimeout(r, 1500)); // nothing more (no duplicates) arrives
    expect(await rowsFor(keyId)).toHaveLength(11);
    expect(new Set(rows.map((r) => r.id)).size).toBe(rows.length);

    const openaiOk = rows.filter((r) => r.model === 'openai/gpt-4o-mini' && r.status === 200);
    expect(openaiOk).toHaveLength(4);
    const expectedCost = calcPrice({ input_tokens: 31, output_tokens: 6, cache_read_tokens: 8 }, 'gpt-4o-mini', { providerId: 'openai' })!.total_price;
    for (const r of openaiOk) {
      expect([r.input_tokens, r.output_tokens, r.cache_read_tokens]).toEqual([31, 6, 8]);
      expect(Number(r.cost_usd)).toBeCloseTo(Number(expectedCost), 9);
      expect(r.org_id).toBe(orgId);
      expect(r.latency_ms).toBeGreaterThanOrEqual(0);
    }
    expect(openaiOk.map((r) => r.stream).sort()).toEqual([false, true, true, true]);

    const anthropicOk = rows.filter((r) => r.model === 'anthropic/claude-sonnet-4-5');
    expect(anthropicOk).toHaveLength(2);
    for (const r of anthropicOk) {
      expect([r.input_tokens, r.output_tokens, r.cache_read_tokens, r.cache_write_tokens]).toEqual([41, 6, 16, 4]);
      expect(Number(r.cost_usd)).toBeGreaterThan(0);
    }
    const mock = rows.filter((r) => r.provider === 'mock');
    expect(mock.every((r) => r.cost_usd === null)).toBe(true);
    expect(rows.filter((r) => r.status === 429).map((r) => r.error_type)).toEqual(['upstream_error', 'upstream_error']);
  });

  it('serves usage and events through the admin API', async () => {
    const usage = await e2e.admin('GET', `/usage?org_id=${orgId}&group_by=model`);
    expect(usage.status).toBe(200);
    const gpt = usage.json.data.find((d: Json) => d.model === 'openai/gpt-4o-mini');
    expect(gpt.requests).toBe(4);
    expect(gpt.input_tokens).toBe(4 * 31);
    expect(gpt.cost_usd).toBeGreaterThan(0);
    const events = await e2e.admin('GET', `/events?org_id=${orgId}&status=429&limit=5`);
    expect(events.json.data).toHaveLength(2);
    const bad = await e2e.admin('GET', `/usage?group_by=week`);
    expect(bad.status).toBe(400);
    expect(bad.json.error.param).toBe('group_by');
  });
});

describe('key lifecycle and policy', () => {
  it(claim('scoped-keys', 'refuses a revoked key within the cache TTL'), async () => {
    const k = await createKey({ models: ['mock/*'] });
    const client = openaiClient(k.key);
    await client.chat.completions.create({ model: 'mock/echo', messages: [{ role: 'user', content: 'hi' }] });
    const revoked = await e2e.admin('POST', `/keys/${k.id}/revoke`);
    expect(revoked.json.status).toBe('revoked');
    const revokedAt = Date.now();
    await eventually('revocation', async () => {
      try {
        await client.chat.completions.create({ model: 'mock/echo', messages: [{ role: 'user', content: 'hi' }] });
        return false;
      } catch (e) {
        return e instanceof OpenAI.AuthenticationError;
      }
    }, (e2e.keyCacheTtlSeconds + 3) * 1000, 100);
    expect(Date.now() - revokedAt).toBeLessThanOrEqual((e2e.keyCacheTtlSeconds + 1) * 1000);
  });

  it(claim('scoped-keys', 'refuses an expired key'), async () => {
    const k = await createKey({ models: ['mock/*'], expires_at: new Date(Date.now() + 2500).toISOString() });
    const client = openaiClient(k.key);
    await client.chat.completions.create({ model: 'mock/echo', messages: [{ role: 'user', content: 'hi' }] });
    await new Promise((r) => setTimeout(r, 2600));
    await expect(client.chat.completions.create({ model: 'mock/echo', messages: [{ role: 'user', content: 'hi' }] })).rejects.toBeInstanceOf(OpenAI.AuthenticationError);
    expect((await e2e.admin('GET', `/keys/${k.id}`)).json.status).toBe('expired');
  });

  it(claim('key-cidr', 'refuses a key used from outside its CIDR allowlist'), async () => {
    const outside = await createKey({ models: ['mock/*'], cidrs: ['10.0.0.0/8', '2001:db8::/32'] });
    await expect(openaiClient(outside.key).chat.completions.create({ model: 'mock/echo', messages: [{ role: 'user', content: 'x' }] })).rejects.toBeInstanceOf(OpenAI.PermissionDeniedError);
    const inside = await createKey({ models: ['mock/*'], cidrs: ['127.0.0.0/8'] });
    await openaiClient(inside.key).chat.completions.create({ model: 'mock/echo', messages: [{ role: 'user', content: 'x' }] });
  });

  it(claim('scoped-keys', 'refuses an out-of-scope model'), async () => {
    const k = await createKey({ models: ['mock/*'] });
    await expect(openaiClient(k.key).chat.completions.create({ model: 'openai/gpt-4o-mini', messages: [{ role: 'user', content: 'x' }] })).rejects.toBeInstanceOf(OpenAI.PermissionDeniedError);
  });

  it(claim('policy-every-action', 'answers 503 while Cerbos is stopped, and recovers'), async () => {
    const k = await createKey({ models: ['mock/*'] });
    await e2e.stack.cerbos.stop();
    try {
      await new Promise((r) => setTimeout(r, 1200)); // let cached decisions (1 s TTL) expire
      const err = await openaiClient(k.key).chat.completions.create({ model: 'mock/echo', messages: [{ role: 'user', content: 'x' }] }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(OpenAI.APIError);
      expect((err as InstanceType<typeof OpenAI.APIError>).status).toBe(503);
      expect((await e2e.admin('GET', '/orgs')).status).toBe(503);
    } finally {
      await e2e.stack.cerbos.start();
    }
    await openaiClient(k.key).chat.completions.create({ model: 'mock/echo', messages: [{ role: 'user', content: 'x' }] });
  });

  it('keeps serving while Postgres is down, then stores every event exactly once', async () => {
    const k = await createKey({ models: ['mock/*'] });
    await e2e.stack.postgres.stop();
    const requestIds: string[] = [];
    try {
      for (let i = 0; i < 8; i++) {
        const { response } = await openaiClient(k.key).chat.completions.create({ model: 'mock/echo', messages: [{ role: 'user', content: 'x' }] }).withResponse();
        expect(response.status).toBe(200);
        requestIds.push(response.headers.get('x-request-id')!);
      }
      await new Promise((r) => setTimeout(r, 3000)); // the consumer fails and retries meanwhile
    } finally {
      await e2e.stack.postgres.start();
    }
    const rows = await eventually('events stored after Postgres returns', async () => {
      const r = await rowsFor(k.id);
      return r.length >= requestIds.length ? r : undefined;
    }, 90_000, 500);
    await new Promise((r) => setTimeout(r, 2000));
    const final = await rowsFor(k.id);
    expect(final).toHaveLength(requestIds.length);
    expect(final.map((r) => r.request_id).sort()).toEqual([...requestIds].sort());
    expect(rows.length).toBe(requestIds.length);
  });
});

describe('admin API hygiene', () => {
  it(claim(['provider-keys-encrypted', 'virtual-keys-hashed'], 'never returns a provider key, a virtual-key hash or an echoed secret'), async () => {
    const pks = await e2e.admin('GET', `/provider-keys?org_id=${orgId}`);
    expect(JSON.stringify(pks.json)).not.toContain(CANARY_OPENAI_KEY.slice(0, -4));
    expect(pks.json.data[0].last4).toHaveLength(4);
    const keys = await e2e.admin('GET', `/keys?org_id=${orgId}`);
    expect(JSON.stringify(keys.json)).not.toMatch(/\$2[aby]\$/);
    expect(JSON.stringify(keys.json)).not.toContain('secret_hash');
    const secret = `sk-should-not-echo-${crypto.randomUUID()}`;
    const bad = await e2e.admin('POST', '/provider-keys', { org_id: orgId, provider: 'openai', name: 'x', secret, base_url: 'ftp://nope' });
    expect(bad.status).toBe(400);
    expect(bad.json.error.param).toBe('base_url');
    expect(JSON.stringify(bad.json)).not.toContain(secret);
  });

  it('validates input and names the field', async () => {
    const cidr = await e2e.admin('POST', '/keys', { org_id: orgId, name: 'x', cidrs: ['not-a-cidr'] });
    expect(cidr.status).toBe(400);
    expect(cidr.json.error.param).toBe('cidrs.0');
    const noOrg = await e2e.admin('POST', '/keys', { org_id: crypto.randomUUID(), name: 'x' });
    expect(noOrg.status).toBe(404);
    const unauth = await fetch(`${e2e.stack.adminUrl}/api/v1/orgs`, { headers: { authorization: 'Bearer wrong-master-key' } });
    expect(unauth.status).toBe(401);
  });

  it('re-encrypts provider keys under the newest KEK (nothing to do with one KEK) and keeps serving', async () => {
    const res = await e2e.admin('POST', '/admin/reencrypt-provider-keys');
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({ active_kek_version: 1, reencrypted: 0 });
    expect(res.json.total).toBeGreaterThanOrEqual(2);
    await openaiClient().chat.completions.create({ model: 'openai/gpt-4o-mini', messages: [{ role: 'user', content: 'x' }] });
  });

  it('rebuilds KV from Postgres', async () => {
    const res = await e2e.admin('POST', '/admin/rebuild-kv');
    expect(res.status).toBe(200);
    expect(res.json.virtual_keys).toBeGreaterThanOrEqual(1);
    await openaiClient().chat.completions.create({ model: 'mock/echo', messages: [{ role: 'user', content: 'x' }] });
  });
});

describe('figures for the record (no timing assertions)', () => {
  it('measures the warm round trip through the gateway against the fake provider directly', async () => {
    const body = JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] });
    const time = async (url: string, auth: string, payload: string) => {
      const t0 = performance.now();
      const res = await fetch(url, { method: 'POST', headers: { authorization: auth, 'content-type': 'application/json' }, body: payload });
      await res.text();
      expect(res.status).toBe(200);
      return performance.now() - t0;
    };
    const direct: number[] = [];
    const gateway: number[] = [];
    const viaGateway = body.replace('"gpt-4o-mini"', '"openai/gpt-4o-mini"');
    for (let i = 0; i < 20; i++) await time(`${e2e.stack.gatewayUrl}/v1/chat/completions`, `Bearer ${key}`, viaGateway); // warm up
    for (let i = 0; i < 200; i++) {
      direct.push(await time(`${e2e.openai.url}/v1/chat/completions`, 'Bearer sk-direct', body));
      gateway.push(await time(`${e2e.stack.gatewayUrl}/v1/chat/completions`, `Bearer ${key}`, viaGateway));
    }
    const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))]!;
    const figures = {
      requests: direct.length,
      direct_ms: { p50: pct(direct, 50), p95: pct(direct, 95) },
      gateway_ms: { p50: pct(gateway, 50), p95: pct(gateway, 95) },
      note: 'gateway path includes wrangler dev’s local proxy and the dev router Worker',
    };
    console.log(JSON.stringify(figures));
    const fs = await import('node:fs');
    fs.mkdirSync('test-output', { recursive: true });
    fs.writeFileSync('test-output/e2e-figures.json', JSON.stringify(figures, null, 2));
  });
});

describe('no content and no provider key anywhere (canaries)', () => {
  it('the canaries reached the upstream (so the search below can find them)', () => {
    expect(JSON.stringify(e2e.openai.received)).toContain(CANARY_PROMPT);
    expect(JSON.stringify(e2e.openai.received)).toContain(CANARY_OPENAI_KEY);
  });

  it(claim('metadata-only', 'appear nowhere in Postgres'), async () => {
    const tables = await e2e.query<{ table_name: string }>("select table_name from information_schema.tables where table_schema = 'public'");
    expect(tables.length).toBeGreaterThanOrEqual(4);
    for (const { table_name } of tables) {
      const rows = await e2e.query(`select * from "${table_name}"`);
      const text = JSON.stringify(rows);
      for (const canary of [CANARY_PROMPT, CANARY_OPENAI_KEY, CANARY_ANTHROPIC_KEY]) expect(text, table_name).not.toContain(canary);
      expect(text).not.toContain(key);
    }
  });

  it(claim('metadata-only', 'appear nowhere in KV, queue state or any local Worker storage'), () => {
    const files = filesUnder(e2e.persistDir);
    expect(files.length).toBeGreaterThan(0);
    for (const { file, bytes } of files) {
      for (const canary of [CANARY_PROMPT, CANARY_OPENAI_KEY, CANARY_ANTHROPIC_KEY, key]) {
        expect(bytes.includes(Buffer.from(canary)), `${canary.slice(0, 12)}… in ${file}`).toBe(false);
      }
    }
  });

  it(claim('metadata-only', 'appear nowhere in the captured logs of every process'), () => {
    const text = e2e.logs.join('\n');
    expect(text.length).toBeGreaterThan(0);
    for (const canary of [CANARY_PROMPT, CANARY_OPENAI_KEY, CANARY_ANTHROPIC_KEY, key]) expect(text).not.toContain(canary);
  });
});
