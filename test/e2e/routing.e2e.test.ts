/**
 * Routes end to end (issue 10): an org admin defines `route/<name>` through the admin API, the
 * gateway reads it from KV, and a scripted provider (test/support/scripted-upstream.ts) plays each
 * target's answer. What a user would notice: a failing first target is survived; Retry-After is
 * waited out; a target that does not answer in time is left; nothing is resent once the answer has
 * started; weights split the traffic; keys scoped to routes reach only those routes; and every
 * request is one stored event listing each attempt.
 */
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startScriptedUpstream, type Script, type ScriptedUpstream } from '../support/scripted-upstream';
import { eventually, startE2E, type E2E, type Json } from './stack-fixture';

let e2e: E2E;
let upstream: ScriptedUpstream;
let orgId: string;
let key: string;
let pkA: string;
let pkB: string;

const ok = (content = 'ok'): Script => ({
  contentType: 'application/json',
  steps: [
    JSON.stringify({
      id: 'c1',
      object: 'chat.completion',
      created: 1,
      model: 'm',
      choices: [{ index: 0, message: { role: 'assistant', content }, finish_reason: 'stop' }],
      usage: { prompt_tokens: 3, completion_tokens: 1, total_tokens: 4 },
    }),
  ],
});
const failing = (status: number, headers: Record<string, string> = {}): Script => ({
  status,
  contentType: 'application/json',
  headers,
  steps: [JSON.stringify({ error: { message: `scripted ${status}`, type: 'server_error', param: null, code: null } })],
});

let n = 0;
/** A fresh upstream model name with its script(s); returns `openai/<name>`. */
function target(script: Script | Script[]): string {
  const name = `rt-${Date.now()}-${n++}`;
  upstream.script(name, script);
  return `openai/${name}`;
}

async function createRoute(body: Record<string, unknown>): Promise<Json> {
  const res = await e2e.admin('POST', '/routes', { org_id: orgId, ...body });
  expect(res.status, JSON.stringify(res.json)).toBe(201);
  return res.json;
}

async function chat(model: string, k = key, extra: Record<string, unknown> = {}) {
  const started = Date.now();
  const res = await fetch(`${e2e.stack.gatewayUrl}/v1/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${k}`, 'content-type': 'application/json' },
    body: JSON.stringify({ model, messages: [{ role: 'user', content: 'hi' }], ...extra }),
  });
  const text = await res.text();
  return { status: res.status, text, ms: Date.now() - started, requestId: res.headers.get('x-request-id') };
}

async function eventFor(requestId: string | null): Promise<Json> {
  return eventually(`event ${requestId}`, async () => (await e2e.query('select * from audit_events where request_id = $1', [requestId]))[0]);
}

beforeAll(async () => {
  upstream = await startScriptedUpstream();
  e2e = await startE2E({ gatewayVars: { UPSTREAM_HEADER_TIMEOUT_MS: '5000', UPSTREAM_IDLE_TIMEOUT_MS: '2000' } });
  const org = await e2e.admin('POST', '/orgs', { name: `routing ${Date.now()}` });
  orgId = org.json.id;
  const a = await e2e.admin('POST', '/provider-keys', { org_id: orgId, provider: 'openai', name: 'a', secret: 'sk-route-key-a-0000', base_url: `${upstream.url}/v1` });
  const b = await e2e.admin('POST', '/provider-keys', { org_id: orgId, provider: 'openai', name: 'b', secret: 'sk-route-key-b-0000', base_url: `${upstream.url}/v1` });
  expect([a.status, b.status]).toEqual([201, 201]);
  pkA = a.json.id;
  pkB = b.json.id;
  const k = await e2e.admin('POST', '/keys', { org_id: orgId, name: 'routes', models: ['route/*', 'openai/*'] });
  key = k.json.key;
});

afterAll(async () => {
  await e2e?.close();
  await upstream?.close();
});

describe('the routes admin API', () => {
  it('creates, reads, lists, changes and deletes a route; each change is an audit row', async () => {
    const name = `crud-${Date.now()}`;
    const created = await createRoute({ name, strategy: 'fallback', targets: [{ model: 'openai/gpt-4o-mini' }, { model: 'mock/echo' }] });
    expect(created).toMatchObject({ name, model: `route/${name}`, strategy: 'fallback', max_attempts: 2, timeout_ms: null });
    expect(created.targets).toEqual([
      { model: 'openai/gpt-4o-mini', provider_key_id: null, weight: 1 },
      { model: 'mock/echo', provider_key_id: null, weight: 1 },
    ]);
    expect((await e2e.admin('GET', `/routes/${created.id}`)).json.name).toBe(name);
    expect((await e2e.admin('GET', `/routes?org_id=${orgId}`)).json.data.map((r: Json) => r.name)).toContain(name);
    const patched = await e2e.admin('PATCH', `/routes/${created.id}`, { max_attempts: 4, timeout_ms: 2000 });
    expect(patched.json).toMatchObject({ max_attempts: 4, timeout_ms: 2000 });
    const dup = await e2e.admin('POST', '/routes', { org_id: orgId, name, strategy: 'fallback', targets: [{ model: 'mock/echo' }] });
    expect(dup.status).toBe(409);
    expect((await e2e.admin('DELETE', `/routes/${created.id}`)).status).toBe(200);
    expect((await e2e.admin('GET', `/routes/${created.id}`)).status).toBe(404);
    const rows = await e2e.query<{ action: string }>("select action from admin_audit_log where target_id = $1 and outcome = 'allowed' order by seq", [created.id]);
    expect(rows.map((r) => r.action)).toEqual(['route.create', 'route.update', 'route.delete']);
  });

  it('refuses bad routes with the field named, and a provider key of another provider', async () => {
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ name: 'Bad Name', strategy: 'fallback', targets: [{ model: 'mock/echo' }] }, 'name'],
      [{ name: 'x1', strategy: 'random', targets: [{ model: 'mock/echo' }] }, 'strategy'],
      [{ name: 'x2', strategy: 'fallback', targets: [] }, 'targets'],
      [{ name: 'x3', strategy: 'fallback', targets: [{ model: 'nosuch/model' }] }, 'targets.0.model'],
      [{ name: 'x4', strategy: 'fallback', targets: [{ model: 'route/other' }] }, 'targets.0.model'],
      [{ name: 'x5', strategy: 'weighted', targets: [{ model: 'mock/echo', weight: 0 }] }, 'targets.0.weight'],
      [{ name: 'x6', strategy: 'fallback', targets: [{ model: 'mock/echo' }], max_attempts: 11 }, 'max_attempts'],
      [{ name: 'x7', strategy: 'fallback', targets: [{ model: 'anthropic/claude-sonnet-4-5', provider_key_id: pkA }] }, 'targets.0.provider_key_id'],
    ];
    for (const [body, field] of cases) {
      const res = await e2e.admin('POST', '/routes', { org_id: orgId, ...body });
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(JSON.stringify(res.json), JSON.stringify(body)).toContain(field);
    }
  });
});

describe('calling a route', () => {
  it('falls back: the first target answers 503, the second answers; one event with both attempts', async () => {
    const first = target(failing(503));
    const second = target(ok('from the second'));
    const name = `fb-${Date.now()}`;
    await createRoute({ name, strategy: 'fallback', targets: [{ model: first }, { model: second }] });
    const r = await chat(`route/${name}`);
    expect(r.status, r.text).toBe(200);
    expect(JSON.parse(r.text).choices[0].message.content).toBe('from the second');
    const event = await eventFor(r.requestId);
    expect(event).toMatchObject({ route: name, model: second, provider: 'openai', status: 200, attempt_count: 2, input_tokens: 3 });
    expect(event.attempts.map((a: Json) => [a.model, a.status, a.error_type])).toEqual([
      [first, 503, 'upstream_error'],
      [second, 200, null],
    ]);
    const events = await e2e.query('select id from audit_events where route = $1', [name]);
    expect(events).toHaveLength(1);
  });

  it('the official openai SDK sees the fallback as one ordinary answer', async () => {
    const name = `sdk-${Date.now()}`;
    await createRoute({ name, strategy: 'fallback', targets: [{ model: target(failing(500)) }, { model: target(ok('sdk ok')) }] });
    const client = new OpenAI({ baseURL: `${e2e.stack.gatewayUrl}/v1`, apiKey: key, maxRetries: 0 });
    const completion = await client.chat.completions.create({ model: `route/${name}`, messages: [{ role: 'user', content: 'hi' }] });
    expect(completion.choices[0]!.message.content).toBe('sdk ok');
  });

  it('honours Retry-After before trying the same target again', async () => {
    const only = target([failing(429, { 'retry-after': '2' }), ok('after waiting')]);
    const name = `ra-${Date.now()}`;
    await createRoute({ name, strategy: 'fallback', targets: [{ model: only }], max_attempts: 2 });
    const r = await chat(`route/${name}`);
    expect(r.status, r.text).toBe(200);
    const conns = upstream.connections(only.slice('openai/'.length));
    expect(conns).toHaveLength(2);
    expect(conns[1]!.openedAt - conns[0]!.openedAt).toBeGreaterThanOrEqual(1900);
    const event = await eventFor(r.requestId);
    expect(event.attempts.map((a: Json) => a.status)).toEqual([429, 200]);
  });

  it('does not wait out a Retry-After longer than 10 s: a lone target gives up with its 429 at once', async () => {
    const slow = target(failing(429, { 'retry-after': '120' }));
    const name = `ra-long-${Date.now()}`;
    await createRoute({ name, strategy: 'fallback', targets: [{ model: slow }], max_attempts: 3 });
    const r = await chat(`route/${name}`);
    expect(r.status).toBe(429);
    expect(r.ms).toBeLessThan(5000);
    expect((await eventFor(r.requestId)).attempt_count).toBe(1);
  });

  it('retries a lone failing target with backoff, up to max_attempts, then answers with its error', async () => {
    const bad = target(failing(502));
    const name = `retry-${Date.now()}`;
    await createRoute({ name, strategy: 'fallback', targets: [{ model: bad }], max_attempts: 3 });
    const r = await chat(`route/${name}`);
    expect(r.status).toBe(502);
    const conns = upstream.connections(bad.slice('openai/'.length));
    expect(conns).toHaveLength(3);
    // Backoff: 125–250 ms, then 250–500 ms.
    expect(conns[1]!.openedAt - conns[0]!.openedAt).toBeGreaterThanOrEqual(100);
    expect(conns[2]!.openedAt - conns[1]!.openedAt).toBeGreaterThanOrEqual(200);
    const event = await eventFor(r.requestId);
    expect(event).toMatchObject({ status: 502, error_type: 'upstream_error', attempt_count: 3 });
  });

  it('moves on when a target does not answer within the route timeout', async () => {
    const silent = target({ headersAfterMs: 4000, contentType: 'application/json', steps: ['{}'] });
    const fine = target(ok('in time'));
    const name = `to-${Date.now()}`;
    await createRoute({ name, strategy: 'fallback', targets: [{ model: silent }, { model: fine }], timeout_ms: 500 });
    const r = await chat(`route/${name}`);
    expect(r.status, r.text).toBe(200);
    expect(r.ms).toBeLessThan(3000);
    const event = await eventFor(r.requestId);
    expect(event.attempts.map((a: Json) => [a.status, a.error_type])).toEqual([
      [0, 'upstream_timeout'],
      [200, null],
    ]);
  });

  it('never retries once the answer has started: a stream cut after its first bytes ends with an error event', async () => {
    const cut = target({
      steps: ['data: {"id":"c1","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"content":"par"},"finish_reason":null}]}\n\n', { wait: 100 }, { reset: true }],
    });
    const spare = target(ok('should not be used'));
    const name = `nb-${Date.now()}`;
    await createRoute({ name, strategy: 'fallback', targets: [{ model: cut }, { model: spare }], max_attempts: 3 });
    const r = await chat(`route/${name}`, key, { stream: true });
    expect(r.status).toBe(200);
    expect(r.text).toContain('"content":"par"');
    expect(r.text).toContain('"code":"upstream_stream_error"');
    expect(upstream.connections(spare.slice('openai/'.length))).toHaveLength(0);
    const event = await eventFor(r.requestId);
    expect(event).toMatchObject({ status: 502, error_type: 'upstream_stream_error', attempt_count: 1 });
  });

  it('does not fall back on a 400: the request itself is wrong', async () => {
    const reject = target(failing(400));
    const spare = target(ok());
    const name = `nf-${Date.now()}`;
    await createRoute({ name, strategy: 'fallback', targets: [{ model: reject }, { model: spare }] });
    const r = await chat(`route/${name}`);
    expect(r.status).toBe(400);
    expect(upstream.connections(spare.slice('openai/'.length))).toHaveLength(0);
  });

  it('splits traffic by weight across two provider keys of one provider', async () => {
    const model = target(ok());
    const name = `w-${Date.now()}`;
    await createRoute({ name, strategy: 'weighted', targets: [{ model, provider_key_id: pkA, weight: 3 }, { model, provider_key_id: pkB, weight: 1 }] });
    const ids: Array<string | null> = [];
    for (let i = 0; i < 40; i++) {
      const r = await chat(`route/${name}`);
      expect(r.status).toBe(200);
      ids.push(r.requestId);
    }
    const rows = await eventually('40 events', async () => {
      const got = await e2e.query<{ attempts: Json[] }>('select attempts from audit_events where route = $1', [name]);
      return got.length === 40 ? got : undefined;
    });
    const onA = rows.filter((r) => r.attempts[0].provider_key_id === pkA).length;
    const onB = rows.filter((r) => r.attempts[0].provider_key_id === pkB).length;
    expect(onA + onB).toBe(40);
    // 3:1 over 40 draws: 30 expected on A; 20..38 holds with overwhelming probability.
    expect(onA).toBeGreaterThanOrEqual(20);
    expect(onA).toBeLessThanOrEqual(38);
    expect(onB).toBeGreaterThanOrEqual(2);
  });

  it('keys are scoped to routes like models', async () => {
    const name = `prod-chat-${Date.now()}`;
    const other = `staging-${Date.now()}`;
    await createRoute({ name, strategy: 'fallback', targets: [{ model: 'mock/echo' }] });
    await createRoute({ name: other, strategy: 'fallback', targets: [{ model: 'mock/echo' }] });
    // The scope covers the models a route reaches too: a route pattern alone reaches none.
    const routeOnly = (await e2e.admin('POST', '/keys', { org_id: orgId, name: 'prod routes', models: ['route/prod-*'] })).json.key;
    const prodRoutes = (await e2e.admin('POST', '/keys', { org_id: orgId, name: 'prod routes and echo', models: ['route/prod-*', 'mock/echo'] })).json.key;
    const modelsOnly = (await e2e.admin('POST', '/keys', { org_id: orgId, name: 'models', models: ['mock/*'] })).json.key;
    expect((await chat(`route/${name}`, routeOnly)).status).toBe(403);
    expect((await chat(`route/${name}`, prodRoutes)).status).toBe(200);
    expect((await chat(`route/${other}`, prodRoutes)).status).toBe(403);
    expect((await chat('mock/other', prodRoutes)).status).toBe(403);
    expect((await chat(`route/${name}`, modelsOnly)).status).toBe(403);
    // Outside the scope, a missing route is a 403 too (no oracle for route names); inside, a 404.
    expect((await chat('route/no-such-route', modelsOnly)).status).toBe(403);
    expect((await chat('route/no-such-route', key)).status).toBe(404);
  });

  it('a route may only target models the organisation allows', async () => {
    const narrow = await e2e.admin('POST', '/orgs', { name: `narrow routing ${Date.now()}`, allowed_models: ['mock/*'] });
    expect(narrow.status).toBe(201);
    const refused = await e2e.admin('POST', '/routes', { org_id: narrow.json.id, name: 'outside', strategy: 'fallback', targets: [{ model: 'mock/echo' }, { model: 'openai/gpt-4o-mini' }] });
    expect(refused.status).toBe(400);
    expect(JSON.stringify(refused.json)).toContain('targets.1.model');
    const ok = await e2e.admin('POST', '/routes', { org_id: narrow.json.id, name: 'inside', strategy: 'fallback', targets: [{ model: 'mock/echo' }] });
    expect(ok.status).toBe(201);
  });
});
