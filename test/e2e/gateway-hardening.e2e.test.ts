/**
 * Gateway hardening on the stack `npm start` runs, started with ALLOW_PRIVATE_UPSTREAMS=false from
 * the environment (issue 8, findings 5 and 9): the admin API refuses the base URLs the gateway
 * would refuse, and the key-existence oracle is gone on the real workerd.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startE2E, type E2E } from './stack-fixture';

let e2e: E2E;
let orgId: string;

beforeAll(async () => {
  const before = process.env.ALLOW_PRIVATE_UPSTREAMS;
  process.env.ALLOW_PRIVATE_UPSTREAMS = 'false';
  try {
    e2e = await startE2E();
  } finally {
    if (before === undefined) delete process.env.ALLOW_PRIVATE_UPSTREAMS;
    else process.env.ALLOW_PRIVATE_UPSTREAMS = before;
  }
  const org = await e2e.admin('POST', '/orgs', { name: `hardening ${new Date().toISOString()}` });
  expect(org.status).toBe(201);
  orgId = org.json.id;
});

afterAll(async () => {
  await e2e?.close();
});

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

describe('SSRF rule on the real stack (ALLOW_PRIVATE_UPSTREAMS=false npm start)', () => {
  it('the admin API refuses non-public base URLs with 400 naming base_url, and accepts public ones', async () => {
    const refused = [
      'https://localhost./v1', 'https://metadata.google.internal./', 'https://[::127.0.0.1]/v1', 'https://127.0.0.1.nip.io/v1',
      'https://0x7f.1/v1', 'https://2130706433/v1', 'https://[::ffff:169.254.169.254]/', 'https://100.100.100.200/',
      `${e2e.openai.url}/v1`, 'https://[::1', 'not a url',
    ];
    for (const base_url of refused) {
      const res = await e2e.admin('POST', '/provider-keys', { org_id: orgId, provider: 'openai', name: 'x', secret: 'sk-test-12345678', base_url });
      expect(res.status, base_url).toBe(400);
      expect(res.json.error.param, base_url).toBe('base_url');
    }
    const ok = await e2e.admin('POST', '/provider-keys', { org_id: orgId, provider: 'openai', name: 'x', secret: 'sk-test-12345678', base_url: 'https://api.openai.com/v1' });
    expect(ok.status, JSON.stringify(ok.json)).toBe(201);
  });
});

describe('key existence oracle on the real stack', () => {
  it('an unknown key id costs about as much as a wrong secret, and no Server-Timing says which', async () => {
    const created = await e2e.admin('POST', '/keys', { org_id: orgId, name: 'oracle', models: ['mock/*'] });
    expect(created.status).toBe(201);
    const realKey: string = created.json.key;
    const body = JSON.stringify({ model: 'mock/echo', messages: [{ role: 'user', content: 'hi' }] });
    const send = async (key: string) => {
      const t0 = performance.now();
      const res = await fetch(`${e2e.stack.gatewayUrl}/v1/chat/completions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
        body,
      });
      await res.text();
      return { ms: performance.now() - t0, res };
    };
    const ok = await send(realKey);
    expect(ok.res.status).toBe(200);
    expect(ok.res.headers.get('server-timing')).toBeNull();
    const random = () => Array.from(crypto.getRandomValues(new Uint8Array(43)), (b) => 'ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789'[b % 57]).join('');
    const unknown: number[] = [];
    const wrong: number[] = [];
    for (let i = 0; i < 8; i++) {
      // Each attempt presents a new key: the 5 s failure cache must not answer it.
      const u = await send(`rto_${'abcdefghijklmnop'.split('').sort(() => Math.random() - 0.5).join('')}_${random()}`);
      const w = await send(`${realKey.slice(0, 21)}${random()}`);
      expect([u.res.status, w.res.status]).toEqual([401, 401]);
      expect(u.res.headers.get('server-timing')).toBeNull();
      unknown.push(u.ms);
      wrong.push(w.ms);
    }
    console.log(`unknown id median ${median(unknown).toFixed(1)} ms, wrong secret median ${median(wrong).toFixed(1)} ms`);
    // Before the fix: ~5 ms against ~64 ms. Both now run one bcrypt at cost 10.
    expect(median(unknown)).toBeGreaterThan(median(wrong) * 0.5);
  });
});
