/**
 * OpenAI usage → Anthropic usage and the gateway's own. OpenAI's `prompt_tokens` is the whole
 * input, cached reads included (`prompt_tokens_details.cached_tokens`); Anthropic's
 * `input_tokens` leaves cache reads out, so it is the difference. OpenAI writes its prompt cache
 * without charge or count: `cache_creation_input_tokens` is 0 for the client, unknown (null) for
 * the gateway. Reasoning tokens are inside `completion_tokens`, and so inside `output_tokens`; their
 * count rides in Anthropic's `output_tokens_details.thinking_tokens` when OpenAI reports it.
 */
import type { TranslatedUsage } from '../types';
import type { OpenAIUsage } from './openai-schema';

export function translatedUsage(u: OpenAIUsage | null | undefined): TranslatedUsage {
  return {
    input_tokens: u?.prompt_tokens ?? null,
    output_tokens: u?.completion_tokens ?? null,
    cache_read_tokens: u?.prompt_tokens_details?.cached_tokens ?? null,
    cache_write_tokens: null,
    reasoning_tokens: u?.completion_tokens_details?.reasoning_tokens ?? null,
  };
}

export function anthropicUsage(u: TranslatedUsage): Record<string, unknown> {
  const cached = u.cache_read_tokens ?? 0;
  const usage: Record<string, unknown> = {
    input_tokens: Math.max(0, (u.input_tokens ?? 0) - cached),
    cache_creation_input_tokens: 0,
    cache_read_input_tokens: cached,
    output_tokens: u.output_tokens ?? 0,
  };
  if (u.reasoning_tokens !== null) usage.output_tokens_details = { thinking_tokens: u.reasoning_tokens };
  return usage;
}

/**
 * OpenAI `finish_reason` → Anthropic `stop_reason`. OpenAI does not say which stop sequence ended
 * the text, so `stop` is `end_turn` and `stop_sequence` stays null.
 */
export function stopReason(finish: string | null | undefined): string | null {
  switch (finish) {
    case 'stop':
      return 'end_turn';
    case 'length':
      return 'max_tokens';
    case 'tool_calls':
    case 'function_call':
      return 'tool_use';
    case 'content_filter':
      return 'refusal';
    case null:
    case undefined:
      return null;
    default:
      return 'end_turn';
  }
}
