/**
 * Admin API tokens for automation: `rtat_<id>_<secret>`.
 * - `rtat_` ("Routero admin token") is a fixed prefix so secret scanners can match a leak, and so
 *   `adminApiAuth` tells a token from the master key without trying both.
 * - `<id>`: 16 lowercase base32 characters, public: it names the row.
 * - `<secret>`: 43 alphanumeric characters (≈256 bits). Only SHA-256 of the secret is stored: a
 *   secret this long cannot be guessed or brute-forced offline, so a slow hash would only slow every
 *   API call (decision 0008).
 *
 * On every use the token must be unrevoked and unexpired, and — "a token can never hold more than
 * its creator" — a person who made it must still be active and still hold a role in its organisation
 * that covers the token's role (an org_admin covers every role; otherwise only the same role).
 */
import { and, eq, isNull, sql } from 'drizzle-orm';
import type { Principal } from '../../lib/authz/cerbos';
import { randomString, sha256Hex, timingSafeEqualText } from '../../lib/crypto/encoding';
import type { Queryable } from '../db/client';
import { apiTokens, orgMemberships, users, type OrgRole } from '../db/schema';
import { apiTokenPrincipal } from './principal';

export const API_TOKEN_PREFIX = 'rtat_';
const ID_ALPHABET = 'abcdefghijklmnopqrstuvwxyz234567';
const TOKEN_PATTERN = /^rtat_([a-z2-7]{16})_([A-Za-z0-9]{43})$/;
/** last_used_at is written at most this often per token, so a busy script does not write on every call. */
const LAST_USED_RESOLUTION_MS = 60_000;

export function newApiToken(): { id: string; secret: string; token: string } {
  const id = randomString(16, ID_ALPHABET);
  const secret = randomString(43);
  return { id, secret, token: `${API_TOKEN_PREFIX}${id}_${secret}` };
}

export function looksLikeApiToken(presented: string): boolean {
  return presented.startsWith(API_TOKEN_PREFIX);
}

/** Whether a creator holding `held` may hand out (and keep backing) a token with `wanted`. */
export function roleCovers(held: OrgRole, wanted: OrgRole): boolean {
  return held === 'org_admin' || held === wanted;
}

export type ApiTokenRow = typeof apiTokens.$inferSelect;

/**
 * The principal a presented token acts as, or null (the caller answers the uniform 401). Unknown
 * ids still hash and compare, so the answer time does not tell which ids exist.
 */
export async function principalForApiToken(db: Queryable, presented: string, now = new Date()): Promise<{ principal: Principal; token: ApiTokenRow } | null> {
  const m = TOKEN_PATTERN.exec(presented);
  const presentedHash = await sha256Hex(m ? m[2]! : presented);
  if (!m) return null;
  const [row] = await db.select().from(apiTokens).where(eq(apiTokens.id, m[1]!)).limit(1);
  const matches = await timingSafeEqualText(presentedHash, row?.secret_sha256 ?? '0'.repeat(64));
  if (!row || !matches) return null;
  if (row.revoked_at || (row.expires_at && row.expires_at.getTime() <= now.getTime())) return null;

  let creator: { id: string; email: string } | null = null;
  if (row.created_by_user_id) {
    const [found] = await db
      .select({ id: users.id, email: users.email, status: users.status, platformAdmin: users.platform_admin, role: orgMemberships.role })
      .from(users)
      .leftJoin(orgMemberships, and(eq(orgMemberships.user_id, users.id), eq(orgMemberships.org_id, row.org_id)))
      .where(eq(users.id, row.created_by_user_id))
      .limit(1);
    if (!found || found.status !== 'active') return null;
    if (!found.platformAdmin && !(found.role && roleCovers(found.role, row.role))) return null;
    creator = { id: found.id, email: found.email };
  }

  if (!row.last_used_at || now.getTime() - row.last_used_at.getTime() > LAST_USED_RESOLUTION_MS) {
    await db
      .update(apiTokens)
      .set({ last_used_at: now })
      .where(and(eq(apiTokens.id, row.id), isNull(apiTokens.revoked_at), sql`coalesce(${apiTokens.last_used_at}, 'epoch') < ${new Date(now.getTime() - LAST_USED_RESOLUTION_MS)}`));
  }
  return { principal: apiTokenPrincipal(row, creator), token: row };
}
