/**
 * The contract every format translator keeps (DESIGN.md §9). The hub is OpenAI Chat Completions:
 * a client format and an upstream format that differ meet through it, so each provider needs one
 * translator pair, not one per client format. A folder `translate/<client>-<upstream>/` holds both
 * directions of one pairing: the request from the client's format into the upstream's, and the
 * response (whole or streamed) from the upstream's back into the client's. Translators are pure:
 * no I/O, no clock, no randomness beyond what the caller passes in, so golden fixtures pin them.
 */
import type { Usage } from '../../lib/audit/event';
import type { StreamOutcome } from '../formats/types';

/** One event of a streamed response, decoded from its framing (SSE or AWS event-stream). */
export interface WireEvent {
  /** The SSE `event:` name or the event-stream `:event-type` header; null when there is none. */
  event: string | null;
  /** The event's JSON payload. */
  data: Record<string, unknown>;
}

/** Usage as a translator reads it from the upstream's own fields, reasoning tokens included. */
export interface TranslatedUsage extends Usage {
  reasoning_tokens: number | null;
}

/** What a translator may use besides the body: never secrets. */
export interface TranslateContext {
  /** The model name the client asked for (e.g. `anthropic/claude-sonnet-4-5`), echoed in responses. */
  clientModel: string;
  /** The upstream's own model name (e.g. `claude-sonnet-4-5`). */
  upstreamModel: string;
  /** The gateway's request id, for ids a response must carry (e.g. `chatcmpl-<request id>`). */
  requestId: string;
  /** Seconds since the epoch, for `created` fields (passed in: translators read no clock). */
  now: number;
  /**
   * An OpenAI Chat client streaming with `stream_options.include_usage: true`: its stream carries
   * `"usage": null` on every chunk and ends with a usage chunk whose `choices` is empty. Unset or
   * false: no usage in the client's stream (the translator still reads it for `usage()`).
   */
  includeUsage?: boolean;
}

/**
 * Client request → upstream request. Throws `GatewayError('invalid_request', …, { param })` naming
 * any parameter the upstream cannot honour: a meaning is never dropped silently.
 */
export type RequestTranslator = (body: Record<string, unknown>, ctx: TranslateContext) => Record<string, unknown>;

/** Upstream JSON response → client JSON response. */
export type ResponseTranslator = (body: Record<string, unknown>, ctx: TranslateContext) => Record<string, unknown>;

/** Upstream error body (any shape) → the client format's error body, keeping the status. */
export type ErrorTranslator = (status: number, body: unknown, ctx: TranslateContext) => Record<string, unknown>;

/** Upstream stream events → client stream events, in order, with the usage and outcome seen. */
export interface StreamTranslator {
  push(event: WireEvent): WireEvent[];
  /** The upstream stream ended: closing events, only those the upstream's own end justifies. */
  end(): WireEvent[];
  usage(): TranslatedUsage;
  outcome(): StreamOutcome;
}

/** What each `translate/<client>-<upstream>/index.ts` exports. */
export interface Translation {
  request: RequestTranslator;
  response: ResponseTranslator;
  error: ErrorTranslator;
  stream(ctx: TranslateContext): StreamTranslator;
}
