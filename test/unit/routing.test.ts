/**
 * The routing arithmetic and the translation plumbing, in isolation: weighted order, Retry-After
 * parsing, backoff bounds, the hub chain (client → openai → upstream), and the translated stream
 * tap (decode → translate → frame in the client's format).
 */
import { describe, expect, it } from 'vitest';
import { backoffMs, MAX_RETRY_AFTER_MS, retryAfterMs } from '../../worker/pipeline/attempts';
import { weightedOrder } from '../../worker/pipeline/plan';
import { createTranslatingTap, sseDecoder } from '../../worker/pipeline/translated-stream';
import type { StreamTranslator, WireEvent } from '../../worker/translate/types';

/** A deterministic sequence of "random" numbers. */
const seq = (...xs: number[]) => {
  let i = 0;
  return () => xs[i++ % xs.length]!;
};

describe('weightedOrder', () => {
  const items = [
    { id: 'a', weight: 3 },
    { id: 'b', weight: 1 },
  ];
  it('draws the first target by weight and keeps every target once', () => {
    expect(weightedOrder(items, seq(0.0)).map((t) => t.id)).toEqual(['a', 'b']);
    expect(weightedOrder(items, seq(0.74)).map((t) => t.id)).toEqual(['a', 'b']);
    expect(weightedOrder(items, seq(0.76)).map((t) => t.id)).toEqual(['b', 'a']);
  });
  it('splits 3:1 over many draws', () => {
    let first = 0;
    for (let i = 0; i < 4000; i++) if (weightedOrder(items)[0]!.id === 'a') first++;
    expect(first / 4000).toBeGreaterThan(0.7);
    expect(first / 4000).toBeLessThan(0.8);
  });
  it('never picks a target of weight 0', () => {
    expect(weightedOrder([{ id: 'a', weight: 0 }, { id: 'b', weight: 1 }]).map((t) => t.id)).toEqual(['b']);
  });
});

describe('retryAfterMs', () => {
  const h = (init: Record<string, string>) => new Headers(init);
  it('reads seconds, an HTTP date and OpenAI retry-after-ms', () => {
    expect(retryAfterMs(h({ 'retry-after': '3' }))).toBe(3000);
    expect(retryAfterMs(h({ 'retry-after-ms': '250' }))).toBe(250);
    const now = Date.parse('2026-01-01T00:00:00Z');
    expect(retryAfterMs(h({ 'retry-after': 'Thu, 01 Jan 2026 00:00:05 GMT' }), now)).toBe(5000);
  });
  it('ignores what it cannot read', () => {
    expect(retryAfterMs(h({}))).toBeNull();
    expect(retryAfterMs(h({ 'retry-after': 'soon' }))).toBeNull();
    expect(retryAfterMs(h({ 'retry-after': '-1' }))).toBeNull();
  });
  it('caps what is honoured at 10 s', () => {
    expect(MAX_RETRY_AFTER_MS).toBe(10_000);
  });
});

describe('backoffMs', () => {
  it('doubles from 250 ms with equal jitter, at most 4 s', () => {
    expect(backoffMs(1, () => 0)).toBe(125);
    expect(backoffMs(1, () => 1)).toBe(250);
    expect(backoffMs(2, () => 0)).toBe(250);
    expect(backoffMs(3, () => 1)).toBe(1000);
    expect(backoffMs(20, () => 1)).toBe(4000);
  });
});

describe('the translated stream tap', () => {
  /** A toy translator: upper-cases `text` and names events as Anthropic does. */
  const upper = (): StreamTranslator => {
    let done = false;
    return {
      push: (e: WireEvent) => {
        // `data: [DONE]` arrives as its own event (decision 0019); this toy has nothing to say to it.
        if (e.event === '[DONE]') return [];
        if (e.data.finish) done = true;
        return [{ event: 'content_block_delta', data: { type: 'content_block_delta', text: String(e.data.text ?? '').toUpperCase() } }];
      },
      end: () => (done ? [{ event: 'message_stop', data: { type: 'message_stop' } }] : []),
      usage: () => ({ input_tokens: 1, output_tokens: 2, cache_read_tokens: null, cache_write_tokens: null, reasoning_tokens: null }),
      outcome: () => ({ complete: done, upstreamErrorType: null }),
    };
  };
  const enc = new TextEncoder();
  const dec = new TextDecoder();

  it('decodes SSE split anywhere, translates each event, frames it in the client format', () => {
    const tap = createTranslatingTap(sseDecoder({}), upper(), 'anthropic', {});
    const input = 'data: {"text":"ab"}\n\ndata: {"text":"c","finish":true}\n\ndata: [DONE]\n\n';
    let out = '';
    for (const ch of input) out += tap.push(enc.encode(ch)).map((b) => dec.decode(b)).join('');
    out += tap.finish().map((b) => dec.decode(b)).join('');
    expect(out).toBe(
      'event: content_block_delta\ndata: {"type":"content_block_delta","text":"AB"}\n\n' +
        'event: content_block_delta\ndata: {"type":"content_block_delta","text":"C"}\n\n' +
        'event: message_stop\ndata: {"type":"message_stop"}\n\n',
    );
    expect(tap.outcome().complete).toBe(true);
    expect(tap.usage().output_tokens).toBe(2);
  });

  it('drops an event cut off by the end of the stream, as the SSE spec says', () => {
    const tap = createTranslatingTap(sseDecoder({}), upper(), 'anthropic', {});
    tap.push(enc.encode('data: {"text":"whole"}\n\ndata: {"text":"half"}\n'));
    const tail = tap.finish().map((b) => dec.decode(b)).join('');
    expect(tail).toBe('');
  });

  it('ends an OpenAI-format stream with [DONE] only when it completed', () => {
    const complete = createTranslatingTap(sseDecoder({}), upper(), 'openai', {});
    complete.push(enc.encode('data: {"text":"x","finish":true}\n\n'));
    expect(complete.finish().map((b) => dec.decode(b)).join('')).toContain('data: [DONE]\n\n');
    const cut = createTranslatingTap(sseDecoder({}), upper(), 'openai', {});
    cut.push(enc.encode('data: {"text":"x"}\n\n'));
    expect(cut.finish().map((b) => dec.decode(b)).join('')).not.toContain('[DONE]');
  });
});
