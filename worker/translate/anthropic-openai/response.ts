/**
 * OpenAI `chat.completion` → Anthropic message. The first choice is the message (the request
 * never asks for more); its text becomes a text block, a refusal a text block with stop_reason
 * `refusal`, each tool call a `tool_use` block with its arguments parsed into the `input` object.
 */
import { parseUpstream, upstreamMalformed } from '../support';
import type { ResponseTranslator } from '../types';
import { completionSchema } from './openai-schema';
import { anthropicUsage, stopReason, translatedUsage } from './usage';

export function toolInput(args: string | null | undefined): Record<string, unknown> {
  let input: unknown;
  try {
    input = JSON.parse(args || '{}');
  } catch {
    throw upstreamMalformed('tool call arguments are not JSON');
  }
  if (!input || typeof input !== 'object' || Array.isArray(input)) throw upstreamMalformed('tool call arguments are not a JSON object');
  return input as Record<string, unknown>;
}

export const response: ResponseTranslator = (body, ctx) => {
  const completion = parseUpstream(completionSchema, body, 'chat completion');
  const choice = completion.choices[0];
  if (!choice) throw upstreamMalformed('chat completion without choices');
  const { message } = choice;
  const content: Record<string, unknown>[] = [];
  if (message.content) content.push({ type: 'text', text: message.content });
  if (message.refusal) content.push({ type: 'text', text: message.refusal });
  for (const call of message.tool_calls ?? []) {
    content.push({ type: 'tool_use', id: call.id ?? '', name: call.function?.name ?? '', input: toolInput(call.function?.arguments) });
  }
  return {
    id: `msg_${ctx.requestId}`,
    type: 'message',
    role: 'assistant',
    model: ctx.clientModel,
    content,
    stop_reason: message.refusal ? 'refusal' : stopReason(choice.finish_reason),
    stop_sequence: null,
    usage: anthropicUsage(translatedUsage(completion.usage)),
  };
};
