/**
 * A stream in another wire format than the client's: decode the upstream's framing into events,
 * translate them, and frame them again as SSE in the client's format. It is a `StreamTap`, so the
 * stream's lifecycle (timeouts, the client leaving, error events, the one audit event) is the same
 * code as for a pass-through stream (worker/stream.ts). Only translated streams are decoded: a
 * same-format stream passes through as its bytes.
 */
import { log } from '../../lib/log';
import { parseJsonObject, SseParser, type SseItem } from '../formats/sse';
import type { StreamTap } from '../formats/types';
import { awsEventStreamDecoder } from '../providers/bedrock/eventstream';
import type { ProviderAdapter } from '../providers/types';
import { doneEvent, isDone } from '../translate/support';
import type { StreamTranslator, WireEvent } from '../translate/types';
import type { ClientFormat } from './types';

/** Turns an upstream's framed bytes into events. */
export interface FrameDecoder {
  push(chunk: Uint8Array): WireEvent[];
  end(): WireEvent[];
}

/**
 * SSE framing: each event with JSON data becomes a WireEvent; OpenAI's `data: [DONE]` becomes
 * `doneEvent()` (decision 0019: a translator needs it to know the stream is complete). Other data
 * that is not a JSON object (keep-alives) carries nothing and is not passed on.
 */
export function sseDecoder(context: Record<string, unknown>): FrameDecoder {
  const parser = new SseParser(undefined, context);
  const events = (items: SseItem[]): WireEvent[] => {
    const out: WireEvent[] = [];
    for (const item of items) {
      // An event cut off by the end of the stream is discarded, as the SSE spec says (WHATWG §9.2.6).
      if (item.kind !== 'event' || !item.event.terminated || !item.event.hasData || item.event.data === null) continue;
      if (item.event.data.trim() === '[DONE]') {
        out.push(doneEvent());
        continue;
      }
      const data = parseJsonObject(item.event.data);
      if (data) out.push({ event: item.event.type, data });
    }
    return out;
  };
  return { push: (chunk) => events(parser.push(chunk)), end: () => events(parser.finish()) };
}

export function decoderFor(adapter: ProviderAdapter, context: Record<string, unknown>): FrameDecoder {
  return adapter.framing === 'sse' ? sseDecoder(context) : awsEventStreamDecoder(context);
}

const encoder = new TextEncoder();

/** An event as the client's format frames it: Anthropic names each event, OpenAI sends data only. */
function frame(event: WireEvent, client: ClientFormat): string {
  if (isDone(event)) return client === 'openai' ? 'data: [DONE]\n\n' : '';
  const data = JSON.stringify(event.data);
  return client === 'anthropic' && event.event ? `event: ${event.event}\ndata: ${data}\n\n` : `data: ${data}\n\n`;
}

export function createTranslatingTap(
  decoder: FrameDecoder,
  translator: StreamTranslator,
  client: ClientFormat,
  context: Record<string, unknown>,
): StreamTap {
  let doneSent = false;
  const encode = (events: WireEvent[]): string => {
    let text = '';
    for (const e of events) {
      if (isDone(e)) doneSent = true;
      text += frame(e, client);
    }
    return text;
  };
  const bytes = (text: string): Uint8Array[] => (text.length > 0 ? [encoder.encode(text)] : []);
  const translate = (events: WireEvent[]): WireEvent[] => {
    const out: WireEvent[] = [];
    for (const e of events) {
      try {
        out.push(...translator.push(e));
      } catch (err) {
        // A malformed upstream event must not end the client's stream with a gateway fault.
        log('warn', 'stream event could not be translated; skipped', { ...context, reason: err instanceof Error ? err.message : String(err) });
      }
    }
    return out;
  };
  return {
    push: (chunk) => bytes(encode(translate(decoder.push(chunk)))),
    finish: () => {
      let text = encode([...translate(decoder.end()), ...translator.end()]);
      // OpenAI streams end with the `[DONE]` line, which the openai SDK waits for; only a complete
      // stream gets it, so a cut-off one is never passed off as whole.
      if (client === 'openai' && !doneSent && translator.outcome().complete) text += 'data: [DONE]\n\n';
      return bytes(text);
    },
    fail: (errorEventBytes) => [errorEventBytes],
    usage: () => translator.usage(),
    outcome: () => translator.outcome(),
  };
}
