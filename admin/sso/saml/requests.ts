/**
 * SAML state kept between requests, in Postgres (strongly consistent, unlike KV, so a replay cannot
 * slip through a replication delay):
 *
 * - AuthnRequests in progress (`saml_login_requests`): saved at `/start`, bound to the browser by
 *   the SHA-256 of a random HttpOnly cookie, looked up by node-saml through InResponseTo, and
 *   consumed once by the ACS with DELETE … RETURNING (also when the Response is refused).
 * - The replay cache (`saml_assertion_replay`): each accepted assertion ID (per connection) until
 *   the assertion expires, claimed with INSERT … ON CONFLICT DO NOTHING: of two posts of the same
 *   assertion, only one signs in, even concurrently.
 *
 * The cookie is SameSite=None (and therefore Secure): the IdP returns the browser with a cross-site
 * form POST, on which Lax and Strict cookies are not sent (RFC 6265bis §5.5.7.1).
 */
import { and, count, desc, eq, gt, inArray, lt } from 'drizzle-orm';
import type { Context } from 'hono';
import { getCookie, setCookie } from 'hono/cookie';
import { randomString, sha256Hex } from '../../../lib/crypto/encoding';
import type { Database } from '../../db/client';
import { samlAssertionReplay, samlLoginRequests } from '../../db/schema';
import { REQUEST_TTL_MS } from './config';
import { LoginRefused } from '../refusal';
import type { RequestStore } from './sp';

export const SAML_BROWSER_COOKIE = 'routero_saml';
const COOKIE_PATH = '/sso/saml';

/** Pending AuthnRequests kept per browser (its older ones are dropped: only the latest tabs work). */
export const MAX_PENDING_PER_BROWSER = 10;
/** AuthnRequests one connection starts per minute; beyond, `/start` is a 429 (an unauthenticated flood). */
export const MAX_STARTS_PER_CONNECTION_MINUTE = 1_000;

/**
 * The store for `/start`: sets the browser cookie if needed and saves request ids under it. `/start`
 * is unauthenticated, so what it writes is bounded: expired requests are deleted, a browser keeps at
 * most MAX_PENDING_PER_BROWSER, and a connection starts at most MAX_STARTS_PER_CONNECTION_MINUTE a
 * minute (refused `busy`, logged, not audited: an audit row per refusal would be the same flood).
 */
export async function startStore(c: Context, db: Database, connectionId: string): Promise<RequestStore> {
  let browser = getCookie(c, SAML_BROWSER_COOKIE);
  if (!browser || browser.length !== 43) {
    browser = randomString(43);
    setCookie(c, SAML_BROWSER_COOKIE, browser, { httpOnly: true, secure: true, sameSite: 'None', path: COOKIE_PATH, maxAge: REQUEST_TTL_MS / 1000 });
  }
  const browserHash = await sha256Hex(browser);
  return {
    async save(id) {
      const now = Date.now();
      await db.delete(samlLoginRequests).where(lt(samlLoginRequests.expires_at, new Date(now)));
      // Requests this connection started in the last minute expire after now + TTL - 60 s.
      const [recent] = await db
        .select({ n: count() })
        .from(samlLoginRequests)
        .where(and(eq(samlLoginRequests.connection_id, connectionId), gt(samlLoginRequests.expires_at, new Date(now + REQUEST_TTL_MS - 60_000))));
      if ((recent?.n ?? 0) >= MAX_STARTS_PER_CONNECTION_MINUTE) throw new LoginRefused('busy', `more than ${MAX_STARTS_PER_CONNECTION_MINUTE} SAML starts a minute`);
      const older = db
        .select({ id: samlLoginRequests.id })
        .from(samlLoginRequests)
        .where(eq(samlLoginRequests.browser_hash, browserHash))
        .orderBy(desc(samlLoginRequests.expires_at))
        .offset(MAX_PENDING_PER_BROWSER - 1);
      await db.delete(samlLoginRequests).where(inArray(samlLoginRequests.id, older));
      await db.insert(samlLoginRequests).values({ id, connection_id: connectionId, browser_hash: browserHash, expires_at: new Date(now + REQUEST_TTL_MS) });
    },
    issuedAt: async () => null,
  };
}

/** The store for the ACS: finds requests of this connection started by this browser. */
export async function acsStore(c: Context, db: Database, connectionId: string): Promise<RequestStore> {
  const browser = getCookie(c, SAML_BROWSER_COOKIE);
  const browserHash = browser ? await sha256Hex(browser) : null;
  return {
    save: async () => {
      throw new Error('the ACS does not start requests');
    },
    async issuedAt(id) {
      if (!browserHash || id.length > 200) return null;
      const [row] = await db
        .select({ expires: samlLoginRequests.expires_at })
        .from(samlLoginRequests)
        .where(and(eq(samlLoginRequests.id, id), eq(samlLoginRequests.connection_id, connectionId), eq(samlLoginRequests.browser_hash, browserHash), gt(samlLoginRequests.expires_at, new Date())))
        .limit(1);
      return row ? new Date(row.expires.getTime() - REQUEST_TTL_MS).toISOString() : null;
    },
  };
}

/** Consumes a pending request; true if this call took it (false: already used, or never there). */
export async function consumeRequest(db: Database, connectionId: string, id: string): Promise<boolean> {
  if (!id || id.length > 200) return false;
  const rows = await db
    .delete(samlLoginRequests)
    .where(and(eq(samlLoginRequests.id, id), eq(samlLoginRequests.connection_id, connectionId)))
    .returning({ id: samlLoginRequests.id });
  return rows.length === 1;
}

/** Claims an assertion ID until it expires; false if it was already used (a replay). */
export async function claimAssertion(db: Database, connectionId: string, assertionId: string, expiresAt: Date): Promise<boolean> {
  await db.delete(samlAssertionReplay).where(lt(samlAssertionReplay.expires_at, new Date()));
  const rows = await db
    .insert(samlAssertionReplay)
    .values({ id: await sha256Hex(`${connectionId} ${assertionId}`), expires_at: expiresAt })
    .onConflictDoNothing()
    .returning({ id: samlAssertionReplay.id });
  return rows.length === 1;
}
