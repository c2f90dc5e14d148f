import type { ProviderInfo, UpstreamFormat } from '../../lib/providers/catalog';
import type { ClientHeaderAllowlist } from './headers';

/** What the gateway sends upstream. The URL always comes from server-side configuration. */
export interface UpstreamCall {
  url: string;
  headers: Headers;
  body: string;
}

export interface BuildRequestArgs {
  /** The wire format `body` is in: one of the provider's own `formats`. */
  format: UpstreamFormat;
  /** The body in that format, `model` already the provider's own model name. */
  body: Record<string, unknown>;
  /**
   * The same body already serialised — the client's own bytes with the model swapped
   * (worker/pipeline/body-text.ts) — when the call passes through untranslated; null otherwise.
   * Adapters that send the body unchanged send these bytes instead of serialising `body` again.
   */
  bodyText?: string | null;
  stream: boolean;
  apiKey: string | null;
  baseUrl: string;
  /** Every client header; adapters pass on only those in their `clientHeaders` allowlist. */
  clientHeaders: Headers;
}

/**
 * One upstream provider: its catalog entry (lib/providers/catalog.ts) plus how to address it. One
 * small folder each; translation between wire formats lives in worker/translate/, not here.
 */
export interface ProviderAdapter {
  info: ProviderInfo;
  /** Client headers passed upstream, with the shape each value must have; nothing else is. */
  clientHeaders: ClientHeaderAllowlist;
  /**
   * How a streamed answer is framed: Server-Sent Events (most providers) or the AWS event-stream
   * binary framing (Bedrock). Decoded only when the answer is translated; a same-format stream
   * passes through as bytes.
   */
  framing: 'sse' | 'aws-eventstream';
  /** Async, so a signature over the final request (SigV4) fits. */
  buildRequest(args: BuildRequestArgs): UpstreamCall | Promise<UpstreamCall>;
  /**
   * The cheapest authenticated call the provider answers ("Test connection", deep health): lists
   * models, costs no tokens. Absent for providers that need no key.
   */
  probe?(args: { apiKey: string | null; baseUrl: string }): UpstreamCall & { method: 'GET' };
  /** A provider answered in-process (the mock) instead of over the network. */
  localFetch?: (call: UpstreamCall, format: UpstreamFormat) => Promise<Response>;
}
