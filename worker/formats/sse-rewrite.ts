/**
 * Removing one top-level member from the JSON object an SSE event carries, on its bytes, touching
 * nothing else: the `event:`/`id:`/comment lines, the line endings, the other members' bytes (big
 * integers, escapes, invalid UTF-8) all stay as the provider sent them. Used by the OpenAI tap to
 * take out the `usage` member the gateway caused (issue 14, item 9).
 */

/* eslint-disable security/detect-object-injection -- every index in this file is a numeric offset into a byte array or a list of line offsets, never a property name. */

const LF = 0x0a;
const CR = 0x0d;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const COLON = 0x3a;

const isSpace = (c: number | undefined) => c === 0x20 || c === 0x09 || c === LF || c === CR;

interface Line {
  start: number;
  end: number; // end of content, before the terminator
}

function linesOf(bytes: Uint8Array): Line[] {
  const lines: Line[] = [];
  let start = 0;
  for (let i = 0; i < bytes.length; i++) {
    const c = bytes[i];
    if (c !== LF && c !== CR) continue;
    lines.push({ start, end: i });
    if (c === CR && bytes[i + 1] === LF) i++;
    start = i + 1;
  }
  if (start < bytes.length) lines.push({ start, end: bytes.length });
  return lines;
}

const DATA = [0x64, 0x61, 0x74, 0x61];

/** Where a `data` line's value starts, or -1 when the line is not a `data` field. */
function dataValueStart(bytes: Uint8Array, line: Line): number {
  for (let i = 0; i < 4; i++) if (bytes[line.start + i] !== DATA[i]) return -1;
  const after = line.start + 4;
  if (after === line.end) return after;
  if (bytes[after] !== COLON) return -1;
  return bytes[after + 1] === 0x20 ? after + 2 : after + 1;
}

/** The end of the JSON string starting at `i` (on its opening quote), just past the closing quote. */
function skipString(b: Uint8Array, i: number, end: number): number {
  for (i++; i < end; i++) {
    if (b[i] === BACKSLASH) i++;
    else if (b[i] === QUOTE) return i + 1;
  }
  return -1;
}

/** The end of the JSON value starting at `i`. */
function skipValue(b: Uint8Array, i: number, end: number): number {
  if (b[i] === QUOTE) return skipString(b, i, end);
  let depth = 0;
  for (; i < end; i++) {
    const c = b[i]!;
    if (c === QUOTE) {
      i = skipString(b, i, end) - 1;
      if (i < 0) return -1;
    } else if (c === 0x7b || c === 0x5b) depth++;
    else if (c === 0x7d || c === 0x5d) {
      if (depth === 0) return i;
      depth--;
      if (depth === 0) return i + 1;
    } else if (depth === 0 && (c === COMMA || isSpace(c))) return i;
  }
  return depth === 0 ? i : -1;
}

function keyEquals(b: Uint8Array, start: number, end: number, name: string): boolean {
  if (end - start !== name.length + 2) return false;
  for (let i = 0; i < name.length; i++) if (b[start + 1 + i] !== name.charCodeAt(i)) return false;
  return true;
}

/** The byte range to cut so that member `name` is gone from the object in b[from, to), or null. */
function memberCut(b: Uint8Array, from: number, to: number, name: string): [number, number] | null {
  let i = from;
  while (i < to && isSpace(b[i])) i++;
  if (b[i] !== 0x7b) return null;
  i++;
  let previousValueEnd = -1;
  for (;;) {
    while (i < to && isSpace(b[i])) i++;
    if (b[i] !== QUOTE) return null;
    const keyStart = i;
    const keyEnd = skipString(b, i, to);
    if (keyEnd < 0) return null;
    i = keyEnd;
    while (i < to && isSpace(b[i])) i++;
    if (b[i] !== COLON) return null;
    i++;
    while (i < to && isSpace(b[i])) i++;
    const valueEnd = skipValue(b, i, to);
    if (valueEnd < 0) return null;
    i = valueEnd;
    while (i < to && isSpace(b[i])) i++;
    const last = b[i] !== COMMA;
    if (last && b[i] !== 0x7d) return null;
    if (keyEquals(b, keyStart, keyEnd, name)) {
      if (!last) {
        // `"usage":…, "next"` → cut up to the next key.
        let next = i + 1;
        while (next < to && isSpace(b[next])) next++;
        return [keyStart, next];
      }
      // The last member: take the comma before it too (or it was the only one).
      return previousValueEnd < 0 ? [keyStart, valueEnd] : [previousValueEnd, valueEnd];
    }
    if (last) return null;
    previousValueEnd = valueEnd;
    i++;
  }
}

function joined(raw: readonly Uint8Array[]): Uint8Array {
  if (raw.length === 1) return raw[0]!;
  let total = 0;
  for (const p of raw) total += p.length;
  const bytes = new Uint8Array(total);
  let at = 0;
  for (const p of raw) {
    bytes.set(p, at);
    at += p.length;
  }
  return bytes;
}

/** Where `…,"name":null}` ends the object in b[from, to) (trailing spaces allowed): a top-level member. */
function nullTailCut(b: Uint8Array, from: number, to: number, name: string): [number, number] | null {
  let end = to;
  while (end > from && isSpace(b[end - 1])) end--;
  const tail = `,"${name}":null}`;
  const start = end - tail.length;
  if (start < from) return null;
  for (let i = 0; i < tail.length; i++) if (b[start + i] !== tail.charCodeAt(i)) return null;
  return [start, end - 1];
}

/**
 * The event's bytes without the top-level member `name` of the JSON in its one `data` line, or null
 * when that cannot be done textually (several data lines, or JSON this scanner does not follow).
 */
export function withoutMember(raw: readonly Uint8Array[], name: string): Uint8Array | null {
  const bytes = joined(raw);
  const total = bytes.length;
  let cut: [number, number] | null = null;
  let dataLines = 0;
  for (const line of linesOf(bytes)) {
    const valueStart = dataValueStart(bytes, line);
    if (valueStart < 0) continue;
    dataLines++;
    cut = nullTailCut(bytes, valueStart, line.end, name) ?? memberCut(bytes, valueStart, line.end, name);
  }
  if (dataLines !== 1 || !cut) return null;
  const out = new Uint8Array(total - (cut[1] - cut[0]));
  out.set(bytes.subarray(0, cut[0]), 0);
  out.set(bytes.subarray(cut[1]), cut[0]);
  return out;
}

/**
 * The fallback: the event's non-data lines as they were, and one `data:` line with `json` in place
 * of its data lines.
 */
export function withData(raw: readonly Uint8Array[], json: string): Uint8Array {
  const parts: Uint8Array[] = [];
  const bytes = joined(raw);
  const encoder = new TextEncoder();
  let wroteData = false;
  for (const line of linesOf(bytes)) {
    if (line.start === line.end) continue; // the empty line is written once, at the end
    if (dataValueStart(bytes, line) >= 0) {
      if (!wroteData) parts.push(encoder.encode(`data: ${json}\n`));
      wroteData = true;
    } else {
      parts.push(bytes.subarray(line.start, line.end), new Uint8Array([LF]));
    }
  }
  parts.push(new Uint8Array([LF]));
  let length = 0;
  for (const p of parts) length += p.length;
  const out = new Uint8Array(length);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}
