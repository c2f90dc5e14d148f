/**
 * Bedrock Converse response → OpenAI `chat.completion`. Bedrock's `usage.inputTokens` excludes
 * cache reads and writes (reported beside it), so Routero's input is their sum; Bedrock does not
 * report reasoning tokens apart from `outputTokens` (reasoning stays null: unknown, not zero).
 */
import * as z from 'zod/mini';
import { GatewayError } from '../../../lib/errors';
import { completion, count, emptyTranslatedUsage, type FinishReason, type OpenAIToolCall } from '../openai-chat-response';
import type { ResponseTranslator, TranslatedUsage } from '../types';

const block = z.looseObject({
  text: z.optional(z.string()),
  toolUse: z.optional(z.looseObject({ toolUseId: z.string(), name: z.string(), input: z.optional(z.unknown()) })),
});

const converseResponse = z.looseObject({
  output: z.looseObject({ message: z.optional(z.looseObject({ role: z.optional(z.string()), content: z.array(block) })) }),
  stopReason: z.string(),
  usage: z.optional(z.record(z.string(), z.unknown())),
});

/**
 * Converse StopReason → OpenAI finish_reason: guardrails and content filters are
 * `content_filter`; running out of output tokens or of the context window is `length`.
 */
export function finishReason(stopReason: string | undefined): FinishReason {
  switch (stopReason) {
    case 'tool_use':
      return 'tool_calls';
    case 'max_tokens':
    case 'model_context_window_exceeded':
      return 'length';
    case 'guardrail_intervened':
    case 'content_filtered':
      return 'content_filter';
    default:
      return 'stop';
  }
}

export function bedrockUsage(u: Record<string, unknown> | undefined): TranslatedUsage {
  const out = emptyTranslatedUsage();
  if (!u) return out;
  const input = count(u.inputTokens);
  const read = count(u.cacheReadInputTokens) ?? 0;
  const write = count(u.cacheWriteInputTokens) ?? 0;
  out.input_tokens = input === null ? null : input + read + write;
  out.output_tokens = count(u.outputTokens);
  out.cache_read_tokens = read;
  out.cache_write_tokens = write;
  return out;
}

export const bedrockResponse: ResponseTranslator = (body, ctx) => {
  const r = converseResponse.safeParse(body);
  if (!r.success) {
    const issue = r.error.issues[0]!;
    throw new GatewayError('upstream_unreachable', 'The upstream provider returned a response the gateway could not read.', {
      reason: `bedrock response: ${issue.path.map(String).join('.')}: ${issue.message}`,
    });
  }
  let text = '';
  let sawText = false;
  const toolCalls: OpenAIToolCall[] = [];
  // reasoningContent blocks (extended thinking) have no place in OpenAI Chat and are left out.
  for (const b of r.data.output.message?.content ?? []) {
    if (typeof b.text === 'string') {
      text += b.text;
      sawText = true;
    } else if (b.toolUse) {
      toolCalls.push({ id: b.toolUse.toolUseId, type: 'function', function: { name: b.toolUse.name, arguments: JSON.stringify(b.toolUse.input ?? {}) } });
    }
  }
  const finish = finishReason(r.data.stopReason);
  return completion(ctx, [{ index: 0, text: sawText || toolCalls.length === 0 ? text : null, toolCalls, finish }], bedrockUsage(r.data.usage));
};
