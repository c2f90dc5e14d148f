/**
 * OpenAI `chat.completion.chunk` events → the Anthropic event sequence, as `@anthropic-ai/sdk`'s
 * MessageStream and coding agents (Claude Code) read it:
 *
 *   message_start → (content_block_start → content_block_delta* → content_block_stop)* →
 *   message_delta (stop_reason, usage) → message_stop
 *
 * Text deltas open a text block; each new tool call (a new OpenAI `index`) closes the open block
 * and opens a `tool_use` block with its id and name, and its argument fragments follow as
 * `input_json_delta`. OpenAI sends `finish_reason`, then (with include_usage, which the request
 * translator always sets) a usage chunk, then `[DONE]`: the open block closes at `finish_reason`,
 * and message_delta with the stop reason and the usage waits for `[DONE]`, so it carries the final
 * counts. A stream that ends without `[DONE]` gets no message_delta and no message_stop: the
 * client must not take a cut-off answer for a whole one. An `{"error": …}` chunk becomes an
 * Anthropic `error` event.
 */
import { errorMessage, isDone, upstreamMalformed } from '../support';
import type { StreamTranslator, TranslateContext, TranslatedUsage, WireEvent } from '../types';
import type { StreamOutcome } from '../../formats/types';
import { errorTypeLabel } from '../../formats/sse';
import { chunkSchema, type Chunk, type OpenAIUsage } from './openai-schema';
import { anthropicUsage, stopReason, translatedUsage } from './usage';

const ev = (type: string, data: Record<string, unknown>): WireEvent => ({ event: type, data: { type, ...data } });

function streamErrorType(err: unknown): { label: string; type: string } {
  const rec = err && typeof err === 'object' ? (err as { type?: unknown; code?: unknown }) : {};
  const label = errorTypeLabel(rec.type ?? rec.code);
  const type = label === 'rate_limit_error' || label === 'invalid_request_error' ? label : label === 'server_is_overloaded' ? 'overloaded_error' : 'api_error';
  return { label, type };
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * The bulk of a stream is chunks whose one choice carries only text: those skip the full parse
 * (measured on this machine: 19 µs → 5 µs per event). Anything else (tool calls, a finish reason, usage, an error)
 * returns null and takes the parsed path.
 */
function plainTextDelta(data: Record<string, unknown>): string | null {
  if (data.error !== undefined || (data.usage !== undefined && data.usage !== null)) return null;
  const choices = data.choices;
  if (!Array.isArray(choices) || choices.length !== 1) return null;
  const choice: unknown = choices[0];
  if (!isObject(choice) || choice.finish_reason != null || !isObject(choice.delta)) return null;
  const delta = choice.delta;
  if (typeof delta.content !== 'string' || delta.tool_calls != null || delta.refusal != null) return null;
  return delta.content;
}

export function createStream(ctx: TranslateContext): StreamTranslator {
  const outcome: StreamOutcome = { complete: false, upstreamErrorType: null };
  let usage: OpenAIUsage | null = null;
  let started = false;
  let finish: string | null = null;
  let refused = false;
  let nextBlock = 0;
  let open: { index: number; kind: 'text' | 'tool' } | null = null;
  /** OpenAI tool call index → Anthropic content block index. */
  const toolBlocks = new Map<number, number>();

  const start = (out: WireEvent[]) => {
    if (started) return;
    started = true;
    out.push(ev('message_start', {
      message: {
        id: `msg_${ctx.requestId}`, type: 'message', role: 'assistant', model: ctx.clientModel, content: [],
        stop_reason: null, stop_sequence: null, usage: anthropicUsage(translatedUsage(null)),
      },
    }));
  };
  const close = (out: WireEvent[]) => {
    if (open) out.push(ev('content_block_stop', { index: open.index }));
    open = null;
  };
  const text = (out: WireEvent[], value: string) => {
    if (open?.kind !== 'text') {
      close(out);
      open = { index: nextBlock++, kind: 'text' };
      out.push(ev('content_block_start', { index: open.index, content_block: { type: 'text', text: '' } }));
    }
    out.push(ev('content_block_delta', { index: open.index, delta: { type: 'text_delta', text: value } }));
  };
  const toolCalls = (out: WireEvent[], calls: NonNullable<NonNullable<NonNullable<Chunk['choices']>[number]['delta']>['tool_calls']>) => {
    for (const call of calls) {
      let index = toolBlocks.get(call.index);
      if (index === undefined) {
        close(out);
        index = nextBlock++;
        toolBlocks.set(call.index, index);
        open = { index, kind: 'tool' };
        const block = { type: 'tool_use', id: call.id ?? '', name: call.function?.name ?? '', input: {} };
        out.push(ev('content_block_start', { index, content_block: block }));
      }
      const args = call.function?.arguments;
      if (args) out.push(ev('content_block_delta', { index, delta: { type: 'input_json_delta', partial_json: args } }));
    }
  };
  const done = (out: WireEvent[]) => {
    start(out);
    close(out);
    const stop_reason = refused ? 'refusal' : stopReason(finish);
    out.push(ev('message_delta', { delta: { stop_reason, stop_sequence: null }, usage: anthropicUsage(translatedUsage(usage)) }));
    out.push(ev('message_stop', {}));
    outcome.complete = true;
  };

  return {
    push(wire) {
      const out: WireEvent[] = [];
      if (outcome.complete) return out;
      if (isDone(wire)) {
        done(out);
        return out;
      }
      const fast = plainTextDelta(wire.data);
      if (fast !== null) {
        start(out);
        if (fast) text(out, fast);
        return out;
      }
      const parsed = chunkSchema.safeParse(wire.data);
      if (!parsed.success) throw upstreamMalformed(`chat completion chunk: ${parsed.error.issues[0]?.message ?? ''}`);
      const chunk = parsed.data;
      if (chunk.error !== undefined && chunk.error !== null) {
        const { label, type } = streamErrorType(chunk.error);
        outcome.upstreamErrorType ??= label;
        const message = errorMessage(typeof chunk.error === 'object' ? (chunk.error as { message?: unknown }).message : chunk.error, 'The upstream provider reported an error.');
        out.push(ev('error', { error: { type, message } }));
        return out;
      }
      if (chunk.usage) usage = chunk.usage;
      const choice = chunk.choices?.[0];
      if (!choice) return out; // the usage chunk, or Azure's prompt_filter_results chunk
      start(out);
      const delta = choice.delta;
      if (delta?.content) text(out, delta.content);
      if (delta?.refusal) {
        refused = true;
        text(out, delta.refusal);
      }
      if (delta?.tool_calls) toolCalls(out, delta.tool_calls);
      if (choice.finish_reason) {
        finish = choice.finish_reason;
        close(out);
      }
      return out;
    },
    end: () => [],
    usage: (): TranslatedUsage => translatedUsage(usage),
    outcome: () => ({ ...outcome }),
  };
}
