/**
 * AWS event-stream framing (the `application/vnd.amazon.eventstream` body of ConverseStream),
 * decoded into the translators' `WireEvent`s. A message is
 *
 *   prelude: total length (uint32 BE) · headers length (uint32 BE) · prelude CRC32
 *   headers: name length (uint8) · name · value type (uint8) · value …
 *   payload · message CRC32 (of everything before it)
 *
 * The codec is Smithy's (`@smithy/eventstream-codec`, what the AWS SDK itself uses): it checks both
 * CRCs and parses the typed headers. This file only cuts the byte stream into whole messages
 * (they arrive split across and packed into network chunks) and reads three headers:
 *   `:message-type` event     → { event: `:event-type`, data: JSON payload }
 *   `:message-type` exception → { event: `:exception-type` (e.g. throttlingException), data: {message} }
 *   `:message-type` error     → { event: `:error-code`, data: { message: `:error-message` } }
 * A message that fails its CRC or is not JSON ends the decoding with a synthetic
 * `eventStreamFramingException`, which the translator reports as a stream error.
 */
import { EventStreamCodec } from '@smithy/eventstream-codec';
import { log } from '../../../lib/log';
import type { WireEvent } from '../../translate/types';

/** The pipeline's frame decoder (worker/pipeline/translated-stream.ts `FrameDecoder`). */
export interface EventStreamDecoder {
  push(chunk: Uint8Array): WireEvent[];
  end(): WireEvent[];
}

/** The largest message AWS sends is 16 MiB (payload plus headers); a larger prelude is corrupt. */
const MAX_MESSAGE_BYTES = 16 * 1024 * 1024 + 128 * 1024 + 16;
const MIN_MESSAGE_BYTES = 16;

export const FRAMING_ERROR_EVENT = 'eventStreamFramingException';

const utf8Encoder = new TextEncoder();
const utf8Decoder = new TextDecoder();
// The codec takes the UTF-8 conversions as functions; the platform's are used (no Buffer polyfill).
export const eventStreamCodec = new EventStreamCodec(
  (bytes: Uint8Array) => utf8Decoder.decode(bytes),
  (text: string) => utf8Encoder.encode(text),
);

type HeaderValue = { type: string; value: unknown };

function header(headers: Record<string, HeaderValue>, name: string): string | null {
  const h = Object.hasOwn(headers, name) ? headers[name] : undefined; // eslint-disable-line security/detect-object-injection -- own-property read of a fixed header name
  return h && h.type === 'string' && typeof h.value === 'string' ? h.value : null;
}

function payload(body: Uint8Array): Record<string, unknown> {
  if (body.byteLength === 0) return {};
  const v: unknown = JSON.parse(utf8Decoder.decode(body));
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Error('payload is not a JSON object');
  return v as Record<string, unknown>;
}

/** One decoded message as a WireEvent; null for a message this gateway does not act on. */
function toWireEvent(message: { headers: Record<string, HeaderValue>; body: Uint8Array }): WireEvent | null {
  const type = header(message.headers, ':message-type');
  if (type === 'event') {
    const name = header(message.headers, ':event-type');
    return name ? { event: name, data: payload(message.body) } : null;
  }
  if (type === 'exception') {
    const name = header(message.headers, ':exception-type') ?? 'unknownException';
    const data = payload(message.body);
    return { event: name.endsWith('Exception') ? name : `${name}Exception`, data };
  }
  if (type === 'error') {
    const code = header(message.headers, ':error-code') ?? 'unknownError';
    return { event: code.endsWith('Exception') ? code : `${code}Exception`, data: { message: header(message.headers, ':error-message') ?? code } };
  }
  return null;
}

export function awsEventStreamDecoder(context: Record<string, unknown> = {}): EventStreamDecoder {
  let held: Uint8Array = new Uint8Array(0);
  let broken = false;

  const fail = (reason: string): WireEvent[] => {
    broken = true;
    held = new Uint8Array(0);
    log('warn', 'AWS event-stream could not be decoded', { ...context, reason });
    return [{ event: FRAMING_ERROR_EVENT, data: { message: 'The upstream stream could not be decoded.' } }];
  };

  return {
    push(chunk) {
      if (broken) return [];
      if (held.byteLength === 0) held = chunk;
      else {
        const joined = new Uint8Array(held.byteLength + chunk.byteLength);
        joined.set(held, 0);
        joined.set(chunk, held.byteLength);
        held = joined;
      }
      const out: WireEvent[] = [];
      let offset = 0;
      while (held.byteLength - offset >= 4) {
        const total = new DataView(held.buffer, held.byteOffset + offset, 4).getUint32(0, false);
        if (total < MIN_MESSAGE_BYTES || total > MAX_MESSAGE_BYTES) return [...out, ...fail(`message length ${total}`)];
        if (held.byteLength - offset < total) break;
        try {
          const ev = toWireEvent(eventStreamCodec.decode(held.subarray(offset, offset + total)) as { headers: Record<string, HeaderValue>; body: Uint8Array });
          if (ev) out.push(ev);
        } catch (e) {
          return [...out, ...fail(e instanceof Error ? e.message : String(e))];
        }
        offset += total;
      }
      // Keep only the unfinished message (a copy, so the consumed chunk can be collected).
      held = offset === 0 ? held : held.slice(offset);
      return out;
    },
    // A message cut off by the end of the stream is dropped: the translator sees no messageStop
    // and reports the stream incomplete.
    end: () => [],
  };
}
