/**
 * Per-isolate caches stay bounded whatever the input (issue 8, finding 3): the LRU itself, the
 * Cerbos decision cache against the real Cerbos server, and scope matching (no compiled-pattern
 * cache at all).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CerbosClient, MAX_RAW_CACHE_KEY } from '../../lib/authz/cerbos';
import { BoundedLru } from '../../lib/cache/lru';
import { modelAllowed } from '../../lib/models';
import { freePort } from '../../scripts/paths';
import { startCerbos } from '../../scripts/cerbos-server';

describe('BoundedLru', () => {
  it('evicts the least recently used entry beyond its bound and expires entries', () => {
    let now = 0;
    const lru = new BoundedLru<number>({ maxEntries: 3, ttlMs: 100, now: () => now });
    lru.set('a', 1);
    lru.set('b', 2);
    lru.set('c', 3);
    expect(lru.get('a')).toBe(1); // a is now the most recently used
    lru.set('d', 4);
    expect(lru.keys()).toEqual(['c', 'a', 'd']);
    expect(lru.get('b')).toBeUndefined();
    now = 100;
    expect(lru.get('a')).toBeUndefined();
    expect(lru.size).toBe(2);
  });
});

describe('Cerbos decision cache (real Cerbos server)', () => {
  let cerbos: { url: string; stop(): Promise<void> };
  beforeAll(async () => {
    cerbos = await startCerbos(await freePort());
  }, 30_000);
  afterAll(async () => {
    await cerbos?.stop();
  });

  it('stays bounded, with hashed keys, for hundreds of distinct 4 KB model names', async () => {
    const client = new CerbosClient({ baseUrl: cerbos.url, cacheTtlMs: 60_000, cacheMaxEntries: 200 });
    const principal = { id: 'rto_key_a', roles: ['virtual_key'], version: '1', attr: { org_id: 'org-a' } };
    const hugeTail = 'x'.repeat(4096);
    const names = Array.from({ length: 600 }, (_, i) => `mock/${i}-${hugeTail}`);
    for (let i = 0; i < names.length; i += 50) {
      await Promise.all(
        names.slice(i, i + 50).map((id) =>
          client.isAllowed(
            principal,
            { kind: 'model', id, attr: { provider: 'mock', endpoint: 'chat_completions', requires_provider_key: false, provider_key_org_id: '', provider_key_provider: '' } },
            'invoke',
          ),
        ),
      );
    }
    expect(client.cacheSize).toBe(200);
    // Every key over MAX_RAW_CACHE_KEY characters is kept as its 64-character digest.
    expect(client.cacheKeyLengths()).toEqual(new Set([64]));
    // A short key is kept as it is, and is no longer than the bound.
    const small = new CerbosClient({ baseUrl: cerbos.url, cacheTtlMs: 60_000, cacheMaxEntries: 10 });
    await small.isAllowed(principal, { kind: 'model', id: 'mock/echo', attr: { provider: 'mock' } }, 'invoke');
    const [len] = [...small.cacheKeyLengths()];
    expect(len).toBeGreaterThan(64);
    expect(len).toBeLessThanOrEqual(MAX_RAW_CACHE_KEY);
    // The decisions are real ones: the mock provider needs no key, so this key may invoke it.
    expect(await client.isAllowed(principal, { kind: 'model', id: names[0]!, attr: { provider: 'mock', endpoint: 'chat_completions', requires_provider_key: false, provider_key_org_id: '', provider_key_provider: '' } }, 'invoke')).toBe(true);
  }, 60_000);
});

describe('scope matching', () => {
  it('matches huge names and many stars in linear-ish time, with nothing cached', () => {
    const huge = `openai/${'a'.repeat(200_000)}`;
    const t0 = performance.now();
    expect(modelAllowed(huge, ['openai/*'])).toBe(true);
    expect(modelAllowed(huge, ['*a*a*a*a*a*a*a*a*b'])).toBe(false);
    expect(performance.now() - t0).toBeLessThan(2_000);
    expect(modelAllowed('openai/gpt-4o-mini', ['openai/gpt-*-mini'])).toBe(true);
    expect(modelAllowed('openai/gpt-4o', ['openai/gpt-*-mini'])).toBe(false);
    expect(modelAllowed('a/b', ['a/b*'])).toBe(true);
  });
});
