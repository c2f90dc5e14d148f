/**
 * Anthropic usage → OpenAI usage and the gateway's own. Anthropic's `input_tokens` leaves out cache
 * reads and writes; OpenAI's `prompt_tokens` is the whole input, with the cache reads repeated in
 * `prompt_tokens_details.cached_tokens`. Thinking tokens are inside `output_tokens` on both sides;
 * Anthropic's `output_tokens_details.thinking_tokens`, when sent, becomes OpenAI's
 * `completion_tokens_details.reasoning_tokens` (left out when Anthropic did not send it).
 */
import { asCount } from '../../formats/sse';
import type { TranslatedUsage } from '../types';
import type { AnthropicUsage } from './anthropic-schema';

export function translatedUsage(u: AnthropicUsage | undefined): TranslatedUsage {
  const input = u?.input_tokens ?? null;
  const cacheRead = u?.cache_read_input_tokens ?? null;
  const cacheWrite = u?.cache_creation_input_tokens ?? null;
  return {
    input_tokens: input === null ? null : asCount(input + (cacheRead ?? 0) + (cacheWrite ?? 0)),
    output_tokens: u?.output_tokens ?? null,
    cache_read_tokens: cacheRead,
    cache_write_tokens: cacheWrite,
    reasoning_tokens: u?.output_tokens_details?.thinking_tokens ?? null,
  };
}

/** The OpenAI `usage` object (CompletionUsage); counts Anthropic did not send are 0. */
export function openaiUsage(u: TranslatedUsage): Record<string, unknown> {
  const prompt = u.input_tokens ?? 0;
  const completion = u.output_tokens ?? 0;
  const usage: Record<string, unknown> = {
    prompt_tokens: prompt,
    completion_tokens: completion,
    total_tokens: prompt + completion,
    prompt_tokens_details: { cached_tokens: u.cache_read_tokens ?? 0 },
  };
  if (u.reasoning_tokens !== null) usage.completion_tokens_details = { reasoning_tokens: u.reasoning_tokens };
  return usage;
}

/** Anthropic `stop_reason` → OpenAI `finish_reason`. */
export function finishReason(stop: string | null | undefined): 'stop' | 'length' | 'tool_calls' | 'content_filter' {
  switch (stop) {
    case 'max_tokens':
    case 'model_context_window_exceeded':
      return 'length';
    case 'tool_use':
      return 'tool_calls';
    case 'refusal':
      return 'content_filter';
    default:
      // end_turn, stop_sequence, pause_turn (server tools only, which this path never sends)
      return 'stop';
  }
}
