/**
 * Bedrock ConverseStream events (decoded from AWS event-stream framing, worker/providers/bedrock/
 * eventstream.ts: `event` is the `:event-type` header) → OpenAI `chat.completion.chunk` events.
 *
 *   messageStart {role}                           → the first chunk (role)
 *   contentBlockStart {start: {toolUse}, contentBlockIndex} → a tool call with its id and name
 *   contentBlockDelta {delta: {text} | {toolUse: {input}}}  → content / argument fragments
 *   contentBlockStop                              → nothing
 *   messageStop {stopReason}                      → the chunk with finish_reason
 *   metadata {usage, metrics}                     → usage (and the usage chunk at the end)
 *   …Exception {message}                          → an error event; the stream is not complete
 */
import { chunk, streamError, wantsUsage } from '../openai-chat-response';
import type { StreamTranslator, TranslatedUsage, TranslateContext, WireEvent } from '../types';
import { bedrockUsage, finishReason } from './response';

/** Exception events of ConverseStreamOutput and the OpenAI error type each becomes. */
const EXCEPTIONS: Record<string, string> = {
  internalServerException: 'api_error',
  modelStreamErrorException: 'api_error',
  serviceUnavailableException: 'api_error',
  throttlingException: 'rate_limit_error',
  validationException: 'invalid_request_error',
};

const obj = (v: unknown): Record<string, unknown> | null => (typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : null);

export function bedrockStream(ctx: TranslateContext): StreamTranslator {
  let usage: TranslatedUsage = bedrockUsage(undefined);
  let started = false;
  let stopped = false;
  let errorType: string | null = null;
  /** contentBlockIndex → the OpenAI tool call index of that block. */
  const toolIndex = new Map<number, number>();

  const delta = (d: Record<string, unknown>, finish: string | null = null) => chunk(ctx, [{ index: 0, delta: d, logprobs: null, finish_reason: finish }]);

  function push(event: WireEvent): WireEvent[] {
    if (errorType !== null) return [];
    const name = event.event ?? '';
    const out: WireEvent[] = [];
    const begin = () => {
      if (started) return;
      started = true;
      out.push(delta({ role: 'assistant', content: '' }));
    };
    // eslint-disable-next-line security/detect-object-injection -- lookup in a constant table; unknown names give undefined
    const exceptionType = Object.hasOwn(EXCEPTIONS, name) ? EXCEPTIONS[name] : name.endsWith('Exception') ? 'api_error' : undefined;
    if (exceptionType !== undefined) {
      errorType = name.slice(0, 64);
      const message = typeof event.data.message === 'string' ? event.data.message.slice(0, 500) : 'The upstream provider reported an error.';
      return [streamError(message, exceptionType)];
    }
    const index = typeof event.data.contentBlockIndex === 'number' ? event.data.contentBlockIndex : 0;
    switch (name) {
      case 'messageStart':
        begin();
        break;
      case 'contentBlockStart': {
        begin();
        const toolUse = obj(obj(event.data.start)?.toolUse);
        if (toolUse && typeof toolUse.toolUseId === 'string' && typeof toolUse.name === 'string') {
          const k = toolIndex.size;
          toolIndex.set(index, k);
          out.push(delta({ tool_calls: [{ index: k, id: toolUse.toolUseId, type: 'function', function: { name: toolUse.name, arguments: '' } }] }));
        }
        break;
      }
      case 'contentBlockDelta': {
        begin();
        const d = obj(event.data.delta);
        if (typeof d?.text === 'string' && d.text !== '') out.push(delta({ content: d.text }));
        const input = obj(d?.toolUse)?.input;
        const k = toolIndex.get(index);
        if (typeof input === 'string' && k !== undefined) out.push(delta({ tool_calls: [{ index: k, function: { arguments: input } }] }));
        break;
      }
      case 'messageStop':
        begin();
        if (!stopped) {
          stopped = true;
          out.push(delta({}, finishReason(typeof event.data.stopReason === 'string' ? event.data.stopReason : undefined)));
        }
        break;
      case 'metadata':
        usage = bedrockUsage(obj(event.data.usage) ?? undefined);
        break;
      default:
        // contentBlockStop and events this gateway does not know: nothing for the client.
        break;
    }
    return out;
  }

  const complete = () => errorType === null && stopped;
  return {
    push,
    end: () => (complete() && wantsUsage(ctx) ? [chunk(ctx, [], usage)] : []),
    usage: () => usage,
    outcome: () => ({ complete: complete(), upstreamErrorType: errorType }),
  };
}
