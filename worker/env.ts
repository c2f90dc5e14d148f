import type { AuditEvent } from '../lib/audit/event';
import { CerbosClient, cerbosAccessHeaders } from '../lib/authz/cerbos';
import { loadKeyRing, type KeyRing } from '../lib/crypto/aes-gcm';
import { GatewayError } from '../lib/errors';

/** The gateway Worker's environment (wrangler.toml). It holds no database credential, by design. */
export interface Env {
  // ── bindings ──
  /** Edge read model: virtual-key records and provider-key ciphertexts (read only here). */
  ROUTERO_KV: KVNamespace;
  /** Producer for metadata events; the admin Worker consumes and stores them. */
  AUDIT_QUEUE: Queue<AuditEvent>;
  /** Limit counters (worker/limits/counter.ts): one Durable Object per limited key, user or organisation. */
  LIMITS?: DurableObjectNamespace;
  /** Workers AI (wrangler.toml `[ai]`); locally a service binding to a fake with the same `run()`. Optional: without it workers-ai/… models answer 503. */
  AI?: unknown;
  // ── secrets ──
  /** Versioned key-encryption keys, "1:<base64 32 bytes>,2:<…>"; the highest version is active. */
  ROUTERO_KEKS?: string;
  /**
   * JWK Set of the EC P-256 public keys that verify internal service tokens from the admin Worker
   * (lib/auth/service-token.ts). Public, but kept as a secret so it is set with the other keys.
   * Without it the internal routes answer 503; inference is unaffected.
   */
  INTERNAL_TOKEN_PUBLIC_KEYS?: string;
  /** Cloudflare Access service token for a Cerbos PDP behind Access (README "Deploying"; decision 0020). */
  CERBOS_ACCESS_CLIENT_ID?: string;
  CERBOS_ACCESS_CLIENT_SECRET?: string;
  // ── vars ──
  /** Base URL of the Cerbos policy decision point, e.g. http://127.0.0.1:3592. */
  CERBOS_URL?: string;
  /** "true" lets provider base URLs point at private/loopback addresses (local development, tests). */
  ALLOW_PRIVATE_UPSTREAMS?: string;
  /** Isolate cache TTL for verified virtual keys, seconds (1–30, default 30). */
  KEY_CACHE_TTL_SECONDS?: string;
  /** Cerbos decision cache TTL, seconds (0–60, default 10). */
  POLICY_CACHE_TTL_SECONDS?: string;
  /** Largest accepted request body in bytes (default 4 MiB). */
  MAX_BODY_BYTES?: string;
  /**
   * "production" (the wrangler.toml default) or "development" (local stack, tests). In production
   * the gateway refuses to serve (503) a request that has no `request.cf` object: only Cloudflare's
   * edge sets it, and only then is CF-Connecting-IP (used for CIDR allowlists) Cloudflare's word.
   */
  ROUTERO_ENV?: string;
  /** "true" adds `Server-Timing: auth;desc="cache|bcrypt"` to answers (benchmarks); off by default. */
  EXPOSE_SERVER_TIMING?: string;
  /**
   * TEST ONLY: "true" lets a request name the time virtual-key checks use (`x-routero-test-now`,
   * ms since the epoch), so tests cross a rotation grace period without sleeping. Ignored in
   * production (ROUTERO_ENV unset or "production").
   */
  ROUTERO_TEST_CLOCK?: string;
  /** How long to wait for a provider's response headers, ms (default 600000: the SDKs' own 10 minutes). */
  UPSTREAM_HEADER_TIMEOUT_MS?: string;
  /** How long a provider may send nothing once its response started (a non-streamed answer: its whole body), ms (default 300000). */
  UPSTREAM_IDLE_TIMEOUT_MS?: string;
}

export interface GatewayConfig {
  keyRing: KeyRing;
  cerbos: CerbosClient;
  allowPrivateUpstreams: boolean;
  keyCacheTtlMs: number;
  maxBodyBytes: number;
  /** True unless ROUTERO_ENV names a non-production environment. */
  production: boolean;
  exposeServerTiming: boolean;
  upstreamTimeouts: UpstreamTimeouts;
}

export interface UpstreamTimeouts {
  /** Until the provider's response headers arrive. */
  headerMs: number;
  /** Between two chunks of a streamed response; for a non-streamed answer, its whole body after the headers. */
  idleMs: number;
}

/**
 * Defaults for slow reasoning models: a non-streamed call to one answers only when it has finished
 * thinking, so the header wait matches the official OpenAI and Anthropic SDKs' own 10-minute
 * request timeout (the gateway never gives up before the client would). A streamed chat completion
 * can stay silent while the model reasons, so the idle wait is 5 minutes, not the seconds a plain
 * proxy would use.
 */
export const DEFAULT_UPSTREAM_TIMEOUTS: UpstreamTimeouts = { headerMs: 600_000, idleMs: 300_000 };

function boundedInt(raw: string | undefined, fallback: number, min: number, max: number): number {
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isFinite(n)) return fallback;
  return Math.min(max, Math.max(min, Math.floor(n)));
}

let cached: { env: Env; source: string; config: Promise<GatewayConfig> } | null = null;

/**
 * Reads and validates the security configuration once per isolate (and again if it changes).
 * Missing or malformed configuration is a 503 with a log line: the gateway never serves open.
 */
export function gatewayConfig(env: Env): Promise<GatewayConfig> {
  // workerd hands every request of an isolate the same env object: skip the comparison then.
  if (cached?.env === env) return cached.config;
  const source = JSON.stringify([
    env.ROUTERO_KEKS,
    env.CERBOS_URL,
    env.CERBOS_ACCESS_CLIENT_ID,
    env.CERBOS_ACCESS_CLIENT_SECRET,
    env.ALLOW_PRIVATE_UPSTREAMS,
    env.KEY_CACHE_TTL_SECONDS,
    env.POLICY_CACHE_TTL_SECONDS,
    env.MAX_BODY_BYTES,
    env.ROUTERO_ENV,
    env.EXPOSE_SERVER_TIMING,
    env.UPSTREAM_HEADER_TIMEOUT_MS,
    env.UPSTREAM_IDLE_TIMEOUT_MS,
  ]);
  if (cached?.source === source) {
    cached = { ...cached, env };
    return cached.config;
  }
  const config = buildConfig(env);
  cached = { env, source, config };
  config.catch(() => {
    if (cached?.config === config) cached = null;
  });
  return config;
}

async function buildConfig(env: Env): Promise<GatewayConfig> {
  const unavailable = (reason: string) =>
    new GatewayError('unavailable', 'The gateway is not configured to serve requests.', { reason });
  if (!env.ROUTERO_KV || !env.AUDIT_QUEUE) throw unavailable('ROUTERO_KV or AUDIT_QUEUE binding missing');
  if (!env.CERBOS_URL) throw unavailable('CERBOS_URL is not set');
  let keyRing: KeyRing;
  try {
    keyRing = await loadKeyRing(env.ROUTERO_KEKS);
  } catch (e) {
    throw unavailable(`ROUTERO_KEKS invalid: ${e instanceof Error ? e.message : 'unknown'}`);
  }
  let headers: Record<string, string>;
  try {
    headers = cerbosAccessHeaders(env);
  } catch {
    throw unavailable('CERBOS_ACCESS_CLIENT_ID and CERBOS_ACCESS_CLIENT_SECRET must be set together');
  }
  let cerbos: CerbosClient;
  try {
    cerbos = new CerbosClient({
      baseUrl: env.CERBOS_URL,
      cacheTtlMs: boundedInt(env.POLICY_CACHE_TTL_SECONDS, 10, 0, 60) * 1000,
      headers,
    });
  } catch {
    throw unavailable('CERBOS_URL is not a valid http(s) URL');
  }
  return {
    keyRing,
    cerbos,
    allowPrivateUpstreams: env.ALLOW_PRIVATE_UPSTREAMS === 'true',
    keyCacheTtlMs: boundedInt(env.KEY_CACHE_TTL_SECONDS, 30, 1, 30) * 1000,
    maxBodyBytes: boundedInt(env.MAX_BODY_BYTES, 4 * 1024 * 1024, 1024, 100 * 1024 * 1024),
    // Fail closed: an unset or unknown value counts as production.
    production: !['development', 'test'].includes(env.ROUTERO_ENV ?? ''),
    exposeServerTiming: env.EXPOSE_SERVER_TIMING === 'true',
    upstreamTimeouts: {
      headerMs: boundedInt(env.UPSTREAM_HEADER_TIMEOUT_MS, DEFAULT_UPSTREAM_TIMEOUTS.headerMs, 100, 3_600_000),
      idleMs: boundedInt(env.UPSTREAM_IDLE_TIMEOUT_MS, DEFAULT_UPSTREAM_TIMEOUTS.idleMs, 100, 3_600_000),
    },
  };
}
