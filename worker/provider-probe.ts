/**
 * "Test connection" of one provider key: the provider's cheapest authenticated call (its adapter's
 * `probe`, a model list: no tokens spent) through the same path inference takes — the server-side
 * base URL under the SSRF rule (`checkedBaseUrl`), the key decrypted only for the call
 * (`openUpstream`), no redirect followed. The answer says whether it worked, the upstream status and
 * latency, and on failure the provider's message with the key and anything key-shaped removed
 * (`upstreamError` → `redact`); for 401/403 only a fixed sentence, as their text often quotes the key.
 */
import { GatewayError } from '../lib/errors';
import type { ProviderKeyEntry } from '../lib/kv/records';
import type { GatewayConfig } from './env';
import { providerFor } from './providers';
import { redactSecret } from './redact';
import { checkedBaseUrl, openUpstream, upstreamError, type ProviderKeyStore } from './upstream';

/** How long a probe waits for the provider's answer. */
export const PROBE_TIMEOUT_MS = 10_000;
/** Most of a probe's answer read (a model list; only an error message is used). */
const PROBE_BODY_LIMIT = 64 * 1024;

export interface ProbeResult {
  provider_key_id: string;
  provider: string;
  ok: boolean;
  /** Upstream HTTP status; null when no answer came (unreachable, refused before the call). */
  status: number | null;
  latency_ms: number | null;
  /** Why it failed, for a person: never the key, never anything key-shaped. */
  error: string | null;
}

async function limitedText(res: Response): Promise<string> {
  if (!res.body) return '';
  const reader = res.body.getReader();
  const decoder = new TextDecoder();
  let text = '';
  while (text.length < PROBE_BODY_LIMIT) {
    const { done, value } = await reader.read();
    if (done) return text + decoder.decode();
    text += decoder.decode(value, { stream: true });
  }
  await reader.cancel().catch(() => undefined);
  return text;
}

export async function probeProviderKey(store: ProviderKeyStore, config: GatewayConfig, entry: ProviderKeyEntry, timeoutMs: number = PROBE_TIMEOUT_MS): Promise<ProbeResult> {
  const result = (ok: boolean, status: number | null, latency: number | null, error: string | null): ProbeResult => ({
    provider_key_id: entry.id,
    provider: entry.provider,
    ok,
    status,
    latency_ms: latency,
    error,
  });
  const adapter = providerFor(entry.provider);
  if (!adapter?.probe) return result(false, null, null, `Provider ${entry.provider} has no connection test.`);
  const rawBaseUrl = entry.base_url ?? adapter.info.defaultBaseUrl;
  if (rawBaseUrl === null) return result(false, null, null, `Provider ${entry.provider} needs a base URL on the key.`);
  let baseUrl: string;
  try {
    baseUrl = checkedBaseUrl(rawBaseUrl, config.allowPrivateUpstreams);
  } catch (e) {
    return result(false, null, null, `The base URL is refused: ${e instanceof GatewayError ? e.reason.replace(/^base URL /, '') : 'invalid'}.`);
  }
  let apiKey: string | null;
  try {
    ({ apiKey } = await openUpstream(store, config, { baseUrl, entry }));
  } catch {
    return result(false, null, null, `The key cannot be decrypted with this gateway's KEKs (version ${entry.kek_version}).`);
  }
  const call = adapter.probe({ apiKey, baseUrl });
  const started = Date.now();
  let res: Response;
  try {
    res = await fetch(call.url, { method: call.method, headers: call.headers, redirect: 'manual', signal: AbortSignal.timeout(timeoutMs) });
  } catch (e) {
    const timedOut = e instanceof Error && (e.name === 'TimeoutError' || e.name === 'AbortError');
    return result(false, null, Date.now() - started, timedOut ? `No answer within ${Math.round(timeoutMs / 100) / 10} s.` : 'The provider could not be reached.');
  }
  const latency = Date.now() - started;
  if (res.status >= 300 && res.status < 400) {
    await res.body?.cancel();
    return result(false, res.status, latency, 'The provider answered with a redirect, which is not followed.');
  }
  if (res.ok) {
    await res.body?.cancel();
    return result(true, res.status, latency, null);
  }
  const err = upstreamError(res.status, await limitedText(res).catch(() => ''), apiKey);
  // upstreamError already redacts; redact once more over the final sentence, belt and braces.
  return result(false, res.status, latency, redactSecret(err.message, apiKey));
}
