/**
 * Calls from the admin Worker to the gateway: through the `GATEWAY` service binding
 * (admin/wrangler.toml `[[services]]`), never over the public internet, each with a fresh
 * short-lived ES256 service token minted for that one method and path (lib/auth/service-token.ts).
 */
import { INTERNAL_GATEWAY_HOST, loadSigningKey, signServiceToken } from '../../lib/auth/service-token';
import { GatewayError } from '../../lib/errors';
import type { AdminEnv } from '../env';

/** How long the admin Worker waits for the gateway (a deep health check probes several providers). */
const GATEWAY_TIMEOUT_MS = 30_000;

let signingKey: { raw: string | undefined; key: Promise<{ kid: string; key: CryptoKey }> } | null = null;

function signing(env: AdminEnv): Promise<{ kid: string; key: CryptoKey }> {
  if (signingKey && signingKey.raw === env.INTERNAL_TOKEN_SIGNING_KEY) return signingKey.key;
  const key = loadSigningKey(env.INTERNAL_TOKEN_SIGNING_KEY);
  signingKey = { raw: env.INTERNAL_TOKEN_SIGNING_KEY, key };
  key.catch(() => {
    if (signingKey?.key === key) signingKey = null;
  });
  return key;
}

function notConfigured(reason: string): GatewayError {
  return new GatewayError('unavailable', 'The admin Worker cannot reach the gateway: internal calls are not configured (see README "Internal service tokens").', { reason });
}

/** One internal call; answers the gateway's JSON, or a GatewayError saying what went wrong. */
export async function callGateway<T>(env: AdminEnv, method: 'GET' | 'POST', path: string, body?: unknown): Promise<T> {
  if (!env.GATEWAY) throw notConfigured('GATEWAY service binding missing');
  let key;
  try {
    key = await signing(env);
  } catch (e) {
    throw notConfigured(e instanceof Error ? e.message : 'signing key invalid');
  }
  const token = await signServiceToken(key, `${method} ${path}`);
  let res: Response;
  try {
    res = await env.GATEWAY.fetch(`https://${INTERNAL_GATEWAY_HOST}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(GATEWAY_TIMEOUT_MS),
    });
  } catch (e) {
    throw new GatewayError('unavailable', 'The gateway did not answer.', { reason: `gateway call ${method} ${path}: ${e instanceof Error ? e.message : String(e)}` });
  }
  const json = (await res.json().catch(() => null)) as (T & { error?: { message?: string } }) | null;
  if (res.ok && json) return json;
  const message = json?.error?.message ?? `HTTP ${res.status}`;
  if (res.status === 404) throw new GatewayError('not_found', message, { reason: `gateway ${method} ${path}: 404` });
  throw new GatewayError('unavailable', `The gateway refused the internal call: ${message}`, { reason: `gateway ${method} ${path}: HTTP ${res.status}` });
}
