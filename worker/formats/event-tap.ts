/**
 * The part every stream tap shares: frame the SSE stream (sse.ts), let the format read each event,
 * and forward each event's original bytes unless the format rewrote or dropped it. Output pieces
 * that are adjacent views of the same upstream chunk are merged, so a chunk of whole events goes
 * out as the very bytes that came in.
 */
import type { Usage } from '../../lib/audit/event';
import { SseParser, type SseEvent } from './sse';
import type { StreamOutcome, StreamTap } from './types';

/** What to send for one event: its original bytes, nothing, or replacement bytes. */
export type EventVerdict = 'keep' | 'drop' | Uint8Array;

export interface EventReader {
  /** Reads one event (its data is null when it was too large to read) and decides what goes on. */
  read(event: SseEvent): EventVerdict;
  usage(): Usage;
  outcome(): StreamOutcome;
}

const EVENT_END = new Uint8Array([0x0a, 0x0a]);

class Output {
  private readonly parts: Uint8Array[] = [];

  /** What to send: one buffer, so a client gets one write per pull, not one per upstream fragment. */
  take(): Uint8Array[] {
    if (this.parts.length <= 1) return this.parts;
    let length = 0;
    for (const p of this.parts) length += p.length;
    const out = new Uint8Array(length);
    let at = 0;
    for (const p of this.parts) {
      out.set(p, at);
      at += p.length;
    }
    return [out];
  }

  add(bytes: Uint8Array): void {
    if (bytes.length === 0) return;
    const last = this.parts.at(-1);
    if (last && last.buffer === bytes.buffer && last.byteOffset + last.length === bytes.byteOffset) {
      this.parts[this.parts.length - 1] = new Uint8Array(last.buffer, last.byteOffset, last.length + bytes.length);
    } else {
      this.parts.push(bytes);
    }
  }
}

/**
 * `rewrites`: the reader may drop or replace events, so each event is held until complete and
 * then sent as one piece. Otherwise every chunk goes on the moment it arrives, as received (DESIGN
 * §4.7), and the events are only read.
 */
export function createEventTap(reader: EventReader, opts: { rewrites: boolean; context?: Record<string, unknown> }): StreamTap {
  const parser = new SseParser(undefined, opts.context ?? {});
  let previousForwarded = true;

  const emit = (items: ReturnType<SseParser['push']>): Uint8Array[] => {
    const out = new Output();
    for (const item of items) {
      if (item.kind === 'bytes') {
        if (item.of === 'current' || previousForwarded) out.add(item.bytes);
        continue;
      }
      const ev = item.event;
      const verdict = reader.read(ev);
      previousForwarded = verdict !== 'drop';
      if (verdict === 'keep') for (const part of ev.raw) out.add(part);
      else if (verdict !== 'drop') out.add(verdict);
    }
    return out.take();
  };

  const read = (items: ReturnType<SseParser['push']>): void => {
    for (const item of items) if (item.kind === 'event') reader.read(item.event);
  };

  return {
    push(chunk) {
      if (opts.rewrites) return emit(parser.push(chunk));
      read(parser.push(chunk));
      return [chunk];
    },
    finish() {
      if (opts.rewrites) return emit(parser.finish());
      read(parser.finish());
      return [];
    },
    fail(errorEventBytes) {
      const out = new Output();
      // Bytes of an unfinished event already went out (always so without rewriting; an oversized
      // one with it): end that event first, so the error is not read as part of it. The client
      // sees a cut-off event, then the error.
      if (opts.rewrites ? parser.midOversizedEvent : parser.midEvent) out.add(EVENT_END);
      out.add(errorEventBytes);
      return out.take();
    },
    usage: () => reader.usage(),
    outcome: () => reader.outcome(),
  };
}
