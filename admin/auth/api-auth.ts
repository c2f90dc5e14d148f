/**
 * Who is calling the management API:
 * - `Authorization: Bearer <MASTER_KEY>` (break-glass and bootstrapping; compared in constant time),
 * - or the admin UI's session cookie (a signed-in person), so the UI's own scripts and tests act as
 *   that person. Cookie-authenticated POSTs must send `content-type: application/json`: a
 *   cross-site form cannot, and a cross-site script would need a CORS preflight this API never
 *   grants — together with SameSite=Strict that closes CSRF.
 * Every failure is the one uniform 401 (DESIGN §4.5).
 */
import type { MiddlewareHandler } from 'hono';
import { timingSafeEqualText } from '../../lib/crypto/encoding';
import { authFailed, GatewayError } from '../../lib/errors';
import type { AdminEnv } from '../env';
import { recordAction } from '../domain/change';
import { cerbosFor, requestMeta, type AdminVariables } from '../middleware';
import { giveBackSlot, MASTER_KEY_LIMITS, takeAttemptSlot } from './master-key-limiter';
import { currentSession } from '../session';
import { anonymousPrincipal, masterPrincipal } from './principal';
import { sessionPrincipal } from './session-principal';

type AdminMiddleware = MiddlewareHandler<{ Bindings: AdminEnv; Variables: AdminVariables }>;

/** One rule for the master key everywhere (API and UI): at least 16 characters. */
export const MASTER_KEY_MIN_LENGTH = 16;

export function masterKeyConfigured(env: AdminEnv): env is AdminEnv & { MASTER_KEY: string } {
  return typeof env.MASTER_KEY === 'string' && env.MASTER_KEY.length >= MASTER_KEY_MIN_LENGTH;
}

export function adminApiAuth(): AdminMiddleware {
  return async function adminApiAuth(c, next) {
    if (!masterKeyConfigured(c.env)) {
      throw new GatewayError('unavailable', 'The admin service is not configured to serve requests.', { reason: 'MASTER_KEY missing or shorter than 16 characters' });
    }
    c.set('cerbos', cerbosFor(c.env));
    const header = c.req.header('authorization');
    if (header !== undefined) {
      const meta = requestMeta(c);
      const slot = await takeAttemptSlot(c.var.db, meta.clientIp);
      const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
      const ok = slot <= MASTER_KEY_LIMITS.api && m !== null && (await timingSafeEqualText(m[1]!, c.env.MASTER_KEY));
      if (!ok) {
        // Audited without the presented value (issue 8 finding 4).
        await recordAction({ db: c.var.db, meta, principal: anonymousPrincipal('master_key') }, 'api.authenticate', slot > MASTER_KEY_LIMITS.api ? 'denied' : 'failed', { type: 'api', id: null });
        throw authFailed(slot > MASTER_KEY_LIMITS.api ? 'master key attempts over the limit' : 'master key mismatch');
      }
      await giveBackSlot(c.var.db, meta.clientIp);
      c.set('principal', masterPrincipal());
      return next();
    }
    const session = await currentSession(c, c.var.db);
    if (!session) throw authFailed('no credentials');
    if (c.req.method !== 'GET' && !/^application\/json\b/i.test(c.req.header('content-type') ?? '')) {
      throw authFailed('cookie-authenticated change without a JSON content type (CSRF guard)');
    }
    const principal = await sessionPrincipal(c.var.db, c.env, session);
    if (!principal) throw authFailed('session user suspended or no longer a member');
    c.set('principal', principal);
    await next();
  };
}
