/**
 * A small Cerbos client over its HTTP API (`POST /api/check/resources`), plus a short-lived decision
 * cache. Deny by default: anything but an explicit EFFECT_ALLOW is a denial, and a Cerbos that
 * cannot be reached raises `PolicyUnavailableError` (callers answer 503, never allow).
 *
 * Why the cache is keyed by principal *version*: a key or admin whose attributes change gets a new
 * version, so a stale allow can never outlive a change, while the TTL bounds policy edits.
 *
 * Why long cache keys are SHA-256 digests in a bounded LRU: the resource id and attributes can
 * carry client input (a model name), and an isolate's memory is shared by every tenant it serves.
 * Keyed on raw input, 60 requests with 1 MB model names grew workerd by 140 MB; bounded, with any
 * key longer than `MAX_RAW_CACHE_KEY` hashed, the cache holds at most `cacheMaxEntries` keys of at
 * most that length whatever the input. The usual key (~250 characters) is used as it is: hashing it
 * on every request was an async digest on the hot path (issue 13).
 */
import * as z from 'zod/mini';
import { BoundedLru } from '../cache/lru';
import { sha256Hex } from '../crypto/encoding';

export interface Principal {
  id: string;
  roles: string[];
  /** Bumped whenever attributes change; part of the cache key. */
  version: string;
  attr: Record<string, string | number | boolean | string[]>;
}

export interface Resource {
  kind: string;
  id: string;
  attr: Record<string, string | number | boolean | string[]>;
}

export class PolicyUnavailableError extends Error {}

/** Longest cache key kept as it is; longer ones are replaced by their SHA-256 digest. */
export const MAX_RAW_CACHE_KEY = 512;


const checkResponseSchema = z.object({
  results: z.array(
    z.object({
      resource: z.object({ id: z.string(), kind: z.string() }),
      actions: z.record(z.string(), z.string()),
    }),
  ),
});

export interface CerbosClientOptions {
  baseUrl: string;
  /** Decision cache TTL; 0 disables caching. */
  cacheTtlMs?: number;
  /** Most decisions kept (least recently used evicted first); default 2,000. */
  cacheMaxEntries?: number;
  timeoutMs?: number;
  fetcher?: typeof fetch;
  /** Extra headers on every request: the Cloudflare Access service token (cerbosAccessHeaders). */
  headers?: Record<string, string>;
}

/**
 * The Cloudflare Access service-token headers for a Cerbos PDP behind Access (decision 0020):
 * CERBOS_ACCESS_CLIENT_ID and CERBOS_ACCESS_CLIENT_SECRET, both Worker secrets. Neither set: no
 * headers (a PDP on a private network, local development). Only one set is a configuration error,
 * so a half-configured Worker fails closed instead of calling Cerbos unauthenticated.
 */
export function cerbosAccessHeaders(env: { CERBOS_ACCESS_CLIENT_ID?: string; CERBOS_ACCESS_CLIENT_SECRET?: string }): Record<string, string> {
  const id = env.CERBOS_ACCESS_CLIENT_ID?.trim();
  const secret = env.CERBOS_ACCESS_CLIENT_SECRET?.trim();
  if (!id && !secret) return {};
  if (!id || !secret) throw new Error('CERBOS_ACCESS_CLIENT_ID and CERBOS_ACCESS_CLIENT_SECRET must be set together');
  return { 'cf-access-client-id': id, 'cf-access-client-secret': secret };
}


export class CerbosClient {
  private readonly baseUrl: string;
  private readonly ttl: number;
  private readonly timeoutMs: number;
  private readonly fetcher: typeof fetch;
  private readonly cache: BoundedLru<boolean>;
  private readonly headers: Record<string, string>;

  constructor(opts: CerbosClientOptions) {
    const url = new URL(opts.baseUrl);
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error('CERBOS_URL must be http(s)');
    this.baseUrl = url.toString().replace(/\/$/, '');
    this.ttl = opts.cacheTtlMs ?? 10_000;
    this.timeoutMs = opts.timeoutMs ?? 2_000;
    this.fetcher = opts.fetcher ?? ((input, init) => fetch(input, init));
    this.headers = { ...opts.headers, 'content-type': 'application/json' };
    this.cache = new BoundedLru<boolean>({ maxEntries: opts.cacheMaxEntries ?? 2_000, ttlMs: this.ttl });
  }

  /** Decisions currently cached (diagnostics and tests). */
  get cacheSize(): number {
    return this.cache.size;
  }

  /** The distinct lengths of the cache keys (tests: long inputs are digests). */
  cacheKeyLengths(): Set<number> {
    return new Set(this.cache.keys().map((k) => k.length));
  }

  async isAllowed(principal: Principal, resource: Resource, action: string): Promise<boolean> {
    let cacheKey = '';
    if (this.ttl > 0) {
      // A raw key is a JSON array (it starts with `[`), a digest is hex: the two never collide.
      cacheKey = JSON.stringify([principal.id, principal.version, resource.kind, resource.id, resource.attr, action]);
      if (cacheKey.length > MAX_RAW_CACHE_KEY) cacheKey = await sha256Hex(cacheKey);
    }
    const hit = this.ttl > 0 ? this.cache.get(cacheKey) : undefined;
    if (hit !== undefined) return hit;

    const allowed = await this.check(principal, resource, action);
    if (this.ttl > 0) this.cache.set(cacheKey, allowed);
    return allowed;
  }

  private async check(principal: Principal, resource: Resource, action: string): Promise<boolean> {
    const body = {
      requestId: crypto.randomUUID(),
      principal: { id: principal.id, roles: principal.roles, attr: principal.attr },
      resources: [{ actions: [action], resource: { kind: resource.kind, id: resource.id, attr: resource.attr } }],
    };
    let res: Response;
    try {
      res = await this.fetcher(`${this.baseUrl}/api/check/resources`, {
        method: 'POST',
        headers: this.headers,
        body: JSON.stringify(body),
        // Access answers a bad or missing token with a redirect to its login page: never follow it.
        redirect: 'manual',
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (e) {
      throw new PolicyUnavailableError(`Cerbos unreachable: ${e instanceof Error ? e.message : String(e)}`);
    }
    if (!res.ok) {
      await res.body?.cancel();
      throw new PolicyUnavailableError(`Cerbos answered HTTP ${res.status}`);
    }
    const parsed = checkResponseSchema.safeParse(await res.json().catch(() => null));
    if (!parsed.success) throw new PolicyUnavailableError('Cerbos answered with an unexpected body');
    // eslint-disable-next-line security/detect-object-injection -- action is one of our own action names, read from a zod-parsed record
    return parsed.data.results[0]?.actions[action] === 'EFFECT_ALLOW';
  }
}
