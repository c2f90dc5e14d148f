/**
 * Any model from either SDK, end to end through the pipeline (issue 10): the official `openai` SDK
 * calling `anthropic/…` models and the official `@anthropic-ai/sdk` calling `openai/…` models,
 * streamed and not, against fake providers speaking their own formats (test/support/fake-providers.ts,
 * test/support/scripted-upstream.ts). Checked: what the SDK gets, what the provider received (its
 * own format), errors in the caller's format, usage in the one stored event, and a route whose
 * targets speak different formats.
 */
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FAKE_AWS, FAKE_BEDROCK_USAGE, fakeBedrockSecret, startFakeBedrock } from '../support/fake-bedrock';
import { FAKE_GEMINI_KEY, FAKE_GEMINI_USAGE, startFakeGemini } from '../support/fake-gemini';
import type { FakeProvider } from '../support/fake-providers';
import { FAKE_USAGE } from '../support/fake-providers';
import { startScriptedUpstream, type ScriptedUpstream } from '../support/scripted-upstream';
import { eventually, startE2E, type E2E, type Json } from './stack-fixture';

let e2e: E2E;
let scripted: ScriptedUpstream;
let gemini: FakeProvider;
let bedrock: FakeProvider;
let orgId: string;
let key: string;

const openai = () => new OpenAI({ baseURL: `${e2e.stack.gatewayUrl}/v1`, apiKey: key, maxRetries: 0 });
const anthropic = () => new Anthropic({ baseURL: e2e.stack.gatewayUrl, apiKey: key, maxRetries: 0 });
const FAKE_TEXT = /quick brown fox/;

async function latestEvent(model: string): Promise<Json> {
  return eventually(`event for ${model}`, async () => (await e2e.query('select * from audit_events where model = $1 order by started_at desc', [model]))[0]);
}

beforeAll(async () => {
  scripted = await startScriptedUpstream();
  gemini = await startFakeGemini();
  bedrock = await startFakeBedrock();
  e2e = await startE2E();
  orgId = (await e2e.admin('POST', '/orgs', { name: `translation ${Date.now()}` })).json.id;
  for (const body of [
    { provider: 'openai', name: 'fake openai', secret: 'sk-translate-openai-0000', base_url: `${e2e.openai.url}/v1` },
    { provider: 'anthropic', name: 'fake anthropic', secret: 'sk-ant-translate-0000', base_url: e2e.anthropic.url },
    { provider: 'groq', name: 'scripted groq', secret: 'gsk-translate-0000', base_url: `${scripted.url}/v1` },
    { provider: 'gemini', name: 'fake gemini', secret: FAKE_GEMINI_KEY, base_url: `${gemini.url}/v1beta` },
    { provider: 'bedrock', name: 'fake bedrock', secret: fakeBedrockSecret(FAKE_AWS), base_url: bedrock.url },
  ]) {
    const res = await e2e.admin('POST', '/provider-keys', { org_id: orgId, ...body });
    expect(res.status, JSON.stringify(res.json)).toBe(201);
  }
  key = (await e2e.admin('POST', '/keys', { org_id: orgId, name: 'translation', models: ['openai/*', 'anthropic/*', 'groq/*', 'gemini/*', 'bedrock/*', 'route/*'] })).json.key;
});

afterAll(async () => {
  await e2e?.close();
  await scripted?.close();
  await gemini?.close();
  await bedrock?.close();
});

describe('the openai SDK calling anthropic/… models', () => {
  it('answers a chat completion translated from a Messages answer, and the provider got a Messages request', async () => {
    const before = e2e.anthropic.received.length;
    const completion = await openai().chat.completions.create({
      model: 'anthropic/claude-sonnet-4-5',
      messages: [
        { role: 'system', content: 'Be brief.' },
        { role: 'user', content: 'Hello' },
      ],
    });
    expect(completion.object).toBe('chat.completion');
    expect(completion.model).toBe('anthropic/claude-sonnet-4-5');
    expect(completion.choices[0]!.message.content).toMatch(FAKE_TEXT);
    expect(completion.choices[0]!.finish_reason).toBe('stop');
    const u = FAKE_USAGE.anthropic;
    expect(completion.usage?.prompt_tokens).toBe(u.input_tokens + u.cache_read_input_tokens + u.cache_creation_input_tokens);
    const got = e2e.anthropic.received[before]!;
    expect(got.path).toBe('/v1/messages');
    expect(got.body).toMatchObject({ model: 'claude-sonnet-4-5', system: 'Be brief.', max_tokens: 4096 });
    expect(got.headers['x-api-key']).toBe('sk-ant-translate-0000');
    const event = await latestEvent('anthropic/claude-sonnet-4-5');
    expect(event).toMatchObject({ status: 200, provider: 'anthropic', input_tokens: 41, output_tokens: u.output_tokens, cache_read_tokens: 16, cache_write_tokens: 4 });
  });

  it('streams: chunks, then [DONE]; usage only when the client asked for it', async () => {
    const stream = await openai().chat.completions.create({
      model: 'anthropic/claude-haiku-4-5',
      messages: [{ role: 'user', content: 'Hello' }],
      stream: true,
      stream_options: { include_usage: true },
    });
    let text = '';
    let usage: Json = null;
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta.content ?? '';
      if (chunk.usage) usage = chunk.usage;
    }
    expect(text).toMatch(FAKE_TEXT);
    expect(usage?.completion_tokens).toBe(FAKE_USAGE.anthropic.output_tokens);
    const event = await latestEvent('anthropic/claude-haiku-4-5');
    expect(event).toMatchObject({ status: 200, stream: true, error_type: null, output_tokens: FAKE_USAGE.anthropic.output_tokens });
  });

  it('refuses a parameter Claude cannot honour with a 400 naming it, before any upstream call', async () => {
    const before = e2e.anthropic.received.length;
    const err = await openai()
      .chat.completions.create({ model: 'anthropic/claude-sonnet-4-5', messages: [{ role: 'user', content: 'x' }], seed: 7 })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.BadRequestError);
    expect((err as InstanceType<typeof OpenAI.BadRequestError>).param).toBe('seed');
    expect(e2e.anthropic.received.length).toBe(before);
  });

  it('passes an Anthropic error on in OpenAI format', async () => {
    const err = await openai()
      .chat.completions.create({ model: 'anthropic/fail-529', messages: [{ role: 'user', content: 'x' }] })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.APIError);
    expect((err as InstanceType<typeof OpenAI.APIError>).status).toBe(529);
  });
});

describe('@anthropic-ai/sdk calling openai/… models', () => {
  it('answers a message translated from a chat completion', async () => {
    const before = e2e.openai.received.length;
    const message = await anthropic().messages.create({
      model: 'openai/gpt-4o-mini',
      max_tokens: 100,
      system: 'Be brief.',
      messages: [{ role: 'user', content: 'Hello' }],
    });
    expect(message.type).toBe('message');
    expect(message.content[0]).toMatchObject({ type: 'text' });
    expect((message.content[0] as { text: string }).text).toMatch(FAKE_TEXT);
    expect(message.stop_reason).toBe('end_turn');
    const got = e2e.openai.received[before]!;
    expect(got.path).toBe('/v1/chat/completions');
    expect(got.body.model).toBe('gpt-4o-mini');
    expect(got.body.messages).toEqual([
      { role: 'system', content: 'Be brief.' },
      { role: 'user', content: 'Hello' },
    ]);
    const event = await latestEvent('openai/gpt-4o-mini');
    expect(event).toMatchObject({ status: 200, provider: 'openai', input_tokens: FAKE_USAGE.openai.prompt_tokens, cache_read_tokens: 8 });
  });

  it('streams a message, and usage reaches the event though the client never asked OpenAI for it', async () => {
    const stream = anthropic().messages.stream({ model: 'openai/gpt-4.1-mini', max_tokens: 50, messages: [{ role: 'user', content: 'Hello' }] });
    const final = await stream.finalMessage();
    expect((final.content[0] as { text: string }).text).toMatch(FAKE_TEXT);
    expect(final.usage.output_tokens).toBe(FAKE_USAGE.openai.completion_tokens);
    expect(e2e.openai.received.at(-1)!.body.stream_options).toEqual({ include_usage: true });
    const event = await latestEvent('openai/gpt-4.1-mini');
    expect(event).toMatchObject({ status: 200, stream: true, error_type: null, output_tokens: FAKE_USAGE.openai.completion_tokens });
  });

  it('streams a tool call the way coding agents use it: arguments arrive in pieces, the SDK assembles the input', async () => {
    const chunk = (delta: Json, finish: string | null = null) =>
      `data: ${JSON.stringify({ id: 'c1', object: 'chat.completion.chunk', created: 1, model: 'm', choices: [{ index: 0, delta, finish_reason: finish }] })}\n\n`;
    scripted.script('tool-model', {
      steps: [
        chunk({ role: 'assistant', content: null, tool_calls: [{ index: 0, id: 'call_1', type: 'function', function: { name: 'read_file', arguments: '' } }] }),
        chunk({ tool_calls: [{ index: 0, function: { arguments: '{"path":' } }] }),
        chunk({ tool_calls: [{ index: 0, function: { arguments: '"README.md"}' } }] }),
        chunk({}, 'tool_calls'),
        `data: ${JSON.stringify({ id: 'c1', object: 'chat.completion.chunk', created: 1, model: 'm', choices: [], usage: { prompt_tokens: 12, completion_tokens: 9, total_tokens: 21 } })}\n\n`,
        'data: [DONE]\n\n',
      ],
    });
    const final = await anthropic()
      .messages.stream({
        model: 'groq/tool-model',
        max_tokens: 200,
        tools: [{ name: 'read_file', description: 'Read a file', input_schema: { type: 'object', properties: { path: { type: 'string' } }, required: ['path'] } }],
        messages: [{ role: 'user', content: 'Open the README' }],
      })
      .finalMessage();
    expect(final.stop_reason).toBe('tool_use');
    expect(final.content).toEqual([expect.objectContaining({ type: 'tool_use', id: 'call_1', name: 'read_file', input: { path: 'README.md' } })]);
    const event = await latestEvent('groq/tool-model');
    expect(event).toMatchObject({ provider: 'groq', input_tokens: 12, output_tokens: 9, error_type: null });
  });

  it('passes an OpenAI error on in Anthropic format', async () => {
    const err = await anthropic()
      .messages.create({ model: 'openai/fail-429', max_tokens: 10, messages: [{ role: 'user', content: 'x' }] })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Anthropic.RateLimitError);
  });
});

describe('Gemini and Bedrock through the hub', () => {
  it('the openai SDK streams from gemini/…: the key went as x-goog-api-key, usage with reasoning tokens reached the event', async () => {
    const before = gemini.received.length;
    // The fake thinks (and reports thoughtsTokenCount) for models named thinking-….
    const stream = await openai().chat.completions.create({ model: 'gemini/thinking-2.5-flash', messages: [{ role: 'user', content: 'Hello' }], stream: true });
    let text = '';
    for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? '';
    expect(text).toMatch(FAKE_TEXT);
    const got = gemini.received[before]!;
    expect(got.path).toBe('/v1beta/models/thinking-2.5-flash:streamGenerateContent?alt=sse');
    expect(got.headers['x-goog-api-key']).toBe(FAKE_GEMINI_KEY);
    const event = await latestEvent('gemini/thinking-2.5-flash');
    expect(event).toMatchObject({ provider: 'gemini', status: 200, error_type: null, input_tokens: FAKE_GEMINI_USAGE.promptTokenCount });
    expect(event.reasoning_tokens).toBe(FAKE_GEMINI_USAGE.thoughtsTokenCount);
  });

  it('@anthropic-ai/sdk reaches gemini/… through two translators chained', async () => {
    const final = await anthropic().messages.stream({ model: 'gemini/gemini-2.5-pro', max_tokens: 64, messages: [{ role: 'user', content: 'Hello' }] }).finalMessage();
    expect((final.content[0] as { text: string }).text).toMatch(FAKE_TEXT);
    expect(final.stop_reason).toBe('end_turn');
  });

  it('the openai SDK calls bedrock/…, signed with SigV4 (the fake verifies it), streamed as AWS event-stream and not', async () => {
    const model = 'bedrock/anthropic.claude-sonnet-4-5-20250929-v1:0';
    const whole = await openai().chat.completions.create({ model, messages: [{ role: 'user', content: 'Hello' }] });
    expect(whole.choices[0]!.message.content).toMatch(FAKE_TEXT);
    const stream = await openai().chat.completions.create({ model, messages: [{ role: 'user', content: 'Hello' }], stream: true, stream_options: { include_usage: true } });
    let text = '';
    let usage: Json = null;
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta.content ?? '';
      if (chunk.usage) usage = chunk.usage;
    }
    expect(text).toMatch(FAKE_TEXT);
    expect(usage?.completion_tokens).toBe(FAKE_BEDROCK_USAGE.outputTokens);
    expect(String(bedrock.received.at(-1)!.headers.authorization)).toMatch(/^AWS4-HMAC-SHA256 Credential=/);
    const event = await latestEvent(model);
    expect(event).toMatchObject({ provider: 'bedrock', status: 200, stream: true, error_type: null, output_tokens: FAKE_BEDROCK_USAGE.outputTokens });
  });
});

describe('a route across formats', () => {
  it('falls back from a failing Anthropic target to an OpenAI one for an Anthropic client, translating only the second', async () => {
    const name = `mixed-${Date.now()}`;
    const res = await e2e.admin('POST', '/routes', { org_id: orgId, name, strategy: 'fallback', targets: [{ model: 'anthropic/fail-503' }, { model: 'openai/gpt-4o' }] });
    expect(res.status, JSON.stringify(res.json)).toBe(201);
    const message = await anthropic().messages.create({ model: `route/${name}`, max_tokens: 20, messages: [{ role: 'user', content: 'Hello' }] });
    expect((message.content[0] as { text: string }).text).toMatch(FAKE_TEXT);
    const event: Json = await eventually('route event', async () => (await e2e.query('select * from audit_events where route = $1', [name]))[0]);
    expect(event.attempts.map((a: Json) => [a.model, a.status])).toEqual([
      ['anthropic/fail-503', 503],
      ['openai/gpt-4o', 200],
    ]);
  });
});
