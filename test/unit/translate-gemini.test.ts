/**
 * OpenAI Chat ↔ Gemini: the golden fixtures both ways, then the translator and the request
 * builder against the fake Gemini server, which checks the key header and the body as Gemini does.
 */
import { describe } from 'vitest';
import { openaiGemini } from '../../worker/translate/openai-gemini';
import { goldenCases } from '../support/translate-golden-cases';

describe('openai-gemini golden fixtures', () => {
  goldenCases('openai-gemini', openaiGemini);
});

// ---- against the fake Gemini server ----

import { afterAll, beforeAll, expect, it } from 'vitest';
import { GatewayError } from '../../lib/errors';
import { parseJsonObject, SseParser } from '../../worker/formats/sse';
import { buildGeminiCall, geminiUrl, type GeminiAction } from '../../worker/providers/gemini';
import type { TranslateContext, WireEvent } from '../../worker/translate/types';
import { FAKE_GEMINI_KEY, FAKE_THOUGHT_SIGNATURE, startFakeGemini } from '../support/fake-gemini';
import type { FakeProvider } from '../support/fake-providers';

let fake: FakeProvider;
beforeAll(async () => {
  fake = await startFakeGemini({ gapMs: 0 });
});
afterAll(() => fake.close());

const ctx = (model: string, extra: Partial<TranslateContext> & { includeUsage?: boolean } = {}): TranslateContext => ({
  clientModel: `gemini/${model}`,
  upstreamModel: model,
  requestId: 'req-live-1',
  now: 1_764_300_000,
  ...extra,
});

/** What the pipeline does for one non-streamed call: translate, build, fetch, translate back. */
async function call(model: string, body: Record<string, unknown>, apiKey = FAKE_GEMINI_KEY) {
  const c = ctx(model);
  const upstreamBody = openaiGemini.request(body, c);
  const action: GeminiAction = body.stream ? 'streamGenerateContent' : 'generateContent';
  const req = buildGeminiCall({ baseUrl: `${fake.url}/v1beta`, model, apiKey, body: upstreamBody, action });
  const res = await fetch(req.url, { method: 'POST', headers: req.headers, body: req.body });
  const json = (await res.json()) as Record<string, unknown>;
  return res.ok ? { status: res.status, body: openaiGemini.response(json, c) } : { status: res.status, body: openaiGemini.error(res.status, json, c) };
}

/** A streamed call: SSE decoded as the pipeline's sseDecoder does, then translated. */
async function streamCall(model: string, body: Record<string, unknown>, includeUsage = true) {
  const c = ctx(model, { includeUsage });
  const req = buildGeminiCall({ baseUrl: `${fake.url}/v1beta`, model, apiKey: FAKE_GEMINI_KEY, body: openaiGemini.request({ ...body, stream: true }, c), action: 'streamGenerateContent' });
  const res = await fetch(req.url, { method: 'POST', headers: req.headers, body: req.body });
  expect(res.headers.get('content-type')).toContain('text/event-stream');
  const translator = openaiGemini.stream(c);
  const parser = new SseParser();
  const out: WireEvent[] = [];
  const feed = (items: ReturnType<SseParser['push']>) => {
    for (const item of items) {
      if (item.kind !== 'event' || item.event.data === null) continue;
      const data = parseJsonObject(item.event.data);
      if (data) out.push(...translator.push({ event: item.event.type, data }));
    }
  };
  const reader = res.body!.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      feed(parser.push(value));
    }
  } catch {
    // cut-…: the fake resets the connection.
  }
  feed(parser.finish());
  out.push(...translator.end());
  return { events: out.map((e) => e.data), usage: translator.usage(), outcome: translator.outcome() };
}

const weatherTool = { type: 'function', function: { name: 'get_weather', parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } } };

describe('openai-gemini against the fake Gemini API', () => {
  it('builds the documented URLs, with the key in a header and never in the URL', () => {
    expect(geminiUrl('https://generativelanguage.googleapis.com/v1beta/', 'models/gemini-2.5-flash', 'streamGenerateContent')).toBe(
      'https://generativelanguage.googleapis.com/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse',
    );
    const req = buildGeminiCall({ baseUrl: 'https://g.example/v1beta', model: 'gemini-2.5-pro', apiKey: 'k-secret', body: {}, action: 'generateContent' });
    expect(req.url).toBe('https://g.example/v1beta/models/gemini-2.5-pro:generateContent');
    expect(req.url).not.toContain('k-secret');
    expect(req.headers.get('x-goog-api-key')).toBe('k-secret');
    expect(() => geminiUrl('https://g.example', '../admin', 'generateContent')).toThrow(GatewayError);
  });

  it('answers a chat completion in OpenAI format, with cached tokens counted', async () => {
    const r = await call('gemini-2.5-flash', { model: 'gemini/gemini-2.5-flash', messages: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'Hi' }], max_tokens: 50 });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ object: 'chat.completion', model: 'gemini/gemini-2.5-flash', choices: [{ message: { content: 'The quick brown fox jumps.' }, finish_reason: 'stop' }] });
    expect(r.body.usage).toMatchObject({ prompt_tokens: 31, completion_tokens: 6, prompt_tokens_details: { cached_tokens: 8 } });
    const sent = fake.received.at(-1)!;
    expect(sent.headers['x-goog-api-key']).toBe(FAKE_GEMINI_KEY);
    expect(sent.body.systemInstruction).toEqual({ parts: [{ text: 'Be brief.' }] });
  });

  it('counts thinking as reasoning tokens and keeps thoughts out of the answer', async () => {
    const r = await call('thinking-model', { model: 'x', messages: [{ role: 'user', content: 'Hi' }] });
    expect(r.body).toMatchObject({ choices: [{ message: { content: 'The quick brown fox jumps.' } }], usage: { completion_tokens: 18, completion_tokens_details: { reasoning_tokens: 12 } } });
  });

  it('refuses a wrong key (400 API_KEY_INVALID) and a missing one (403) without passing their text on', async () => {
    const r = await call('gemini-2.5-flash', { model: 'x', messages: [{ role: 'user', content: 'Hi' }] }, 'AIzaWrongKey');
    expect(r.status).toBe(400);
    expect(r.body).toEqual({ error: { message: "The provider rejected the organisation's provider key (upstream HTTP 400).", type: 'invalid_request_error', param: null, code: 'upstream_error' } });
    const res = await fetch(`${fake.url}/v1beta/models/gemini-2.5-flash:generateContent`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"contents":[{"role":"user","parts":[{"text":"x"}]}]}' });
    expect(res.status).toBe(403);
    expect(((await res.json()) as { error: { status: string } }).error.status).toBe('PERMISSION_DENIED');
  });

  it('passes a 429 on as a rate_limit_error', async () => {
    const r = await call('fail-429', { model: 'x', messages: [{ role: 'user', content: 'Hi' }] });
    expect(r.status).toBe(429);
    expect(r.body).toMatchObject({ error: { type: 'rate_limit_error', message: expect.stringContaining('quota') } });
  });

  it('runs a whole tool-calling turn: the call, its result by name, and the thought signature sent back', async () => {
    const messages: Array<Record<string, unknown>> = [{ role: 'user', content: 'Weather in Paris?' }];
    const first = await call('tools-model', { model: 'x', messages, tools: [weatherTool], tool_choice: 'auto' });
    const choice = (first.body.choices as Array<{ message: Record<string, unknown>; finish_reason: string }>)[0]!;
    expect(choice.finish_reason).toBe('tool_calls');
    const toolCalls = choice.message.tool_calls as Array<{ id: string; function: { name: string; arguments: string } }>;
    expect(toolCalls).toHaveLength(1);
    expect(toolCalls[0]!.id).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(JSON.parse(toolCalls[0]!.function.arguments)).toEqual({ city: 'Paris', unit: 'celsius' });
    messages.push(choice.message, { role: 'tool', tool_call_id: toolCalls[0]!.id, content: '{"temperature": 18}' });
    const second = await call('tools-model', { model: 'x', messages, tools: [weatherTool] });
    expect(second.status).toBe(200);
    expect(second.body).toMatchObject({ choices: [{ finish_reason: 'stop', message: { content: 'The quick brown fox jumps.' } }] });
    const sent = fake.received.at(-1)!.body.contents as Array<{ role: string; parts: Array<Record<string, unknown>> }>;
    expect(sent[1]!.parts.find((p) => p.functionCall)).toEqual({ functionCall: { name: 'get_weather', args: { city: 'Paris', unit: 'celsius' } }, thoughtSignature: FAKE_THOUGHT_SIGNATURE });
    expect(sent[2]).toEqual({ role: 'user', parts: [{ functionResponse: { name: 'get_weather', response: { temperature: 18 } } }] });
  });

  it('streams text as chat.completion.chunk events, ending with finish_reason and the usage chunk', async () => {
    const s = await streamCall('gemini-2.5-flash', { model: 'x', messages: [{ role: 'user', content: 'Hi' }] });
    const text = s.events.map((e) => (e.choices as Array<{ delta: { content?: string } }>)[0]?.delta.content ?? '').join('');
    expect(text).toBe('The quick brown fox jumps.');
    expect(s.events.every((e) => e.object === 'chat.completion.chunk' && e.id === 'chatcmpl-req-live-1')).toBe(true);
    expect((s.events.at(-2)!.choices as Array<{ finish_reason: string }>)[0]!.finish_reason).toBe('stop');
    expect(s.events.at(-1)).toMatchObject({ choices: [], usage: { prompt_tokens: 31, completion_tokens: 6, prompt_tokens_details: { cached_tokens: 8 } } });
    expect(s.outcome).toEqual({ complete: true, upstreamErrorType: null });
  });

  it('streams a tool call with the same id the non-streamed answer gives', async () => {
    const body = { model: 'x', messages: [{ role: 'user', content: 'Weather?' }], tools: [weatherTool] };
    const s = await streamCall('tools-model', body, false);
    const calls = s.events.flatMap((e) => (e.choices as Array<{ delta: { tool_calls?: Array<{ id: string }> } }>)[0]?.delta.tool_calls ?? []);
    const whole = await call('tools-model', body);
    const wholeCalls = (whole.body.choices as Array<{ message: { tool_calls: Array<{ id: string }> } }>)[0]!.message.tool_calls;
    expect(calls.map((c) => c.id)).toEqual(wholeCalls.map((c) => c.id));
    expect(s.events.some((e) => 'usage' in e)).toBe(false);
  });

  it('reports a stream cut before its finishReason as incomplete, with no closing events', async () => {
    const s = await streamCall('cut-model', { model: 'x', messages: [{ role: 'user', content: 'Hi' }] });
    expect(s.outcome.complete).toBe(false);
    expect(s.events.some((e) => (e.choices as Array<{ finish_reason: string | null }>)[0]?.finish_reason)).toBe(false);
    expect(s.events.some((e) => Array.isArray(e.choices) && e.choices.length === 0)).toBe(false);
  });

  it('maps a blocked prompt to content_filter, streamed or not', async () => {
    const r = await call('blocked-model', { model: 'x', messages: [{ role: 'user', content: 'Hi' }] });
    expect(r.body).toMatchObject({ choices: [{ finish_reason: 'content_filter', message: { content: null } }] });
    const s = await streamCall('blocked-model', { model: 'x', messages: [{ role: 'user', content: 'Hi' }] });
    expect(s.events.some((e) => (e.choices as Array<{ finish_reason: string | null }>)[0]?.finish_reason === 'content_filter')).toBe(true);
  });
});

import { geminiEmbeddingsRequest, geminiEmbeddingsResponse } from '../../worker/translate/openai-gemini/embeddings';

describe('embeddings through batchEmbedContents', () => {
  it('embeds several inputs in one call, in order, with the dimensions asked', async () => {
    const c = ctx('gemini-embedding-001');
    const body = { model: 'gemini/gemini-embedding-001', input: ['a fox', 'a dog'], dimensions: 4 };
    const req = buildGeminiCall({ baseUrl: `${fake.url}/v1beta`, model: 'gemini-embedding-001', apiKey: FAKE_GEMINI_KEY, body: geminiEmbeddingsRequest(body, c), action: 'batchEmbedContents' });
    const res = await fetch(req.url, { method: 'POST', headers: req.headers, body: req.body });
    expect(res.status).toBe(200);
    const out = geminiEmbeddingsResponse((await res.json()) as Record<string, unknown>, body, c) as { data: Array<{ index: number; embedding: number[] }>; model: string };
    expect(out.model).toBe('gemini/gemini-embedding-001');
    expect(out.data.map((d) => d.index)).toEqual([0, 1]);
    expect(out.data.every((d) => d.embedding.length === 4)).toBe(true);
    expect(out.data[0]!.embedding).not.toEqual(out.data[1]!.embedding);
  });

  it('answers base64 as little-endian float32, as OpenAI does', () => {
    const out = geminiEmbeddingsResponse({ embeddings: [{ values: [0.5, -1] }] }, { encoding_format: 'base64' }, ctx('m')) as { data: Array<{ embedding: string }> };
    const bytes = Uint8Array.from(atob(out.data[0]!.embedding), (ch) => ch.charCodeAt(0));
    expect(Array.from(new Float32Array(bytes.buffer))).toEqual([0.5, -1]);
  });

  it('refuses token-id input by name', () => {
    expect(() => geminiEmbeddingsRequest({ model: 'm', input: [[1, 2, 3]] }, ctx('m'))).toThrow(expect.objectContaining({ param: 'input', status: 400 }));
  });
});

describe('the fake Gemini checks what it receives', () => {
  const post = (body: unknown) =>
    fetch(`${fake.url}/v1beta/models/gemini-2.5-flash:generateContent`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-goog-api-key': FAKE_GEMINI_KEY }, body: JSON.stringify(body) });
  it('refuses fields Gemini does not know, roles it does not know, and unmatched function responses', async () => {
    const unknown = await post({ contents: [{ role: 'user', parts: [{ text: 'x' }] }], temperature: 1 });
    expect(unknown.status).toBe(400);
    expect(((await unknown.json()) as { error: { message: string } }).error.message).toContain('Unknown name "temperature"');
    const role = await post({ contents: [{ role: 'assistant', parts: [{ text: 'x' }] }] });
    expect(role.status).toBe(400);
    const orphan = await post({ contents: [{ role: 'user', parts: [{ functionResponse: { name: 'f', response: {} } }] }] });
    expect(orphan.status).toBe(400);
  });

  it('an empty assistant message is left out rather than sent as an empty turn', () => {
    const out = openaiGemini.request({ model: 'x', messages: [{ role: 'user', content: 'a' }, { role: 'assistant', content: '' }, { role: 'user', content: 'b' }] }, ctx('m'));
    expect(out.contents).toEqual([{ role: 'user', parts: [{ text: 'a' }] }, { role: 'user', parts: [{ text: 'b' }] }]);
  });
});

import { geminiBuildRequest } from '../../worker/providers/gemini';

describe('the adapter entry point the pipeline calls', () => {
  it('moves model from the body into the URL and picks the action from stream', async () => {
    const body = { ...openaiGemini.request({ model: 'x', messages: [{ role: 'user', content: 'Hi' }] }, ctx('m')), model: 'gemini-2.5-flash' };
    const req = geminiBuildRequest({ body, stream: true, apiKey: FAKE_GEMINI_KEY, baseUrl: `${fake.url}/v1beta` });
    expect(req.url).toBe(`${fake.url}/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse`);
    expect(JSON.parse(req.body)).not.toHaveProperty('model');
    const res = await fetch(req.url, { method: 'POST', headers: req.headers, body: req.body });
    expect(res.status).toBe(200);
    await res.text();
    expect(geminiBuildRequest({ body, stream: false, apiKey: 'k', baseUrl: null }).url).toBe('https://generativelanguage.googleapis.com/v1beta/models/gemini-2.5-flash:generateContent');
  });
});
