/**
 * Everything about talking to a provider: where (server-side base URL, SSRF rules), with which key
 * (decrypted per call), and how an upstream failure is reported without leaking secrets.
 */
import { openPrepared, prepareSecret, type PreparedSecret } from '../lib/crypto/aes-gcm';
import { GatewayError, type ErrorKind } from '../lib/errors';
import { kvKeys, providerKeyListSchema, type ProviderKeyEntry } from '../lib/kv/records';
import { BoundedLru } from '../lib/cache/lru';
import { checkUpstreamBaseUrl } from '../lib/net/host';
import { BEDROCK_REGION_PLACEHOLDER } from '../lib/providers/catalog';
import type { Env, GatewayConfig } from './env';
import type { ProviderAdapter } from './providers/types';
import { redactSecret } from './redact';

/**
 * Refuses upstream base URLs the shared SSRF rule refuses (lib/net/host.ts: https only, no
 * credentials, no non-public address or internal name) unless the operator set
 * ALLOW_PRIVATE_UPSTREAMS=true (local development and tests). The admin API refuses the same URLs.
 */
export function checkedBaseUrl(raw: string, allowPrivate: boolean): string {
  const checked = checkUpstreamBaseUrl(raw, allowPrivate);
  if (!checked.ok) throw providerConfigError(`base URL ${checked.reason}`);
  return checked.url.toString();
}

function providerConfigError(reason: string): GatewayError {
  return new GatewayError('upstream_unreachable', 'The provider for this model is misconfigured.', { reason });
}

/** Most (org, provider) ciphertext lists one isolate keeps. */
const PROVIDER_KEY_CACHE_ENTRIES = 1_000;

/**
 * Provider-key ciphertexts, cached per isolate as ciphertext only, for the key-cache TTL, in a
 * bounded LRU keyed by the KV key (organisation id and provider name: never client input). An empty
 * answer is not cached, so a newly added provider key works at once.
 */
export class ProviderKeyStore {
  private readonly cache = new BoundedLru<ProviderKeyEntry[]>({ maxEntries: PROVIDER_KEY_CACHE_ENTRIES, ttlMs: 30_000 });
  /** Decoded ciphertext and AAD per cached entry (still no plaintext), so a call only decrypts. */
  private readonly prepared = new WeakMap<ProviderKeyEntry, PreparedSecret>();
  /** Each cached entry's base URL once it passed the SSRF check (a URL parse and host check per call before). */
  private readonly checkedBases = new WeakMap<ProviderKeyEntry, { allowPrivate: boolean; url: string }>();

  checkedBaseFor(entry: ProviderKeyEntry, base: string, allowPrivate: boolean): string {
    const hit = this.checkedBases.get(entry);
    if (hit && hit.allowPrivate === allowPrivate) return hit.url;
    const url = checkedBaseUrl(base, allowPrivate);
    this.checkedBases.set(entry, { allowPrivate, url });
    return url;
  }

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
    if (hit) return hit;
    const parsed = providerKeyListSchema.safeParse((await env.ROUTERO_KV.get(kvKey, 'json')) ?? []);
    const entries = parsed.success ? parsed.data : [];
    if (entries.length === 0) return entries;
    this.cache.set(kvKey, entries, ttlMs);
    return entries;
  }
}

export interface ResolvedUpstream {
  baseUrl: string;
  apiKey: string | null;
}

/** The provider key chosen for a call, still encrypted: what authorization looks at. */
export interface UpstreamTarget {
  baseUrl: string;
  /** Null for providers that need no key (the built-in mock). */
  entry: ProviderKeyEntry | null;
}

/**
 * Chooses the organisation's provider key (the newest, or the one a route target names) and checks
 * its base URL; decrypts nothing.
 */
export async function selectUpstream(
  store: ProviderKeyStore,
  env: Env,
  config: GatewayConfig,
  adapter: ProviderAdapter,
  orgId: string,
  modelName: string,
  providerKeyId: string | null = null,
): Promise<UpstreamTarget> {
  const { info } = adapter;
  if (!info.requiresKey) return { baseUrl: info.defaultBaseUrl ?? '', entry: null };
  const entries = await store.get(env, orgId, info.name, config.keyCacheTtlMs);
  const entry = providerKeyId === null ? entries[0] : entries.find((e) => e.id === providerKeyId);
  if (!entry) {
    throw new GatewayError(
      'not_found',
      providerKeyId === null
        ? `The model '${modelName}' is not available: no ${info.name} provider key is configured for this organisation.`
        : `The model '${modelName}' is not available: its route names a ${info.name} provider key that no longer exists.`,
      { code: 'model_not_found', param: 'model' },
    );
  }
  const base = entry.base_url ?? info.defaultBaseUrl;
  if (base === null) throw providerConfigError(`provider key ${entry.id} of ${info.name} has no base URL`);
  // A catalog template (Bedrock's `{region}`) is not a URL yet: the attempt checks the final call URL.
  if (entry.base_url === null && base.includes(BEDROCK_REGION_PLACEHOLDER)) return { baseUrl: base, entry };
  return { baseUrl: store.checkedBaseFor(entry, base, config.allowPrivateUpstreams), entry };
}

/** The call built from a templated base URL, checked like any base URL now that it is one. */
export function checkCallUrl(target: UpstreamTarget, callUrl: string, allowPrivate: boolean): void {
  if (!target.baseUrl.includes(BEDROCK_REGION_PLACEHOLDER)) return;
  checkedBaseUrl(new URL(callUrl).origin, allowPrivate);
}

/** Decrypts the chosen provider key, after authorization: plaintext exists only for allowed calls. */
export async function openUpstream(store: ProviderKeyStore, config: GatewayConfig, target: UpstreamTarget): Promise<ResolvedUpstream> {
  const { entry } = target;
  if (!entry) return { baseUrl: target.baseUrl, apiKey: null };
  let apiKey: string;
  try {
    apiKey = await openPrepared(config.keyRing, store.preparedFor(entry));
  } catch (e) {
    throw new GatewayError('unavailable', 'The provider key for this model cannot be used right now.', {
      reason: `provider key ${entry.id}: ${e instanceof Error ? e.message : 'decrypt failed'}`,
    });
  }
  return { baseUrl: target.baseUrl, apiKey };
}

/** Removes anything key-shaped (and every fragment of the key) from an upstream message. */
export function redact(text: string, secret: string | null): string {
  const out = redactSecret(text, secret);
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
  // An upstream 401/403 is about the organisation's provider key; its text often quotes the key, so
  // none of it is passed on, only a fixed sentence and the status.
  if (status === 401 || status === 403) {
    return new GatewayError(kind, `The provider rejected the organisation's provider key (upstream HTTP ${status}).`, {
      status,
      reason: `upstream HTTP ${status}`,
      code: 'upstream_error',
    });
  }
  const detail = upstreamMessage(bodyText);
  const message = `Upstream provider returned HTTP ${status}${detail ? `: ${redact(detail, apiKey)}` : '.'}`;
  return new GatewayError(kind, message, { status, reason: `upstream HTTP ${status}`, code: 'upstream_error' });
}
