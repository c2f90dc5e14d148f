/**
 * Anthropic Messages wire format (POST /v1/messages): request schema, usage from a JSON body, and
 * the stream tap. Streams report usage in `message_start` (input and cache tokens, first output
 * count) and `message_delta` (cumulative output tokens; newer API versions repeat input counts).
 *
 * Normalisation: Anthropic's `input_tokens` excludes cache reads and writes; Routero's
 * `input_tokens` is the total input (uncached + cache read + cache write), like OpenAI's
 * `prompt_tokens`, so costs and sums mean the same across providers.
 */
import * as z from 'zod/mini';
import { emptyUsage, type Usage } from '../../lib/audit/event';
import { asCount, parseJsonObject, SseFramer } from './sse';
import type { StreamTap } from './types';

export const messagesRequestSchema = z.looseObject({
  model: z.string({ error: 'is required' }).check(z.minLength(1, 'must name a model, e.g. "anthropic/claude-sonnet-4-5"')),
  messages: z
    .array(z.looseObject({ role: z.string({ error: 'is required' }) }), { error: 'must be an array of messages' })
    .check(z.minLength(1, 'must contain at least one message')),
  max_tokens: z.int({ error: 'is required and must be a positive integer' }).check(z.positive('must be a positive integer')),
  stream: z.nullish(z.boolean({ error: 'must be a boolean' })),
});
export type MessagesRequest = z.infer<typeof messagesRequestSchema>;

interface RawUsage {
  input: number | null;
  output: number | null;
  cacheRead: number | null;
  cacheWrite: number | null;
}

function readRaw(u: unknown, into: RawUsage): void {
  if (!u || typeof u !== 'object') return;
  const rec = u as Record<string, unknown>;
  into.input = asCount(rec.input_tokens) ?? into.input;
  into.output = asCount(rec.output_tokens) ?? into.output;
  into.cacheRead = asCount(rec.cache_read_input_tokens) ?? into.cacheRead;
  into.cacheWrite = asCount(rec.cache_creation_input_tokens) ?? into.cacheWrite;
}

function normalise(raw: RawUsage): Usage {
  const usage = emptyUsage();
  if (raw.input !== null) usage.input_tokens = raw.input + (raw.cacheRead ?? 0) + (raw.cacheWrite ?? 0);
  usage.output_tokens = raw.output;
  usage.cache_read_tokens = raw.cacheRead;
  usage.cache_write_tokens = raw.cacheWrite;
  return usage;
}

const emptyRaw = (): RawUsage => ({ input: null, output: null, cacheRead: null, cacheWrite: null });

export function usageFromMessage(body: Record<string, unknown> | null): Usage {
  const raw = emptyRaw();
  readRaw(body?.usage, raw);
  return normalise(raw);
}

export function createMessagesStreamTap(): StreamTap {
  const framer = new SseFramer();
  const raw = emptyRaw();
  const inspect = (data: string) => {
    const obj = data.startsWith('{') ? parseJsonObject(data) : null;
    if (!obj) return;
    if (obj.type === 'message_start' && obj.message && typeof obj.message === 'object') {
      readRaw((obj.message as Record<string, unknown>).usage, raw);
    } else if (obj.type === 'message_delta') {
      readRaw(obj.usage, raw);
    }
  };
  return {
    push(chunk) {
      for (const ev of framer.push(chunk)) inspect(ev.data);
      return [chunk];
    },
    finish() {
      for (const ev of framer.finish().events) inspect(ev.data);
      return [];
    },
    usage: () => normalise(raw),
  };
}
