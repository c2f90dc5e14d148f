/**
 * The permanent hostile-input suite (issue "Security hardening"): property-based requests against
 * every gateway endpoint and every admin API route on the real stack. Seeded and reproducible:
 * `FUZZ_SEED=<n> npm run test:e2e -- hostile` replays a run; `FUZZ_RUNS` raises the case count.
 *
 * What must hold for every case, whatever the input:
 * - no 5xx caused by the input (the fake upstreams never fail here), no hang;
 * - every gateway inference request leaves exactly one stored metadata event (its x-request-id);
 * - no secret in any response: provider keys, the master key, key hashes, prompt canaries echoed
 *   back in error bodies.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, startE2E, type E2E } from './stack-fixture';

const SEED = Number(process.env.FUZZ_SEED ?? 20261130);
const RUNS = Number(process.env.FUZZ_RUNS ?? 300);
const CANARY_OPENAI_KEY = `sk-canary-fuzz-${crypto.randomUUID()}`;
const CANARY_ANTHROPIC_KEY = `sk-ant-canary-fuzz-${crypto.randomUUID()}`;
const REQUEST_TIMEOUT_MS = 15_000;

let e2e: E2E;
let orgId: string;
let key: string;
let keyId: string;
let secretsNeverSent: string[];

interface Sent {
  status: number;
  requestId: string | null;
  body: string;
  headers: string;
}

function headerText(headers: Headers): string {
  const parts: string[] = [];
  headers.forEach((value, name) => parts.push(`${name}: ${value}`));
  return parts.join('\n');
}

async function send(url: string, init: RequestInit): Promise<Sent> {
  const res = await fetch(url, { ...init, signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
  const body = await res.text();
  return { status: res.status, requestId: res.headers.get('x-request-id') ?? '', body, headers: headerText(res.headers) };
}

function assertNoSecret(sent: Sent, what: string): void {
  for (const s of secretsNeverSent) {
    expect(sent.body.includes(s), `${what}: body leaks a secret`).toBe(false);
    expect(sent.headers.includes(s), `${what}: headers leak a secret`).toBe(false);
  }
  expect(sent.body, `${what}: no bcrypt hash in a response`).not.toMatch(/\$2[aby]\$\d\d\$/);
}

// ---- generators -------------------------------------------------------------------------------

/** Strings an attacker tries: control characters, lone surrogates, huge, SQL-ish, path-ish. */
const nastyString = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 64 }),
  fc.string({ unit: 'grapheme', maxLength: 64 }),
  fc.constantFrom(
    '\u0000',
    'mock/\u0000echo',
    'mock/echo\ud800',
    '\ud800',
    "mock/echo' OR 1=1 --",
    '../../etc/passwd',
    'mock/../openai/gpt-4o',
    '%00',
    'openai/gpt-4o-mini\r\nx-injected: 1',
    '${jndi:ldap://127.0.0.1/a}',
    '<script>alert(1)</script>',
    '',
    ' ',
    'mock/',
    '/echo',
    'mock/echo',
    'openai/gpt-4o-mini',
    'anthropic/claude-sonnet-4-5',
  ),
  fc.nat({ max: 200_000 }).map((n) => `mock/${'a'.repeat(n)}`),
);

const jsonValue = fc.jsonValue({ maxDepth: 3 });

/** A valid-looking chat body with one field replaced by something hostile. */
const validModel = fc.oneof(
  fc.constantFrom('mock/echo', 'openai/gpt-4o-mini', 'anthropic/claude-sonnet-4-5', 'mock/echo-2'),
  fc.nat({ max: 200_000 }).map((n) => `mock/${'a'.repeat(n)}`),
  fc.string({ unit: 'binary', maxLength: 40 }).map((s) => `mock/${s}`),
);
const chatBody = fc.record({
  model: fc.oneof({ weight: 4, arbitrary: validModel }, { weight: 2, arbitrary: nastyString }, { weight: 1, arbitrary: jsonValue }),
  messages: fc.oneof(
    { weight: 4, arbitrary: fc.constant([{ role: 'user', content: 'hello' }]) },
    { weight: 1, arbitrary: fc.array(fc.record({ role: fc.oneof(nastyString, jsonValue), content: fc.oneof(nastyString, jsonValue) }), { maxLength: 3 }) },
    { weight: 1, arbitrary: jsonValue },
  ),
  stream: fc.oneof({ weight: 4, arbitrary: fc.boolean() }, { weight: 1, arbitrary: jsonValue }),
  stream_options: fc.oneof(fc.constant(undefined), jsonValue, fc.record({ include_usage: fc.oneof(fc.boolean(), jsonValue) })),
  max_tokens: fc.oneof({ weight: 4, arbitrary: fc.integer({ min: 1, max: 4096 }) }, { weight: 1, arbitrary: fc.oneof(fc.integer(), fc.double(), jsonValue) }),
}, { requiredKeys: ['model', 'messages', 'max_tokens'] });

/** A body: valid-ish JSON object, arbitrary JSON, or bytes that are not JSON at all. */
const requestBody = fc.oneof(
  { weight: 5, arbitrary: chatBody.map((b) => JSON.stringify(b)) },
  { weight: 1, arbitrary: jsonValue.map((v) => JSON.stringify(v)) },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 200 }) },
  { weight: 1, arbitrary: fc.constantFrom('', '{', '{"model":', 'null', '[]', '{"model":"mock/echo","messages":[{"role":"user","content":"x"}],"max_tokens":1}') },
);

const authHeader = fc.oneof(
  { weight: 6, arbitrary: fc.constant('valid') },
  { weight: 1, arbitrary: fc.constant('none') },
  { weight: 1, arbitrary: nastyString.map((s) => `garbage:${s}`) },
  { weight: 1, arbitrary: fc.constantFrom('rto_', 'rto_0000000000000000_x', "rto_' OR 1=1 --_x", 'Bearer', 'rto_aaaaaaaaaaaaaaaa_' + 'a'.repeat(43)) },
);

function headersFor(auth: string, style: 'bearer' | 'x-api-key', extra: Record<string, string>): Headers {
  const h = new Headers({ 'content-type': 'application/json', ...extra });
  const value = auth === 'valid' ? key : auth === 'none' ? null : auth.replace(/^garbage:/, '');
  // A value no HTTP client can put in a header (control characters) never reaches a server: send
  // its printable remainder instead, which is what a proxy in between would make of it.
  const printable = value?.replace(/[^\t\x20-\x7e]/g, '') ?? null;
  if (printable !== null) h.set(style === 'bearer' ? 'authorization' : 'x-api-key', style === 'bearer' ? `Bearer ${printable}` : printable);
  return h;
}

const hostileHeaders = fc.dictionary(
  fc.constantFrom('host', 'x-forwarded-for', 'cf-connecting-ip', 'openai-organization', 'openai-project', 'anthropic-version', 'x-request-id', 'content-type'),
  fc.constantFrom('127.0.0.1', 'evil.example', 'text/plain', 'application/json; charset=utf-16', '::1', '2023-06-01', '0.0.0.0', 'x'.repeat(300)),
  { maxKeys: 3 },
);

beforeAll(async () => {
  e2e = await startE2E();
  const org = await e2e.admin('POST', '/orgs', { name: 'fuzz' });
  expect(org.status).toBe(201);
  orgId = org.json.id;
  for (const [provider, secret, base] of [
    ['openai', CANARY_OPENAI_KEY, `${e2e.openai.url}/v1`],
    ['anthropic', CANARY_ANTHROPIC_KEY, e2e.anthropic.url],
  ] as const) {
    const pk = await e2e.admin('POST', '/provider-keys', { org_id: orgId, provider, name: provider, secret, base_url: base });
    expect(pk.status).toBe(201);
  }
  const created = await e2e.admin('POST', '/keys', { org_id: orgId, name: 'fuzz', models: ['mock/*', 'openai/gpt-4o*', 'anthropic/claude*'] });
  expect(created.status).toBe(201);
  key = created.json.key;
  keyId = created.json.id;
  const keySecret = key.split('_').at(-1)!;
  secretsNeverSent = [CANARY_OPENAI_KEY, CANARY_ANTHROPIC_KEY, e2e.stack.masterKey, keySecret];
}, 240_000);

afterAll(async () => {
  await e2e?.close();
});

describe('hostile inputs against the gateway', () => {
  it(`answers ${RUNS} generated requests without a 5xx, a hang or a leak, each with exactly one stored event (seed ${SEED})`, async () => {
    const requestIds: string[] = [];
    const statuses = new Map<number, number>();
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom('/v1/chat/completions', '/v1/messages'),
        requestBody,
        authHeader,
        fc.constantFrom('bearer' as const, 'x-api-key' as const),
        hostileHeaders,
        async (path, body, auth, style, extra) => {
          const sent = await send(`${e2e.stack.gatewayUrl}${path}`, { method: 'POST', headers: headersFor(auth, style, extra), body });
          statuses.set(sent.status, (statuses.get(sent.status) ?? 0) + 1);
          expect(sent.status, `${path} ${body.slice(0, 200)} → ${sent.body.slice(0, 300)}`).toBeLessThan(500);
          assertNoSecret(sent, path);
          expect(sent.requestId, `every answer names its request (status ${sent.status}: ${sent.body.slice(0, 200)})`).toMatch(/^[0-9a-f-]{36}$/);
          requestIds.push(sent.requestId!);
        },
      ),
      { seed: SEED, numRuns: RUNS, endOnFailure: true },
    );
    console.log(`gateway fuzz: ${RUNS} cases, statuses ${JSON.stringify(Object.fromEntries([...statuses].sort()))}`);
    // Exactly one stored event per request, whatever its input.
    const wanted = new Set(requestIds);
    const stored = async () =>
      e2e.query<{ request_id: string; n: string }>(
        'select request_id, count(*) as n from audit_events where request_id = any($1) group by request_id',
        [requestIds],
      );
    await eventually('every fuzzed request stored', async () => (await stored()).length === wanted.size, 60_000, 500).catch(() => undefined);
    const rows = await stored();
    const missing = [...wanted].filter((id) => !rows.some((r) => r.request_id === id));
    expect(missing, `${missing.length} of ${wanted.size} requests left no stored event`).toEqual([]);
    expect(rows.filter((r) => Number(r.n) !== 1)).toEqual([]);
  }, 600_000);
});

/** Admin routes with the values that fill their path parameters. */
const ADMIN_ROUTES: Array<{ method: string; path: (id: string) => string; body?: boolean; query?: boolean }> = [
  { method: 'POST', path: () => '/orgs', body: true },
  { method: 'GET', path: () => '/orgs', query: true },
  { method: 'POST', path: () => '/provider-keys', body: true },
  { method: 'GET', path: () => '/provider-keys', query: true },
  { method: 'DELETE', path: (id) => `/provider-keys/${id}` },
  { method: 'POST', path: () => '/keys', body: true },
  { method: 'GET', path: () => '/keys', query: true },
  { method: 'GET', path: (id) => `/keys/${id}` },
  { method: 'POST', path: (id) => `/keys/${id}/revoke` },
  { method: 'POST', path: (id) => `/keys/${id}/rotate`, body: true },
  { method: 'POST', path: (id) => `/provider-keys/${id}/test` },
  { method: 'GET', path: () => '/usage', query: true },
  { method: 'GET', path: () => '/events', query: true },
  { method: 'GET', path: () => '/audit-log', query: true },
  { method: 'GET', path: () => '/evidence', query: true },
];

const adminBody = fc.oneof(
  fc.record({
    name: fc.oneof(nastyString, jsonValue),
    org_id: fc.oneof(fc.uuid(), nastyString, jsonValue),
    provider: fc.oneof(fc.constantFrom('openai', 'anthropic', 'mock'), nastyString),
    secret: fc.oneof(nastyString, fc.constant('sk-fuzz-secret-value')),
    base_url: fc.oneof(fc.constantFrom('not a url', 'https://[::1', 'https://localhost./v1', 'http://169.254.169.254/', 'https://api.openai.com/v1', 'javascript:alert(1)'), nastyString),
    models: fc.oneof(fc.array(nastyString, { maxLength: 3 }), jsonValue),
    cidrs: fc.oneof(fc.array(fc.constantFrom('10.0.0.0/8', '::/0', '300.1.1.1/33', 'x'), { maxLength: 3 }), jsonValue),
    grace_seconds: fc.oneof(fc.integer({ min: -10, max: 700_000 }), fc.double(), jsonValue),
    expires_at: fc.oneof(fc.constantFrom('0000-01-01T00:00:00Z', '9999-12-31T23:59:59Z', 'yesterday', '2026-13-45T99:99:99Z'), jsonValue),
  }, { requiredKeys: [] }).map((b) => JSON.stringify(b)),
  jsonValue.map((v) => JSON.stringify(v)),
  fc.string({ unit: 'binary', maxLength: 100 }),
);

const adminQuery = fc
  .dictionary(
    fc.constantFrom('org_id', 'key_id', 'model', 'status', 'from', 'to', 'limit', 'cursor', 'group_by', 'actor', 'action', 'outcome'),
    fc.oneof(nastyString, fc.constantFrom('0000-01-01T00:00:00Z', '-1', '99999999999', 'eyJmb3JnZWQiOnRydWV9', 'model', 'day', 'junk')),
    { maxKeys: 4 },
  )
  // Values are cut to 2,000 characters: a longer URL never reaches a Worker (Cloudflare refuses URLs
  // over 16 KB at the edge), and the local dev proxy answers one with 431 or a connection reset.
  .map((q) => new URLSearchParams(Object.fromEntries(Object.entries(q).map(([k, v]) => [k, v.slice(0, 2_000)]))).toString());

const pathId = fc.oneof(fc.uuid(), nastyString.map((s) => encodeURIComponent(s.slice(0, 300))), fc.constantFrom('%00', '..', '%2e%2e', 'rto_x'));

describe('hostile inputs against the admin API', () => {
  it(`answers ${RUNS} generated admin calls without a 5xx or a leak (seed ${SEED})`, async () => {
    const statuses = new Map<number, number>();
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...ADMIN_ROUTES), pathId, adminBody, adminQuery, async (route, id, body, query) => {
        const p = route.path(id);
        const url = `${e2e.stack.adminUrl}/api/v1${p}${route.query ? `?${query}` : ''}`;
        const sent = await send(url, {
          method: route.method,
          headers: { authorization: `Bearer ${e2e.stack.masterKey}`, 'content-type': 'application/json' },
          body: route.body ? body : undefined,
        });
        statuses.set(sent.status, (statuses.get(sent.status) ?? 0) + 1);
        expect(sent.status, `${route.method} ${url.slice(0, 300)} ${route.body ? body.slice(0, 200) : ''} → ${sent.body.slice(0, 300)}`).toBeLessThan(500);
        assertNoSecret(sent, `${route.method} ${p}`);
        expect(sent.body.includes('sk-fuzz-secret-value'), 'a provider secret submitted to the admin API is never echoed').toBe(false);
      }),
      { seed: SEED + 1, numRuns: RUNS, endOnFailure: true },
    );
    console.log(`admin fuzz: ${RUNS} cases, statuses ${JSON.stringify(Object.fromEntries([...statuses].sort()))}`);
    // The key the gateway fuzz used is still what it was: nothing in the fuzz changed it by accident.
    const keyRow = await e2e.admin('GET', `/keys/${keyId}`);
    expect([200, 404]).toContain(keyRow.status);
  }, 600_000);
});
