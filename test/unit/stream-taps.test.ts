/**
 * The stream taps on golden SSE fixtures (test/fixtures/*.sse), both formats and both OpenAI usage
 * modes, fed in many chunkings: every split point, 1-byte writes, odd sizes. Where nothing should
 * change, the output is compared byte for byte with the input; where strip mode must remove what
 * the gateway caused, with a golden expected file.
 */
import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createMessagesStreamTap } from '../../worker/formats/anthropic-messages';
import { createChatStreamTap } from '../../worker/formats/openai-chat';
import { asCount, isEventStream } from '../../worker/formats/sse';
import type { StreamOutcome, StreamTap } from '../../worker/formats/types';
import type { Usage } from '../../lib/audit/event';

const fixture = (name: string) => new Uint8Array(readFileSync(new URL(`../fixtures/${name}`, import.meta.url)));
const join = (parts: Uint8Array[]) => Buffer.concat(parts.map((p) => Buffer.from(p.buffer, p.byteOffset, p.byteLength)));

/** Feeds `bytes` in the given pieces; returns everything the tap sent on. */
function feed(tap: StreamTap, pieces: Uint8Array[]): Buffer {
  const out: Uint8Array[] = [];
  for (const p of pieces) out.push(...tap.push(p));
  out.push(...tap.finish());
  return join(out);
}

const inPieces = (bytes: Uint8Array, size: number) => {
  const pieces: Uint8Array[] = [];
  for (let i = 0; i < bytes.length; i += size) pieces.push(bytes.slice(i, i + size));
  return pieces;
};

/** Every chunking worth trying: each split point into two pieces, 1-byte writes, and odd sizes. */
function* chunkings(bytes: Uint8Array): Generator<[string, Uint8Array[]]> {
  for (let i = 1; i < bytes.length; i++) yield [`split at ${i}`, [bytes.slice(0, i), bytes.slice(i)]];
  for (const size of [1, 2, 3, 7, 64, 1_000_000]) yield [`pieces of ${size}`, inPieces(bytes, size)];
}

type TapKind = 'openai' | 'openai-strip' | 'anthropic';
const makeTap = (kind: TapKind): StreamTap =>
  kind === 'anthropic' ? createMessagesStreamTap() : createChatStreamTap(kind === 'openai-strip');

interface Golden {
  fixture: string;
  tap: TapKind;
  /** The expected output: a fixture name, or 'same' for byte-for-byte pass-through. */
  expect: string;
  usage: Usage;
  outcome: StreamOutcome;
}

const u = (input: number | null, output: number | null, cacheRead: number | null = null, cacheWrite: number | null = null, reasoning?: number): Usage => ({
  input_tokens: input,
  output_tokens: output,
  cache_read_tokens: cacheRead,
  cache_write_tokens: cacheWrite,
  // OpenAI's completion_tokens_details.reasoning_tokens, where the fixture reports it.
  ...(reasoning === undefined ? {} : { reasoning_tokens: reasoning }),
});
const OK: StreamOutcome = { complete: true, upstreamErrorType: null };
const INCOMPLETE: StreamOutcome = { complete: false, upstreamErrorType: null };

const GOLDEN: Golden[] = [
  // The plain cases: usage read, bytes unchanged (client asked for usage, or Anthropic).
  { fixture: 'openai-chat-stream-usage.sse', tap: 'openai', expect: 'same', usage: u(23, 4, 16, null, 0), outcome: OK },
  { fixture: 'openai-chat-stream-plain.sse', tap: 'openai', expect: 'same', usage: u(null, null), outcome: OK },
  { fixture: 'anthropic-messages-stream.sse', tap: 'anthropic', expect: 'same', usage: u(2125, 15, 2000, 100), outcome: OK },
  // Strip mode: exactly the stream the client would have got without include_usage (item 9).
  { fixture: 'openai-chat-stream-usage.sse', tap: 'openai-strip', expect: 'openai-chat-stream-plain.sse', usage: u(23, 4, 16, null, 0), outcome: OK },
  // Item 8: Azure's prompt_filter_results chunk (empty choices, "usage": null) is kept.
  { fixture: 'openai-chat-azure-filter-usage.sse', tap: 'openai-strip', expect: 'openai-chat-azure-filter-plain.sse', usage: u(52, 3, 0, null, 0), outcome: OK },
  { fixture: 'openai-chat-azure-filter-usage.sse', tap: 'openai', expect: 'same', usage: u(52, 3, 0, null, 0), outcome: OK },
  // Item 9: touched events keep event/id/comment lines, big integers and escapes; a usage chunk
  // without `choices` is dropped, not turned into an empty chunk; invalid UTF-8 passes unchanged.
  { fixture: 'openai-chat-strip-touched.sse', tap: 'openai-strip', expect: 'openai-chat-strip-touched.expected.sse', usage: u(52, 3, 0, null, 0), outcome: OK },
  { fixture: 'openai-chat-strip-touched.sse', tap: 'openai', expect: 'same', usage: u(52, 3, 0, null, 0), outcome: OK },
  // Item 7: "\n\r\n", "\r\n\r", CR-only events; item 10: `data:  {` with two spaces.
  { fixture: 'openai-chat-mixed-endings.sse', tap: 'openai', expect: 'same', usage: u(52, 3, 0, null, 0), outcome: OK },
  { fixture: 'openai-chat-mixed-endings.sse', tap: 'openai-strip', expect: 'openai-chat-mixed-endings.strip.sse', usage: u(52, 3, 0, null, 0), outcome: OK },
  { fixture: 'anthropic-messages-mixed-endings.sse', tap: 'anthropic', expect: 'same', usage: u(40, 9, 0, 0), outcome: OK },
  // Item 5: the provider's error inside a 200 stream, and a stream that ends without its end marker.
  { fixture: 'openai-chat-error-midstream.sse', tap: 'openai', expect: 'same', usage: u(null, null), outcome: { complete: false, upstreamErrorType: 'server_error' } },
  { fixture: 'openai-chat-error-midstream.sse', tap: 'openai-strip', expect: 'openai-chat-error-midstream.strip.sse', usage: u(null, null), outcome: { complete: false, upstreamErrorType: 'server_error' } },
  { fixture: 'openai-chat-truncated.sse', tap: 'openai', expect: 'same', usage: u(null, null), outcome: INCOMPLETE },
  { fixture: 'anthropic-messages-error-midstream.sse', tap: 'anthropic', expect: 'same', usage: u(40, 1, 0, 0), outcome: { complete: false, upstreamErrorType: 'overloaded_error' } },
  { fixture: 'anthropic-messages-truncated.sse', tap: 'anthropic', expect: 'same', usage: u(40, 1, 0, 0), outcome: INCOMPLETE },
];

describe.each(GOLDEN)('$tap tap on $fixture', (g) => {
  const input = fixture(g.fixture);
  const expected = g.expect === 'same' ? Buffer.from(input) : Buffer.from(fixture(g.expect));

  it('sends the expected bytes and reads usage and outcome, in every chunking', () => {
    let runs = 0;
    for (const [how, pieces] of chunkings(input)) {
      const tap = makeTap(g.tap);
      const out = feed(tap, pieces);
      if (!out.equals(expected)) expect.fail(`${how}: output differs\n got: ${JSON.stringify(out.toString('latin1'))}\nwant: ${JSON.stringify(expected.toString('latin1'))}`);
      expect(tap.usage(), how).toEqual(g.usage);
      expect(tap.outcome(), how).toEqual(g.outcome);
      runs++;
    }
    expect(runs).toBe(input.length - 1 + 6);
  });

  it('sends each event as soon as its empty line arrives (the first byte never waits for the stream)', () => {
    const tap = makeTap(g.tap);
    const text = Buffer.from(input).toString('latin1');
    // The first event ends at the first empty line, whatever the line endings.
    const end = /(\r\n|\r|\n)(\r\n|\r(?!\n)|\n)/.exec(text)!;
    const firstEventEnd = end.index + end[0].length;
    const out = join(tap.push(input.slice(0, firstEventEnd)));
    if (g.expect === 'same') expect(out.equals(Buffer.from(input.slice(0, firstEventEnd)))).toBe(true);
    else expect(out.length).toBeGreaterThan(0);
  });
});

describe('lenient parsing (item 10)', () => {
  it('reads usage from `data:  {` (two spaces: the value keeps one, JSON allows it)', () => {
    const tap = createChatStreamTap(false);
    feed(tap, [new TextEncoder().encode('data:  {"choices":[],"usage":{"prompt_tokens":5,"completion_tokens":1}}\n\ndata:  [DONE]\n\n')]);
    expect(tap.usage()).toEqual(u(5, 1));
    expect(tap.outcome()).toEqual(OK);
    const anth = createMessagesStreamTap();
    feed(anth, [new TextEncoder().encode('event: message_delta\ndata:  {"type":"message_delta","usage":{"output_tokens":3}}\n\n')]);
    expect(anth.usage().output_tokens).toBe(3);
  });

  it('recognises an event stream whatever the case of its media type', () => {
    expect(isEventStream('Text/Event-Stream; charset=utf-8')).toBe(true);
    expect(isEventStream('TEXT/EVENT-STREAM')).toBe(true);
    expect(isEventStream('text/event-stream')).toBe(true);
    expect(isEventStream('application/json')).toBe(false);
    expect(isEventStream('text/event-streams')).toBe(false);
    expect(isEventStream(null)).toBe(false);
  });
});

describe('OpenAI usage in strip mode', () => {
  it('drops only the usage chunk and the usage members the option added', () => {
    const tap = createChatStreamTap(true);
    const out = feed(tap, [fixture('openai-chat-stream-usage.sse')]).toString('utf8');
    expect(out).not.toContain('usage');
    expect(out.match(/^data: /gm)).toHaveLength(5); // 4 content chunks + [DONE]
  });
});

describe('the end of a stream cut short by the gateway', () => {
  const error = new TextEncoder().encode('data: {"error":{"message":"cut","type":"api_error","param":null,"code":"upstream_stream_error"}}\n\n');
  const bytes = fixture('openai-chat-stream-usage.sse');
  const firstEnd = Buffer.from(bytes).indexOf('\n\n') + 2;

  it('strip mode: a half-received event was held back, so it is dropped and the error event follows', () => {
    const tap = createChatStreamTap(true);
    const sent = join(tap.push(bytes.slice(0, firstEnd + 40)));
    expect(sent.toString()).toBe(Buffer.from(bytes.slice(0, firstEnd)).toString().replace(',"usage":null', ''));
    expect(join(tap.fail(error)).toString()).toBe(Buffer.from(error).toString());
  });

  it('reading taps: bytes went on as they came, so the cut-off event is ended before the error event', () => {
    for (const tap of [createChatStreamTap(false), createMessagesStreamTap()]) {
      const sent = join(tap.push(bytes.slice(0, firstEnd + 40)));
      expect(sent.equals(Buffer.from(bytes.slice(0, firstEnd + 40)))).toBe(true);
      expect(join(tap.fail(error)).toString()).toBe(`\n\n${Buffer.from(error).toString()}`);
    }
    const atBoundary = createChatStreamTap(false);
    atBoundary.push(bytes.slice(0, firstEnd));
    expect(join(atBoundary.fail(error)).toString()).toBe(Buffer.from(error).toString());
  });
});

describe('linear cost (item 4)', () => {
  afterEach(() => vi.restoreAllMocks());

  /** CPU time to push `mb` megabytes of one event without any line or event boundary. */
  function timeHugeEvent(kind: TapKind, mb: number): { ms: number; out: number } {
    const piece = new TextEncoder().encode(`data: {"x":"${'a'.repeat(65_536 - 16)}`);
    const tap = makeTap(kind);
    const total = Math.round((mb * 1024 * 1024) / piece.length);
    let out = 0;
    const started = performance.now();
    for (let i = 0; i < total; i++) for (const o of tap.push(piece)) out += o.length;
    for (const o of tap.push(new TextEncoder().encode('"}\n\n'))) out += o.length;
    for (const o of tap.finish()) out += o.length;
    return { ms: performance.now() - started, out: out - total * piece.length };
  }

  it.each<TapKind>(['openai', 'openai-strip', 'anthropic'])('%s: one huge event costs linear time and passes through', (kind) => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => undefined);
    timeHugeEvent(kind, 0.5); // warm up the JIT (under the cap: no log line)
    // The best of three runs, so a GC pause or a busy machine does not decide the result.
    const best = (mb: number) => [0, 1, 2].map(() => timeHugeEvent(kind, mb)).reduce((a, b) => (b.ms < a.ms ? b : a));
    const four = best(4);
    const eight = best(8);
    expect(four.out).toBe(4); // everything went on, plus the closing `"}\n\n`
    expect(eight.out).toBe(4);
    // Quadratic parsing took 2.4 s for 5 MB; linear takes milliseconds. Twice the input, about
    // twice the time (the floor keeps timer noise on a few milliseconds from deciding).
    expect(four.ms).toBeLessThan(1000);
    expect(eight.ms).toBeLessThan(Math.max(3 * four.ms, 250));
    // One log line per oversized event, not one per chunk.
    expect(warn.mock.calls.filter((c) => String(c[0]).includes('usage-reading cap'))).toHaveLength(6);
  });

  it('keeps reading usage after an oversized event, and sends every byte unchanged', () => {
    vi.spyOn(console, 'warn').mockImplementation(() => undefined);
    const huge = `data: {"choices":[{"index":0,"delta":{"content":"${'z'.repeat(2 * 1024 * 1024)}"}}],"usage":null}\n\n`;
    const usage = 'data: {"choices":[],"usage":{"prompt_tokens":7,"completion_tokens":2}}\n\ndata: [DONE]\n\n';
    const bytes = new TextEncoder().encode(huge + usage);
    const tap = createChatStreamTap(false);
    expect(feed(tap, inPieces(bytes, 16_384)).equals(Buffer.from(bytes))).toBe(true);
    expect(tap.usage()).toEqual(u(7, 2));
    expect(tap.outcome()).toEqual(OK);
  });

  it('never holds more than the cap for an event without boundaries (strip mode sends it on)', () => {
    vi.spyOn(console, 'warn').mockImplementation(() => undefined);
    const tap = createChatStreamTap(true);
    const piece = new Uint8Array(64 * 1024).fill(0x61);
    let held = 0;
    for (let i = 0; i < 64; i++) held += piece.length - tap.push(piece).reduce((n, o) => n + o.length, 0);
    expect(held).toBeLessThanOrEqual(1024 * 1024 + piece.length);
  });
});

describe('token counts (issue 14, item 2)', () => {
  it('keeps exact counts and refuses what is not one', () => {
    expect(asCount(3_000_000_000)).toBe(3_000_000_000);
    expect(asCount(2 ** 53 - 1)).toBe(2 ** 53 - 1);
    expect(asCount(2 ** 53)).toBeNull();
    expect(asCount(1e300)).toBeNull();
    expect(asCount(1.5)).toBeNull();
    expect(asCount(-1)).toBeNull();
    expect(asCount('12')).toBeNull();
  });

  it('reports an absurd count from a stream as null, not as a number no column can hold', () => {
    const tap = createChatStreamTap(false);
    feed(tap, [new TextEncoder().encode('data: {"choices":[],"usage":{"prompt_tokens":1e300,"completion_tokens":4.5}}\n\ndata: [DONE]\n\n')]);
    expect(tap.usage()).toEqual(u(null, null));
    const anth = createMessagesStreamTap();
    feed(anth, [new TextEncoder().encode(`event: message_start\ndata: {"type":"message_start","message":{"usage":{"input_tokens":${2 ** 52},"cache_read_input_tokens":${2 ** 52},"output_tokens":1}}}\n\n`)]);
    expect(anth.usage().input_tokens).toBeNull(); // the sum passes 2^53
  });
});
