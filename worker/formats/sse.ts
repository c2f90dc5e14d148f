/**
 * Incremental Server-Sent Events parsing (WHATWG HTML §9.2.6 "Interpreting an event stream").
 *
 * The stream is read line by line: a line ends in CRLF, LF or CR, and an empty line ends an event.
 * Each byte is looked at once (`indexOf` from where the last line ended, never a rescan of what is
 * held), so the cost is linear in the stream's size whatever its framing — one 30 MB event costs
 * the same per byte as many small ones.
 *
 * The parser works on bytes, not text: every event comes with its original bytes, so a tap can
 * forward an untouched event exactly as received (invalid UTF-8, odd spacing, comments and all).
 * Only the `data` and `event` field values are decoded, for the taps to read. An event larger than
 * `maxEventBytes` is not held: its bytes are handed on as they come and its data is not read.
 */
import { log } from '../../lib/log';

/** Above this size an event is passed through unread (no usage from it); see issue 14, item 4. */
export const MAX_EVENT_BYTES = 1024 * 1024;

const LF = 0x0a;
const CR = 0x0d;
const COLON = 0x3a;
const SPACE = 0x20;

export interface SseEvent {
  /** The event's original bytes, in order, including its terminating empty line. */
  raw: Uint8Array[];
  /** The `event:` field, or null (the spec's default type "message"). */
  type: string | null;
  /** The `data:` lines joined with LF; null when the event was too large to read. */
  data: string | null;
  /** Whether at least one `data` field was seen (an event without one is never dispatched). */
  hasData: boolean;
  /** False for an event cut off by the end of the stream (the spec discards those). */
  terminated: boolean;
  /** True when the event passed `maxEventBytes`: its bytes went out as `bytes` items. */
  oversized: boolean;
}

/**
 * What `push` found, in stream order: complete events, and loose bytes. Loose bytes are either
 * part of an oversized event still in progress (`of: 'current'`) or the LF of a CRLF whose CR
 * ended the previous chunk and, with it, the previous event (`of: 'previous'`): a tap forwards
 * those only if it forwarded that event.
 */
export type SseItem = { kind: 'event'; event: SseEvent } | { kind: 'bytes'; bytes: Uint8Array; of: 'current' | 'previous' };

const textDecoder = new TextDecoder();
const FIELD_DATA = [0x64, 0x61, 0x74, 0x61];
const FIELD_EVENT = [0x65, 0x76, 0x65, 0x6e, 0x74];

function fieldIs(line: Uint8Array, end: number, name: readonly number[]): boolean {
  if (end !== name.length) return false;
  // eslint-disable-next-line security/detect-object-injection -- numeric offsets into byte arrays
  for (let i = 0; i < end; i++) if (line[i] !== name[i]) return false;
  return true;
}

function concat(parts: readonly Uint8Array[], length: number): Uint8Array {
  if (parts.length === 1) return parts[0]!;
  const out = new Uint8Array(length);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

export class SseParser {
  // The line being read (without its terminator), as views of the chunks it came in.
  private lineParts: Uint8Array[] = [];
  private lineLength = 0;
  // The event being read.
  private raw: Uint8Array[] = [];
  private rawLength = 0;
  private type: string | null = null;
  private data: string[] = [];
  private hasData = false;
  private oversized = false;
  /** The previous chunk ended in CR: an LF at the start of the next one belongs to that line end. */
  private afterCr = false;
  /** ...and that CR ended an event (so the LF belongs to the event already handed out). */
  private afterCrEndedEvent = false;
  private firstLine = true;

  constructor(
    private readonly maxEventBytes = MAX_EVENT_BYTES,
    private readonly context: Record<string, unknown> = {},
  ) {}

  push(chunk: Uint8Array): SseItem[] {
    const out: SseItem[] = [];
    const n = chunk.length;
    let start = 0; // first byte of `chunk` not yet held or handed out
    if (this.afterCr && n > 0 && chunk[0] === LF) {
      if (this.afterCrEndedEvent) out.push({ kind: 'bytes', bytes: chunk.subarray(0, 1), of: 'previous' });
      else this.hold(chunk.subarray(0, 1), out);
      start = 1;
    }
    if (n > 0) this.afterCr = false;
    let lineStart = start;
    let nextLf = chunk.indexOf(LF, lineStart);
    let nextCr = chunk.indexOf(CR, lineStart);
    while (nextLf !== -1 || nextCr !== -1) {
      let end: number;
      let next: number;
      if (nextCr !== -1 && (nextLf === -1 || nextCr < nextLf)) {
        end = nextCr;
        if (end + 1 < n) next = chunk[end + 1] === LF ? end + 2 : end + 1;
        else {
          next = n;
          this.afterCr = true; // a CRLF may be split across chunks
        }
      } else {
        end = nextLf;
        next = end + 1;
      }
      if (!this.oversized) this.addToLine(chunk.subarray(lineStart, end));
      else this.lineLength += end - lineStart;
      this.hold(chunk.subarray(start, next), out);
      start = next;
      const ended = this.endLine();
      if (ended) out.push({ kind: 'event', event: this.takeEvent(true) });
      if (this.afterCr) this.afterCrEndedEvent = ended;
      lineStart = next;
      if (nextLf !== -1 && nextLf < next) nextLf = chunk.indexOf(LF, next);
      if (nextCr !== -1 && nextCr < next) nextCr = chunk.indexOf(CR, next);
    }
    if (lineStart < n) {
      if (!this.oversized) this.addToLine(chunk.subarray(lineStart));
      else this.lineLength += n - lineStart;
    }
    if (start < n) this.hold(chunk.subarray(start), out);
    return out;
  }

  /** The end of the stream: an unterminated last event comes out with `terminated: false`. */
  finish(): SseItem[] {
    const out: SseItem[] = [];
    if (this.lineLength > 0) this.endLine();
    if (this.rawLength > 0 || this.oversized) out.push({ kind: 'event', event: this.takeEvent(false) });
    return out;
  }

  /** Whether bytes of an unfinished event were already handed out (an oversized event). */
  get midOversizedEvent(): boolean {
    return this.oversized;
  }

  /** Whether an event has begun and not ended. */
  get midEvent(): boolean {
    return this.oversized || this.rawLength > 0 || this.lineLength > 0;
  }

  private addToLine(part: Uint8Array): void {
    if (part.length === 0) return;
    this.lineParts.push(part);
    this.lineLength += part.length;
  }

  /** Keeps bytes of the current event, or hands them out once the event is too large to keep. */
  private hold(bytes: Uint8Array, out: SseItem[]): void {
    if (bytes.length === 0) return;
    if (this.oversized) {
      out.push({ kind: 'bytes', bytes, of: 'current' });
      return;
    }
    this.raw.push(bytes);
    this.rawLength += bytes.length;
    if (this.rawLength > this.maxEventBytes) {
      this.oversized = true;
      log('warn', 'SSE event larger than the usage-reading cap: passed through unread', {
        ...this.context,
        cap_bytes: this.maxEventBytes,
      });
      for (const held of this.raw) out.push({ kind: 'bytes', bytes: held, of: 'current' });
      this.raw = [];
      this.rawLength = 0;
      this.lineParts = [];
      this.data = [];
    }
  }

  /** Interprets the completed line; returns true when it was the empty line that ends an event. */
  private endLine(): boolean {
    const length = this.lineLength;
    const parts = this.lineParts;
    this.lineParts = [];
    this.lineLength = 0;
    if (length === 0) return true;
    const first = this.firstLine;
    this.firstLine = false;
    if (this.oversized) return false;
    let line = concat(parts, length);
    // §9.2.6: one leading U+FEFF BOM of the stream is ignored.
    if (first && line[0] === 0xef && line[1] === 0xbb && line[2] === 0xbf) line = line.subarray(3);
    if (line.length === 0 || line[0] === COLON) return false; // a comment
    let colon = line.indexOf(COLON);
    if (colon === -1) colon = line.length;
    let valueStart = colon + 1;
    // eslint-disable-next-line security/detect-object-injection -- numeric offsets into byte arrays
    if (line[valueStart] === SPACE) valueStart++;
    const value = () => (valueStart >= line.length ? '' : textDecoder.decode(line.subarray(valueStart)));
    if (fieldIs(line, colon, FIELD_DATA)) {
      this.data.push(value());
      this.hasData = true;
    } else if (fieldIs(line, colon, FIELD_EVENT)) {
      this.type = value();
    }
    // `id` and `retry` do not matter to a tap; unknown fields are ignored, as the spec says.
    return false;
  }

  private takeEvent(terminated: boolean): SseEvent {
    const event: SseEvent = {
      raw: this.raw,
      type: this.type,
      data: this.oversized ? null : this.data.join('\n'),
      hasData: this.hasData,
      terminated,
      oversized: this.oversized,
    };
    this.raw = [];
    this.rawLength = 0;
    this.type = null;
    this.data = [];
    this.hasData = false;
    this.oversized = false;
    return event;
  }
}

/** RFC 9110 §8.3.1: media type names are case-insensitive; parameters (charset) may follow. */
export function isEventStream(contentType: string | null): boolean {
  return (contentType ?? '').split(';', 1)[0]!.trim().toLowerCase() === 'text/event-stream';
}

/** Parses an event's data as a JSON object; null for anything else. JSON.parse skips leading spaces. */
export function parseJsonObject(text: string): Record<string, unknown> | null {
  try {
    const v: unknown = JSON.parse(text);
    return v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

/** Whether `data` (after optional whitespace) starts a JSON object: cheaper than parsing to find out. */
export function looksLikeObject(data: string): boolean {
  for (let i = 0; i < data.length; i++) {
    const c = data.charCodeAt(i);
    if (c === 0x7b) return true;
    if (c !== 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0d) return false;
  }
  return false;
}

/**
 * A token count as reported by a provider, or null when it is not a count that can be trusted: not
 * a number, negative, fractional, or beyond 2^53 − 1 where doubles stop counting exactly (issue 14,
 * item 2: an out-of-range count must never reach an event).
 */
export function asCount(v: unknown): number | null {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0 ? v : null;
}

/** A provider's error type as a short identifier, safe to store (no control characters, bounded). */
export function errorTypeLabel(v: unknown): string {
  return typeof v === 'string' && /^[A-Za-z0-9_.-]{1,64}$/.test(v) ? v : 'unknown';
}
