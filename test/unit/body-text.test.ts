/**
 * The untranslated upstream body as the client's bytes with the model swapped (issue 13): whatever
 * the client sent, the provider must read the same request the gateway validated and authorized —
 * or the gateway serialises the parsed body as before (null).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { withIncludeUsage, withModel as swap } from '../../worker/pipeline/body-text';

/** As the pipeline calls it: with what JSON.parse made of the text. */
const withModel = (text: string, current: string, next: string) => swap(text, JSON.parse(text), current, next);

/**
 * What a parser that keeps the FIRST of duplicate keys reads (some Go and C++ JSON readers do):
 * the fast path must only ever send bytes this reads exactly as JSON.parse does.
 */
function parseFirstWins(text: string): unknown {
  let i = 0;
  const ws = () => {
    while (' \t\r\n'.includes(text[i] ?? 'x')) i++;
  };
  const value = (): unknown => {
    ws();
    const c = text[i];
    if (c === '{') {
      i++;
      const out: Record<string, unknown> = {};
      ws();
      if (text[i] === '}') return i++, out;
      for (;;) {
        ws();
        const k = value() as string;
        ws();
        i++; // :
        const v = value();
        if (!Object.hasOwn(out, k)) Object.defineProperty(out, k, { value: v, enumerable: true, writable: true, configurable: true });
        ws();
        if (text[i++] === '}') return out;
      }
    }
    if (c === '[') {
      i++;
      const out: unknown[] = [];
      ws();
      if (text[i] === ']') return i++, out;
      for (;;) {
        out.push(value());
        ws();
        if (text[i++] === ']') return out;
      }
    }
    // A scalar: a string to its closing quote, anything else to the next delimiter.
    const from = i;
    if (c === '"') {
      i++;
      while (text[i] !== '"') i += text[i] === '\\' ? 2 : 1;
      i++;
    } else {
      while (i < text.length && !',}] \t\r\n'.includes(text[i]!)) i++;
    }
    return JSON.parse(text.slice(from, i));
  };
  return value();
}

describe('withModel', () => {
  it('swaps only the model value and keeps every other byte', () => {
    const text = '{ "model":  "openai/gpt-4o-mini", "messages":[{"role":"user","content":"say \\"model\\": no"}],"temperature":0.5000}';
    const out = withModel(text, 'openai/gpt-4o-mini', 'gpt-4o-mini');
    expect(out).toBe('{ "model":  "gpt-4o-mini", "messages":[{"role":"user","content":"say \\"model\\": no"}],"temperature":0.5000}');
  });

  it('a role or content that says "model" is not the key', () => {
    const text = '{"messages":[{"role":"model","content":"model"}],"model":"gemini/x"}';
    expect(JSON.parse(withModel(text, 'gemini/x', 'x')!)).toEqual({ messages: [{ role: 'model', content: 'model' }], model: 'x' });
  });

  it('sends nothing a first-wins parser reads differently: any duplicate key, anywhere, falls back (issue 13 review)', () => {
    const big = 'x'.repeat(400_000);
    // The gateway (last wins) would meter "hi" and max_tokens 1; a first-wins provider would answer the 400 KB.
    const attack = `{"model":"openai/gpt-4o","messages":[{"role":"user","content":"${big}"}],"max_tokens":16000,"stream":true,"stream_options":{"include_usage":false},"messages":[{"role":"user","content":"hi"}],"max_tokens":1,"stream_options":{"include_usage":true}}`;
    expect(withModel(attack, 'openai/gpt-4o', 'gpt-4o')).toBeNull();
    expect(withModel('{"model":"openai/a","stream_options":{"include_usage":false,"include_usage":true}}', 'openai/a', 'a')).toBeNull();
    expect(withModel('{"model":"openai/a","stream":true,"stream":false,"messages":[]}', 'openai/a', 'a')).toBeNull();
    expect(withModel('{"model":"openai/a","messages":[{"role":"user","content":"${big}","content":"hi"}]}'.replace('${big}', big), 'openai/a', 'a')).toBeNull();
    // A key ending in an escaped backslash is still a key; its duplicate is still seen.
    expect(withModel('{"model":"openai/a","k\\\\":1,"k\\\\":2}', 'openai/a', 'a')).toBeNull();
    // __proto__ is an own member for JSON.parse, maybe not for the provider's parser.
    expect(withModel('{"model":"openai/a","__proto__":{"admin":true}}', 'openai/a', 'a')).toBeNull();
    // A space before a colon hides a key from the count: not certain.
    expect(withModel('{"model":"openai/a","n" :1,"n":2}', 'openai/a', 'a')).toBeNull();
  });

  it('is not certain — and says so — for a second model key, an escaped key, or a value written another way', () => {
    // A nested object with its own model key (a tool's JSON schema): two keys.
    expect(withModel('{"model":"openai/a","tools":[{"function":{"parameters":{"properties":{"model":{"type":"string"}}}}}]}', 'openai/a', 'a')).toBeNull();
    // A duplicate key a first-wins parser would read: the policy allowed the other one.
    expect(withModel('{"model":"openai/cheap","model":"openai/cheap"}', 'openai/cheap', 'cheap')).toBeNull();
    expect(withModel('{"\\u006dodel":"openai/expensive","model":"openai/cheap"}', 'openai/cheap', 'cheap')).toBeNull();
    expect(withModel('{"mod\\u0065l":"openai/cheap"}', 'openai/cheap', 'cheap')).toBeNull();
    // The same value written with an escaped slash.
    expect(withModel('{"model":"openai\\/a"}', 'openai/a', 'a')).toBeNull();
    // No model key at all.
    expect(withModel('{"messages":[]}', 'openai/a', 'a')).toBeNull();
  });

  it('for any JSON object: either exactly the parsed body with the new model, or null', () => {
    const key = fc.oneof(fc.constantFrom('model', 'messages', 'role', 'content', 'stream', '\\', '"model"', 'mo"del', 'x'), fc.string({ maxLength: 8 }));
    const value = fc.letrec((tie) => ({
      v: fc.oneof(
        { depthSize: 'small' },
        fc.constantFrom('model', '"model":', '\\"model\\"', 'openai/a', '\\', '\\u006d'),
        fc.string({ maxLength: 12 }),
        fc.integer(),
        fc.boolean(),
        fc.constant(null),
        fc.array(tie('v'), { maxLength: 3 }),
        fc.dictionary(key, tie('v'), { maxKeys: 3 }),
      ),
    })).v;
    const model = fc.oneof(fc.constantFrom('openai/gpt-4o-mini', 'a/b"c', 'a\\b', 'ü/ñ', 'a/\u2028'), fc.string({ minLength: 1, maxLength: 10 }));
    fc.assert(
      fc.property(fc.dictionary(key, value, { maxKeys: 5 }), model, fc.string({ maxLength: 10 }), fc.nat(4), fc.boolean(), (rest, m, next, at, spaced) => {
        const entries = Object.entries(rest).filter(([k]) => k !== 'model');
        entries.splice(Math.min(at, entries.length), 0, ['model', m]);
        let text = JSON.stringify(Object.fromEntries(entries));
        if (spaced) text = JSON.stringify(Object.fromEntries(entries), null, 1);
        const parsed = JSON.parse(text) as Record<string, unknown>;
        const out = withModel(text, m, next);
        if (out === null) return;
        expect(JSON.parse(out)).toEqual({ ...parsed, model: next });
        expect(parseFirstWins(out)).toEqual({ ...parsed, model: next });
      }),
      { numRuns: 2000 },
    );
  });

  it('with duplicate keys spliced into the text: null, or bytes both kinds of parser read alike', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.constantFrom('model', 'messages', 'n', 'stream', 'x'), fc.oneof(fc.string({ maxLength: 6 }), fc.integer(), fc.boolean())), { minLength: 1, maxLength: 6 }), (members) => {
        const text = `{"model":"openai/m",${members.map(([k, v]) => `${JSON.stringify(k)}:${JSON.stringify(v)}`).join(',')}}`;
        const out = withModel(text, (JSON.parse(text) as { model: string }).model, 'm');
        if (out === null) return;
        expect(parseFirstWins(out)).toEqual(JSON.parse(out));
      }),
      { numRuns: 1000 },
    );
  });

  it('a compact body from an SDK takes the fast path; one with a space after the colon too', () => {
    expect(withModel('{"model":"openai/a","messages":[{"role":"user","content":"hi"}]}', 'openai/a', 'a')).toBe('{"model":"a","messages":[{"role":"user","content":"hi"}]}');
    expect(withModel('{"model": "openai/a", "messages": []}', 'openai/a', 'a')).toBe('{"model": "a", "messages": []}');
  });

  it('sends the client bytes unchanged but for the model: numbers and key order as the client wrote them', () => {
    const text = '{"messages":[{"role":"user","content":"hi"}],"seed":12345678901234567890,"model":"openai/o3","logit_bias":{"50256":-100}}';
    expect(withModel(text, 'openai/o3', 'o3')).toBe(text.replace('"openai/o3"', '"o3"'));
  });
});

describe('withIncludeUsage', () => {
  it('adds stream_options as the first member when the client sent none', () => {
    const out = withIncludeUsage('  {"model":"m","stream":true}');
    expect(out).toBe('  {"stream_options":{"include_usage":true},"model":"m","stream":true}');
    expect(JSON.parse(out!)).toEqual({ stream_options: { include_usage: true }, model: 'm', stream: true });
  });

  it('leaves any body that names stream_options (or could, escaped) to be serialised', () => {
    expect(withIncludeUsage('{"stream_options":null,"model":"m"}')).toBeNull();
    expect(withIncludeUsage('{}')).toBeNull();
  });
});
