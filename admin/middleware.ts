import type { MiddlewareHandler } from 'hono';
import { CerbosClient, PolicyUnavailableError, type Principal } from '../lib/authz/cerbos';
import { timingSafeEqualText } from '../lib/crypto/encoding';
import { closePool, openDatabase, type Database } from '../lib/db/client';
import { authFailed, GatewayError } from '../lib/errors';
import type { AdminEnv } from './env';

export interface AdminVariables {
  requestId: string;
  principal: Principal;
  db: Database;
  cerbos: CerbosClient;
}

type AdminMiddleware = MiddlewareHandler<{ Bindings: AdminEnv; Variables: AdminVariables }>;

function unavailable(reason: string): GatewayError {
  return new GatewayError('unavailable', 'The admin service is not configured to serve requests.', { reason });
}

let cerbosCache: { url: string; client: CerbosClient } | null = null;

/**
 * The management API's identity: `Authorization: Bearer <MASTER_KEY>`, compared in constant time.
 * Later login methods (SSO sessions) set the same `principal` variable.
 */
export function masterKeyAuth(): AdminMiddleware {
  return async function masterKeyAuth(c, next) {
    if (!c.env.MASTER_KEY || c.env.MASTER_KEY.length < 16) throw unavailable('MASTER_KEY missing or shorter than 16 characters');
    if (!c.env.CERBOS_URL) throw unavailable('CERBOS_URL is not set');
    const m = /^Bearer\s+(\S+)\s*$/i.exec(c.req.header('authorization') ?? '');
    if (!m || !(await timingSafeEqualText(m[1]!, c.env.MASTER_KEY))) throw authFailed('master key mismatch');
    if (cerbosCache?.url !== c.env.CERBOS_URL) {
      cerbosCache = { url: c.env.CERBOS_URL, client: new CerbosClient({ baseUrl: c.env.CERBOS_URL, cacheTtlMs: 5_000 }) };
    }
    c.set('cerbos', cerbosCache.client);
    c.set('principal', { id: 'master', roles: ['admin'], version: '1', attr: { login_method: 'master_key' } });
    await next();
  };
}

/** A Pool for this request, ended after the response (DESIGN: one pool per request). */
export function database(): AdminMiddleware {
  return async function database(c, next) {
    if (!c.env.DATABASE_URL) throw unavailable('DATABASE_URL is not set');
    const { db, pool } = openDatabase(c.env);
    c.set('db', db);
    try {
      await next();
    } finally {
      c.executionCtx.waitUntil(closePool(pool));
    }
  };
}

/** Every management action is a Cerbos check; Cerbos down is a 503, never an allow. */
export async function authorize(
  c: { var: AdminVariables },
  kind: string,
  action: string,
  resource: { id?: string; attr?: Record<string, string> } = {},
): Promise<void> {
  let allowed: boolean;
  try {
    allowed = await c.var.cerbos.isAllowed(
      c.var.principal,
      { kind, id: resource.id ?? '*', attr: resource.attr ?? {} },
      action,
    );
  } catch (e) {
    if (e instanceof PolicyUnavailableError) {
      throw new GatewayError('unavailable', 'The policy service is unavailable; try again shortly.', { reason: e.message });
    }
    throw e;
  }
  if (!allowed) {
    throw new GatewayError('permission', `You may not ${action} ${kind} resources.`, {
      reason: `cerbos denied ${action} on ${kind} for ${c.var.principal.id}`,
    });
  }
}
