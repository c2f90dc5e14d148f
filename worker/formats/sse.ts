/**
 * Incremental Server-Sent Events framing (WHATWG HTML §9.2.6): events end at a blank line; lines
 * end in CRLF, LF or CR. Only framing is done here; what an event means belongs to each format.
 */

export interface SseEvent {
  /** The raw text of the event including its terminating blank line, exactly as received. */
  raw: string;
  event: string | null;
  data: string;
}

const BOUNDARY = /\r\n\r\n|\n\n|\r\r/;

export class SseFramer {
  private buffer = '';
  private readonly decoder = new TextDecoder();

  /** Feeds bytes; returns every event completed by them. */
  push(chunk: Uint8Array): SseEvent[] {
    this.buffer += this.decoder.decode(chunk, { stream: true });
    return this.drain();
  }

  /** Whatever is left when the stream ends (an unterminated last event, if any). */
  finish(): { events: SseEvent[]; rest: string } {
    this.buffer += this.decoder.decode();
    const events = this.drain();
    const rest = this.buffer;
    this.buffer = '';
    if (rest.trim()) events.push(parseEvent(rest, rest));
    return { events, rest };
  }

  private drain(): SseEvent[] {
    const events: SseEvent[] = [];
    for (;;) {
      const m = BOUNDARY.exec(this.buffer);
      if (!m) break;
      const end = m.index + m[0].length;
      const raw = this.buffer.slice(0, end);
      this.buffer = this.buffer.slice(end);
      events.push(parseEvent(raw, raw.slice(0, m.index)));
    }
    return events;
  }
}

function parseEvent(raw: string, body: string): SseEvent {
  let event: string | null = null;
  const data: string[] = [];
  for (const line of body.split(/\r\n|\n|\r/)) {
    if (line.startsWith(':')) continue;
    const colon = line.indexOf(':');
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'event') event = value;
    else if (field === 'data') data.push(value);
  }
  return { raw, event, data: data.join('\n') };
}

export function parseJsonObject(text: string): Record<string, unknown> | null {
  try {
    const v: unknown = JSON.parse(text);
    return v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

export function asCount(v: unknown): number | null {
  return typeof v === 'number' && Number.isFinite(v) && v >= 0 ? Math.floor(v) : null;
}
