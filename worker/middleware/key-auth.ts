/**
 * Virtual-key authentication (DESIGN §3.2).
 *
 * The key comes from `Authorization: Bearer` (OpenAI style) or `x-api-key` (Anthropic style). The
 * KV record is found by the key's public id, the secret is bcrypt-compared once, and the verified
 * record is kept in an isolate cache keyed by SHA-256 of the whole presented key for at most the
 * configured TTL (≤ 30 s), so warm requests run no bcrypt. Expiry is checked on every request;
 * revocation is seen when the cache entry expires. Every failure is the same 401.
 */
import bcrypt from 'bcryptjs';
import type { MiddlewareHandler } from 'hono';
import { sha256Hex } from '../../lib/crypto/encoding';
import { parseVirtualKey } from '../../lib/crypto/virtual-key';
import { authFailed, GatewayError } from '../../lib/errors';
import { kvKeys, virtualKeyRecordSchema, type VirtualKeyRecord } from '../../lib/kv/records';
import { ipInCidrs } from '../../lib/net/cidr';
import type { Env } from '../env';
import type { RequestContextVariables } from './request-context';

export interface KeyAuthVariables {
  virtualKey: VirtualKeyRecord;
  /** "cache" when the key was verified from the isolate cache, "bcrypt" when it was hashed. */
  keyAuthPath: 'cache' | 'bcrypt';
}

interface CacheEntry {
  record: VirtualKeyRecord;
  expiresAt: number;
}

const MAX_CACHE_ENTRIES = 50_000;

/** Counts bcrypt comparisons in this isolate (exposed to benchmarks through Server-Timing). */
export const bcryptCounter = { calls: 0 };

export function presentedKey(headers: Headers): string | null {
  const auth = headers.get('authorization');
  if (auth) {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(auth);
    return m ? m[1]! : null;
  }
  return headers.get('x-api-key')?.trim() || null;
}

export function keyAuth(
  opts: { now?: () => number } = {},
): MiddlewareHandler<{ Bindings: Env; Variables: RequestContextVariables & KeyAuthVariables }> {
  const now = opts.now ?? Date.now;
  const cache = new Map<string, CacheEntry>();

  return async function keyAuth(c, next) {
    const presented = presentedKey(c.req.raw.headers);
    if (!presented) throw authFailed('no API key presented');
    const parsed = parseVirtualKey(presented);
    if (!parsed) throw authFailed('API key is not in the Routero format');

    const ttl = c.get('config').keyCacheTtlMs;
    const cacheKey = await sha256Hex(presented);
    let entry = cache.get(cacheKey);
    let path: KeyAuthVariables['keyAuthPath'] = 'cache';
    if (!entry || entry.expiresAt <= now()) {
      cache.delete(cacheKey);
      const raw = await c.env.ROUTERO_KV.get(kvKeys.virtualKey(parsed.id), 'json');
      const record = virtualKeyRecordSchema.safeParse(raw);
      if (!record.success) throw authFailed(`no valid record for key id ${parsed.id}`);
      bcryptCounter.calls++;
      path = 'bcrypt';
      if (!(await bcrypt.compare(parsed.secret, record.data.secret_hash))) {
        throw authFailed(`secret mismatch for key id ${parsed.id}`);
      }
      entry = { record: record.data, expiresAt: now() + ttl };
      if (cache.size >= MAX_CACHE_ENTRIES) cache.clear();
      cache.set(cacheKey, entry);
    }

    const key = entry.record;
    const audit = c.get('audit');
    if (audit) {
      audit.keyId = key.id;
      audit.orgId = key.org_id;
    }
    if (key.revoked_at) throw authFailed(`key ${key.id} is revoked`);
    if (key.expires_at && Date.parse(key.expires_at) <= now()) throw authFailed(`key ${key.id} expired`);
    if (key.cidrs.length > 0) {
      const ip = c.req.header('cf-connecting-ip');
      if (!ipInCidrs(ip, key.cidrs)) {
        throw new GatewayError('permission', 'This API key may not be used from your IP address.', {
          reason: `client ip ${ip ?? 'unknown'} outside allowlist of key ${key.id}`,
          code: 'ip_not_allowed',
        });
      }
    }
    c.set('virtualKey', key);
    c.set('keyAuthPath', path);
    await next();
  };
}
