/**
 * Admin UI sessions. The cookie holds a short-lived token signed with SESSION_SIGNING_KEY (jose,
 * HS256) naming a session row; the row makes logout final and tracks idleness. Any login method
 * (master key today, SSO later) creates the same session through `startSession`.
 *
 * Cookie: HttpOnly, SameSite=Strict, Secure except on plain-http localhost, Path=/.
 * Lifetime: 30 minutes idle, 8 hours absolute.
 * CSRF: every state-changing form carries HMAC-SHA256(key, "csrf:" + session id), checked on POST.
 */
import { and, eq, gt, isNull } from 'drizzle-orm';
import type { Context } from 'hono';
import { deleteCookie, getCookie, setCookie } from 'hono/cookie';
import { jwtVerify, SignJWT } from 'jose';
import { bytesToHex, randomString, timingSafeEqualText } from '../lib/crypto/encoding';
import type { Database } from './db/client';
import { adminSessions } from './db/schema';
import { GatewayError } from '../lib/errors';
import type { AdminEnv } from './env';
import type { LoginMethod } from './auth/principal';

export const SESSION_COOKIE = 'routero_session';
export const IDLE_TIMEOUT_MS = 30 * 60_000;
export const ABSOLUTE_LIFETIME_MS = 8 * 60 * 60_000;

export interface Session {
  id: string;
  /** `master`, or the user's id. */
  actor: string;
  /** The signed-in person; null for the master key. */
  userId: string | null;
  loginMethod: LoginMethod;
  mfa: boolean;
}

export interface SessionStart {
  actor: string;
  userId?: string | null;
  loginMethod: LoginMethod;
  mfa: boolean;
}

function signingKey(env: AdminEnv): Uint8Array<ArrayBuffer> {
  if (!env.SESSION_SIGNING_KEY || env.SESSION_SIGNING_KEY.length < 32) {
    throw new GatewayError('unavailable', 'The admin UI is not configured (session signing key).', { reason: 'SESSION_SIGNING_KEY missing or shorter than 32 characters' });
  }
  return new Uint8Array(new TextEncoder().encode(env.SESSION_SIGNING_KEY));
}

function secureCookie(c: Context): boolean {
  const url = new URL(c.req.url);
  return !(url.protocol === 'http:' && ['localhost', '127.0.0.1', '[::1]'].includes(url.hostname));
}

/**
 * Starts a session for any login method (master key, OIDC, SAML, the local test login): one row,
 * one signed cookie. Who the session belongs to is read from the row on every request, never from
 * the cookie alone.
 */
export async function startSession<E extends { Bindings: AdminEnv }>(c: Context<E>, db: Database, who: SessionStart): Promise<Session> {
  const id = randomString(32);
  const now = Date.now();
  const userId = who.userId ?? null;
  await db.insert(adminSessions).values({ id, actor: who.actor, user_id: userId, login_method: who.loginMethod, mfa: who.mfa, expires_at: new Date(now + ABSOLUTE_LIFETIME_MS) });
  const token = await new SignJWT({ sid: id })
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject(who.actor)
    .setIssuedAt()
    .setExpirationTime(Math.floor((now + ABSOLUTE_LIFETIME_MS) / 1000))
    .sign(signingKey(c.env));
  setCookie(c, SESSION_COOKIE, token, {
    httpOnly: true,
    secure: secureCookie(c),
    sameSite: 'Strict',
    path: '/',
    maxAge: ABSOLUTE_LIFETIME_MS / 1000,
  });
  return { id, actor: who.actor, userId, loginMethod: who.loginMethod, mfa: who.mfa };
}

/** The session behind the request's cookie, or null (missing, forged, expired, idle or ended). */
export async function currentSession<E extends { Bindings: AdminEnv }>(c: Context<E>, db: Database): Promise<Session | null> {
  const token = getCookie(c, SESSION_COOKIE);
  if (!token) return null;
  let sid: string;
  try {
    const { payload } = await jwtVerify(token, signingKey(c.env), { algorithms: ['HS256'] });
    if (typeof payload.sid !== 'string') return null;
    sid = payload.sid;
  } catch (e) {
    if (e instanceof GatewayError) throw e;
    return null;
  }
  const now = new Date();
  const [row] = await db
    .select()
    .from(adminSessions)
    .where(and(eq(adminSessions.id, sid), isNull(adminSessions.ended_at), gt(adminSessions.expires_at, now)))
    .limit(1);
  if (!row || now.getTime() - row.last_seen_at.getTime() > IDLE_TIMEOUT_MS) return null;
  // Sliding idle timeout; written at most once a minute.
  if (now.getTime() - row.last_seen_at.getTime() > 60_000) {
    await db.update(adminSessions).set({ last_seen_at: now }).where(eq(adminSessions.id, sid));
  }
  return { id: sid, actor: row.actor, userId: row.user_id, loginMethod: row.login_method as LoginMethod, mfa: row.mfa };
}

/** Ends a session by id without a request (the user lost access while signed in). */
export async function endSessionById(db: Database, id: string): Promise<void> {
  await db.update(adminSessions).set({ ended_at: new Date() }).where(eq(adminSessions.id, id));
}

export async function endSession<E extends { Bindings: AdminEnv }>(c: Context<E>, db: Database, session: Session): Promise<void> {
  await db.update(adminSessions).set({ ended_at: new Date() }).where(eq(adminSessions.id, session.id));
  deleteCookie(c, SESSION_COOKIE, { path: '/', secure: secureCookie(c) });
}

async function hmacHex(env: AdminEnv, message: string): Promise<string> {
  const key = await crypto.subtle.importKey('raw', signingKey(env), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
  return bytesToHex(new Uint8Array(await crypto.subtle.sign('HMAC', key, new TextEncoder().encode(message))));
}

export function csrfToken(env: AdminEnv, session: Session): Promise<string> {
  return hmacHex(env, `csrf:${session.id}`);
}

export async function csrfValid(env: AdminEnv, session: Session, presented: unknown): Promise<boolean> {
  if (typeof presented !== 'string' || presented.length === 0) return false;
  return timingSafeEqualText(presented, await csrfToken(env, session));
}

/** Login form CSRF (before there is a session): a token bound to a short-lived cookie nonce. */
export const LOGIN_NONCE_COOKIE = 'routero_login';

export async function loginCsrfToken<E extends { Bindings: AdminEnv }>(c: Context<E>): Promise<string> {
  let nonce = getCookie(c, LOGIN_NONCE_COOKIE);
  if (!nonce || nonce.length !== 32) {
    nonce = randomString(32);
    setCookie(c, LOGIN_NONCE_COOKIE, nonce, { httpOnly: true, secure: secureCookie(c), sameSite: 'Strict', path: '/ui/login', maxAge: 900 });
  }
  return hmacHex(c.env, `login:${nonce}`);
}

export async function loginCsrfValid<E extends { Bindings: AdminEnv }>(c: Context<E>, presented: unknown): Promise<boolean> {
  const nonce = getCookie(c, LOGIN_NONCE_COOKIE);
  if (!nonce || typeof presented !== 'string') return false;
  return timingSafeEqualText(presented, await hmacHex(c.env, `login:${nonce}`));
}
