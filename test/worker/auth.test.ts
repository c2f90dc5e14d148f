import { describe, expect, it } from 'vitest';
import { bcryptCounter } from '../../worker/middleware/key-auth';
import { harness, seedKey } from './harness';
import { claim } from '../support/claims';

const chat = { model: 'mock/echo', messages: [{ role: 'user', content: 'hi' }] };

describe('virtual-key authentication', () => {
  it('answers every authentication failure with one identical 401', async () => {
    const h = harness();
    const valid = await seedKey();
    const revoked = await seedKey({ revoked_at: '2026-01-01T00:00:00.000Z' });
    const expired = await seedKey({ expires_at: '2020-01-01T00:00:00.000Z' });
    const wrongSecret = valid.key.slice(0, -4) + 'AAAA';
    const unknownId = 'rto_aaaaaaaaaaaaaaaa_' + 'B'.repeat(43);
    const bodies = new Set<string>();
    for (const key of [undefined, '', 'sk-not-ours', unknownId, wrongSecret, revoked.key, expired.key]) {
      const { res, text } = await h.call('/v1/chat/completions', { json: chat, key });
      expect(res.status, String(key)).toBe(401);
      expect(res.headers.get('cache-control')).toBe('no-store');
      bodies.add(text);
    }
    expect(bodies.size).toBe(1);
    expect(JSON.parse([...bodies][0]!)).toEqual({
      error: { message: 'Invalid API key.', type: 'invalid_request_error', param: null, code: 'invalid_api_key' },
    });
  });

  it('uses the Anthropic error shape on /v1/messages and accepts x-api-key', async () => {
    const h = harness();
    const bad = await h.call('/v1/messages', { json: {}, headers: { 'x-api-key': 'nope' } });
    expect(bad.res.status).toBe(401);
    expect(bad.json).toEqual({ type: 'error', error: { type: 'authentication_error', message: 'Invalid API key.' } });
    const { key } = await seedKey();
    const ok = await h.call('/v1/messages', {
      json: { model: 'mock/echo', max_tokens: 5, messages: [{ role: 'user', content: 'hi' }] },
      headers: { 'x-api-key': key },
    });
    expect(ok.res.status).toBe(200);
  });

  it('runs bcrypt once per key, then serves warm requests from the isolate cache', async () => {
    const h = harness({ EXPOSE_SERVER_TIMING: 'true' });
    const { key } = await seedKey();
    const before = bcryptCounter.calls;
    const first = await h.call('/v1/chat/completions', { json: chat, key });
    expect(first.res.headers.get('server-timing')).toContain('bcrypt');
    for (let i = 0; i < 5; i++) {
      const warm = await h.call('/v1/chat/completions', { json: chat, key });
      expect(warm.res.status).toBe(200);
      expect(warm.res.headers.get('server-timing')).toContain('cache');
    }
    expect(bcryptCounter.calls - before).toBe(1);
  });

  it(claim('key-cidr', 'refuses a key used from outside its CIDR allowlist with 403, IPv4 and IPv6'), async () => {
    const h = harness();
    const { key } = await seedKey({ cidrs: ['203.0.113.0/24', '2001:db8::/32'] });
    expect((await h.call('/v1/chat/completions', { json: chat, key, ip: '203.0.113.9' })).res.status).toBe(200);
    expect((await h.call('/v1/chat/completions', { json: chat, key, ip: '2001:db8::7' })).res.status).toBe(200);
    const outside = await h.call('/v1/chat/completions', { json: chat, key, ip: '198.51.100.1' });
    expect(outside.res.status).toBe(403);
    expect(outside.json).toMatchObject({ error: { code: 'ip_not_allowed' } });
    expect((await h.call('/v1/chat/completions', { json: chat, key })).res.status).toBe(403);
  });

  it(claim('scoped-keys', 'refuses a model outside the key scope with 403'), async () => {
    const h = harness();
    const { key } = await seedKey({ models: ['mock/gpt-*'] });
    expect((await h.call('/v1/chat/completions', { json: { ...chat, model: 'mock/gpt-4o-mini' }, key })).res.status).toBe(200);
    const denied = await h.call('/v1/chat/completions', { json: chat, key });
    expect(denied.res.status).toBe(403);
    expect(denied.json).toMatchObject({ error: { code: 'model_not_allowed', param: null } });
  });

  it('lists only the models the key may use', async () => {
    const h = harness();
    const { key } = await seedKey({ models: ['mock/echo'] });
    const { json } = await h.call('/v1/models', { key });
    expect(json).toEqual({ object: 'list', data: [{ id: 'mock/echo', object: 'model', created: 0, owned_by: 'mock' }] });
  });
});
