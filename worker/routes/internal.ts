/**
 * The gateway's internal routes, for the admin Worker only (service binding + signed service token,
 * worker/middleware/service-auth.ts), each one Cerbos decision for `service:admin`
 * (policies/gateway_internal.yaml):
 *
 *   POST /internal/provider-keys/test   {org_id, provider, provider_key_id} → ProbeResult
 *   GET  /healthz/deep                  KV, Cerbos, KEKs, each provider key's reachability
 *
 * They answer JSON for the admin Worker, which shows the result to a person; no provider key, hash
 * or ciphertext is ever in an answer.
 */
import { Hono } from 'hono';
import * as z from 'zod/mini';
import { GatewayError, invalidField } from '../../lib/errors';
import { kvKeys, providerKeyListSchema, providerNameSchema, type ProviderKeyEntry } from '../../lib/kv/records';
import { parseJsonBody, readBodyText } from '../body';
import type { Env } from '../env';
import { authorizeService, serviceAuth, type ServiceAuthVariables, type ServiceContext } from '../middleware/service-auth';
import { probeProviderKey, type ProbeResult } from '../provider-probe';
import type { ProviderKeyStore } from '../upstream';

const testBodySchema = z.object({
  org_id: z.string().check(z.maxLength(64)),
  provider: providerNameSchema,
  provider_key_id: z.string().check(z.maxLength(64)),
});

/** Most provider keys one deep health check probes (the rest are counted, not probed). */
export const DEEP_HEALTH_MAX_KEYS = 50;
/** Probes run at once. */
const PROBE_CONCURRENCY = 4;
/**
 * The deep check's time budget for provider probes (the admin Worker waits 30 s in all), and the
 * longest one probe may take within it: a few dead providers cannot make the whole check time out.
 */
const DEEP_HEALTH_PROBE_BUDGET_MS = 20_000;
const DEEP_HEALTH_PROBE_TIMEOUT_MS = 5_000;

/** The org's provider-key list straight from KV (not the isolate cache): a key added a moment ago is tested. */
async function providerKeyList(env: Env, orgId: string, provider: string): Promise<ProviderKeyEntry[]> {
  const parsed = providerKeyListSchema.safeParse((await env.ROUTERO_KV.get(kvKeys.providerKeys(orgId, provider), 'json')) ?? []);
  return parsed.success ? parsed.data : [];
}

async function testProviderKey(c: ServiceContext, store: ProviderKeyStore): Promise<Response> {
  await authorizeService(c, 'test_provider_key');
  const body = testBodySchema.safeParse(parseJsonBody(await readBodyText(c.req.raw, 4096)));
  if (!body.success) {
    const issue = body.error.issues[0]!;
    throw invalidField(issue.path, issue.message);
  }
  const { org_id, provider, provider_key_id } = body.data;
  const entry = (await providerKeyList(c.env, org_id, provider)).find((e) => e.id === provider_key_id);
  if (!entry) {
    // The admin Worker found the key in Postgres: the edge copy is missing or not there yet.
    const missing: ProbeResult = {
      provider_key_id,
      provider,
      ok: false,
      status: null,
      latency_ms: null,
      error: 'The gateway does not have this provider key yet; if this persists, run npm run kv:rebuild.',
    };
    return c.json(missing);
  }
  return c.json(await probeProviderKey(store, c.get('config'), entry));
}

interface Check {
  ok: boolean;
  latency_ms: number;
  error: string | null;
}

async function timed(fn: () => Promise<void>): Promise<Check> {
  const t0 = Date.now();
  try {
    await fn();
    return { ok: true, latency_ms: Date.now() - t0, error: null };
  } catch (e) {
    return { ok: false, latency_ms: Date.now() - t0, error: e instanceof Error ? e.message : 'failed' };
  }
}

async function inBatches<T, R>(items: T[], size: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = [];
  for (let i = 0; i < items.length; i += size) out.push(...(await Promise.all(items.slice(i, i + size).map(fn))));
  return out;
}

async function deepHealth(c: ServiceContext, store: ProviderKeyStore): Promise<Response> {
  await authorizeService(c, 'health_deep');
  const config = c.get('config');
  const entries: ProviderKeyEntry[] = [];
  let truncated = false;
  const kv = await timed(async () => {
    let cursor: string | undefined;
    do {
      const page = await c.env.ROUTERO_KV.list({ prefix: 'pk:', cursor });
      for (const k of page.keys) {
        if (entries.length >= DEEP_HEALTH_MAX_KEYS) {
          truncated = true;
          continue;
        }
        const parsed = providerKeyListSchema.safeParse(await c.env.ROUTERO_KV.get(k.name, 'json'));
        if (!parsed.success) throw new Error(`record ${k.name} is not a provider-key list`);
        if (parsed.data.length > DEEP_HEALTH_MAX_KEYS - entries.length) truncated = true;
        entries.push(...parsed.data.slice(0, DEEP_HEALTH_MAX_KEYS - entries.length));
      }
      cursor = page.list_complete ? undefined : page.cursor;
    } while (cursor);
  });
  // Cerbos answered the decision above (possibly from its cache); its health endpoint says it is up now.
  const cerbos = await timed(async () => {
    const res = await fetch(`${(c.env.CERBOS_URL ?? '').replace(/\/$/, '')}/_cerbos/health`, { signal: AbortSignal.timeout(2000) });
    await res.body?.cancel();
    if (!res.ok) throw new Error(`Cerbos health answered HTTP ${res.status}`);
  });
  const loaded = [...config.keyRing.keys.keys()].sort((a, b) => a - b);
  const missing = [...new Set(entries.map((e) => e.kek_version))].filter((v) => !config.keyRing.keys.has(v));
  const keks = {
    ok: missing.length === 0,
    active_version: config.keyRing.active,
    loaded_versions: loaded,
    error: missing.length ? `provider keys sealed with KEK version ${missing.join(', ')}, which this gateway does not hold` : null,
  };
  const deadline = Date.now() + DEEP_HEALTH_PROBE_BUDGET_MS;
  const providerKeys: Array<ProbeResult & { org_id: string }> = await inBatches(entries, PROBE_CONCURRENCY, async (e) => {
    const left = deadline - Date.now();
    const result: ProbeResult =
      left < 500
        ? { provider_key_id: e.id, provider: e.provider, ok: false, status: null, latency_ms: null, error: `Not checked: the health check's ${DEEP_HEALTH_PROBE_BUDGET_MS / 1000} s budget ran out.` }
        : await probeProviderKey(store, config, e, Math.min(DEEP_HEALTH_PROBE_TIMEOUT_MS, left));
    return { ...result, org_id: e.org_id };
  });
  const probes = providerKeys;
  const ok = kv.ok && cerbos.ok && keks.ok && probes.every((p) => p.ok);
  return c.json({
    status: ok ? 'ok' : 'degraded',
    checked_at: new Date().toISOString(),
    kv,
    cerbos,
    keks,
    provider_keys: providerKeys,
    /** True when more than DEEP_HEALTH_MAX_KEYS provider keys exist: only that many were probed. */
    provider_keys_truncated: truncated,
  });
}

/** The internal routes as a sub-app; `createGateway` mounts it before the public routes. */
export function internalRoutes(store: ProviderKeyStore, opts: { now?: () => number } = {}) {
  const app = new Hono<{ Bindings: Env; Variables: ServiceAuthVariables }>();
  const auth = serviceAuth(opts);
  app.post('/internal/provider-keys/test', auth, (c) => testProviderKey(c, store));
  app.get('/healthz/deep', auth, (c) => deepHealth(c, store));
  // Any other internal path: authenticate first, then the usual unknown-URL 404.
  app.all('/internal/*', auth, () => {
    throw new GatewayError('not_found', 'Unknown internal path.', { code: 'unknown_url' });
  });
  return app;
}
