/**
 * The upstream body of a same-format call as the client's own bytes with the model name swapped,
 * instead of serialising the parsed body again (issue 13): the rest of the request — messages,
 * tools, whatever fields the gateway does not act on — goes on exactly as sent.
 *
 * Only when it is certain. The text must spell the key `model` exactly once, as `"model"` (no `\u`
 * escape anywhere, so no other spelling of the key can exist), with the parsed value written as
 * JSON.stringify writes it. A `"model"` inside a string is always preceded by a backslash (`\"`),
 * so it is not counted; a nested object with its own `model` key makes two, and the caller falls
 * back to serialising. With one key there is no duplicate a provider's parser could read differently
 * from the gateway's (first-wins parsers included): the model the policy allowed is the one sent.
 */

const KEY = '"model"';

function skipSpace(text: string, i: number): number {
  while (i < text.length) {
    const c = text.charCodeAt(i);
    if (c !== 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0d) break;
    i++;
  }
  return i;
}

/** `text` with the value of its one top-level `model` member replaced, or null when not certain. */
export function withModel(text: string, current: string, next: string): string | null {
  if (text.includes('\\u')) return null;
  let valueAt = -1;
  for (let i = text.indexOf(KEY); i !== -1; i = text.indexOf(KEY, i + KEY.length)) {
    if (i > 0 && text.charCodeAt(i - 1) === 0x5c) continue; // \"model\" inside a string
    const colon = skipSpace(text, i + KEY.length);
    if (text.charCodeAt(colon) !== 0x3a) continue; // "model" as a value, e.g. a role
    if (valueAt !== -1) return null; // a second key named model
    valueAt = skipSpace(text, colon + 1);
  }
  if (valueAt === -1) return null;
  const written = JSON.stringify(current);
  if (!text.startsWith(written, valueAt)) return null;
  return text.slice(0, valueAt) + JSON.stringify(next) + text.slice(valueAt + written.length);
}

/**
 * `text` (a JSON object) with `"stream_options":{"include_usage":true}` as its first member, when
 * the client sent no `stream_options` at all (any spelling of it: null when unsure).
 */
export function withIncludeUsage(text: string): string | null {
  if (text.includes('"stream_options"') || text.includes('\\u')) return null;
  const open = skipSpace(text, 0);
  if (text.charCodeAt(open) !== 0x7b) return null;
  const first = skipSpace(text, open + 1);
  if (text.charCodeAt(first) === 0x7d) return null; // an empty object: no member to put a comma before
  return `${text.slice(0, open + 1)}"stream_options":{"include_usage":true},${text.slice(open + 1)}`;
}
