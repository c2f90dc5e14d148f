/**
 * Audit-pipeline integrity on the stack `npm start` runs (issue 8 finding 1, issue 14 items 1–3
 * and 11): whatever a client or a provider sends, every request leaves exactly one stored event,
 * one bad value never costs other events, and nothing ends in the dead-letter queue.
 *
 * The gateway, Queue, consumer, Cerbos and Postgres are the real ones. The consumer's fallbacks for
 * rows Postgres refuses are also driven directly (storeBatch with hand-made queue messages) against
 * the same Postgres through the same Neon driver and WebSocket proxy the admin Worker uses, since a
 * current gateway can no longer produce such rows. Run with DATABASE_URL for the second target.
 */
import { neonConfig } from '@neondatabase/serverless';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import ws from 'ws';
import { storeBatch, storePending, toAuditRow } from '../../admin/consumer/index';
import { closePool, openDatabase } from '../../admin/db/client';
import type { AdminEnv } from '../../admin/env';
import { auditEventSchema } from '../../lib/audit/event';
import { startNeonProxy, type NeonProxy } from '../../scripts/neon-proxy';
import { startAbsurdUsageProvider, type AbsurdUsageProvider } from '../support/absurd-usage-provider';
import { eventually, startE2E, type E2E, type Json } from './stack-fixture';

let e2e: E2E;
let absurd: AbsurdUsageProvider;
let proxy: NeonProxy;
let orgId: string;
let mockKey: { key: string; id: string };
let consumerEnv: AdminEnv;

const HUGE_MODEL = 'mock/' + 'x'.repeat(130_000);

async function createKey(models: string[]): Promise<{ key: string; id: string }> {
  const res = await e2e.admin('POST', '/keys', { org_id: orgId, name: 'audit-integrity', models });
  expect(res.status, JSON.stringify(res.json)).toBe(201);
  return { key: res.json.key, id: res.json.id };
}

interface Sent {
  status: number;
  requestId: string;
  body: Json;
}

async function post(path: string, body: string | object, key: string | null): Promise<Sent> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (key) headers.authorization = `Bearer ${key}`;
  const res = await fetch(`${e2e.stack.gatewayUrl}${path}`, { method: 'POST', headers, body: typeof body === 'string' ? body : JSON.stringify(body) });
  const text = await res.text();
  let json: Json = null;
  try {
    json = JSON.parse(text);
  } catch {
    json = text;
  }
  return { status: res.status, requestId: res.headers.get('x-request-id') ?? '', body: json };
}

const chat = (model: unknown, key: string | null = mockKey.key, extra: object = {}) =>
  post('/v1/chat/completions', { model, messages: [{ role: 'user', content: 'hi' }], ...extra }, key);

/** Waits until every request id has a stored event; returns the rows by request id. */
async function storedEvents(requestIds: string[], timeoutMs = 20_000): Promise<Map<string, Json[]>> {
  return eventually(`events for ${requestIds.length} requests`, async () => {
    const rows = await e2e.query<Json>('select * from audit_events where request_id = any($1)', [requestIds]);
    const by = new Map<string, Json[]>();
    for (const r of rows) by.set(r.request_id, [...(by.get(r.request_id) ?? []), r]);
    return requestIds.every((id) => by.has(id)) ? by : undefined;
  }, timeoutMs);
}

/** The admin consumer's log lines that name the dead-letter queue or a retry. */
const deadLetterTraffic = () => e2e.logs.filter((l) => l.includes('routero-audit-dlq') || l.includes('will retry'));

beforeAll(async () => {
  e2e = await startE2E();
  absurd = await startAbsurdUsageProvider();
  const org = await e2e.admin('POST', '/orgs', { name: `audit-integrity ${Date.now()}` });
  expect(org.status).toBe(201);
  orgId = org.json.id;
  const pk = await e2e.admin('POST', '/provider-keys', { org_id: orgId, provider: 'openai', name: 'absurd usage', secret: 'sk-absurd-usage-0000', base_url: `${absurd.url}/v1` });
  expect(pk.status, JSON.stringify(pk.json)).toBe(201);
  mockKey = await createKey(['mock/*', 'openai/*']);
  // The consumer code run from this process reaches Postgres exactly as the admin Worker does.
  const db = new URL(e2e.stack.databaseUrl);
  proxy = await startNeonProxy({ port: 0, target: { host: db.hostname, port: Number(db.port || 5432) } });
  neonConfig.webSocketConstructor = ws;
  consumerEnv = { DATABASE_URL: e2e.stack.databaseUrl, NEON_WS_PROXY: `127.0.0.1:${proxy.port}` } as AdminEnv;
});

afterAll(async () => {
  await proxy?.close();
  await absurd?.close();
  await e2e?.close();
});

describe('hostile model names at the gateway', () => {
  it('stores one event for each of a 130 KB model request and three normal requests sent with it', async () => {
    const sent = await Promise.all([
      chat(HUGE_MODEL),
      chat('mock/echo'),
      post('/v1/messages', { model: 'mock/echo', max_tokens: 16, messages: [{ role: 'user', content: 'hi' }] }, mockKey.key),
      chat('mock/echo', mockKey.key, { stream: true }),
    ]);
    expect(sent.map((s) => s.status)).toEqual([400, 200, 200, 200]);
    expect(sent[0]!.body.error).toMatchObject({ param: 'model', type: 'invalid_request_error' });
    const rows = await storedEvents(sent.map((s) => s.requestId));
    for (const s of sent) expect(rows.get(s.requestId), s.requestId).toHaveLength(1);
    const huge = rows.get(sent[0]!.requestId)![0];
    expect(huge.status).toBe(400);
    expect(huge.model.length).toBeLessThanOrEqual(256);
    expect(HUGE_MODEL.startsWith(huge.model)).toBe(true);
  });

  it('refuses NUL, controls and lone surrogates with a 400 naming model, in both wire formats, and records each', async () => {
    const sent = await Promise.all([
      chat('mock/a\u0000b'),
      chat('mock/\ud800'),
      chat('mock/a\u0085b'),
      post('/v1/messages', { model: 'mock/a\u0000b', max_tokens: 16, messages: [{ role: 'user', content: 'hi' }] }, mockKey.key),
    ]);
    // A lone surrogate used to reach Cerbos and come back as 503 "policy service unavailable".
    expect(sent.map((s) => s.status)).toEqual([400, 400, 400, 400]);
    for (const s of sent.slice(0, 3)) expect(s.body.error).toMatchObject({ param: 'model', type: 'invalid_request_error' });
    expect(sent[3]!.body).toMatchObject({ type: 'error', error: { type: 'invalid_request_error' } });
    expect(sent[3]!.body.error.message).toContain("'model'");
    const rows = await storedEvents(sent.map((s) => s.requestId));
    expect(sent.map((s) => rows.get(s.requestId)![0].model)).toEqual(['mock/ab', 'mock/\ufffd', 'mock/ab', 'mock/ab']);
  });

  it('records a huge model outside the key’s scope too (it used to leave no event)', async () => {
    const narrow = await createKey(['openai/*']);
    const s = await chat(HUGE_MODEL, narrow.key);
    expect(s.status).toBe(400);
    const rows = await storedEvents([s.requestId]);
    expect(rows.get(s.requestId)![0]).toMatchObject({ key_id: narrow.id, status: 400 });
  });
});

describe('absurd token counts from the provider', () => {
  it('stores 3,000,000,000 as a bigint and 1e300 as null, at once and without the dead-letter queue', async () => {
    const before = deadLetterTraffic().length;
    const plain = await chat('openai/count-3000000000-1e300');
    const streamed = await chat('openai/count-1e300-3000000000', mockKey.key, { stream: true });
    expect([plain.status, streamed.status]).toEqual([200, 200]);
    // Before the fix the first was retried for minutes (int4 overflow, 22003) and the second lost.
    const rows = await storedEvents([plain.requestId, streamed.requestId], 10_000);
    expect(rows.get(plain.requestId)![0]).toMatchObject({ input_tokens: 3_000_000_000, output_tokens: null });
    expect(rows.get(streamed.requestId)![0]).toMatchObject({ input_tokens: null, output_tokens: 3_000_000_000 });
    expect(deadLetterTraffic().slice(before)).toEqual([]);
  });
});

/** Queue messages as the consumer receives them, recording what it acknowledges and retries. */
function queueBatch(queue: string, bodies: unknown[]) {
  const acked: number[] = [];
  const retried: number[] = [];
  const messages = bodies.map((body, i) => ({
    id: `msg-${crypto.randomUUID()}`,
    timestamp: new Date(),
    attempts: 1,
    body,
    ack: () => void acked.push(i),
    retry: () => void retried.push(i),
  }));
  const batch = { queue, messages, ackAll: () => undefined, retryAll: () => undefined } as unknown as MessageBatch<unknown>;
  const waits: Promise<unknown>[] = [];
  const ctx = { waitUntil: (p: Promise<unknown>) => void waits.push(p), passThroughOnException: () => undefined, props: {} } as unknown as ExecutionContext;
  return { batch, ctx, acked, retried, settle: () => Promise.all(waits), messages };
}

function eventBody(over: Record<string, unknown> = {}): Record<string, unknown> {
  const id = crypto.randomUUID();
  const now = new Date().toISOString();
  return {
    id, request_id: id, started_at: now, finished_at: now, org_id: orgId, key_id: 'consumer-test', provider: 'openai',
    model: 'openai/gpt-4o-mini', endpoint: 'chat_completions', stream: false, status: 200, error_type: null, input_tokens: 10,
    output_tokens: 5, cache_read_tokens: null, cache_write_tokens: null, latency_ms: 12, ttfb_ms: 3, ...over,
  };
}

async function rowsById(ids: string[]): Promise<Map<string, Json>> {
  const rows = await e2e.query<Json>('select * from audit_events where id = any($1)', [ids]);
  return new Map(rows.map((r) => [r.id, r]));
}

describe('the consumer against real Postgres', () => {
  it('stores a batch holding damaged events at once: cleaned, nulled, or quarantined — nothing retried', async () => {
    const good = [eventBody(), eventBody()];
    const nul = eventBody({ model: 'mock/a\u0000b' }); // what a gateway without validation sent
    const big = eventBody({ input_tokens: 3_000_000_000 }); // overflowed int4 (22003)
    const huge = eventBody({ output_tokens: 1e300 }); // failed the schema and was acknowledged and lost
    const extra = eventBody({ messages: [{ role: 'user', content: 'CONTENT-MUST-NOT-BE-STORED' }] });
    const noId = { ...eventBody({ id: 'not-a-uuid' }), request_id: 'req-without-uuid' };
    const q = queueBatch('routero-audit', [...good, nul, big, huge, extra, noId]);
    await storeBatch(q.batch, consumerEnv, q.ctx);
    await q.settle();
    expect(q.retried).toEqual([]);
    expect(q.acked.sort()).toEqual([0, 1, 2, 3, 4, 5, 6]);
    const rows = await rowsById([...good, nul, big, huge, extra].map((b) => b.id as string));
    expect(rows.size).toBe(6);
    expect(rows.get(nul.id as string)!.model).toBe('mock/ab');
    expect(rows.get(big.id as string)!.input_tokens).toBe(3_000_000_000);
    expect(rows.get(huge.id as string)).toMatchObject({ output_tokens: null, input_tokens: 10 });
    expect(JSON.stringify(rows.get(extra.id as string))).not.toContain('CONTENT-MUST-NOT-BE-STORED');
    const quarantined = await e2e.query<Json>('select * from audit_quarantine where request_id = $1', ['req-without-uuid']);
    expect(quarantined).toHaveLength(1);
    expect(quarantined[0]).toMatchObject({ queue: 'routero-audit' });
    expect(quarantined[0].reason).toContain('no usable event id');
    // Redelivery (at least once) neither doubles rows nor quarantines twice.
    const again = queueBatch('routero-audit', [good[0], noId]);
    again.messages[1]!.id = q.messages[6]!.id;
    await storeBatch(again.batch, consumerEnv, again.ctx);
    await again.settle();
    expect(await e2e.query('select id from audit_events where id = $1', [good[0]!.id])).toHaveLength(1);
    expect(await e2e.query('select id from audit_quarantine where request_id = $1', ['req-without-uuid'])).toHaveLength(1);
  });

  it('shows quarantined events to admins through the API, metadata only', async () => {
    const res = await e2e.admin('GET', '/audit-quarantine?request_id=req-without-uuid');
    expect(res.status).toBe(200);
    expect(res.json.data).toHaveLength(1);
    expect(res.json.data[0]).toMatchObject({ request_id: 'req-without-uuid', queue: 'routero-audit', raw: { id: 'not-a-uuid', model: 'openai/gpt-4o-mini' } });
    expect(res.json.data[0]).not.toHaveProperty('message_key');
    expect((await e2e.admin('GET', '/audit-quarantine?cursor=junk')).status).toBe(400);
    const anonymous = await fetch(`${e2e.stack.adminUrl}/api/v1/audit-quarantine`);
    expect(anonymous.status).toBe(401);
    const openapi = (await (await fetch(`${e2e.stack.adminUrl}/api/openapi.json`)).json()) as Json;
    expect(Object.keys(openapi.paths)).toContain('/api/v1/audit-quarantine');
  });

  it('falls back to row by row when Postgres refuses the batch insert, storing the others at once', async () => {
    const { db, pool } = openDatabase(consumerEnv);
    try {
      const goodA = eventBody();
      const goodB = eventBody();
      const badModel = eventBody();
      const badEndpoint = eventBody();
      const q = queueBatch('routero-audit', [goodA, badModel, goodB, badEndpoint]);
      // Rows built past the schema, as a future field without a cap would be: Postgres refuses NUL (22021).
      const items = q.messages.map((msg, i) => {
        const row = toAuditRow(auditEventSchema.parse(msg.body));
        if (i === 1) row.model = 'openai/a\u0000b';
        if (i === 3) row.endpoint = 'chat\u0000completions';
        return { msg: msg as unknown as Message<unknown>, row };
      });
      await storePending(db, 'routero-audit', items);
      expect(q.retried).toEqual([]);
      expect(q.acked.sort()).toEqual([0, 1, 2, 3]);
      const rows = await rowsById([goodA.id, goodB.id, badModel.id, badEndpoint.id] as string[]);
      expect(rows.get(goodA.id as string)).toMatchObject({ model: 'openai/gpt-4o-mini', org_id: orgId });
      expect(rows.get(goodB.id as string)).toMatchObject({ model: 'openai/gpt-4o-mini' });
      // The refused field is nulled; the request is still on record.
      expect(rows.get(badModel.id as string)).toMatchObject({ model: null, status: 200, endpoint: 'chat_completions' });
      // A row refused even without its nullable fields is set aside, not dropped.
      expect(rows.has(badEndpoint.id as string)).toBe(false);
      const quarantined = await e2e.query<Json>('select * from audit_quarantine where request_id = $1', [badEndpoint.id]);
      expect(quarantined).toHaveLength(1);
      expect(quarantined[0].reason).toContain('SQLSTATE 22021');
    } finally {
      await closePool(pool);
    }
  });

  it('retries the whole batch, acknowledging nothing, when the database cannot be reached', async () => {
    const q = queueBatch('routero-audit', [eventBody(), eventBody()]);
    await storeBatch(q.batch, { DATABASE_URL: 'postgres://postgres@127.0.0.1:1/none' } as AdminEnv, q.ctx);
    await q.settle();
    expect(q.acked).toEqual([]);
    expect(q.retried.sort()).toEqual([0, 1]);
  });
});

describe('the invariant', () => {
  it('every request produces exactly one stored event, whatever its input', async () => {
    const narrow = await createKey(['mock/*']);
    const anthropic = (model: unknown) => post('/v1/messages', { model, max_tokens: 16, messages: [{ role: 'user', content: 'hi' }] }, mockKey.key);
    const before = deadLetterTraffic().length;
    const sent = await Promise.all([
      chat('mock/echo'),
      chat('mock/echo', mockKey.key, { stream: true }),
      anthropic('mock/echo'),
      chat(HUGE_MODEL),
      chat('mock/' + '\u00e9'.repeat(70_000)),
      chat('mock/\u0000'),
      chat('\u0000'),
      chat('mock/\udfff\ud800'),
      chat('mock/\u202eevil'),
      chat(''),
      chat(12345),
      chat(null),
      chat('nosuchprovider/model'),
      chat('anthropic/claude-sonnet-4-5'), // another provider's format: translated (issue 10)
      chat('openai/gpt-4o-mini', narrow.key), // outside the key's scope
      chat('mock/echo', null), // no key
      chat('mock/echo', 'rto_aaaaaaaaaaaaaaaa_' + 'A'.repeat(43)), // unknown key
      post('/v1/chat/completions', '{"model":', mockKey.key), // not JSON
      post('/v1/chat/completions', '[]', mockKey.key),
      chat('openai/count-3000000000-1e300'),
      chat('openai/count-1e300-1e300', mockKey.key, { stream: true }),
      anthropic('mock/a\u0000b'),
      anthropic('x'.repeat(200_000)),
    ]);
    const statuses = sent.map((s) => s.status);
    expect(statuses.filter((s) => s >= 500), JSON.stringify(statuses)).toEqual([]);
    for (const s of sent) expect(s.requestId, JSON.stringify(s.body).slice(0, 200)).toMatch(/^[0-9a-f-]{36}$/);
    const rows = await storedEvents(sent.map((s) => s.requestId));
    await new Promise((r) => setTimeout(r, 1500)); // a duplicate would arrive in the next batches
    const again = await storedEvents(sent.map((s) => s.requestId));
    for (const s of sent) {
      expect(again.get(s.requestId), `${s.status} ${s.requestId}`).toHaveLength(1);
      const row = again.get(s.requestId)![0];
      expect(row.status).toBe(s.status);
      expect(row.model === null || row.model.length <= 256).toBe(true);
    }
    expect(rows.size).toBe(sent.length);
    expect(deadLetterTraffic().slice(before)).toEqual([]);
  });
});
