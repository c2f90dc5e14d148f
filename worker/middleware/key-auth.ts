/**
 * Virtual-key authentication (DESIGN §3.2).
 *
 * The key comes from `Authorization: Bearer` (OpenAI style) or `x-api-key` (Anthropic style). The
 * KV record is found by the key's public id, the secret is bcrypt-compared once, and the verified
 * record is kept in an isolate cache keyed by SHA-256 of the whole presented key for at most the
 * configured TTL (≤ 30 s), so warm requests run no bcrypt. Expiry is checked on every request;
 * revocation is seen when the cache entry expires. Every failure is the same 401.
 *
 * Rotation (POST /api/v1/keys/:id/rotate): the record carries the replaced secret's hash and the
 * end of its grace period. The previous secret is compared only while that grace lasts, and a
 * cache entry made from it is re-checked against the grace end on every request, so it stops at
 * the grace end exactly. (An isolate that verified the old secret *before* the rotation holds it as
 * "current" until its cache entry expires: the old secret then stops at the later of the grace end
 * and the rotation + KEY_CACHE_TTL_SECONDS — the same bound as revocation.)
 *
 * Existence oracle: an unknown key id runs one bcrypt comparison against a dummy hash of the same
 * cost, and failures are remembered for 5 s, so "unknown id" and "wrong secret" cost the same
 * (measured before: ~5 ms against ~64 ms). Which path ran is exposed in Server-Timing only when the
 * operator sets EXPOSE_SERVER_TIMING=true.
 */
import bcrypt from 'bcryptjs';
import type { MiddlewareHandler } from 'hono';
import { sha256Hex } from '../../lib/crypto/encoding';
import { BoundedLru } from '../../lib/cache/lru';
import { DUMMY_SECRET_HASH, parseVirtualKey } from '../../lib/crypto/virtual-key';
import { authFailed, GatewayError } from '../../lib/errors';
import { kvKeys, virtualKeyRecordSchema, type VirtualKeyRecord } from '../../lib/kv/records';
import { ipInCidrs } from '../../lib/net/cidr';
import type { Env } from '../env';
import type { RequestContextVariables } from './request-context';
import { testClockNow } from './test-clock';

export interface KeyAuthVariables {
  virtualKey: VirtualKeyRecord;
  /** "cache" when the key was verified from the isolate cache, "bcrypt" when it was hashed. */
  keyAuthPath: 'cache' | 'bcrypt';
}

/** Most verified keys one isolate keeps (each entry: a 64-character hash and a small record). */
const VERIFIED_CACHE_ENTRIES = 10_000;
/** Most remembered failures one isolate keeps, and for how long. */
const FAILURE_CACHE_ENTRIES = 10_000;
const FAILURE_TTL_MS = 5_000;

/**
 * Counts bcrypt comparisons in this isolate: `calls` every comparison, `dummy` those against the
 * dummy hash for unknown key ids (tests assert both paths pay for bcrypt).
 */
export const bcryptCounter = { calls: 0, dummy: 0 };

export function presentedKey(headers: Headers): string | null {
  const auth = headers.get('authorization');
  if (auth) {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(auth);
    return m ? m[1]! : null;
  }
  return headers.get('x-api-key')?.trim() || null;
}

/** A verified key, and which of its secrets the presented key matched. */
interface VerifiedKey {
  record: VirtualKeyRecord;
  /** "previous": the secret a rotation replaced, accepted only until `previous_secret_expires_at`. */
  matched: 'current' | 'previous';
}

/** True while a rotated-away secret is still inside its grace period at time `t`. */
function inGrace(record: VirtualKeyRecord, t: number): boolean {
  const until = record.previous_secret_expires_at;
  return !!record.previous_secret_hash && !!until && Date.parse(until) > t;
}

export function keyAuth(
  opts: { now?: () => number } = {},
): MiddlewareHandler<{ Bindings: Env; Variables: RequestContextVariables & KeyAuthVariables }> {
  const now = opts.now ?? Date.now;
  // Both caches are keyed by SHA-256 of the whole presented key and bounded (lib/cache/lru.ts).
  const verified = new BoundedLru<VerifiedKey>({ maxEntries: VERIFIED_CACHE_ENTRIES, ttlMs: 30_000, now });
  // A presented key that failed stays failed for a few seconds: a client retrying a bad key, or a
  // guesser, costs one bcrypt per key per 5 s — unknown ids and wrong secrets alike. The entry
  // remembers the record version it failed against (-1: no record), and a repeat re-reads the KV
  // record (cheap, no bcrypt): once the record changed — a rotation published the secret this
  // isolate refused while its KV view was stale — the failure is forgotten at once, so a new
  // secret is never locked out by an old refusal.
  const failed = new BoundedLru<number>({ maxEntries: FAILURE_CACHE_ENTRIES, ttlMs: FAILURE_TTL_MS, now });

  return async function keyAuth(c, next) {
    const presented = presentedKey(c.req.raw.headers);
    if (!presented) throw authFailed('no API key presented');
    const parsed = parseVirtualKey(presented);
    if (!parsed) throw authFailed('API key is not in the Routero format');
    const t = testClockNow(c.env, c.get('config'), c.req.raw.headers) ?? now();

    const cacheKey = await sha256Hex(presented);
    let hit = verified.get(cacheKey);
    let path: KeyAuthVariables['keyAuthPath'] = 'cache';
    if (!hit) {
      const raw = await c.env.ROUTERO_KV.get(kvKeys.virtualKey(parsed.id), 'json');
      const found = virtualKeyRecordSchema.safeParse(raw);
      const seenVersion = found.success ? found.data.version : -1;
      const failedAgainst = failed.get(cacheKey);
      if (failedAgainst !== undefined) {
        if (failedAgainst === seenVersion) throw authFailed(`key id ${parsed.id} failed within the last ${FAILURE_TTL_MS / 1000} s`);
        failed.delete(cacheKey);
      }
      path = 'bcrypt';
      bcryptCounter.calls++;
      if (!found.success) {
        // Equal cost for an unknown id: the same bcrypt work as a wrong secret (see DUMMY_SECRET_HASH).
        bcryptCounter.dummy++;
        await bcrypt.compare(parsed.secret, DUMMY_SECRET_HASH);
        failed.set(cacheKey, seenVersion);
        throw authFailed(`no valid record for key id ${parsed.id}`);
      }
      let matched: VerifiedKey['matched'] | null = null;
      if (await bcrypt.compare(parsed.secret, found.data.secret_hash)) matched = 'current';
      else if (inGrace(found.data, t) && (await bcrypt.compare(parsed.secret, found.data.previous_secret_hash!))) matched = 'previous';
      if (!matched) {
        failed.set(cacheKey, seenVersion);
        throw authFailed(`secret mismatch for key id ${parsed.id}`);
      }
      hit = { record: found.data, matched };
      verified.set(cacheKey, hit, c.get('config').keyCacheTtlMs);
    }

    const key = hit.record;
    const audit = c.get('audit');
    if (audit) {
      audit.keyId = key.id;
      audit.orgId = key.org_id;
    }
    if (key.revoked_at) throw authFailed(`key ${key.id} is revoked`);
    if (key.expires_at && Date.parse(key.expires_at) <= t) throw authFailed(`key ${key.id} expired`);
    // A rotated-away secret is checked on every request, cached or not: it stops at the grace end.
    if (hit.matched === 'previous' && !inGrace(key, t)) throw authFailed(`previous secret of key ${key.id} is past its grace period`);
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
