import type { Usage } from '../../lib/audit/event';

/** The two client-facing wire formats the gateway serves. */
export type Endpoint = 'chat_completions' | 'messages';

/**
 * Reads usage from a streamed response as it passes. `push` returns the bytes to send on, in
 * order; a pure tap returns its input untouched, a rewriting tap (see OpenAI include_usage) returns
 * whole events as soon as each is complete.
 */
export interface StreamTap {
  push(chunk: Uint8Array): Uint8Array[];
  finish(): Uint8Array[];
  usage(): Usage;
}
