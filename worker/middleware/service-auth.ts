/**
 * Authentication of the gateway's internal routes: only the admin Worker, through its service
 * binding, with a short-lived ES256 token (lib/auth/service-token.ts).
 *
 * Order of checks, each failure uniform:
 *   1. the request names the internal host (INTERNAL_GATEWAY_HOST) — anything else is the same 404
 *      as an unknown URL, so the internal surface is not even visible from the internet;
 *   2. the verification keys are configured — otherwise 503 (never open);
 *   3. `Authorization: Bearer <token>` verifies: signature by a configured key, iss, aud, sub, exp
 *      (5 s skew), lifetime ≤ 60 s, and the token's `route` is this request's method and path —
 *      otherwise 401 "Invalid service token.";
 *   4. its `jti` was not seen before in this isolate (a token is good for one call) — otherwise 401.
 * Authorization is the route's own Cerbos decision (`authorizeService`), with the principal
 * `service:admin` like any other principal.
 */
import type { Context, MiddlewareHandler } from 'hono';
import { PolicyUnavailableError } from '../../lib/authz/cerbos';
import { INTERNAL_GATEWAY_HOST, loadVerificationKeys, SERVICE_TOKEN_MAX_LIFETIME_S, SERVICE_TOKEN_SKEW_S, verifyServiceToken } from '../../lib/auth/service-token';
import { BoundedLru } from '../../lib/cache/lru';
import { GatewayError } from '../../lib/errors';
import { gatewayConfig, type Env, type GatewayConfig } from '../env';

export interface ServiceAuthVariables {
  /** The authenticated service principal, e.g. "service:admin". */
  servicePrincipal: string;
  config: GatewayConfig;
}

export type ServiceContext = Context<{ Bindings: Env; Variables: ServiceAuthVariables }>;

/** The actions of policies/gateway_internal.yaml. */
export type InternalAction = 'test_provider_key' | 'health_deep';

/** Most token ids one isolate remembers (each lives at most lifetime + skew). */
const SEEN_JTI_ENTRIES = 10_000;

function invalidToken(reason: string): GatewayError {
  return new GatewayError('authentication', 'Invalid service token.', { reason });
}

export function serviceAuth(opts: { now?: () => number } = {}): MiddlewareHandler<{ Bindings: Env; Variables: ServiceAuthVariables }> {
  const now = opts.now ?? Date.now;
  const seen = new BoundedLru<true>({ maxEntries: SEEN_JTI_ENTRIES, ttlMs: (SERVICE_TOKEN_MAX_LIFETIME_S + 2 * SERVICE_TOKEN_SKEW_S) * 1000, now });
  let keys: { raw: string | undefined; set: ReturnType<typeof loadVerificationKeys> } | null = null;

  return async function serviceAuth(c, next) {
    if (new URL(c.req.url).hostname !== INTERNAL_GATEWAY_HOST) {
      throw new GatewayError('not_found', `Unknown path: ${c.req.method} ${c.req.path}`, { code: 'unknown_url', reason: 'internal route on a public host' });
    }
    const config = await gatewayConfig(c.env);
    if (!keys || keys.raw !== c.env.INTERNAL_TOKEN_PUBLIC_KEYS) {
      try {
        keys = { raw: c.env.INTERNAL_TOKEN_PUBLIC_KEYS, set: loadVerificationKeys(c.env.INTERNAL_TOKEN_PUBLIC_KEYS) };
      } catch (e) {
        keys = null;
        throw new GatewayError('unavailable', 'Internal calls are not configured on this gateway.', { reason: e instanceof Error ? e.message : 'keys invalid' });
      }
    }
    const verifier = keys.set;
    const m = /^Bearer\s+(\S+)\s*$/i.exec(c.req.header('authorization') ?? '');
    if (!m) throw invalidToken('no bearer service token');
    const route = `${c.req.method} ${c.req.path}`;
    let claims;
    try {
      claims = await verifyServiceToken(m[1]!, verifier, route, now());
    } catch (e) {
      throw invalidToken(e instanceof Error ? e.message : 'token refused');
    }
    if (seen.get(claims.jti)) throw invalidToken(`token ${claims.jti} replayed`);
    seen.set(claims.jti, true);
    c.set('config', config);
    c.set('servicePrincipal', claims.sub);
    await next();
    c.header('cache-control', 'no-store');
  };
}

/** The internal route's Cerbos decision for the service principal; denied → 403, Cerbos down → 503. */
export async function authorizeService(c: ServiceContext, action: InternalAction): Promise<void> {
  const principal = c.get('servicePrincipal');
  let allowed: boolean;
  try {
    allowed = await c.get('config').cerbos.isAllowed(
      { id: principal, roles: ['service'], version: '1', attr: { service: principal } },
      { kind: 'gateway_internal', id: 'gateway', attr: {} },
      action,
    );
  } catch (e) {
    if (e instanceof PolicyUnavailableError) {
      throw new GatewayError('unavailable', 'The policy service is unavailable; try again shortly.', { reason: e.message });
    }
    throw e;
  }
  if (!allowed) {
    throw new GatewayError('permission', 'This service may not do that.', { reason: `cerbos denied ${action} for ${principal}` });
  }
}
