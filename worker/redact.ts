/**
 * Removing provider-key fragments from what an upstream says before the client sees it.
 *
 * Upstreams echo keys in many shapes: whole, lower-cased, masked as "first 14 + … + last 4" (OpenAI
 * does this in its 401 message), base64 or hex encoded, spaced or dashed out one character at a
 * time. The rule here: any run of at least MIN_FRAGMENT letters and digits that also occurs, in
 * order, in the key (ignoring case and the separators between characters) is redacted, and so is a
 * run that occurs in the key's base64, base64url or hex encoding (at every byte alignment, so a
 * substring of the key encoded alone is caught too). Masked forms are redacted when their visible
 * head is a prefix of the key or their visible tail a suffix of it.
 */
/* eslint-disable security/detect-object-injection -- indexes here are loop counters into strings and arrays, never property names. */

/** Shortest run of key characters treated as a fragment; shorter runs carry under 48 bits. */
export const MIN_FRAGMENT = 8;
/** Upstream text longer than this is cut before redaction: error messages are short. */
const MAX_SCANNED = 8_000;
const REDACTED = '[redacted]';

/**
 * Anything key-shaped, whoever's key it is: `sk-…`, `key_…`, `api-key-…`, a Google API key
 * (`AIza` + 35) and an AWS access key id (`AKIA`/`ASIA` + 16).
 */
const KEY_LIKE = /\b(?:sk|rk|pk|key|api[-_]?key)[-_][A-Za-z0-9*._-]{4,}/gi;
const PROVIDER_KEY_LIKE = /\bAIza[0-9A-Za-z_-]{35}|\b(?:AKIA|ASIA)[A-Z0-9]{16}\b/g;
/** "sk-abc…wxyz", "sk-proj-****wxyz": a visible head, a mask, a visible tail. */
const MASKED = /([A-Za-z0-9_-]*)(?:\.{2,}|…|\*{2,})([A-Za-z0-9_-]{0,12})/g;

/** The letters and digits of `text`, lower-cased, with where each came from. */
function project(text: string): { chars: string; from: number[] } {
  let chars = '';
  const from: number[] = [];
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (/[A-Za-z0-9]/.test(ch)) {
      chars += ch.toLowerCase();
      from.push(i);
    }
  }
  return { chars, from };
}

function encodings(secret: string): string[] {
  const bytes = new TextEncoder().encode(secret);
  const out: string[] = [];
  for (let shift = 0; shift < 3 && shift < bytes.length; shift++) {
    let s = '';
    for (const b of bytes.subarray(shift)) s += String.fromCharCode(b);
    out.push(btoa(s)); // base64url differs only in "+/" → "-_", which projection drops
  }
  out.push([...bytes].map((b) => b.toString(16).padStart(2, '0')).join(''));
  return out;
}

/** Original-text ranges [start, end) whose projection is a run of ≥ MIN_FRAGMENT chars of `needle`. */
function fragmentRanges(text: { chars: string; from: number[] }, needle: string): Array<[number, number]> {
  const grams = new Set<string>();
  for (let i = 0; i + MIN_FRAGMENT <= needle.length; i++) grams.add(needle.slice(i, i + MIN_FRAGMENT));
  const ranges: Array<[number, number]> = [];
  let i = 0;
  while (i + MIN_FRAGMENT <= text.chars.length) {
    if (!grams.has(text.chars.slice(i, i + MIN_FRAGMENT))) {
      i++;
      continue;
    }
    let end = i + MIN_FRAGMENT;
    while (end < text.chars.length && needle.includes(text.chars.slice(i, end + 1))) end++;
    ranges.push([text.from[i]!, text.from[end - 1]! + 1]);
    i = end;
  }
  return ranges;
}

function applyRanges(text: string, ranges: Array<[number, number]>): string {
  if (ranges.length === 0) return text;
  ranges.sort((a, b) => a[0] - b[0]);
  let out = '';
  let at = 0;
  for (const [start, end] of ranges) {
    if (end <= at) continue;
    out += text.slice(at, Math.max(at, start)) + REDACTED;
    at = end;
  }
  return out + text.slice(at);
}

/** Removes key fragments (of `secret`, and anything key-shaped) from upstream text. */
export function redactSecret(input: string, secret: string | null): string {
  let text = input.length > MAX_SCANNED ? input.slice(0, MAX_SCANNED) : input;
  if (secret) {
    const key = project(secret).chars;
    const projected = project(text);
    const ranges = [key, ...encodings(secret).map((e) => project(e).chars)].flatMap((needle) =>
      needle.length >= MIN_FRAGMENT ? fragmentRanges(projected, needle) : [],
    );
    text = applyRanges(text, ranges);
    text = text.replace(MASKED, (whole, head: string, tail: string) => {
      const h = project(head).chars;
      const t = project(tail).chars;
      const headIsKey = h.length >= 3 && key.startsWith(h);
      const tailIsKey = t.length >= 3 && key.endsWith(t);
      return headIsKey || tailIsKey ? REDACTED : whole;
    });
  }
  return text.replace(KEY_LIKE, REDACTED).replace(PROVIDER_KEY_LIKE, REDACTED);
}

/** Upstream request ids worth passing on: a short token of safe characters. */
const SAFE_REQUEST_ID = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,99}$/;

/** The upstream's request id for `x-upstream-request-id`, or null when it is not a safe token. */
export function safeUpstreamRequestId(headers: Headers, secret: string | null): string | null {
  const id = headers.get('x-request-id') ?? headers.get('request-id');
  if (!id || !SAFE_REQUEST_ID.test(id)) return null;
  return redactSecret(id, secret) === id ? id : null;
}
