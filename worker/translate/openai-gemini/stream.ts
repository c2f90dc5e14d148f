/**
 * Gemini `streamGenerateContent?alt=sse` → OpenAI `chat.completion.chunk` events. Each SSE event
 * is a whole GenerateContentResponse holding the next piece of each candidate; a function call
 * arrives whole in one event (its arguments are sent as one delta). The last event carries
 * `finishReason`; `usageMetadata` is cumulative, so the last one seen is the total. Gemini has no
 * end marker of its own: a stream is complete when every candidate it started has finished.
 */
import { chunk, streamError, wantsUsage, type FinishReason } from '../openai-chat-response';
import type { StreamTranslator, TranslatedUsage, TranslateContext, WireEvent } from '../types';
import { answerParts, finishReason, geminiUsage, parseGeminiResponse } from './response';

export function geminiStream(ctx: TranslateContext): StreamTranslator {
  let usage: TranslatedUsage = geminiUsage(undefined);
  const started = new Set<number>();
  const calls = new Map<number, number>();
  const finished = new Map<number, FinishReason>();
  let errorType: string | null = null;

  function push(event: WireEvent): WireEvent[] {
    if (errorType !== null) return [];
    const err = event.data.error;
    if (typeof err === 'object' && err !== null) {
      // An error inside the stream: Gemini's {code, message, status}.
      const e = err as Record<string, unknown>;
      errorType = typeof e.status === 'string' ? e.status.slice(0, 64) : 'upstream_error';
      return [streamError(typeof e.message === 'string' ? e.message.slice(0, 500) : 'The upstream provider reported an error.', 'api_error')];
    }
    const res = parseGeminiResponse(event.data);
    if (res.usageMetadata) usage = geminiUsage(res.usageMetadata);
    const out: WireEvent[] = [];
    const begin = (index: number) => {
      if (started.has(index)) return;
      started.add(index);
      out.push(chunk(ctx, [{ index, delta: { role: 'assistant', content: '' }, logprobs: null, finish_reason: null }]));
    };
    const candidates = res.candidates ?? [];
    if (candidates.length === 0 && res.promptFeedback?.blockReason && !finished.has(0)) {
      begin(0);
      finished.set(0, 'content_filter');
      out.push(chunk(ctx, [{ index: 0, delta: {}, logprobs: null, finish_reason: 'content_filter' }]));
    }
    for (const [i, c] of candidates.entries()) {
      const index = c.index ?? i;
      if (finished.has(index)) continue;
      begin(index);
      const first = calls.get(index) ?? 0;
      const { text, toolCalls } = answerParts(ctx, c, index, first);
      if (text !== '') out.push(chunk(ctx, [{ index, delta: { content: text }, logprobs: null, finish_reason: null }]));
      if (toolCalls.length > 0) {
        calls.set(index, first + toolCalls.length);
        out.push(chunk(ctx, [{ index, delta: { tool_calls: toolCalls.map((t, k) => ({ index: first + k, ...t })) }, logprobs: null, finish_reason: null }]));
      }
      if (c.finishReason && c.finishReason !== 'FINISH_REASON_UNSPECIFIED') {
        const reason = finishReason(c.finishReason, (calls.get(index) ?? 0) > 0);
        finished.set(index, reason);
        out.push(chunk(ctx, [{ index, delta: {}, logprobs: null, finish_reason: reason }]));
      }
    }
    return out;
  }

  const complete = () => errorType === null && started.size > 0 && [...started].every((i) => finished.has(i));

  return {
    push,
    end: () => (complete() && wantsUsage(ctx) ? [chunk(ctx, [], usage)] : []),
    usage: () => usage,
    outcome: () => ({ complete: complete(), upstreamErrorType: errorType }),
  };
}
