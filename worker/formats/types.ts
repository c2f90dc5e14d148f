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
 * send on, in order: whole events, each as its original bytes (an SSE client acts on an event only
 * once its empty line arrives, so holding the rest of a half-received event delays nothing a client
 * can see, and lets the gateway end a failed stream on an event boundary). A rewriting tap (OpenAI
 * include_usage) may drop or rewrite the events the gateway caused.
 */
export interface StreamTap {
  push(chunk: Uint8Array): Uint8Array[];
  /** The upstream ended normally: whatever is still held, as received. */
  finish(): Uint8Array[];
  /**
   * The gateway ends the stream itself (upstream reset, idle timeout): a half-received event is
   * dropped and an error event in the caller's format follows, so the client can tell the stream
   * was cut short, as the providers themselves signal errors mid-stream.
   */
  fail(errorEventBytes: Uint8Array): Uint8Array[];
  usage(): Usage;
  outcome(): StreamOutcome;
}
