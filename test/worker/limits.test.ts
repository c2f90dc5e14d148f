/**
 * Limits inside workerd (issue 11, decision 0016): the real `LimitCounter` Durable Object with an
 * injected clock (windows sliding, budget periods resetting at UTC boundaries), and the gateway
 * failing closed when a limited key's counter cannot be reached — while unlimited keys never touch one.
 */
import { env } from 'cloudflare:test';
import { describe, expect, inject, it } from 'vitest';
import { PRICES_KV_KEY, periodEnd, periodStart, type LimitCounterRpc, type Limits } from '../../lib/limits';
import type { Env } from '../../worker/env';
import { harness, seedKey, seedProviderKey } from './harness';
import { chargeOf, DEFAULT_OUTPUT_ALLOWANCE, estimateTokens } from '../../worker/limits';
import { emptyUsage } from '../../lib/audit/event';
import { claim } from '../support/claims';

const ns = () => (env as unknown as Env).LIMITS!;
const counter = (name: string) => ns().get(ns().idFromName(`${name}:${crypto.randomUUID()}`)) as unknown as LimitCounterRpc;
const at = (iso: string) => Date.parse(iso);

describe('LimitCounter (a real Durable Object, injected clock)', () => {
  it('slides the requests-per-minute window exactly', async () => {
    const c = counter('key');
    const limits: Limits = { rpm: 2 };
    const t = at('2026-03-10T12:00:00Z');
    const r = (now: number) => c.reserve({ rid: crypto.randomUUID(), keyId: 'k', limits, tokens: 1, cost: 0, now });
    expect((await r(t)).ok).toBe(true);
    expect((await r(t + 1_000)).ok).toBe(true);
    const refused = await r(t + 2_000);
    expect(refused).toMatchObject({ ok: false, kind: 'requests', retryAfterMs: 58_000 });
    expect((await r(t + 59_999)).ok).toBe(false);
    // The first request leaves the window after 60 s: one slot, not two.
    expect((await r(t + 60_001)).ok).toBe(true);
    expect((await r(t + 60_002)).ok).toBe(false);
  });

  it('resets a daily budget at UTC midnight and a monthly one on the 1st', async () => {
    const day = counter('key');
    const limits: Limits = { budget_usd: 1, budget_period: 'day' };
    const late = at('2026-01-31T23:59:00Z');
    for (const rid of ['a', 'b']) {
      expect((await day.reserve({ rid, keyId: 'k', limits, tokens: 1, cost: 0.6, now: late })).ok).toBe(true);
      await day.settle({ rid, tokens: 1, cost: 0.6, now: late });
    }
    const refused = await day.reserve({ rid: 'c', keyId: 'k', limits, tokens: 1, cost: 0.6, now: late + 1 });
    expect(refused).toMatchObject({ ok: false, kind: 'budget', retryAfterMs: 59_999 });
    expect((refused as { message: string }).message).toMatch(/daily budget of \$1\.00 .*resets at 2026-02-01T00:00:00\.000Z/);
    expect((await day.reserve({ rid: 'd', keyId: 'k', limits, tokens: 1, cost: 0.6, now: at('2026-02-01T00:00:00Z') })).ok).toBe(true);

    const month = counter('org');
    const monthly: Limits = { budget_usd: 5, budget_period: 'month' };
    expect((await month.reserve({ rid: 'm1', keyId: 'k', limits: monthly, tokens: 1, cost: 0, now: at('2026-02-27T10:00:00Z') })).ok).toBe(true);
    await month.settle({ rid: 'm1', tokens: 1, cost: 6, now: at('2026-02-27T10:00:00Z') });
    expect((await month.reserve({ rid: 'm2', keyId: 'k', limits: monthly, tokens: 1, cost: 0, now: at('2026-02-28T23:59:59Z') })).ok).toBe(false);
    expect((await month.reserve({ rid: 'm3', keyId: 'k', limits: monthly, tokens: 1, cost: 0, now: at('2026-03-01T00:00:00Z') })).ok).toBe(true);
  });

  it('UTC periods: weeks start on Monday, months on the 1st', () => {
    // 2026-03-04 is a Wednesday.
    expect(new Date(periodStart('week', at('2026-03-04T15:00:00Z'))).toISOString()).toBe('2026-03-02T00:00:00.000Z');
    expect(new Date(periodEnd('week', at('2026-03-08T23:59:59Z'))).toISOString()).toBe('2026-03-09T00:00:00.000Z');
    expect(new Date(periodEnd('month', at('2026-12-31T23:00:00Z'))).toISOString()).toBe('2027-01-01T00:00:00.000Z');
  });

  it('counts the consumer’s priced event once, whichever arrives first, and fires each threshold once', async () => {
    const c = counter('key');
    const limits: Limits = { budget_usd: 10, budget_period: 'month' };
    const now = at('2026-05-10T00:00:00Z');
    await c.reserve({ rid: 'r1', keyId: 'k', limits, tokens: 1, cost: 1, now });
    await c.settle({ rid: 'r1', tokens: 1, cost: 4, now });
    // The stored price replaces the gateway's estimate: 5, not 4 + 5.
    expect(await c.settleCost({ rid: 'r1', cost: 5, at: now, limits, thresholds: [50, 80, 100], now })).toEqual([
      expect.objectContaining({ threshold: 50, spent: 5 }),
    ]);
    // The same event again (a queue retry): the same answer, nothing counted twice.
    expect(await c.settleCost({ rid: 'r1', cost: 5, at: now, limits, thresholds: [50, 80, 100], now })).toHaveLength(1);
    // The consumer first, then the gateway's settle: still counted once.
    await c.reserve({ rid: 'r2', keyId: 'k', limits, tokens: 1, cost: 1, now });
    const crossed = await c.settleCost({ rid: 'r2', cost: 4, at: now, limits, thresholds: [50, 80, 100], now });
    expect(crossed.map((x) => x.threshold)).toEqual([80]);
    await c.settle({ rid: 'r2', tokens: 1, cost: 3.5, now });
    expect((await c.status(limits, now)).budget!.spent).toBe(9);
    expect((await c.status(limits, now)).inFlight).toBe(0);
  });

  it('refuses a revoked key', async () => {
    const c = counter('user');
    await c.revokeKey('gone');
    expect(await c.reserve({ rid: 'x', keyId: 'gone', limits: { rpm: 5 }, tokens: 1, cost: 0 })).toMatchObject({ ok: false, kind: 'revoked' });
    expect((await c.reserve({ rid: 'y', keyId: 'other', limits: { rpm: 5 }, tokens: 1, cost: 0 })).ok).toBe(true);
  });
});

describe('what a reservation estimates (estimateTokens)', () => {
  it('the output allowance is the largest token cap the body names, for each of its n choices', () => {
    expect(estimateTokens(400, {})).toEqual({ input: 100, output: DEFAULT_OUTPUT_ALLOWANCE });
    expect(estimateTokens(400, { max_tokens: 10 }).output).toBe(10);
    expect(estimateTokens(400, { max_completion_tokens: 20 }).output).toBe(20);
    expect(estimateTokens(400, { max_output_tokens: 5000 }).output).toBe(5000);
    expect(estimateTokens(400, { max_tokens: 10, max_output_tokens: 5000 }).output).toBe(5000);
    expect(estimateTokens(400, { max_tokens: 10, n: 8 }).output).toBe(80);
    expect(estimateTokens(400, { n: 3 }).output).toBe(3 * DEFAULT_OUTPUT_ALLOWANCE);
    expect(estimateTokens(400, { max_tokens: 10, n: 0 }).output).toBe(10);
  });
  it('refuses max_tokens and max_completion_tokens that disagree, naming both', () => {
    expect(() => estimateTokens(400, { max_tokens: 10, max_completion_tokens: 100_000 })).toThrow(/'max_tokens'.*'max_completion_tokens'/);
    expect(estimateTokens(400, { max_tokens: 10, max_completion_tokens: 10 }).output).toBe(10);
  });
});

describe('what a settlement charges (chargeOf)', () => {
  const est = { input: 40, output: 1024 };
  const price = { exact: { input: 0.001, output: 0.002 }, estimate: { input: 0.001, output: 0.002 } };
  it('an answered request whose usage never arrived is charged the whole estimate', () => {
    expect(chargeOf(emptyUsage(), true, est, price)).toEqual({ tokens: 1064, cost: 40 * 0.001 + 1024 * 0.002 });
  });
  it('an answered stream cut after its input count: known input plus the estimated output', () => {
    expect(chargeOf({ ...emptyUsage(), input_tokens: 12 }, true, est, price)).toEqual({ tokens: 12 + 1024, cost: 12 * 0.001 + 1024 * 0.002 });
  });
  it('embeddings whose provider counts no tokens (Gemini, Bedrock Cohere, Workers AI): the estimated input', () => {
    expect(chargeOf({ ...emptyUsage(), input_tokens: null, output_tokens: 0 }, true, est, price)).toEqual({ tokens: 40, cost: 40 * 0.001 });
  });
  it('a model without a price of its own is priced like its reservation (the dearest known)', () => {
    expect(chargeOf(emptyUsage(), true, est, { exact: null, estimate: { input: 1, output: 1 } })).toEqual({ tokens: 1064, cost: 1064 });
  });
  it('a request the upstream never answered releases its reservation', () => {
    expect(chargeOf(emptyUsage(), false, est, price)).toEqual({ tokens: 0, cost: null });
  });
  it('reported usage is charged as reported', () => {
    expect(chargeOf({ ...emptyUsage(), input_tokens: 3, output_tokens: 4 }, true, est, price)).toEqual({ tokens: 7, cost: 3 * 0.001 + 4 * 0.002 });
  });
});

describe('gateway with limits', () => {
  const chat = { model: 'mock/echo', messages: [{ role: 'user', content: 'hi' }] };
  const broken = {
    idFromName: () => ({}),
    get: () => ({
      reserve: () => Promise.reject(new Error('Durable Object reset')),
      settle: () => Promise.reject(new Error('Durable Object reset')),
    }),
  };
  const untouchable = {
    idFromName: () => {
      throw new Error('an unlimited key touched a Durable Object');
    },
    get: () => {
      throw new Error('an unlimited key touched a Durable Object');
    },
  };

  it(claim('spend-limits', 'fails closed (503 in the caller’s format) when a limited key’s counter is unreachable'), async () => {
    const h = harness({ LIMITS: broken });
    const { key, record } = await seedKey({ limits: [{ kind: 'key', id: 'k1', limits: { rpm: 10 } }] });
    const openai = await h.call('/v1/chat/completions', { json: chat, key });
    expect(openai.res.status).toBe(503);
    expect(openai.json).toMatchObject({ error: { type: 'api_error', message: expect.stringMatching(/rate-limit service is unavailable/) } });
    const anthropic = await h.call('/v1/messages', { json: { ...chat, max_tokens: 5 }, key });
    expect(anthropic.res.status).toBe(503);
    expect(anthropic.json).toMatchObject({ type: 'error', error: { type: 'overloaded_error' } });
    expect(h.events.map((e) => e.status)).toEqual([503, 503]);
    expect(record.id).toBeTruthy();
  });

  it(claim('spend-limits', 'every endpoint takes the same limits step: embeddings and responses fail closed too'), async () => {
    const h = harness({ LIMITS: broken });
    await seedProviderKey('openai', 'sk-limits-endpoints', 'http://127.0.0.1:9');
    const { key } = await seedKey({ models: ['openai/*'], limits: [{ kind: 'key', id: crypto.randomUUID(), limits: { rpm: 10 } }] });
    const embeddings = await h.call('/v1/embeddings', { json: { model: 'openai/text-embedding-3-small', input: 'hi' }, key });
    expect(embeddings.res.status).toBe(503);
    expect(embeddings.json).toMatchObject({ error: { message: expect.stringMatching(/rate-limit service is unavailable/) } });
    const responses = await h.call('/v1/responses', { json: { model: 'openai/gpt-4o-mini', input: 'hi' }, key });
    expect(responses.res.status).toBe(503);
    expect(responses.json).toMatchObject({ error: { message: expect.stringMatching(/rate-limit service is unavailable/) } });
    // Refused before any upstream call: the provider at 127.0.0.1:9 was never asked.
    expect(h.events.map((e) => e.status)).toEqual([503, 503]);
  });

  it('a key without limits never touches a Durable Object', async () => {
    const h = harness({ LIMITS: untouchable });
    const { key } = await seedKey();
    const res = await h.call('/v1/chat/completions', { json: chat, key });
    expect(res.res.status).toBe(200);
    expect(res.res.headers.get('x-ratelimit-limit-requests')).toBeNull();
  });

  it('a request one subject refuses counts against none (key, user and org reserve together)', async () => {
    const h = harness();
    const keySubject = crypto.randomUUID();
    const orgSubject = crypto.randomUUID();
    const { key } = await seedKey({
      limits: [
        { kind: 'key', id: keySubject, limits: { rpm: 5 } },
        { kind: 'org', id: orgSubject, limits: { rpm: 1 } },
      ],
    });
    expect((await h.call('/v1/chat/completions', { json: chat, key })).res.status).toBe(200);
    const refused = await h.call('/v1/chat/completions', { json: chat, key });
    expect(refused.res.status).toBe(429);
    expect(refused.json).toMatchObject({ error: { code: 'rate_limit_exceeded', message: expect.stringMatching(/1 requests per minute \(limit on this organisation\)/) } });
    // The tightest window is the one the headers show.
    expect(refused.res.headers.get('x-ratelimit-limit-requests')).toBe('1');
    const keyCounter = ns().get(ns().idFromName(`key:${keySubject}`)) as unknown as LimitCounterRpc;
    expect((await keyCounter.status({ rpm: 5 })).rpm!.remaining).toBe(4);
  });

  it('a limited key gets limit headers from its real counter', async () => {
    const h = harness();
    const { key } = await seedKey({ limits: [{ kind: 'key', id: crypto.randomUUID(), limits: { rpm: 7, tpm: 5000 } }] });
    const res = await h.call('/v1/chat/completions', { json: chat, key });
    expect(res.res.status).toBe(200);
    expect(res.res.headers.get('x-ratelimit-limit-requests')).toBe('7');
    expect(res.res.headers.get('x-ratelimit-remaining-requests')).toBe('6');
    expect(res.res.headers.get('x-ratelimit-limit-tokens')).toBe('5000');
  });

  it(claim('spend-limits', 'a stream the client abandons before its usage arrives is charged the reservation’s estimate, not released'), async () => {
    const h = harness();
    const subject = crypto.randomUUID();
    const limits: Limits = { tpm: 1_000_000, budget_usd: 100, budget_period: 'month' };
    await env.ROUTERO_KV.put(PRICES_KV_KEY, JSON.stringify({ updated_at: '2026-01-01T00:00:00Z', models: { 'openai/slow-stream': { input: 0.000001, output: 0.000002 } } }));
    await seedProviderKey('openai', 'sk-limits-abandon', `${inject('fakeOpenAIUrl')}/v1`);
    const { key } = await seedKey({ models: ['openai/*'], limits: [{ kind: 'key', id: subject, limits }] });
    const { res, settle } = await h.open('/v1/chat/completions', {
      json: { model: 'openai/slow-stream', max_tokens: 50, stream: true, stream_options: { include_usage: true }, messages: [{ role: 'user', content: 'x' }] },
      key,
    });
    expect(res.status).toBe(200);
    const reader = res.body!.getReader();
    const first = new TextDecoder().decode((await reader.read()).value);
    expect(first).toContain('data:');
    expect(first).not.toContain('"usage":{');
    await reader.cancel();
    await settle();
    expect(h.events[0]).toMatchObject({ status: 499, output_tokens: null });
    const c = ns().get(ns().idFromName(`key:${subject}`)) as unknown as LimitCounterRpc;
    const standing = await c.status(limits);
    // The estimate: the body's bytes / 4 of input plus the 50 output tokens it allowed.
    expect(standing.tpm!.limit - standing.tpm!.remaining).toBeGreaterThanOrEqual(50);
    expect(standing.budget!.spent).toBeGreaterThan(50 * 0.000002);
    expect(standing.inFlight).toBe(0);
  });

  it('a limited key’s body with conflicting token caps is a 400 in the caller’s format, before any upstream call', async () => {
    const h = harness();
    const { key } = await seedKey({ limits: [{ kind: 'key', id: crypto.randomUUID(), limits: { tpm: 100_000 } }] });
    const { res, json } = await h.call('/v1/chat/completions', { json: { ...chat, max_tokens: 1, max_completion_tokens: 50_000 }, key });
    expect(res.status).toBe(400);
    expect(json).toMatchObject({ error: { type: 'invalid_request_error', param: 'max_tokens', message: expect.stringMatching(/max_completion_tokens/) } });
  });

  it('a counter that failed is told to cancel too, so a reservation it took before failing is not left behind', async () => {
    const cancelled: string[] = [];
    const flaky = {
      idFromName: (name: string) => ({ name }),
      get: (id: { name: string }) => ({
        reserve: () => (id.name.startsWith('org:') ? Promise.reject(new Error('Durable Object reset')) : Promise.resolve({ ok: true, standing: {} })),
        cancel: (rid: string) => {
          cancelled.push(`${id.name.slice(0, 3)}:${rid}`);
          return Promise.resolve();
        },
        settle: () => Promise.resolve(),
      }),
    };
    const h = harness({ LIMITS: flaky });
    const { key } = await seedKey({
      limits: [
        { kind: 'key', id: crypto.randomUUID(), limits: { rpm: 10 } },
        { kind: 'org', id: crypto.randomUUID(), limits: { rpm: 10 } },
      ],
    });
    const res = await h.call('/v1/chat/completions', { json: chat, key });
    expect(res.res.status).toBe(503);
    const rid = h.events[0]!.request_id;
    expect(cancelled.sort()).toEqual([`key:${rid}`, `org:${rid}`]);
  });
});
