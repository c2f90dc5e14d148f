/**
 * Checks the admin Worker asks the gateway to run (admin/gateway/client.ts): "Test connection" of a
 * provider key, and the deep health check. Each is one Cerbos decision here (provider_key:test,
 * system:health) and one more at the gateway for `service:admin`; the test is audited.
 */
import { and, eq, isNull } from 'drizzle-orm';
import { GatewayError } from '../../lib/errors';
import { providerKeys } from '../db/schema';
import { callGateway } from '../gateway/client';
import { authorize, isAllowed, recordAction, type ActionContext } from './change';

export interface ConnectionTest {
  provider_key_id: string;
  provider: string;
  ok: boolean;
  status: number | null;
  latency_ms: number | null;
  error: string | null;
}

export interface DeepHealth {
  status: 'ok' | 'degraded';
  checked_at: string;
  kv: { ok: boolean; latency_ms: number; error: string | null };
  cerbos: { ok: boolean; latency_ms: number; error: string | null };
  keks: { ok: boolean; active_version: number; loaded_versions: number[]; error: string | null };
  provider_keys: Array<ConnectionTest & { org_id: string }>;
  provider_keys_truncated: boolean;
}

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** POST /api/v1/provider-keys/:id/test — a minimal authenticated call to the provider, through the gateway. */
export async function testProviderKeyConnection(ctx: ActionContext, id: string): Promise<ConnectionTest> {
  const notFound = new GatewayError('not_found', `Provider key ${id} does not exist.`);
  const [row] = UUID_RE.test(id) ? await ctx.db.select().from(providerKeys).where(and(eq(providerKeys.id, id), isNull(providerKeys.deleted_at))).limit(1) : [];
  if (!row) throw notFound;
  const target = { type: 'provider_key', id, orgId: row.org_id };
  if (!(await isAllowed(ctx, { kind: 'provider_key', id, orgId: row.org_id }, 'test'))) {
    await recordAction(ctx, 'provider_key.test', 'denied', target);
    throw notFound;
  }
  let result: ConnectionTest;
  try {
    result = await callGateway<ConnectionTest>(ctx.env, 'POST', '/internal/provider-keys/test', { org_id: row.org_id, provider: row.provider, provider_key_id: id });
  } catch (e) {
    await recordAction(ctx, 'provider_key.test', 'failed', target).catch(() => undefined);
    throw e;
  }
  // The outcome of the action is "allowed" (it ran); whether the provider accepted the key is the result.
  await recordAction(ctx, 'provider_key.test', 'allowed', target);
  return result;
}

/** GET /api/v1/health/deep — the gateway's view: KV, Cerbos, KEKs, every provider key's reachability. */
export async function deepHealth(ctx: ActionContext): Promise<DeepHealth> {
  await authorize(ctx, { kind: 'system', id: 'health' }, 'health');
  return callGateway<DeepHealth>(ctx.env, 'GET', '/healthz/deep');
}
