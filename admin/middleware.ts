import type { Context, MiddlewareHandler } from 'hono';
import { CerbosClient, cerbosAccessHeaders, type Principal } from '../lib/authz/cerbos';
import { closePool, openDatabase, type Database } from './db/client';
import { GatewayError } from '../lib/errors';
import type { ActionContext, RequestMeta } from './domain/change';
import type { AdminEnv } from './env';

export interface AdminVariables {
  requestId: string;
  principal: Principal;
  db: Database;
  cerbos: CerbosClient;
  /** Authorization decisions made while serving this request (checked by the route table). */
  decisions: string[];
}

type AdminMiddleware = MiddlewareHandler<{ Bindings: AdminEnv; Variables: AdminVariables }>;

function unavailable(reason: string): GatewayError {
  return new GatewayError('unavailable', 'The admin service is not configured to serve requests.', { reason });
}

let cerbosCache: { url: string; client: CerbosClient } | null = null;

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

/** Who is asking, from where: what the admin audit log records besides the action. */
export function requestMeta<V extends AdminVariables>(c: Context<{ Bindings: AdminEnv; Variables: V }>): RequestMeta {
  return {
    requestId: c.get('requestId'),
    clientIp: c.req.header('cf-connecting-ip') ?? null,
    userAgent: c.req.header('user-agent') ?? null,
  };
}

/** Everything a management action needs, from the request (the API's and the UI's alike). */
export function actionContext<V extends AdminVariables>(c: Context<{ Bindings: AdminEnv; Variables: V }>): ActionContext {
  return { db: c.get('db'), env: c.env, principal: c.get('principal'), cerbos: c.get('cerbos'), meta: requestMeta(c), decisions: c.get('decisions') };
}

/** One Cerbos client per isolate and URL; decisions cached for 5 s. */
export function cerbosFor(env: AdminEnv): CerbosClient {
  if (!env.CERBOS_URL) throw unavailable('CERBOS_URL is not set');
  let headers: Record<string, string>;
  try {
    headers = cerbosAccessHeaders(env);
  } catch (e) {
    throw unavailable(e instanceof Error ? e.message : 'Cerbos access token misconfigured');
  }
  const key = `${env.CERBOS_URL}\n${headers['cf-access-client-id'] ?? ''}\n${headers['cf-access-client-secret'] ?? ''}`;
  if (cerbosCache?.url !== key) {
    cerbosCache = { url: key, client: new CerbosClient({ baseUrl: env.CERBOS_URL, cacheTtlMs: 5_000, headers }) };
  }
  return cerbosCache.client;
}
