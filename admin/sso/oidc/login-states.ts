/**
 * OIDC logins in progress, between `/sso/oidc/:id/start` and `/sso/oidc/callback`.
 *
 * - The `state`, `nonce` and PKCE verifier stay server-side (table `oidc_login_states`, keyed by
 *   SHA-256 of the state), for 10 minutes at most.
 * - The row is bound to the browser that started the login: a random value in an HttpOnly cookie,
 *   stored as its hash. A callback URL carried to another browser (login CSRF, RFC 6749 §10.12)
 *   finds no matching cookie and is refused.
 * - The callback consumes the row with one DELETE … RETURNING: a replayed callback (same state,
 *   same code) finds nothing, before the code reaches the IdP again.
 *
 * The cookie is SameSite=Lax, not Strict: the IdP sends the browser back with a cross-site
 * top-level GET, on which Lax cookies are sent and Strict ones are not (RFC 6265bis §5.5.7.1).
 */
import { and, eq, gt, lt } from 'drizzle-orm';
import type { Context } from 'hono';
import { getCookie, setCookie } from 'hono/cookie';
import { randomString, sha256Hex, timingSafeEqualText } from '../../../lib/crypto/encoding';
import type { Database } from '../../db/client';
import { oidcLoginStates } from '../../db/schema';
import type { AdminEnv } from '../../env';
import type { PendingLogin } from './client';
import { LoginRefused } from '../refusal';

export const OIDC_BROWSER_COOKIE = 'routero_oidc';
const COOKIE_PATH = '/sso/oidc';
export const LOGIN_STATE_TTL_MS = 10 * 60_000;

function secure(c: Context): boolean {
  const url = new URL(c.req.url);
  return !(url.protocol === 'http:' && ['localhost', '127.0.0.1', '[::1]'].includes(url.hostname));
}

export async function savePendingLogin<E extends { Bindings: AdminEnv }>(c: Context<E>, db: Database, connectionId: string, pending: PendingLogin): Promise<void> {
  // One browser may start several logins (tabs); each has its own row, all bound to one cookie.
  let browser = getCookie(c, OIDC_BROWSER_COOKIE);
  if (!browser || browser.length !== 43) {
    browser = randomString(43);
    setCookie(c, OIDC_BROWSER_COOKIE, browser, { httpOnly: true, secure: secure(c), sameSite: 'Lax', path: COOKIE_PATH, maxAge: LOGIN_STATE_TTL_MS / 1000 });
  }
  const now = Date.now();
  await db.delete(oidcLoginStates).where(lt(oidcLoginStates.expires_at, new Date(now)));
  await db.insert(oidcLoginStates).values({
    id: await sha256Hex(pending.state),
    connection_id: connectionId,
    browser_hash: await sha256Hex(browser),
    nonce: pending.nonce,
    code_verifier: pending.codeVerifier,
    redirect_uri: pending.redirectUri,
    expires_at: new Date(now + LOGIN_STATE_TTL_MS),
  });
}

/** Takes the pending login named by the callback's `state` (once), checking it belongs to this browser. */
export async function takePendingLogin<E extends { Bindings: AdminEnv }>(
  c: Context<E>,
  db: Database,
  state: string | undefined,
): Promise<{ connectionId: string; pending: PendingLogin }> {
  if (!state || state.length > 512) throw new LoginRefused('state_invalid', 'callback without a usable state');
  const [row] = await db
    .delete(oidcLoginStates)
    .where(and(eq(oidcLoginStates.id, await sha256Hex(state)), gt(oidcLoginStates.expires_at, new Date())))
    .returning();
  if (!row) throw new LoginRefused('state_invalid', 'state unknown, expired or already used');
  const browser = getCookie(c, OIDC_BROWSER_COOKIE);
  if (!browser || !(await timingSafeEqualText(await sha256Hex(browser), row.browser_hash))) {
    throw new LoginRefused('state_invalid', 'state belongs to another browser');
  }
  return { connectionId: row.connection_id, pending: { state, nonce: row.nonce, codeVerifier: row.code_verifier, redirectUri: row.redirect_uri } };
}
