/**
 * Everything about talking to a provider: where (server-side base URL, SSRF rules), with which key
 * (decrypted per call), and how an upstream failure is reported without leaking secrets.
 */
import { openPrepared, prepareSecret, type PreparedSecret } from '../lib/crypto/aes-gcm';
import { GatewayError, type ErrorKind } from '../lib/errors';
import { kvKeys, providerKeyListSchema, type ProviderKeyEntry } from '../lib/kv/records';
import { isPrivateHost } from '../lib/net/cidr';
import type { Env, GatewayConfig } from './env';
import type { ProviderAdapter } from './providers/types';

/**
 * Refuses upstream base URLs that are not https, or that name a private, loopback or link-local
 * address, unless the operator set ALLOW_PRIVATE_UPSTREAMS=true (local development and tests).
 */
export function checkedBaseUrl(raw: string, allowPrivate: boolean): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw providerConfigError(`base URL is not a URL`);
  }
  if (url.username || url.password) throw providerConfigError('base URL carries credentials');
  if (url.protocol !== 'https:' && !(allowPrivate && url.protocol === 'http:')) {
    throw providerConfigError(`base URL protocol ${url.protocol} not allowed`);
  }
  if (!allowPrivate && isPrivateHost(url.hostname)) throw providerConfigError('base URL is a private address');
  return url.toString();
}

function providerConfigError(reason: string): GatewayError {
  return new GatewayError('upstream_unreachable', 'The provider for this model is misconfigured.', { reason });
}

/**
 * Provider-key ciphertexts, cached per isolate as ciphertext only, for the key-cache TTL. An empty
 * answer is not cached, so a newly added provider key works at once.
 */
export class ProviderKeyStore {
  private readonly cache = new Map<string, { entries: ProviderKeyEntry[]; expiresAt: number }>();
  /** Decoded ciphertext and AAD per cached entry (still no plaintext), so a call only decrypts. */
  private readonly prepared = new WeakMap<ProviderKeyEntry, PreparedSecret>();

  preparedFor(entry: ProviderKeyEntry): PreparedSecret {
    let p = this.prepared.get(entry);
    if (!p) {
      p = prepareSecret({ recordId: entry.id, orgId: entry.org_id, provider: entry.provider }, entry);
      this.prepared.set(entry, p);
    }
    return p;
  }

  async get(env: Env, orgId: string, provider: string, ttlMs: number): Promise<ProviderKeyEntry[]> {
    const kvKey = kvKeys.providerKeys(orgId, provider);
    const hit = this.cache.get(kvKey);
    if (hit && hit.expiresAt > Date.now()) return hit.entries;
    const parsed = providerKeyListSchema.safeParse((await env.ROUTERO_KV.get(kvKey, 'json')) ?? []);
    const entries = parsed.success ? parsed.data : [];
    if (entries.length === 0) return entries;
    if (this.cache.size > 10_000) this.cache.clear();
    this.cache.set(kvKey, { entries, expiresAt: Date.now() + ttlMs });
    return entries;
  }
}

export interface ResolvedUpstream {
  baseUrl: string;
  apiKey: string | null;
}

export async function resolveUpstream(
  store: ProviderKeyStore,
  env: Env,
  config: GatewayConfig,
  adapter: ProviderAdapter,
  orgId: string,
  modelName: string,
): Promise<ResolvedUpstream> {
  if (!adapter.requiresKey) return { baseUrl: adapter.defaultBaseUrl, apiKey: null };
  const entries = await store.get(env, orgId, adapter.name, config.keyCacheTtlMs);
  const entry = entries[0];
  if (!entry) {
    throw new GatewayError(
      'not_found',
      `The model '${modelName}' is not available: no ${adapter.name} provider key is configured for this organisation.`,
      { code: 'model_not_found', param: 'model' },
    );
  }
  const baseUrl = checkedBaseUrl(entry.base_url ?? adapter.defaultBaseUrl, config.allowPrivateUpstreams);
  let apiKey: string;
  try {
    apiKey = await openPrepared(config.keyRing, store.preparedFor(entry));
  } catch (e) {
    throw new GatewayError('unavailable', 'The provider key for this model cannot be used right now.', {
      reason: `provider key ${entry.id}: ${e instanceof Error ? e.message : 'decrypt failed'}`,
    });
  }
  return { baseUrl, apiKey };
}

const KEY_LIKE = /\b(?:sk|rk|pk|key|api[-_]?key)[-_][A-Za-z0-9*._-]{4,}/gi;

/** Removes anything key-shaped (and the exact key) from an upstream message before it is shown. */
export function redact(text: string, secret: string | null): string {
  let out = secret ? text.split(secret).join('[redacted]') : text;
  out = out.replace(KEY_LIKE, '[redacted]');
  return out.length > 500 ? `${out.slice(0, 500)}…` : out;
}

function upstreamMessage(bodyText: string): string | null {
  try {
    const body = JSON.parse(bodyText) as { error?: { message?: unknown } | string; message?: unknown };
    if (typeof body.error === 'object' && typeof body.error?.message === 'string') return body.error.message;
    if (typeof body.error === 'string') return body.error;
    if (typeof body.message === 'string') return body.message;
  } catch {
    /* not JSON */
  }
  return null;
}

/** An upstream 4xx/5xx, passed on with its status in the caller's wire format. */
export function upstreamError(status: number, bodyText: string, apiKey: string | null): GatewayError {
  const kind: ErrorKind =
    status === 429 ? 'rate_limit'
    : status === 401 ? 'authentication'
    : status === 403 ? 'permission'
    : status === 404 ? 'not_found'
    : status === 413 ? 'payload_too_large'
    : status >= 500 ? 'internal'
    : 'invalid_request';
  const detail = upstreamMessage(bodyText);
  const message = `Upstream provider returned HTTP ${status}${detail ? `: ${redact(detail, apiKey)}` : '.'}`;
  return new GatewayError(kind, message, { status, reason: `upstream HTTP ${status}`, code: 'upstream_error' });
}
