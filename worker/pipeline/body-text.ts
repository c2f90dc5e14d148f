/**
 * The upstream body of a same-format call as the client's own bytes with the model name swapped,
 * instead of serialising the parsed body again (issue 13): the rest of the request — messages,
 * tools, whatever fields the gateway does not act on — goes on exactly as sent.
 *
 * Only when the provider cannot read those bytes differently from the gateway. JSON.parse keeps
 * the last of duplicate keys, some parsers keep the first: with `{"messages":[<400 KB>],…,
 * "messages":[…"hi"]}` the gateway would meter "hi" and the provider answer the 400 KB (found by
 * the issue 13 review). Re-serialising the parsed body removed every duplicate; here, the bytes
 * go on only when they hold none:
 *   - no `\u` escape anywhere (the only other way to spell a key, and lone surrogates),
 *   - no `__proto__` key (JSON.parse makes it an own member, other parsers may not),
 *   - every key's closing quote directly followed by `:` (no `"key" :`), so counting `":` counts
 *     the keys the text holds — a `"` inside a string is escaped (an odd run of backslashes) — and
 *     that count equals the keys JSON.parse produced, object by object summed: no key twice;
 *   - `model` a key exactly once, its value written as JSON.stringify writes it.
 * Anything else — a nested `model`, a space before a colon, an escaped character — returns null,
 * and the caller serialises the parsed body as before.
 */

/** The keys JSON.parse produced, over every object in the value. */
function keyCount(value: unknown): number {
  if (value === null || typeof value !== 'object') return 0;
  let n = 0;
  if (Array.isArray(value)) {
    for (const v of value) n += keyCount(v);
    return n;
  }
  const record = value as Record<string, unknown>;
  for (const k in record) {
    // eslint-disable-next-line security/detect-object-injection -- k is an own key of the parsed body being counted
    if (Object.hasOwn(record, k)) n += 1 + keyCount(record[k]);
  }
  return n;
}

/** Whether the `"` at `i` closes or opens a token: not escaped by an odd run of backslashes. */
function unescapedQuote(text: string, i: number): boolean {
  let slashes = 0;
  for (let j = i - 1; j >= 0 && text.charCodeAt(j) === 0x5c; j--) slashes++;
  return slashes % 2 === 0;
}

/** The keys the text spells (each `"` that ends a key is directly followed by `:`), and where `"model":` is. */
function textKeys(text: string): { count: number; modelAt: number[] } {
  let count = 0;
  const modelAt: number[] = [];
  for (let i = text.indexOf('":'); i !== -1; i = text.indexOf('":', i + 2)) {
    if (!unescapedQuote(text, i)) continue;
    count++;
    if (i >= 6 && text.startsWith('"model', i - 6) && unescapedQuote(text, i - 6)) modelAt.push(i + 2);
  }
  return { count, modelAt };
}

/**
 * `text` with the value of its one `model` member replaced, or null when that is not certain to
 * be read the same by every JSON parser. `json` is what JSON.parse made of `text`.
 */
export function withModel(text: string, json: unknown, current: string, next: string): string | null {
  if (text.includes('\\u') || text.includes('"__proto__"') || /"[ \t\r\n]+:/.test(text)) return null;
  const keys = textKeys(text);
  if (keys.modelAt.length !== 1 || keys.count !== keyCount(json)) return null;
  let valueAt = keys.modelAt[0]!;
  while (' \t\r\n'.includes(text.charAt(valueAt)) && valueAt < text.length) valueAt++;
  const written = JSON.stringify(current);
  if (!text.startsWith(written, valueAt)) return null;
  return text.slice(0, valueAt) + JSON.stringify(next) + text.slice(valueAt + written.length);
}

/**
 * `text` (a JSON object that passed `withModel`) with `"stream_options":{"include_usage":true}` as
 * its first member, when the client sent no `stream_options` at all; null otherwise.
 */
export function withIncludeUsage(text: string): string | null {
  if (text.includes('"stream_options"')) return null;
  const open = text.indexOf('{');
  if (open === -1 || text.slice(0, open).trim() !== '') return null;
  if (text.slice(open + 1).trimStart().startsWith('}')) return null; // an empty object: no member to put a comma before
  return `${text.slice(0, open + 1)}"stream_options":{"include_usage":true},${text.slice(open + 1)}`;
}
