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
import { createEventTap } from './event-tap';
import { asCount, errorTypeLabel, looksLikeObject, parseJsonObject, type SseEvent } from './sse';
import type { StreamOutcome, StreamTap } from './types';

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
  // The sum of three safe counts can pass 2^53; such a total is no count at all.
  if (raw.input !== null) usage.input_tokens = asCount(raw.input + (raw.cacheRead ?? 0) + (raw.cacheWrite ?? 0));
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

/**
 * The Messages stream tap. Usage comes from `message_start` and `message_delta`; the stream is
 * complete at `message_stop`; an `error` event (e.g. `overloaded_error` mid-stream, sent after a 200)
 * is the provider's own failure report. Only those event types are parsed: content deltas, the bulk
 * of a stream, are forwarded without being read. An event without an `event:` line is read by its
 * JSON `type`.
 */
export function createMessagesStreamTap(context: Record<string, unknown> = {}): StreamTap {
  const raw = emptyRaw();
  const outcome: StreamOutcome = { complete: false, upstreamErrorType: null };
  const read = (ev: SseEvent): 'keep' => {
    if (!ev.hasData || ev.data === null || (ev.type !== null && !READ_TYPES.has(ev.type))) return 'keep';
    const obj = looksLikeObject(ev.data) ? parseJsonObject(ev.data) : null;
    const type = ev.type ?? (typeof obj?.type === 'string' ? obj.type : null);
    if (type === 'message_start' && obj?.message && typeof obj.message === 'object') {
      readRaw((obj.message as Record<string, unknown>).usage, raw);
    } else if (type === 'message_delta') {
      readRaw(obj?.usage, raw);
    } else if (type === 'message_stop') {
      outcome.complete = true;
    } else if (type === 'error') {
      const err = obj?.error && typeof obj.error === 'object' ? (obj.error as Record<string, unknown>) : null;
      outcome.upstreamErrorType ??= errorTypeLabel(err?.type);
    }
    return 'keep';
  };
  return createEventTap({ read, usage: () => normalise(raw), outcome: () => ({ ...outcome }) }, { rewrites: false, context });
}

const READ_TYPES = new Set(['message_start', 'message_delta', 'message_stop', 'error']);
