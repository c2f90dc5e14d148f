import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { createMessagesStreamTap } from '../../worker/formats/anthropic-messages';
import { createChatStreamTap } from '../../worker/formats/openai-chat';
import type { StreamTap } from '../../worker/formats/types';

const fixture = (name: string) => new Uint8Array(readFileSync(new URL(`../fixtures/${name}`, import.meta.url)));
const decode = (parts: Uint8Array[]) => Buffer.concat(parts.map((p) => Buffer.from(p))).toString('utf8');

/** Feeds bytes in pieces of `size` (1 splits inside multi-byte characters and CRLFs). */
function run(tap: StreamTap, bytes: Uint8Array, size: number): string {
  const out: Uint8Array[] = [];
  for (let i = 0; i < bytes.length; i += size) out.push(...tap.push(bytes.slice(i, i + size)));
  out.push(...tap.finish());
  return decode(out);
}

const SIZES = [1, 3, 7, 64, 100_000];

describe('OpenAI chat stream tap', () => {
  it.each(SIZES)('passes the stream through byte for byte and reads usage (pieces of %i bytes)', (size) => {
    const bytes = fixture('openai-chat-stream-usage.sse');
    const tap = createChatStreamTap(false);
    expect(run(tap, bytes, size)).toBe(Buffer.from(bytes).toString('utf8'));
    expect(tap.usage()).toEqual({ input_tokens: 23, output_tokens: 4, cache_read_tokens: 16, cache_write_tokens: null });
  });

  it.each(SIZES)('removes what the injected include_usage added (pieces of %i bytes)', (size) => {
    const tap = createChatStreamTap(true);
    const out = run(tap, fixture('openai-chat-stream-usage.sse'), size);
    // The client that did not ask for usage sees the stream OpenAI sends without the option.
    const expected = Buffer.from(fixture('openai-chat-stream-plain.sse')).toString('utf8');
    const events = (s: string) => s.split('\n\n').filter(Boolean).map((e) => (e === 'data: [DONE]' ? e : JSON.parse(e.slice(6))));
    expect(events(out)).toEqual(events(expected));
    expect(out).not.toContain('usage');
    expect(tap.usage().input_tokens).toBe(23);
    expect(tap.usage().output_tokens).toBe(4);
  });

  it('reports no usage (null, not 0) when the stream carries none', () => {
    const tap = createChatStreamTap(false);
    run(tap, fixture('openai-chat-stream-plain.sse'), 50);
    expect(tap.usage()).toEqual({ input_tokens: null, output_tokens: null, cache_read_tokens: null, cache_write_tokens: null });
  });

  it('handles CRLF line endings', () => {
    const crlf = new TextEncoder().encode(Buffer.from(fixture('openai-chat-stream-usage.sse')).toString('utf8').replace(/\n/g, '\r\n'));
    const tap = createChatStreamTap(false);
    run(tap, crlf, 5);
    expect(tap.usage().input_tokens).toBe(23);
  });
});

describe('Anthropic messages stream tap', () => {
  it.each(SIZES)('passes bytes through and reads usage including cache tokens (pieces of %i bytes)', (size) => {
    const bytes = fixture('anthropic-messages-stream.sse');
    const tap = createMessagesStreamTap();
    expect(run(tap, bytes, size)).toBe(Buffer.from(bytes).toString('utf8'));
    // Routero's input_tokens is the total input: 25 uncached + 100 cache write + 2000 cache read.
    expect(tap.usage()).toEqual({ input_tokens: 2125, output_tokens: 15, cache_read_tokens: 2000, cache_write_tokens: 100 });
  });
});
