/**
 * Peer regression replays (issue "Security hardening"): attacks that broke other LLM gateways, and
 * that the outside review found Routero withstood, replayed on every run so a later change cannot
 * quietly undo them. Each test is named after what it guards. Inside workerd with the real Cerbos.
 */
import { describe, expect, it } from 'vitest';
import { AUTH_FAILED_MESSAGE } from '../../lib/errors';
import { harness, seedKey } from './harness';

const chat = { model: 'mock/echo', messages: [{ role: 'user', content: 'hi' }] };

/** The one 401 body, without the request id that differs per request. */
function authBody(json: unknown): unknown {
  const body = structuredClone(json) as { error?: Record<string, unknown> };
  if (body.error) delete body.error.request_id;
  return body;
}

describe('SQL-ish and path-ish key ids never reach a lookup that interprets them', () => {
  it.each([
    "rto_' OR '1'='1_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
    `rto_aaaaaaaaaaaaaaaa_${"' OR 1=1 --".padEnd(43, 'x')}`,
    'rto_../../vk:aaaa_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx',
    'rto_aaaaaaaaaaaaaaaa_%00xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx',
    'rto_*_*',
  ])('%s → the uniform 401', async (presented) => {
    const h = harness();
    const wrong = await h.call('/v1/chat/completions', { json: chat, key: 'rto_aaaaaaaaaaaaaaaa_' + 'b'.repeat(43) });
    const { res, json } = await h.call('/v1/chat/completions', { json: chat, key: presented });
    expect(res.status).toBe(401);
    expect(authBody(json)).toEqual(authBody(wrong.json));
    expect((json as { error: { message: string } }).error.message).toBe(AUTH_FAILED_MESSAGE);
  });
});

describe('malformed authentication headers get the uniform 401 and never fall through', () => {
  it('refuses every malformed form with one identical body', async () => {
    const h = harness();
    const { key } = await seedKey({ models: ['mock/*'] });
    const forms: Array<Record<string, string>> = [
      { authorization: 'Bearer' },
      { authorization: 'Bearer ' },
      { authorization: `Basic ${btoa(`user:${key}`)}` },
      { authorization: `Token ${key}` },
      { authorization: `Bearer ${key} extra` },
      { authorization: `Bearer ${key}x` },
      { authorization: `Bearer ${key.toUpperCase()}` },
      { authorization: `Bearer ${key.slice(0, -1)}` },
      // A malformed Authorization never falls through to a good x-api-key beside it.
      { authorization: 'Bearer not-a-key', 'x-api-key': key },
      { 'x-api-key': '' },
      { 'x-api-key': `${key},${key}` },
    ];
    const bodies = new Set<string>();
    for (const headers of forms) {
      const { res, json } = await h.call('/v1/chat/completions', { json: chat, headers });
      expect(res.status, JSON.stringify(headers)).toBe(401);
      expect(res.headers.get('www-authenticate') ?? '').not.toContain(key);
      bodies.add(JSON.stringify(authBody(json)));
    }
    expect(bodies.size).toBe(1);
    // The well-formed key itself still works, both header styles.
    expect((await h.call('/v1/chat/completions', { json: chat, headers: { authorization: `Bearer ${key}` } })).res.status).toBe(200);
    expect((await h.call('/v1/chat/completions', { json: chat, headers: { 'x-api-key': key } })).res.status).toBe(200);
  });
});

describe('cache-key collisions: the verified-key cache is keyed by the whole presented key', () => {
  it('a cached good key does not let a wrong secret with the same id through', async () => {
    const h = harness();
    const { key, record } = await seedKey({ models: ['mock/*'] });
    expect((await h.call('/v1/chat/completions', { json: chat, key })).res.status).toBe(200); // now cached
    const sameIdWrongSecret = `rto_${record.id}_${'Z'.repeat(43)}`;
    const flippedCase = `rto_${record.id}_${key.split('_').at(-1)!.replace(/[a-z]/, (ch) => ch.toUpperCase())}`;
    for (const presented of [sameIdWrongSecret, flippedCase]) {
      if (presented === key) continue;
      expect((await h.call('/v1/chat/completions', { json: chat, key: presented })).res.status).toBe(401);
    }
    expect((await h.call('/v1/chat/completions', { json: chat, key })).res.status).toBe(200);
  });

  it('a policy decision for one model is not reused for another that differs in case or spacing', async () => {
    const h = harness();
    const { key } = await seedKey({ models: ['mock/echo'] });
    expect((await h.call('/v1/chat/completions', { json: chat, key })).res.status).toBe(200);
    for (const model of ['MOCK/echo', 'mock/Echo', 'mock/echo ', ' mock/echo', 'mock//echo']) {
      const { res } = await h.call('/v1/chat/completions', { json: { ...chat, model }, key });
      expect(res.status, model).toBeGreaterThanOrEqual(400);
      expect(res.status, model).toBeLessThan(500);
    }
  });
});

describe('Host-header and path tricks do not change what is served or where it goes', () => {
  it('ignores forwarded-host and URL-override headers', async () => {
    const h = harness();
    const { key } = await seedKey({ models: ['mock/*'] });
    const { res, json } = await h.call('/v1/chat/completions', {
      json: chat,
      key,
      headers: { 'x-forwarded-host': '169.254.169.254', 'x-original-url': '/admin', 'x-rewrite-url': '/admin', 'x-http-method-override': 'DELETE' },
    });
    expect(res.status).toBe(200);
    expect((json as { object: string }).object).toBe('chat.completion');
  });

  it.each(['/v1/chat/completions/../models', '//v1/chat/completions', '/V1/chat/completions', '/v1/chat/completions%2f', '/v1/chat%2fcompletions'])(
    '%s is not served as the endpoint',
    async (path) => {
      const h = harness();
      const { key } = await seedKey({ models: ['mock/*'] });
      const { res, json } = await h.call(path, { json: chat, key });
      if (res.status === 200) {
        // URL normalisation may resolve dot segments to a real route; then it must be that route.
        expect((json as { object?: string }).object).not.toBe('chat.completion');
      } else {
        expect(res.status).toBeGreaterThanOrEqual(400);
        expect(res.status).toBeLessThan(500);
      }
    },
  );
});
