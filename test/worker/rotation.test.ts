/**
 * Key rotation at the gateway (worker/middleware/key-auth.ts): the replaced secret works during
 * its grace period and is refused after it, with the clock injected (no sleeping); the failure
 * cache never locks out a newly published secret.
 */
import bcrypt from 'bcryptjs';
import { env } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { newVirtualKey } from '../../lib/crypto/virtual-key';
import { kvKeys, type VirtualKeyRecord } from '../../lib/kv/records';
import { bcryptCounter } from '../../worker/middleware/key-auth';
import { TEST_CLOCK_HEADER, testClockNow } from '../../worker/middleware/test-clock';
import type { GatewayConfig } from '../../worker/env';
import { harness, seedKey } from './harness';

const chat = { model: 'mock/echo', messages: [{ role: 'user', content: 'hi' }] };

/** A clock the test moves. */
function clock(start = Date.parse('2026-06-01T12:00:00Z')) {
  let t = start;
  return { now: () => t, set: (v: number) => (t = v), advance: (ms: number) => (t += ms) };
}

/** What the admin Worker publishes after POST /keys/:id/rotate: a new secret, the old hash with its grace end. */
async function rotate(record: VirtualKeyRecord, graceEnds: number | null): Promise<{ key: string; record: VirtualKeyRecord }> {
  const fresh = newVirtualKey();
  const key = `rto_${record.id}_${fresh.secret}`;
  const rotated: VirtualKeyRecord = {
    ...record,
    secret_hash: await bcrypt.hash(fresh.secret, 4),
    previous_secret_hash: graceEnds === null ? null : record.secret_hash,
    previous_secret_expires_at: graceEnds === null ? null : new Date(graceEnds).toISOString(),
    version: record.version + 1,
  };
  await env.ROUTERO_KV.put(kvKeys.virtualKey(record.id), JSON.stringify(rotated));
  return { key, record: rotated };
}

describe('key rotation with a grace period', () => {
  it('accepts the old secret until the grace period ends and refuses it after, while the new one works', async () => {
    const c = clock();
    const h = harness({}, { now: c.now });
    const old = await seedKey();
    const graceEnds = c.now() + 3600_000;
    const fresh = await rotate(old.record, graceEnds);

    expect((await h.call('/v1/chat/completions', { json: chat, key: fresh.key })).res.status).toBe(200);
    expect((await h.call('/v1/chat/completions', { json: chat, key: old.key })).res.status).toBe(200);
    // Warm (cached) requests near the end of the grace period still pass…
    c.set(graceEnds - 1000);
    expect((await h.call('/v1/chat/completions', { json: chat, key: old.key })).res.status).toBe(200);
    // …and at the grace end the old secret is refused, although its verification is still cached.
    c.set(graceEnds);
    const refused = await h.call('/v1/chat/completions', { json: chat, key: old.key });
    expect(refused.res.status).toBe(401);
    expect(refused.json).toEqual({ error: { message: 'Invalid API key.', type: 'invalid_request_error', param: null, code: 'invalid_api_key' } });
    expect((await h.call('/v1/chat/completions', { json: chat, key: fresh.key })).res.status).toBe(200);
    // A cold isolate after the grace end never even compares the old secret.
    const cold = harness({}, { now: c.now });
    expect((await cold.call('/v1/chat/completions', { json: chat, key: old.key })).res.status).toBe(401);
    expect((await cold.call('/v1/chat/completions', { json: chat, key: fresh.key })).res.status).toBe(200);
  });

  it('with no grace period, refuses the old secret in a cold isolate at once and in a warm one within the key-cache TTL', async () => {
    const c = clock();
    const h = harness({ KEY_CACHE_TTL_SECONDS: '30' }, { now: c.now });
    const old = await seedKey();
    expect((await h.call('/v1/chat/completions', { json: chat, key: old.key })).res.status).toBe(200); // cached as current
    const fresh = await rotate(old.record, null);
    expect((await harness({}, { now: c.now }).call('/v1/chat/completions', { json: chat, key: old.key })).res.status).toBe(401);
    // The warm isolate verified the old secret before the rotation: the documented bound, like revocation.
    c.advance(30_000);
    expect((await h.call('/v1/chat/completions', { json: chat, key: old.key })).res.status).toBe(401);
    expect((await h.call('/v1/chat/completions', { json: chat, key: fresh.key })).res.status).toBe(200);
  });

  it('does not lock out a new secret that an isolate refused while its KV view was stale', async () => {
    const c = clock();
    const h = harness({}, { now: c.now });
    const old = await seedKey();
    // The new secret as the admin Worker made it, presented before the edge has the rotated record.
    const fresh = newVirtualKey();
    const newKey = `rto_${old.record.id}_${fresh.secret}`;
    expect((await h.call('/v1/chat/completions', { json: chat, key: newKey })).res.status).toBe(401);
    // A repeat within the failure TTL against the unchanged record costs no bcrypt.
    const before = bcryptCounter.calls;
    expect((await h.call('/v1/chat/completions', { json: chat, key: newKey })).res.status).toBe(401);
    expect(bcryptCounter.calls).toBe(before);
    // The rotated record arrives (same clock: well within the 5 s failure TTL): accepted at once.
    await env.ROUTERO_KV.put(
      kvKeys.virtualKey(old.record.id),
      JSON.stringify({ ...old.record, secret_hash: await bcrypt.hash(fresh.secret, 4), previous_secret_hash: old.record.secret_hash, previous_secret_expires_at: new Date(c.now() + 60_000).toISOString(), version: 2 }),
    );
    expect((await h.call('/v1/chat/completions', { json: chat, key: newKey })).res.status).toBe(200);
    expect((await h.call('/v1/chat/completions', { json: chat, key: old.key })).res.status).toBe(200);
  });

  it('never accepts a previous secret whose record carries no grace end, or an unrelated secret for a rotated key', async () => {
    const c = clock();
    const h = harness({}, { now: c.now });
    const old = await seedKey();
    const fresh = await rotate(old.record, c.now() + 60_000);
    await env.ROUTERO_KV.put(kvKeys.virtualKey(old.record.id), JSON.stringify({ ...fresh.record, previous_secret_expires_at: null }));
    expect((await h.call('/v1/chat/completions', { json: chat, key: old.key })).res.status).toBe(401);
    const stranger = `rto_${old.record.id}_${newVirtualKey().secret}`;
    expect((await h.call('/v1/chat/completions', { json: chat, key: stranger })).res.status).toBe(401);
  });

  it('honours the test clock header only with ROUTERO_TEST_CLOCK=true outside production', async () => {
    const old = await seedKey();
    const fresh = await rotate(old.record, Date.now() + 3600_000);
    const later = String(Date.now() + 3600_000 + 1000);
    const plain = harness();
    expect((await plain.call('/v1/chat/completions', { json: chat, key: old.key, headers: { [TEST_CLOCK_HEADER]: later } })).res.status).toBe(200);
    const testing = harness({ ROUTERO_TEST_CLOCK: 'true' });
    expect((await testing.call('/v1/chat/completions', { json: chat, key: old.key, headers: { [TEST_CLOCK_HEADER]: later } })).res.status).toBe(401);
    expect((await testing.call('/v1/chat/completions', { json: chat, key: fresh.key, headers: { [TEST_CLOCK_HEADER]: later } })).res.status).toBe(200);
    // A production gateway ignores it whatever the flag says.
    const headers = new Headers({ [TEST_CLOCK_HEADER]: later });
    expect(testClockNow({ ROUTERO_TEST_CLOCK: 'true' } as never, { production: true } as GatewayConfig, headers)).toBeNull();
    expect(testClockNow({ ROUTERO_TEST_CLOCK: 'true' } as never, { production: false } as GatewayConfig, headers)).toBe(Number(later));
  });
});
