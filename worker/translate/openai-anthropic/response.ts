/**
 * Anthropic message → OpenAI `chat.completion`. Text blocks join into `content`; `tool_use`
 * blocks become `tool_calls` with their input as a JSON string; thinking blocks are not part of
 * a Chat Completions message and are left out (their tokens stay in `completion_tokens`).
 */
import { parseUpstream } from '../support';
import type { ResponseTranslator } from '../types';
import { messageSchema } from './anthropic-schema';
import { finishReason, openaiUsage, translatedUsage } from './usage';

export const response: ResponseTranslator = (body, ctx) => {
  const msg = parseUpstream(messageSchema, body, 'anthropic message');
  const text: string[] = [];
  const toolCalls: Record<string, unknown>[] = [];
  for (const block of msg.content) {
    if (block.type === 'text' && block.text !== undefined) text.push(block.text);
    else if (block.type === 'tool_use') {
      toolCalls.push({
        id: block.id ?? '',
        type: 'function',
        function: { name: block.name ?? '', arguments: JSON.stringify(block.input ?? {}) },
      });
    }
  }
  const message: Record<string, unknown> = {
    role: 'assistant',
    content: text.length > 0 ? text.join('') : null,
    refusal: null,
  };
  if (toolCalls.length > 0) message.tool_calls = toolCalls;
  return {
    id: `chatcmpl-${ctx.requestId}`,
    object: 'chat.completion',
    created: ctx.now,
    model: ctx.clientModel,
    choices: [{ index: 0, message, finish_reason: finishReason(msg.stop_reason), logprobs: null }],
    usage: openaiUsage(translatedUsage(msg.usage)),
  };
};
