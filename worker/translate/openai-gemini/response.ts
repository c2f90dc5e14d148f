/**
 * Gemini `GenerateContentResponse` → OpenAI `chat.completion`, whole or as stream chunks.
 *
 * Gemini reports `promptTokenCount` including the cached part (`cachedContentTokenCount`), and
 * thinking separately from the answer (`thoughtsTokenCount` beside `candidatesTokenCount`); tool
 * prompts it adds are `toolUsePromptTokenCount`. OpenAI's (and Routero's) input is the whole
 * prompt, its output includes reasoning. Gemini's JSON omits zero counts (proto3), so a count
 * missing from a present `usageMetadata` is 0.
 */
import * as z from 'zod/mini';
import { GatewayError } from '../../../lib/errors';
import { count, emptyTranslatedUsage, type ChoiceParts, type FinishReason, type OpenAIToolCall, completion } from '../openai-chat-response';
import type { ResponseTranslator, TranslatedUsage, TranslateContext } from '../types';
import { geminiToolCallId } from './ids';

const part = z.looseObject({
  text: z.optional(z.string()),
  thought: z.optional(z.boolean()),
  thoughtSignature: z.optional(z.string()),
  functionCall: z.optional(z.looseObject({ name: z.string(), args: z.optional(z.nullable(z.record(z.string(), z.unknown()))) })),
});
export type GeminiPart = z.infer<typeof part>;

const candidate = z.looseObject({
  index: z.optional(z.int()),
  content: z.optional(z.looseObject({ parts: z.optional(z.array(part)) })),
  finishReason: z.optional(z.string()),
});
export type GeminiCandidate = z.infer<typeof candidate>;

export const geminiResponseSchema = z.looseObject({
  candidates: z.optional(z.array(candidate)),
  promptFeedback: z.optional(z.looseObject({ blockReason: z.optional(z.string()) })),
  usageMetadata: z.optional(z.record(z.string(), z.unknown())),
});
export type GeminiResponse = z.infer<typeof geminiResponseSchema>;

export function parseGeminiResponse(body: unknown): GeminiResponse {
  const r = geminiResponseSchema.safeParse(body);
  if (!r.success) {
    const issue = r.error.issues[0]!;
    throw new GatewayError('upstream_unreachable', 'The upstream provider returned a response the gateway could not read.', {
      reason: `gemini response: ${issue.path.map(String).join('.')}: ${issue.message}`,
    });
  }
  return r.data;
}

/**
 * Gemini's FinishReason → OpenAI's finish_reason. Every blocking reason (safety, recitation,
 * blocklist, prohibited content, personal data, image safety, unsupported language) is
 * `content_filter`; MAX_TOKENS is `length`; a natural stop with function calls is `tool_calls`.
 * MALFORMED_FUNCTION_CALL and OTHER have no OpenAI counterpart: `stop` with what was produced.
 */
export function finishReason(reason: string | undefined, hasToolCalls: boolean): FinishReason {
  switch (reason) {
    case 'MAX_TOKENS':
      return 'length';
    case 'SAFETY':
    case 'RECITATION':
    case 'BLOCKLIST':
    case 'PROHIBITED_CONTENT':
    case 'SPII':
    case 'IMAGE_SAFETY':
    case 'IMAGE_PROHIBITED_CONTENT':
    case 'LANGUAGE':
      return 'content_filter';
    default:
      return hasToolCalls ? 'tool_calls' : 'stop';
  }
}

export function geminiUsage(meta: Record<string, unknown> | undefined): TranslatedUsage {
  const u = emptyTranslatedUsage();
  if (!meta) return u;
  const prompt = count(meta.promptTokenCount) ?? 0;
  const toolPrompt = count(meta.toolUsePromptTokenCount) ?? 0;
  const answer = count(meta.candidatesTokenCount) ?? 0;
  const thoughts = count(meta.thoughtsTokenCount) ?? 0;
  u.input_tokens = prompt + toolPrompt;
  u.output_tokens = answer + thoughts;
  u.cache_read_tokens = count(meta.cachedContentTokenCount) ?? 0;
  u.reasoning_tokens = thoughts;
  return u;
}

/** A candidate's answer parts: text (thoughts left out: OpenAI Chat has no place for them) and calls. */
export function answerParts(ctx: TranslateContext, c: GeminiCandidate, choice: number, firstCall: number): { text: string; toolCalls: OpenAIToolCall[] } {
  let text = '';
  const toolCalls: OpenAIToolCall[] = [];
  for (const p of c.content?.parts ?? []) {
    if (p.thought === true) continue;
    if (p.functionCall) {
      toolCalls.push({
        id: geminiToolCallId(ctx, choice, firstCall + toolCalls.length, p.thoughtSignature),
        type: 'function',
        function: { name: p.functionCall.name, arguments: JSON.stringify(p.functionCall.args ?? {}) },
      });
    } else if (typeof p.text === 'string') text += p.text;
  }
  return { text, toolCalls };
}

export const geminiResponse: ResponseTranslator = (body, ctx) => {
  const res = parseGeminiResponse(body);
  const candidates = res.candidates ?? [];
  const choices: ChoiceParts[] =
    candidates.length === 0 ?
      // The prompt itself was blocked (promptFeedback.blockReason): no candidate at all.
      [{ index: 0, text: null, toolCalls: [], finish: res.promptFeedback?.blockReason ? 'content_filter' : 'stop' }]
    : candidates.map((c, i) => {
        const index = c.index ?? i;
        const { text, toolCalls } = answerParts(ctx, c, index, 0);
        return { index, text: text === '' && toolCalls.length > 0 ? null : text, toolCalls, finish: finishReason(c.finishReason, toolCalls.length > 0) };
      });
  return completion(ctx, choices, geminiUsage(res.usageMetadata));
};
