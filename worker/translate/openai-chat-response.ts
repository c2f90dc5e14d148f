/**
 * Building OpenAI Chat Completions responses, stream chunks and error bodies from an upstream's
 * answer (openai-gemini, openai-bedrock). The shapes follow OpenAI's published schema
 * (CreateChatCompletionResponse, CreateChatCompletionStreamResponse, ErrorResponse).
 */
import type { TranslatedUsage, TranslateContext, WireEvent } from './types';

export type FinishReason = 'stop' | 'length' | 'tool_calls' | 'content_filter';

export interface OpenAIToolCall {
  id: string;
  type: 'function';
  function: { name: string; arguments: string };
}

/** `includeUsage` is read when the pipeline passes it (see the report on the contract). */
type Ctx = TranslateContext & { includeUsage?: boolean };

export const emptyTranslatedUsage = (): TranslatedUsage => ({
  input_tokens: null,
  output_tokens: null,
  cache_read_tokens: null,
  cache_write_tokens: null,
  reasoning_tokens: null,
});

/** A count as an upstream sent it: a non-negative integer, else null (absurd values are not trusted). */
export function count(v: unknown): number | null {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0 ? v : null;
}

/** Routero usage → OpenAI's usage object (input includes cache reads; output includes reasoning). */
export function openaiUsage(u: TranslatedUsage): Record<string, unknown> {
  const prompt = u.input_tokens ?? 0;
  const completion = u.output_tokens ?? 0;
  return {
    prompt_tokens: prompt,
    completion_tokens: completion,
    total_tokens: prompt + completion,
    prompt_tokens_details: { cached_tokens: u.cache_read_tokens ?? 0 },
    completion_tokens_details: { reasoning_tokens: u.reasoning_tokens ?? 0 },
  };
}

export function completionId(ctx: TranslateContext): string {
  return `chatcmpl-${ctx.requestId}`;
}

/**
 * A stable tool call id: the same call gets the same id streamed or not, so a client's history
 * replays identically. Only characters every SDK and upstream accepts (`[A-Za-z0-9_-]`).
 */
export function toolCallId(ctx: TranslateContext, choice: number, position: number): string {
  return `call_${ctx.requestId.replace(/[^A-Za-z0-9_-]/g, '').slice(0, 64)}_${choice}_${position}`;
}

export interface ChoiceParts {
  index: number;
  text: string | null;
  toolCalls: OpenAIToolCall[];
  finish: FinishReason;
}

export function completion(ctx: TranslateContext, choices: ChoiceParts[], usage: TranslatedUsage): Record<string, unknown> {
  return {
    id: completionId(ctx),
    object: 'chat.completion',
    created: ctx.now,
    model: ctx.clientModel,
    choices: choices.map((c) => ({
      index: c.index,
      message: {
        role: 'assistant',
        content: c.text,
        refusal: null,
        ...(c.toolCalls.length > 0 ? { tool_calls: c.toolCalls } : {}),
      },
      logprobs: null,
      finish_reason: c.finish,
    })),
    usage: openaiUsage(usage),
  };
}

/** One `chat.completion.chunk` event, with `"usage": null` when the client asked for usage. */
export function chunk(ctx: Ctx, choices: unknown[], usage?: TranslatedUsage): WireEvent {
  return {
    event: null,
    data: {
      id: completionId(ctx),
      object: 'chat.completion.chunk',
      created: ctx.now,
      model: ctx.clientModel,
      choices,
      ...(usage ? { usage: openaiUsage(usage) } : ctx.includeUsage ? { usage: null } : {}),
    },
  };
}

export function wantsUsage(ctx: Ctx): boolean {
  return ctx.includeUsage === true;
}

/** OpenAI's error type for an HTTP status. */
export function openaiErrorType(status: number): string {
  if (status === 429) return 'rate_limit_error';
  if (status >= 500) return 'api_error';
  return 'invalid_request_error';
}

/** Longest upstream message passed on (the pipeline also redacts key-shaped text). */
const MAX_MESSAGE = 500;

/**
 * An upstream error as OpenAI's ErrorResponse. A rejected credential says only that (its text may
 * name the key or account); anything else carries the upstream's own message, bounded.
 */
export function openaiError(status: number, message: string | null, credentialRejected: boolean): Record<string, unknown> {
  const text =
    credentialRejected ? `The provider rejected the organisation's provider key (upstream HTTP ${status}).`
    : message ? `Upstream provider returned HTTP ${status}: ${message.length > MAX_MESSAGE ? `${message.slice(0, MAX_MESSAGE)}…` : message}`
    : `Upstream provider returned HTTP ${status}.`;
  return { error: { message: text, type: openaiErrorType(status), param: null, code: 'upstream_error' } };
}

/** An error event inside an OpenAI stream (what OpenAI itself sends mid-stream). */
export function streamError(message: string, type: string): WireEvent {
  return { event: null, data: { error: { message, type, param: null, code: 'upstream_error' } } };
}
