import type { ProviderName } from '../../lib/kv/records';
import type { Endpoint } from '../formats/types';
import type { ClientHeaderAllowlist } from './headers';

/** What the gateway sends upstream. The URL always comes from server-side configuration. */
export interface UpstreamCall {
  url: string;
  headers: Headers;
  body: string;
}

export interface BuildRequestArgs {
  endpoint: Endpoint;
  /** The client's body with `model` already rewritten to the provider's own model name. */
  body: Record<string, unknown>;
  apiKey: string | null;
  baseUrl: string;
  /** Every client header; adapters pass on only those in their `clientHeaders` allowlist. */
  clientHeaders: Headers;
}

/** One upstream provider, described declaratively; one small folder each. */
export interface ProviderAdapter {
  name: ProviderName;
  /** Wire formats this provider speaks natively (no translation yet). */
  endpoints: readonly Endpoint[];
  /** Whether a provider key from the org is needed. */
  requiresKey: boolean;
  defaultBaseUrl: string;
  /** Models listed by GET /v1/models (any other model name is still routed). */
  knownModels: readonly string[];
  /** Client headers passed upstream, with the shape each value must have; nothing else is. */
  clientHeaders: ClientHeaderAllowlist;
  buildRequest(args: BuildRequestArgs): UpstreamCall;
  /**
   * The cheapest authenticated call the provider answers ("Test connection", deep health): lists
   * models, costs no tokens. Absent for providers that need no key.
   */
  probe?(args: { apiKey: string | null; baseUrl: string }): UpstreamCall & { method: 'GET' };
  /** A provider answered in-process (the mock) instead of over the network. */
  localFetch?: (call: UpstreamCall, endpoint: Endpoint) => Promise<Response>;
}
