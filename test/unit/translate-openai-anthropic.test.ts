/**
 * OpenAI Chat client, Anthropic upstream: every golden fixture in
 * test/fixtures/translate/openai-anthropic, each OpenAI body checked against OpenAI's published
 * schema, and each translated stream read by the official `openai` SDK's stream helper, as a
 * client would read it.
 */
import OpenAI from 'openai';
import { describe, expect, it } from 'vitest';
import { openaiAnthropic } from '../../worker/translate/openai-anthropic';
import { DEFAULT_MAX_TOKENS } from '../../worker/translate/openai-anthropic/request';
import type { TranslateContext, WireEvent } from '../../worker/translate/types';
import { openaiSchemaErrors } from '../support/openai-spec';
import { encodeSse } from '../support/translate-golden';
import { goldenSuite } from '../support/translate-suite';
import { doneEvent } from '../../worker/translate/support';

const ctx: TranslateContext = {
  clientModel: 'anthropic/claude-sonnet-4-5',
  upstreamModel: 'claude-sonnet-4-5',
  requestId: '01JD7XK4Q9TRANSLATE0000001',
  now: 1764300000,
};

/** What the Anthropic stream said, accumulated: the text and each tool call's parsed input. */
function anthropicFinal(upstream: WireEvent[]): { text: string; tools: Array<{ id: string; name: string; input: unknown }> } {
  let text = '';
  const json = new Map<number, { id: string; name: string; args: string }>();
  for (const e of upstream) {
    const d = e.data as { type: string; index: number; content_block?: { type: string; id: string; name: string; text?: string }; delta?: { type: string; text?: string; partial_json?: string } };
    if (d.type === 'content_block_start' && d.content_block?.type === 'tool_use') json.set(d.index, { id: d.content_block.id, name: d.content_block.name, args: '' });
    if (d.type === 'content_block_delta' && d.delta?.type === 'text_delta') text += d.delta.text;
    if (d.type === 'content_block_delta' && d.delta?.type === 'input_json_delta') json.get(d.index)!.args += d.delta.partial_json;
  }
  return { text, tools: [...json.values()].map((t) => ({ id: t.id, name: t.name, input: JSON.parse(t.args || '{}') as unknown })) };
}

/** Reads the translated events with the official SDK, through a fetch that serves them as SSE. */
async function readWithSdk(events: WireEvent[], complete: boolean, includeUsage: boolean) {
  const body = encodeSse(complete ? [...events, doneEvent()] : events);
  const client = new OpenAI({
    apiKey: 'test',
    baseURL: 'http://sdk.invalid/v1',
    fetch: async () => new Response(body, { headers: { 'content-type': 'text/event-stream' } }),
  });
  const stream = client.chat.completions.stream({
    model: ctx.clientModel,
    messages: [{ role: 'user', content: 'Hi' }],
    ...(includeUsage ? { stream_options: { include_usage: true } } : {}),
  });
  return stream.finalChatCompletion();
}

function expectSpec(schema: string, body: unknown): void {
  expect(openaiSchemaErrors(schema, body), `${schema}: ${JSON.stringify(body).slice(0, 300)}`).toEqual([]);
}

goldenSuite('openai-anthropic', openaiAnthropic, ctx, {
  response: (out) => expectSpec('CreateChatCompletionResponse', out),
  error: (out) => expectSpec('ErrorResponse', out),
  async stream(events, streamCtx, upstream) {
    for (const e of events) {
      expect(e.event).toBeNull();
      expectSpec(e.data.error ? 'ErrorResponse' : 'CreateChatCompletionStreamResponse', e.data);
    }
    const t = openaiAnthropic.stream(streamCtx);
    upstream.forEach((e) => t.push(e));
    const { complete, upstreamErrorType } = t.outcome();
    if (upstreamErrorType) {
      await expect(readWithSdk(events, false, streamCtx.includeUsage === true)).rejects.toThrow(/Overloaded/);
      return;
    }
    if (!complete) return;
    const final = await readWithSdk(events, true, streamCtx.includeUsage === true);
    const expected = anthropicFinal(upstream);
    const message = final.choices[0]!.message;
    expect(message.content ?? '').toBe(expected.text);
    expect((message.tool_calls ?? []).map((c) => (c.type === 'function' ? { id: c.id, name: c.function.name, input: JSON.parse(c.function.arguments) as unknown } : null))).toEqual(expected.tools);
    if (streamCtx.includeUsage) expect(final.usage?.prompt_tokens).toBe(t.usage().input_tokens);
  },
});

describe('openai-anthropic request', () => {
  it('gives Anthropic the documented default max_tokens when the client sets none', () => {
    const out = openaiAnthropic.request({ model: 'x', messages: [{ role: 'user', content: 'Hi' }] }, ctx);
    expect(out.max_tokens).toBe(DEFAULT_MAX_TOKENS);
  });

  it('refuses every temperature above 1 and keeps every one up to 1 exactly', () => {
    for (const temperature of [0, 0.3, 1]) {
      expect(openaiAnthropic.request({ model: 'x', messages: [{ role: 'user', content: 'Hi' }], temperature }, ctx).temperature).toBe(temperature);
    }
    for (const temperature of [1.0001, 1.5, 2]) {
      expect(() => openaiAnthropic.request({ model: 'x', messages: [{ role: 'user', content: 'Hi' }], temperature }, ctx)).toThrow(/temperature/);
    }
  });
});
