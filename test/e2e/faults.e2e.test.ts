/**
 * Fault suite (issue "Security hardening"): the policy service flapping while requests flow. Every
 * request gets a definite answer — served (200) or refused as unavailable (503), never a 500 or a
 * hang — and leaves exactly one stored event whose status is the one the client saw. The other
 * faults live beside the code they exercise: upstream stalls, resets and late answers in
 * stream-integrity.e2e.test.ts, Postgres down in gateway.e2e.test.ts, a refusing Queue in
 * audit-integrity.e2e.test.ts.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, startE2E, type E2E } from './stack-fixture';
import { claim } from '../support/claims';

let e2e: E2E;
let key: string;

beforeAll(async () => {
  e2e = await startE2E();
  const org = await e2e.admin('POST', '/orgs', { name: 'faults' });
  expect(org.status).toBe(201);
  const created = await e2e.admin('POST', '/keys', { org_id: org.json.id, name: 'faults', models: ['mock/*'] });
  expect(created.status).toBe(201);
  key = created.json.key;
}, 240_000);

afterAll(async () => {
  await e2e?.close();
});

async function chat(model: string): Promise<{ status: number; requestId: string }> {
  const res = await fetch(`${e2e.stack.gatewayUrl}/v1/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: JSON.stringify({ model, messages: [{ role: 'user', content: 'x' }] }),
    signal: AbortSignal.timeout(20_000),
  });
  await res.arrayBuffer();
  return { status: res.status, requestId: res.headers.get('x-request-id') ?? '' };
}

describe('Cerbos flapping', () => {
  it(claim('policy-every-action', 'answers every request with 200 or 503 and stores exactly one event with that status'), async () => {
    const results: Array<{ status: number; requestId: string }> = [];
    let flapping = true;
    const flapper = (async () => {
      for (let i = 0; i < 3 && flapping; i++) {
        await e2e.stack.cerbos.stop();
        await new Promise((r) => setTimeout(r, 1_500)); // past the 1 s decision cache
        await e2e.stack.cerbos.start();
        await new Promise((r) => setTimeout(r, 500));
      }
    })();
    // Distinct model names defeat the decision cache, so requests really ask Cerbos.
    let n = 0;
    const workers = Array.from({ length: 3 }, async () => {
      while (flapping) {
        results.push(await chat(`mock/flap-${n++}`));
      }
    });
    await flapper;
    flapping = false;
    await Promise.all(workers);

    const statuses = new Set(results.map((r) => r.status));
    expect([...statuses].sort()).toEqual([200, 503]);
    const ids = results.map((r) => r.requestId);
    expect(ids.every((id) => /^[0-9a-f-]{36}$/.test(id))).toBe(true);
    const rows = await eventually(
      'every request of the flapping run stored',
      async () => {
        const r = await e2e.query<{ request_id: string; status: number; n: string }>(
          'select request_id, min(status) as status, count(*) as n from audit_events where request_id = any($1) group by request_id',
          [ids],
        );
        return r.length === ids.length ? r : undefined;
      },
      60_000,
      500,
    );
    expect(rows.filter((r) => Number(r.n) !== 1)).toEqual([]);
    const seen = new Map(results.map((r) => [r.requestId, r.status]));
    expect(rows.filter((r) => seen.get(r.request_id) !== Number(r.status))).toEqual([]);

    // And the admin API answers too: served or unavailable, never a 500.
    const after = await e2e.admin('GET', '/orgs');
    expect(after.status).toBe(200);
  }, 180_000);
});
