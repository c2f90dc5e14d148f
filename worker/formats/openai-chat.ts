/**
 * OpenAI Chat Completions wire format (POST /v1/chat/completions): request schema, usage from a
 * JSON body, and the stream tap.
 *
 * Streaming usage: OpenAI sends usage only when `stream_options.include_usage` is true, as a final
 * chunk whose `choices` is empty (every earlier chunk then carries `"usage": null`). The gateway
 * always needs usage, so it sets the option itself; when the client did not ask for it, the tap
 * removes what the option added, so the client sees exactly the stream it asked for.
 */
import * as z from 'zod/mini';
import { emptyUsage, type Usage } from '../../lib/audit/event';
import { createEventTap, type EventVerdict } from './event-tap';
import { asCount, errorTypeLabel, looksLikeObject, parseJsonObject, type SseEvent } from './sse';
import { withData, withoutMember } from './sse-rewrite';
import type { StreamOutcome, StreamTap } from './types';

export const chatCompletionRequestSchema = z.looseObject({
  model: z.string({ error: 'is required' }).check(z.minLength(1, 'must name a model, e.g. "openai/gpt-4o-mini"')),
  messages: z
    .array(z.looseObject({ role: z.string({ error: 'is required' }) }), { error: 'must be an array of messages' })
    .check(z.minLength(1, 'must contain at least one message')),
  stream: z.nullish(z.boolean({ error: 'must be a boolean' })),
  stream_options: z.nullish(z.looseObject({ include_usage: z.optional(z.boolean({ error: 'must be a boolean' })) })),
});
export type ChatCompletionRequest = z.infer<typeof chatCompletionRequestSchema>;

export function usageFromChatCompletion(body: Record<string, unknown> | null): Usage {
  const usage = emptyUsage();
  const u = body?.usage;
  if (!u || typeof u !== 'object') return usage;
  const rec = u as Record<string, unknown>;
  usage.input_tokens = asCount(rec.prompt_tokens);
  usage.output_tokens = asCount(rec.completion_tokens);
  const details = rec.prompt_tokens_details;
  if (details && typeof details === 'object') {
    usage.cache_read_tokens = asCount((details as Record<string, unknown>).cached_tokens);
  }
  // Reasoning (o-series) tokens are part of completion_tokens; recorded apart when reported.
  const out = rec.completion_tokens_details;
  if (out && typeof out === 'object') usage.reasoning_tokens = asCount((out as Record<string, unknown>).reasoning_tokens);
  return usage;
}

/**
 * The Chat Completions stream tap. Usage is read from any chunk whose `usage` is an object (the
 * last one wins); `data: [DONE]` completes the stream; a chunk with an `error` member is the
 * provider's own failure report mid-stream. Chunks that mention neither are not parsed.
 *
 * With `stripInjectedUsage` (the gateway set include_usage, the client did not), only what the
 * option caused is removed: the usage chunk (no choices, a usage object) is dropped, and a `usage`
 * member elsewhere (`"usage": null` on every chunk) is cut out of the event's bytes. Every other
 * event — Azure's `prompt_filter_results` chunk with `"usage": null` and empty `choices` included —
 * goes on as its original bytes.
 */
const NULL_USAGE_TAIL = ',"usage":null}';

export function createChatStreamTap(stripInjectedUsage: boolean, context: Record<string, unknown> = {}): StreamTap {
  let usage = emptyUsage();
  const outcome: StreamOutcome = { complete: false, upstreamErrorType: null };

  const read = (ev: SseEvent): EventVerdict => {
    if (!ev.hasData || ev.data === null) return 'keep';
    const data = ev.data;
    if (data.trim() === '[DONE]') {
      outcome.complete = true;
      return 'keep';
    }
    const mentionsError = data.includes('"error"');
    if (!mentionsError && !data.includes('"usage"')) return 'keep';
    // The common shape, `…,"usage":null}` on every chunk once include_usage is set: the member is
    // the object's last, so it is top-level and null; cut it without parsing the chunk.
    if (!mentionsError && data.endsWith(NULL_USAGE_TAIL)) {
      if (!stripInjectedUsage) return 'keep';
      const cut = withoutMember(ev.raw, 'usage');
      if (cut) return cut;
    }
    const obj = looksLikeObject(data) ? parseJsonObject(data) : null;
    if (!obj) return 'keep';
    if (obj.error && (typeof obj.error === 'object' || typeof obj.error === 'string')) {
      const err = typeof obj.error === 'object' ? (obj.error as Record<string, unknown>) : {};
      outcome.upstreamErrorType ??= errorTypeLabel(err.type ?? err.code);
    }
    if (!Object.hasOwn(obj, 'usage')) return 'keep';
    const hasUsage = obj.usage !== null && typeof obj.usage === 'object';
    if (hasUsage) usage = usageFromChatCompletion(obj);
    if (!stripInjectedUsage) return 'keep';
    const noChoices = obj.choices === undefined || (Array.isArray(obj.choices) && obj.choices.length === 0);
    if (hasUsage && noChoices) return 'drop';
    const cut = withoutMember(ev.raw, 'usage');
    if (cut) return cut;
    delete obj.usage;
    return withData(ev.raw, JSON.stringify(obj));
  };

  return createEventTap({ read, usage: () => usage, outcome: () => ({ ...outcome }) }, { rewrites: stripInjectedUsage, context });
}
