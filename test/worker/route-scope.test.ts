/**
 * A key's model scope covers the models a route reaches (security review): a key scoped
 * `route/*` reaches only the targets its scope also allows, and a name outside its scope is a
 * 403 whether or not such a route exists (no oracle for route names).
 */
import { env } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { kvKeys, type RouteRecord } from '../../lib/kv/records';
import type { Env } from '../../worker/env';
import { harness, ORG, seedKey } from './harness';

async function seedRoute(name: string, models: string[]): Promise<void> {
  const record: RouteRecord = {
    id: crypto.randomUUID(),
    org_id: ORG,
    name,
    strategy: 'fallback',
    targets: models.map((model) => ({ model, provider_key_id: null, weight: 1 })),
    max_attempts: models.length,
    timeout_ms: null,
  };
  await (env as unknown as Env).ROUTERO_KV.put(kvKeys.route(ORG, name), JSON.stringify(record));
}

const chat = (model: string) => ({ model, messages: [{ role: 'user', content: 'hi' }] });

describe('route targets and the key’s model scope', () => {
  it('a key scoped route/* alone reaches none of the route’s models: 403 model_not_allowed', async () => {
    const name = `scope-${crypto.randomUUID().slice(0, 8)}`;
    await seedRoute(name, ['mock/echo']);
    const h = harness();
    const { key } = await seedKey({ models: ['route/*'] });
    const { res, json } = await h.call('/v1/chat/completions', { json: chat(`route/${name}`), key });
    expect(res.status).toBe(403);
    expect(json).toMatchObject({ error: { code: 'model_not_allowed' } });
  });

  it('only the targets inside the key’s scope are tried', async () => {
    const name = `scope-${crypto.randomUUID().slice(0, 8)}`;
    await seedRoute(name, ['mock/other', 'mock/echo']);
    const h = harness();
    const { key } = await seedKey({ models: ['route/*', 'mock/echo'] });
    const { res } = await h.call('/v1/chat/completions', { json: chat(`route/${name}`), key });
    expect(res.status).toBe(200);
    expect(h.events[0]!.attempts!.map((a) => a.model)).toEqual(['mock/echo']);
  });

  it('a route name outside the key’s scope is a 403 whether the route exists or not', async () => {
    const name = `scope-${crypto.randomUUID().slice(0, 8)}`;
    await seedRoute(name, ['mock/echo']);
    const h = harness();
    const { key } = await seedKey({ models: ['mock/*'] });
    const existing = await h.call('/v1/chat/completions', { json: chat(`route/${name}`), key });
    const missing = await h.call('/v1/chat/completions', { json: chat('route/no-such-route'), key });
    expect([existing.res.status, missing.res.status]).toEqual([403, 403]);
    // Inside the scope, a missing route is still a 404.
    const scoped = await seedKey({ models: ['route/*', 'mock/*'] });
    expect((await h.call('/v1/chat/completions', { json: chat('route/no-such-route'), key: scoped.key })).res.status).toBe(404);
  });
});
