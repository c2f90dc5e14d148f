import type { Usage } from '../../lib/audit/event';

/** The two client-facing wire formats the gateway serves. */
export type Endpoint = 'chat_completions' | 'messages';

/** How a stream ended, as far as its own events tell. */
export interface StreamOutcome {
  /** The format's end marker arrived (`data: [DONE]`, `event: message_stop`). */
  complete: boolean;
  /** The provider reported an error inside the stream; its error type (sanitised), else null. */
  upstreamErrorType: string | null;
}

/**
 * Reads usage and the outcome from a streamed response as it passes. `push` returns the bytes to
 * send on, in order. A reading tap returns each chunk as it came. A rewriting tap (OpenAI with the
 * injected include_usage) returns whole events, each as its original bytes unless it is one the
 * gateway caused (an SSE client acts on an event only once its empty line arrives, so holding the
 * rest of a half-received event delays nothing a client can see).
 */
export interface StreamTap {
  push(chunk: Uint8Array): Uint8Array[];
  /** The upstream ended normally: whatever is still held, as received. */
  finish(): Uint8Array[];
  /**
   * The gateway ends the stream itself (upstream reset, idle timeout): an error event in the
   * caller's format follows, so the client can tell the stream was cut short, as the providers
   * themselves signal errors mid-stream. A half-received event still held is dropped; one already
   * partly sent is ended first.
   */
  fail(errorEventBytes: Uint8Array): Uint8Array[];
  usage(): Usage;
  outcome(): StreamOutcome;
}
