/**
 * SCIM bearer tokens (RFC 7644 §2: "OAuth 2.0 bearer token" style authorization): `rtsc_<id>_<secret>`.
 * - `rtsc_` ("Routero SCIM") is a fixed prefix so secret scanners can match a leak and so a SCIM
 *   token is never mistaken for an admin API token (`rtat_`) or a virtual key.
 * - `<id>`: 16 lowercase base32 characters, public: it names the row and the audit actor `scim:<id>`.
 * - `<secret>`: 43 alphanumeric characters (≈256 bits); only its SHA-256 is stored (decision 0008:
 *   a secret this long needs no slow hash, and IdPs call SCIM in bursts).
 *
 * A token is valid while unrevoked and while its organisation exists; it acts only there.
 */
import { and, eq, isNull, sql } from 'drizzle-orm';
import type { Principal } from '../../lib/authz/cerbos';
import { randomString, sha256Hex, timingSafeEqualText } from '../../lib/crypto/encoding';
import { scimTokenPrincipal } from '../auth/principal';
import type { Queryable } from '../db/client';
import { scimTokens } from '../db/schema';

export const SCIM_TOKEN_PREFIX = 'rtsc_';
const ID_ALPHABET = 'abcdefghijklmnopqrstuvwxyz234567';
const TOKEN_PATTERN = /^rtsc_([a-z2-7]{16})_([A-Za-z0-9]{43})$/;
/** last_used_at is written at most this often per token: an IdP sync makes many calls a minute. */
const LAST_USED_RESOLUTION_MS = 60_000;

export type ScimTokenRow = typeof scimTokens.$inferSelect;

export function newScimToken(): { id: string; secret: string; token: string } {
  const id = randomString(16, ID_ALPHABET);
  const secret = randomString(43);
  return { id, secret, token: `${SCIM_TOKEN_PREFIX}${id}_${secret}` };
}

/**
 * The principal a presented SCIM token acts as, or null (the caller answers the uniform 401).
 * Unknown ids still hash and compare, so the answer time does not tell which ids exist.
 */
export async function principalForScimToken(db: Queryable, presented: string, now = new Date()): Promise<{ principal: Principal; token: ScimTokenRow } | null> {
  const m = TOKEN_PATTERN.exec(presented);
  const presentedHash = await sha256Hex(m ? m[2]! : presented);
  if (!m) return null;
  const [row] = await db.select().from(scimTokens).where(eq(scimTokens.id, m[1]!)).limit(1);
  const matches = await timingSafeEqualText(presentedHash, row?.secret_sha256 ?? '0'.repeat(64));
  if (!row || !matches || row.revoked_at) return null;
  if (!row.last_used_at || now.getTime() - row.last_used_at.getTime() > LAST_USED_RESOLUTION_MS) {
    await db
      .update(scimTokens)
      .set({ last_used_at: now })
      .where(and(eq(scimTokens.id, row.id), isNull(scimTokens.revoked_at), sql`coalesce(${scimTokens.last_used_at}, 'epoch') < ${new Date(now.getTime() - LAST_USED_RESOLUTION_MS)}`));
  }
  return { principal: scimTokenPrincipal(row), token: row };
}
