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
import { asCount, parseJsonObject, SseFramer } from './sse';
import type { StreamTap } from './types';

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
  return usage;
}

const encoder = new TextEncoder();

export function createChatStreamTap(stripInjectedUsage: boolean): StreamTap {
  const framer = new SseFramer();
  let usage = emptyUsage();

  const inspect = (data: string): Record<string, unknown> | null => {
    if (!data.startsWith('{')) return null;
    const obj = parseJsonObject(data);
    if (obj && obj.usage && typeof obj.usage === 'object') usage = usageFromChatCompletion(obj);
    return obj;
  };

  const rewrite = (events: ReturnType<SseFramer['push']>): Uint8Array[] => {
    const out: Uint8Array[] = [];
    for (const ev of events) {
      const obj = inspect(ev.data);
      if (!obj || !('usage' in obj)) {
        out.push(encoder.encode(ev.raw));
        continue;
      }
      // The usage-only chunk exists only because of the injected option: drop it.
      if (Array.isArray(obj.choices) && obj.choices.length === 0) continue;
      delete obj.usage;
      out.push(encoder.encode(`data: ${JSON.stringify(obj)}\n\n`));
    }
    return out;
  };

  return {
    push(chunk) {
      const events = framer.push(chunk);
      if (stripInjectedUsage) return rewrite(events);
      for (const ev of events) inspect(ev.data);
      return [chunk];
    },
    finish() {
      const { events } = framer.finish();
      if (stripInjectedUsage) return rewrite(events);
      for (const ev of events) inspect(ev.data);
      return [];
    },
    usage: () => usage,
  };
}
