/**
 * Every provider behind the OpenAI wire format, end to end with the official `openai` SDK on the
 * stack `npm start` runs: Gemini, Bedrock, Azure OpenAI and Workers AI chat (streamed and not, with
 * tools), embeddings for each embedding provider, the Responses API (OpenAI and Azure, streamed and
 * not), and /v1/models. Upstreams are local fakes speaking each provider's documented wire format
 * and checking what they receive (Gemini's key header, a SigV4 signature that verifies, Azure's
 * api-key and api-version); Workers AI is a fake `AI` binding (scripts/fake-workers-ai).
 */
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fakeBedrockSecret, startFakeBedrock } from '../support/fake-bedrock';
import { FAKE_GEMINI_KEY, startFakeGemini } from '../support/fake-gemini';
import { FAKE_AZURE_KEY, FAKE_PLATFORM_KEY, FAKE_PLATFORM_USAGE, startFakeAzure, startFakeOpenAIPlatform } from '../support/fake-openai-platform';
import type { FakeProvider } from '../support/fake-providers';
import { openaiSchemaErrors } from '../support/openai-spec';
import { eventually, startE2E, type E2E, type Json } from './stack-fixture';

let e2e: E2E;
let gemini: FakeProvider;
let bedrock: FakeProvider;
let azure: FakeProvider;
let platform: FakeProvider;
let orgId: string;
let key: string;
let keyId: string;

const client = (apiKey = key) => new OpenAI({ baseURL: `${e2e.stack.gatewayUrl}/v1`, apiKey, maxRetries: 0 });

async function providerKey(body: Record<string, unknown>): Promise<void> {
  const res = await e2e.admin('POST', '/provider-keys', { org_id: orgId, name: `${String(body.provider)} fake`, ...body });
  expect(res.status, JSON.stringify(res.json)).toBe(201);
}

async function createKey(models: string[]): Promise<{ key: string; id: string }> {
  const res = await e2e.admin('POST', '/keys', { org_id: orgId, name: 'providers e2e', models });
  expect(res.status, JSON.stringify(res.json)).toBe(201);
  return { key: res.json.key, id: res.json.id };
}

/** The audit event of the newest request of a key to `model`, once it is stored. */
async function eventFor(model: string, endpoint: string, after: number): Promise<Json> {
  return eventually(`event for ${model}`, async () => {
    const rows = await e2e.query<Json>('select * from audit_events where key_id = $1 and model = $2 and endpoint = $3 order by started_at desc', [keyId, model, endpoint]);
    return rows.length > after ? rows[0] : undefined;
  });
}

async function eventCount(model: string, endpoint: string): Promise<number> {
  const rows = await e2e.query('select 1 from audit_events where key_id = $1 and model = $2 and endpoint = $3', [keyId, model, endpoint]);
  return rows.length;
}

const WEATHER_TOOL: OpenAI.ChatCompletionTool = {
  type: 'function',
  function: { name: 'get_weather', description: 'Weather in a city', parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } },
};

beforeAll(async () => {
  [e2e, gemini, bedrock, azure, platform] = await Promise.all([startE2E(), startFakeGemini(), startFakeBedrock(), startFakeAzure(), startFakeOpenAIPlatform()]);
  const org = await e2e.admin('POST', '/orgs', { name: `providers ${new Date().toISOString()}` });
  expect(org.status).toBe(201);
  orgId = org.json.id;
  await providerKey({ provider: 'gemini', secret: FAKE_GEMINI_KEY, base_url: `${gemini.url}/v1beta` });
  await providerKey({ provider: 'bedrock', secret: fakeBedrockSecret(), base_url: bedrock.url });
  await providerKey({ provider: 'azure', secret: FAKE_AZURE_KEY, base_url: azure.url });
  await providerKey({ provider: 'openai', secret: FAKE_PLATFORM_KEY, base_url: `${platform.url}/v1` });
  ({ key, id: keyId } = await createKey(['openai/*', 'azure/*', 'gemini/*', 'bedrock/*', 'workers-ai/*']));
}, 180_000);

afterAll(async () => {
  await Promise.all([e2e?.close(), gemini?.close(), bedrock?.close(), azure?.close(), platform?.close()]);
});

const CHAT_MODELS = [
  { model: 'gemini/gemini-2.5-flash', toolModel: 'gemini/tools-flash' },
  { model: 'bedrock/anthropic.claude-sonnet-4-5-20250929-v1:0', toolModel: 'bedrock/tools-claude' },
  { model: 'azure/chat-deployment', toolModel: 'azure/chat-deployment' },
  { model: 'workers-ai/@cf/meta/llama-3.1-8b-instruct', toolModel: 'workers-ai/@cf/meta/llama-3.1-8b-instruct' },
];

describe.each(CHAT_MODELS)('openai SDK → $model', ({ model, toolModel }) => {
  it('answers a chat in OpenAI’s published shape, recorded with its usage', async () => {
    const before = await eventCount(model, 'chat_completions');
    const raw = await client().chat.completions.create({ model, messages: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'Say something.' }], max_tokens: 50 }).asResponse();
    const body = (await raw.json()) as Json;
    expect(raw.status, JSON.stringify(body)).toBe(200);
    expect(openaiSchemaErrors('CreateChatCompletionResponse', body)).toEqual([]);
    expect(body.choices[0].message.content).toBe('The quick brown fox jumps.');
    expect(body.choices[0].finish_reason).toBe('stop');
    const event = await eventFor(model, 'chat_completions', before);
    expect(event.status).toBe(200);
    expect(event.provider).toBe(model.split('/')[0]);
    expect(event.input_tokens).toBeGreaterThan(0);
    expect(event.output_tokens).toBeGreaterThan(0);
  });

  it('streams, ending with [DONE], with a usage chunk when asked', async () => {
    const stream = await client().chat.completions.create({ model, stream: true, stream_options: { include_usage: true }, messages: [{ role: 'user', content: 'Say something.' }] });
    let text = '';
    let usage: OpenAI.CompletionUsage | null | undefined;
    let finish: string | null = null;
    for await (const chunk of stream) {
      // Azure's first chunk carries only prompt_filter_results, with `object: ""`: Azure's own shape, passed on as sent.
      const azureFilterChunk = model.startsWith('azure/') && chunk.choices.length === 0 && (chunk as { object: string }).object === '';
      if (!azureFilterChunk) expect(openaiSchemaErrors('CreateChatCompletionStreamResponse', chunk)).toEqual([]);
      text += chunk.choices[0]?.delta.content ?? '';
      finish = chunk.choices[0]?.finish_reason ?? finish;
      if (chunk.usage) usage = chunk.usage;
    }
    expect(text).toBe('The quick brown fox jumps.');
    expect(finish).toBe('stop');
    expect(usage?.prompt_tokens).toBeGreaterThan(0);
  });

  it('calls a tool, streamed and not, and takes its result back', async () => {
    const messages: OpenAI.ChatCompletionMessageParam[] = [{ role: 'user', content: 'Weather in Paris?' }];
    const res = await client().chat.completions.create({ model: toolModel, messages, tools: [WEATHER_TOOL] });
    const call = res.choices[0]!.message.tool_calls?.[0];
    expect(res.choices[0]!.finish_reason).toBe('tool_calls');
    expect(call?.type === 'function' && call.function.name).toBe('get_weather');
    expect(call?.type === 'function' && typeof JSON.parse(call.function.arguments)).toBe('object');

    const stream = await client().chat.completions.create({ model: toolModel, messages, tools: [WEATHER_TOOL], stream: true });
    let name = '';
    let args = '';
    let finish: string | null = null;
    for await (const chunk of stream) {
      for (const tc of chunk.choices[0]?.delta.tool_calls ?? []) {
        name += tc.function?.name ?? '';
        args += tc.function?.arguments ?? '';
      }
      finish = chunk.choices[0]?.finish_reason ?? finish;
    }
    expect(name).toBe('get_weather');
    expect(typeof JSON.parse(args)).toBe('object');
    expect(finish).toBe('tool_calls');

    const followUp = await client().chat.completions.create({
      model: toolModel,
      tools: [WEATHER_TOOL],
      messages: [...messages, res.choices[0]!.message, { role: 'tool', tool_call_id: call!.id, content: '{"temp": 21}' }],
    });
    expect(followUp.choices[0]!.message.content).toBe('The quick brown fox jumps.');
  });
});

describe('Azure OpenAI specifics', () => {
  it('addresses the deployment with the api-key header and the default api-version', async () => {
    const before = azure.received.length;
    await client().chat.completions.create({ model: 'azure/chat-deployment', messages: [{ role: 'user', content: 'hi' }] });
    const got = azure.received[before]!;
    expect(got.path).toBe('/openai/deployments/chat-deployment/chat/completions?api-version=2024-10-21');
    expect(got.headers['api-key']).toBe(FAKE_AZURE_KEY);
    expect(got.headers.authorization).toBeUndefined();
  });

  it('passes an Azure error on in OpenAI’s format', async () => {
    const err = await client().chat.completions.create({ model: 'azure/missing', messages: [{ role: 'user', content: 'hi' }] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.NotFoundError);
    expect((err as InstanceType<typeof OpenAI.NotFoundError>).message).toMatch(/deployment/i);
  });
});

describe('provider errors reach the openai SDK in OpenAI’s format', () => {
  it.each([
    { model: 'gemini/fail-429', error: OpenAI.RateLimitError, status: 429 },
    { model: 'bedrock/fail-503', error: OpenAI.InternalServerError, status: 503 },
    { model: 'azure/fail-429', error: OpenAI.RateLimitError, status: 429 },
  ])('$model → $status, one event, no provider secret in the message', async ({ model, error, status }) => {
    const before = await eventCount(model, 'chat_completions');
    const err = await client().chat.completions.create({ model, messages: [{ role: 'user', content: 'hi' }] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(error);
    expect((err as InstanceType<typeof OpenAI.APIError>).status).toBe(status);
    const message = (err as Error).message;
    for (const secret of [FAKE_GEMINI_KEY, FAKE_AZURE_KEY, JSON.parse(fakeBedrockSecret()).secret_access_key as string]) expect(message).not.toContain(secret);
    const event = await eventFor(model, 'chat_completions', before);
    expect(event.status).toBe(status);
  });

  it('a Workers AI model the binding does not have is a 400 naming it', async () => {
    const err = await client().chat.completions.create({ model: 'workers-ai/not-a-model', messages: [{ role: 'user', content: 'hi' }] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.BadRequestError);
  });
});

describe('embeddings through the openai SDK', () => {
  const CASES = [
    { model: 'openai/text-embedding-3-small', tokens: 2 * FAKE_PLATFORM_USAGE.embedPerInput },
    { model: 'azure/embedding-deployment', tokens: 2 * FAKE_PLATFORM_USAGE.embedPerInput },
    { model: 'gemini/gemini-embedding-001', tokens: null },
    { model: 'bedrock/amazon.titan-embed-text-v2:0', tokens: 'positive' as const },
    { model: 'workers-ai/@cf/baai/bge-base-en-v1.5', tokens: null },
  ];
  it.each(CASES)('$model embeds each input, in order, with one event', async ({ model, tokens }) => {
    const before = await eventCount(model, 'embeddings');
    const res = await client().embeddings.create({ model, input: ['first text', 'second text'], encoding_format: 'float' });
    expect(res.object).toBe('list');
    expect(res.data.map((d) => d.index)).toEqual([0, 1]);
    expect(res.data[0]!.embedding.length).toBeGreaterThan(0);
    expect(res.data[0]!.embedding).not.toEqual(res.data[1]!.embedding);
    expect(res.model).toBe(model);
    const event = await eventFor(model, 'embeddings', before);
    expect(event.status).toBe(200);
    if (tokens === null) expect(event.input_tokens).toBeNull();
    else if (tokens === 'positive') expect(event.input_tokens).toBeGreaterThan(0);
    else expect(event.input_tokens).toBe(tokens);
    // Embeddings produce no output tokens: always 0 (an uncounted input stays null, unpriced).
    expect(event.output_tokens).toBe(0);
    if (model === 'openai/text-embedding-3-small') expect(Number(event.cost_usd)).toBeGreaterThan(0);
  });

  it('decodes the SDK’s default base64 encoding for a translated provider', async () => {
    // The SDK asks for base64 by default and decodes it: the values must survive.
    const res = await client().embeddings.create({ model: 'gemini/gemini-embedding-001', input: 'one' });
    expect(res.data[0]!.embedding.every((x) => Number.isFinite(x))).toBe(true);
  });

  it('refuses more Bedrock Titan inputs than it will make calls for, before calling', async () => {
    const before = bedrock.received.length;
    const err = await client().embeddings.create({ model: 'bedrock/amazon.titan-embed-text-v2:0', input: Array.from({ length: 65 }, (_, i) => `t${i}`) }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.BadRequestError);
    expect(bedrock.received.length).toBe(before);
  });

  it('refuses a chat-only provider in the caller’s format', async () => {
    const err = await client().embeddings.create({ model: 'anthropic/claude-sonnet-4-5', input: 'a' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.BadRequestError);
    expect((err as InstanceType<typeof OpenAI.BadRequestError>).message).toContain('/v1/embeddings');
    const k = await createKey(['gemini/*']);
    const denied = await client(k.key).embeddings.create({ model: 'openai/text-embedding-3-small', input: 'a' }).catch((e: unknown) => e);
    expect(denied).toBeInstanceOf(OpenAI.PermissionDeniedError);
  });
});

describe('Responses API through the openai SDK', () => {
  it.each(['openai/gpt-4o-mini', 'azure/responses-deployment'])('%s answers and records input, cached and output tokens', async (model) => {
    const before = await eventCount(model, 'responses');
    const res = await client().responses.create({ model, input: 'Say something.' });
    expect(res.output_text).toBe('The quick brown fox jumps.');
    const event = await eventFor(model, 'responses', before);
    expect(event.status).toBe(200);
    expect(event.input_tokens).toBe(FAKE_PLATFORM_USAGE.input);
    expect(event.cache_read_tokens).toBe(FAKE_PLATFORM_USAGE.cached);
    expect(event.output_tokens).toBe(FAKE_PLATFORM_USAGE.output);
  });

  it.each(['openai/gpt-4o-mini', 'azure/responses-deployment'])('%s streams, usage read from response.completed', async (model) => {
    const before = await eventCount(model, 'responses');
    const stream = await client().responses.create({ model, input: 'Say something.', stream: true });
    let text = '';
    let completed = false;
    for await (const ev of stream) {
      if (ev.type === 'response.output_text.delta') text += ev.delta;
      if (ev.type === 'response.completed') completed = true;
    }
    expect(text).toBe('The quick brown fox jumps.');
    expect(completed).toBe(true);
    const event = await eventFor(model, 'responses', before);
    expect(event.stream).toBe(true);
    expect(event.input_tokens).toBe(FAKE_PLATFORM_USAGE.input);
    expect(event.output_tokens).toBe(FAKE_PLATFORM_USAGE.output);
  });

  it('sends Azure the deployment as the model, at the preview api-version', async () => {
    const before = azure.received.length;
    await client().responses.create({ model: 'azure/responses-deployment', input: 'hi' });
    const got = azure.received[before]!;
    expect(got.path).toBe('/openai/responses?api-version=2025-04-01-preview');
    expect(got.body.model).toBe('responses-deployment');
  });

  it('refuses a provider without the Responses API in OpenAI’s format', async () => {
    const err = await client().responses.create({ model: 'gemini/gemini-2.5-flash', input: 'hi' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.BadRequestError);
  });
});

describe('GET /v1/models', () => {
  it('lists the models of every provider the key may use', async () => {
    const raw = await client().models.list().asResponse();
    const body = (await raw.json()) as Json;
    expect(openaiSchemaErrors('ListModelsResponse', body)).toEqual([]);
    const ids = (body.data as Json[]).map((m) => m.id as string);
    for (const p of ['openai/', 'azure/', 'gemini/', 'bedrock/', 'workers-ai/']) {
      if (p === 'azure/') continue; // Azure models are the organisation's own deployment names: none is known in advance.
      expect(ids.some((id) => id.startsWith(p)), p).toBe(true);
    }
    expect(ids.some((id) => id.startsWith('anthropic/'))).toBe(false);
  });

  it('lists only what the key’s scope allows', async () => {
    const k = await createKey(['gemini/*']);
    const list = await client(k.key).models.list();
    const ids = list.data.map((m) => m.id);
    expect(ids.length).toBeGreaterThan(0);
    expect(ids.every((id) => id.startsWith('gemini/'))).toBe(true);
  });
});

describe('admin API', () => {
  it('refuses malformed Bedrock credentials when the key is added', async () => {
    const res = await e2e.admin('POST', '/provider-keys', { org_id: orgId, provider: 'bedrock', name: 'bad', secret: 'AKIAIOSFODNN7EXAMPLE:not-json' });
    expect(res.status).toBe(400);
    expect(JSON.stringify(res.json)).not.toContain('not-json');
  });

  it('requires the Azure resource endpoint', async () => {
    const res = await e2e.admin('POST', '/provider-keys', { org_id: orgId, provider: 'azure', name: 'no url', secret: FAKE_AZURE_KEY });
    expect(res.status).toBe(400);
  });
});
