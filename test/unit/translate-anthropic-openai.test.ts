/**
 * Anthropic client, OpenAI-format upstream: every golden fixture in
 * test/fixtures/translate/anthropic-openai, each OpenAI request checked against OpenAI's published
 * schema, and each translated stream read by the official `@anthropic-ai/sdk` MessageStream (which
 * refuses events out of order), as Claude Code and other agents read it.
 */
import Anthropic from '@anthropic-ai/sdk';
import { describe, expect, it } from 'vitest';
import { anthropicOpenai } from '../../worker/translate/anthropic-openai';
import { doneEvent } from '../../worker/translate/support';
import type { TranslateContext, WireEvent } from '../../worker/translate/types';
import { openaiSchemaErrors } from '../support/openai-spec';
import { encodeSse } from '../support/translate-golden';
import { goldenSuite } from '../support/translate-suite';

const ctx: TranslateContext = {
  clientModel: 'openai/gpt-4o-mini',
  upstreamModel: 'gpt-4o-mini',
  requestId: '01JD7XK4Q9TRANSLATE0000002',
  now: 1764300000,
};

interface ChunkData {
  choices?: Array<{ delta?: { content?: string | null; refusal?: string | null; tool_calls?: Array<{ index: number; id?: string; function?: { name?: string; arguments?: string } }> } }>;
}

/** What the OpenAI stream said, accumulated: the text and each tool call with its parsed input. */
function openaiFinal(upstream: WireEvent[]) {
  let text = '';
  const calls = new Map<number, { id: string; name: string; args: string }>();
  for (const e of upstream) {
    const delta = (e.data as ChunkData).choices?.[0]?.delta;
    text += (delta?.content ?? '') + (delta?.refusal ?? '');
    for (const c of delta?.tool_calls ?? []) {
      const call = calls.get(c.index) ?? { id: c.id ?? '', name: c.function?.name ?? '', args: '' };
      call.args += c.function?.arguments ?? '';
      calls.set(c.index, call);
    }
  }
  return { text, tools: [...calls.values()].map((c) => ({ id: c.id, name: c.name, input: JSON.parse(c.args || '{}') as unknown })) };
}

function sdkClient(body: string): Anthropic {
  return new Anthropic({
    apiKey: 'test',
    baseURL: 'http://sdk.invalid',
    fetch: async () => new Response(body, { headers: { 'content-type': 'text/event-stream' } }),
  });
}

function expectSpec(schema: string, body: unknown): void {
  expect(openaiSchemaErrors(schema, body), `${schema}: ${JSON.stringify(body).slice(0, 300)}`).toEqual([]);
}

goldenSuite('anthropic-openai', anthropicOpenai, ctx, {
  request: (out) => expectSpec('CreateChatCompletionRequest', out),
  response(out) {
    expect(Object.keys(out).sort()).toEqual(['content', 'id', 'model', 'role', 'stop_reason', 'stop_sequence', 'type', 'usage']);
  },
  async stream(events, streamCtx, upstream) {
    for (const e of events) expect(e.event).toBe(e.data.type);
    const t = anthropicOpenai.stream(streamCtx);
    upstream.forEach((e) => t.push(e));
    const { complete, upstreamErrorType } = t.outcome();
    const stream = sdkClient(encodeSse(events)).messages.stream({ model: ctx.clientModel, max_tokens: 10, messages: [{ role: 'user', content: 'Hi' }] });
    if (upstreamErrorType) {
      await expect(stream.finalMessage()).rejects.toThrow(/server had an error/);
      return;
    }
    if (!complete) {
      // The SDK must not take a cut-off stream for a whole message.
      await expect(stream.finalMessage()).rejects.toThrow();
      return;
    }
    const final = await stream.finalMessage();
    const expected = openaiFinal(upstream);
    expect(final.content.filter((b) => b.type === 'text').map((b) => b.text).join('')).toBe(expected.text);
    expect(final.content.filter((b) => b.type === 'tool_use').map((b) => ({ id: b.id, name: b.name, input: b.input }))).toEqual(expected.tools);
    const usage = t.usage();
    expect(final.usage.output_tokens).toBe(usage.output_tokens ?? 0);
    expect(final.usage.input_tokens + (final.usage.cache_read_input_tokens ?? 0)).toBe(usage.input_tokens ?? 0);
  },
});

describe('anthropic-openai stream', () => {
  it('emits nothing after [DONE] and nothing at end(): no synthetic completion', () => {
    const t = anthropicOpenai.stream(ctx);
    expect(t.push(doneEvent()).map((e) => e.event)).toEqual(['message_start', 'message_delta', 'message_stop']);
    expect(t.push(doneEvent())).toEqual([]);
    expect(t.end()).toEqual([]);
  });
});
