/**
 * OpenAI Chat ↔ Bedrock Converse: the golden fixtures both ways, then the translator, the SigV4
 * request builder and the event-stream decoder against the fake Bedrock server, which verifies the
 * signature and speaks the binary event-stream.
 */
import { describe } from 'vitest';
import { openaiBedrock } from '../../worker/translate/openai-bedrock';
import { goldenCases } from '../support/translate-golden-cases';

describe('openai-bedrock golden fixtures', () => {
  goldenCases('openai-bedrock', openaiBedrock);
});

// ---- against the fake Bedrock server ----

import { afterAll, beforeAll, expect, it } from 'vitest';
import { GatewayError } from '../../lib/errors';
import { buildBedrockCall, bedrockErrorType, bedrockUrl, type BedrockAction } from '../../worker/providers/bedrock';
import { bedrockCredentialsProblem } from '../../lib/providers/bedrock-credentials';
import { awsEventStreamDecoder, FRAMING_ERROR_EVENT } from '../../worker/providers/bedrock/eventstream';
import type { TranslateContext, WireEvent } from '../../worker/translate/types';
import { encodeEvent, FAKE_AWS, fakeBedrockSecret, startFakeBedrock, type FakeAwsCredentials } from '../support/fake-bedrock';
import type { FakeProvider } from '../support/fake-providers';

const SESSION: FakeAwsCredentials = { accessKeyId: 'ASIAFAKESESSION00001', secretAccessKey: 'sessionSecret/For+Tests/000000000000000', sessionToken: 'FwoGZXIvYXdzEFAKE//token+with/odd=chars', region: 'eu-west-3' };

const secretOf = fakeBedrockSecret;

let fake: FakeProvider;
let sessionFake: FakeProvider;
beforeAll(async () => {
  fake = await startFakeBedrock({ gapMs: 0 });
  sessionFake = await startFakeBedrock({ gapMs: 0, credentials: SESSION });
});
afterAll(async () => {
  await fake.close();
  await sessionFake.close();
});

const ctx = (model: string, includeUsage = false): TranslateContext & { includeUsage: boolean } => ({
  clientModel: `bedrock/${model}`,
  upstreamModel: model,
  requestId: 'req-live-2',
  now: 1_764_300_000,
  includeUsage,
});

async function send(model: string, body: Record<string, unknown>, action: BedrockAction, opts: { server?: FakeProvider; secret?: string; tamper?: boolean } = {}) {
  const req = await buildBedrockCall({ baseUrl: (opts.server ?? fake).url, model, secret: opts.secret ?? secretOf(FAKE_AWS), body, action });
  return fetch(req.url, { method: 'POST', headers: req.headers, body: opts.tamper ? req.body.replace('Hi', 'Ho') : req.body });
}

async function call(model: string, body: Record<string, unknown>, opts: { server?: FakeProvider; secret?: string; tamper?: boolean } = {}) {
  const c = ctx(model);
  const res = await send(model, openaiBedrock.request(body, c), 'converse', opts);
  const json = (await res.json()) as Record<string, unknown>;
  return res.ok ? { status: res.status, body: openaiBedrock.response(json, c), errorType: null } : { status: res.status, body: openaiBedrock.error(res.status, json, c), errorType: bedrockErrorType(res.headers) };
}

/** ConverseStream: the binary body fed to the decoder in pieces of `piece` bytes, then translated. */
async function streamCall(model: string, body: Record<string, unknown>, piece: number, includeUsage = true) {
  const c = ctx(model, includeUsage);
  const res = await send(model, openaiBedrock.request({ ...body, stream: true }, c), 'converse-stream');
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toBe('application/vnd.amazon.eventstream');
  let bytes = new Uint8Array(0);
  try {
    bytes = new Uint8Array(await res.arrayBuffer());
  } catch {
    // cut-…: the fake resets the connection; what arrived is in the decoder test below.
  }
  const decoder = awsEventStreamDecoder();
  const translator = openaiBedrock.stream(c);
  const wire: WireEvent[] = [];
  const out: WireEvent[] = [];
  for (let i = 0; i < bytes.length; i += piece) {
    const events = decoder.push(bytes.slice(i, i + piece));
    wire.push(...events);
    for (const e of events) out.push(...translator.push(e));
  }
  for (const e of decoder.end()) out.push(...translator.push(e));
  out.push(...translator.end());
  return { wire, events: out.map((e) => e.data), usage: translator.usage(), outcome: translator.outcome() };
}

const weatherTool = { type: 'function', function: { name: 'get_weather', parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } } };
const hi = { model: 'x', messages: [{ role: 'user', content: 'Hi' }] };

describe('Bedrock requests signed with SigV4, verified by the fake', () => {
  it('builds the regional Converse URL with the model id as one encoded path segment', () => {
    expect(bedrockUrl('https://bedrock-runtime.us-east-1.amazonaws.com', 'anthropic.claude-sonnet-4-5-20250929-v1:0', 'converse-stream')).toBe(
      'https://bedrock-runtime.us-east-1.amazonaws.com/model/anthropic.claude-sonnet-4-5-20250929-v1%3A0/converse-stream',
    );
    expect(bedrockUrl('https://x', 'arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.anthropic.claude', 'converse')).toBe(
      'https://x/model/arn%3Aaws%3Abedrock%3Aus-east-1%3A123456789012%3Ainference-profile%2Fus.anthropic.claude/converse',
    );
    expect(() => bedrockUrl('https://x', 'a b', 'converse')).toThrow(GatewayError);
  });

  it('signs for the regional endpoint when the key names no base URL', async () => {
    const req = await buildBedrockCall({ baseUrl: null, model: 'amazon.nova-pro-v1:0', secret: secretOf(FAKE_AWS), body: {}, action: 'converse' });
    expect(req.url).toBe('https://bedrock-runtime.us-east-1.amazonaws.com/model/amazon.nova-pro-v1%3A0/converse');
    expect(req.headers.get('authorization')).toMatch(/^AWS4-HMAC-SHA256 Credential=AKIAFAKEROUTERO0TEST\/\d{8}\/us-east-1\/bedrock\/aws4_request, SignedHeaders=[a-z0-9;-]*host[a-z0-9;-]*, Signature=[0-9a-f]{64}$/);
  });

  it('is accepted for a model id with ":" (double-encoded path in the canonical request)', async () => {
    const r = await call('anthropic.claude-sonnet-4-5-20250929-v1:0', hi);
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ object: 'chat.completion', model: 'bedrock/anthropic.claude-sonnet-4-5-20250929-v1:0', choices: [{ message: { content: 'The quick brown fox jumps.' }, finish_reason: 'stop' }] });
    // input = 21 uncached + 16 cache read + 4 cache write.
    expect(r.body.usage).toMatchObject({ prompt_tokens: 41, completion_tokens: 6, total_tokens: 47, prompt_tokens_details: { cached_tokens: 16 } });
    expect(fake.received.at(-1)!.path).toBe('/model/anthropic.claude-sonnet-4-5-20250929-v1%3A0/converse');
  });

  it('is accepted with temporary credentials (session token signed and sent)', async () => {
    const r = await call('amazon.nova-lite-v1:0', hi, { server: sessionFake, secret: secretOf(SESSION) });
    expect(r.status).toBe(200);
    expect(sessionFake.received.at(-1)!.headers['x-amz-security-token']).toBe(SESSION.sessionToken);
  });

  it('is refused when the body changed after signing, the secret is wrong, or the key is unknown', async () => {
    const tampered = await call('m', hi, { tamper: true });
    expect([tampered.status, tampered.errorType]).toEqual([403, 'InvalidSignatureException']);
    expect(tampered.body).toEqual({ error: { message: "The provider rejected the organisation's provider key (upstream HTTP 403).", type: 'invalid_request_error', param: null, code: 'upstream_error' } });
    const wrongSecret = await call('m', hi, { secret: secretOf({ ...FAKE_AWS, secretAccessKey: 'wrongSecretAccessKey000000000000' }) });
    expect([wrongSecret.status, wrongSecret.errorType]).toEqual([403, 'InvalidSignatureException']);
    const unknownKey = await call('m', hi, { secret: secretOf({ ...FAKE_AWS, accessKeyId: 'AKIAUNKNOWN000000000' }) });
    expect([unknownKey.status, unknownKey.errorType]).toEqual([403, 'UnrecognizedClientException']);
    const wrongRegion = await call('m', hi, { secret: secretOf({ ...FAKE_AWS, region: 'eu-west-1' }) });
    expect([wrongRegion.status, wrongRegion.errorType]).toEqual([403, 'InvalidSignatureException']);
    const noSession = await call('m', hi, { server: sessionFake, secret: secretOf({ ...SESSION, sessionToken: undefined }) });
    expect([noSession.status, noSession.errorType]).toEqual([403, 'UnrecognizedClientException']);
    const unsigned = await fetch(`${fake.url}/model/m/converse`, { method: 'POST', body: '{}' });
    expect([unsigned.status, bedrockErrorType(unsigned.headers)]).toEqual([403, 'MissingAuthenticationTokenException']);
  });

  it('refuses a malformed credentials secret without quoting it', async () => {
    expect(bedrockCredentialsProblem(secretOf(FAKE_AWS))).toBeNull();
    const secret = '{"access_key_id":"AKIAFAKEROUTERO0TEST","secret_access_key":"s3cr3t-value-that-is-long"}';
    const problem = bedrockCredentialsProblem(secret)!;
    expect(problem).toContain('region');
    expect(problem).not.toContain('s3cr3t');
    expect(bedrockCredentialsProblem('AKIA…:not-json')).toMatch(/JSON object/);
    await expect(buildBedrockCall({ baseUrl: null, model: 'm', secret, body: {}, action: 'converse' })).rejects.toMatchObject({ kind: 'unavailable' });
  });

  it('passes Bedrock errors on with their status and message', async () => {
    const r = await call('fail-429', hi);
    expect([r.status, r.errorType]).toEqual([429, 'ThrottlingException']);
    expect(r.body).toMatchObject({ error: { type: 'rate_limit_error', message: expect.stringContaining('Too many requests') } });
  });

  it('runs a whole tool-calling turn that Bedrock validates (alternating turns, toolConfig present)', async () => {
    const messages: Array<Record<string, unknown>> = [{ role: 'user', content: 'Weather in Paris?' }];
    const first = await call('tools-model', { model: 'x', messages, tools: [weatherTool] });
    const choice = (first.body.choices as Array<{ message: Record<string, unknown>; finish_reason: string }>)[0]!;
    expect(choice.finish_reason).toBe('tool_calls');
    const tc = (choice.message.tool_calls as Array<{ id: string; function: { arguments: string } }>)[0]!;
    expect(tc.id).toBe('tooluse_fake0001');
    messages.push(choice.message, { role: 'tool', tool_call_id: tc.id, content: 'sunny, 18 °C' }, { role: 'user', content: 'And tomorrow?' });
    const second = await call('tools-model', { model: 'x', messages, tools: [weatherTool] });
    expect(second.status).toBe(200);
    expect(second.body).toMatchObject({ choices: [{ finish_reason: 'stop' }] });
    const sent = fake.received.at(-1)!.body.messages as Array<{ role: string; content: unknown[] }>;
    expect(sent.map((m) => m.role)).toEqual(['user', 'assistant', 'user']);
    expect(sent[2]!.content).toEqual([{ toolResult: { toolUseId: 'tooluse_fake0001', content: [{ text: 'sunny, 18 °C' }] } }, { text: 'And tomorrow?' }]);
  });
});

describe('ConverseStream through the AWS event-stream decoder', () => {
  for (const piece of [1, 7, 100, 1 << 20]) {
    it(`streams text decoded from ${piece}-byte pieces, with finish_reason and usage`, async () => {
      const s = await streamCall('amazon.nova-pro-v1:0', hi, piece);
      expect(s.wire[0]).toEqual({ event: 'messageStart', data: { p: 'abcdefg', role: 'assistant' } });
      const text = s.events.map((e) => (e.choices as Array<{ delta: { content?: string } }>)[0]?.delta.content ?? '').join('');
      expect(text).toBe('The quick brown fox jumps.');
      expect((s.events.at(-2)!.choices as Array<{ finish_reason: string }>)[0]!.finish_reason).toBe('stop');
      expect(s.events.at(-1)).toMatchObject({ choices: [], usage: { prompt_tokens: 41, completion_tokens: 6, prompt_tokens_details: { cached_tokens: 16 } } });
      expect(s.usage).toEqual({ input_tokens: 41, output_tokens: 6, cache_read_tokens: 16, cache_write_tokens: 4, reasoning_tokens: null });
      expect(s.outcome).toEqual({ complete: true, upstreamErrorType: null });
    });
  }

  it('streams a tool call: id and name first, then the argument fragments that join to the JSON', async () => {
    const s = await streamCall('tools-model', { model: 'x', messages: [{ role: 'user', content: 'Weather?' }], tools: [weatherTool] }, 13, false);
    const deltas = s.events.flatMap((e) => (e.choices as Array<{ delta: { tool_calls?: Array<{ index: number; id?: string; function: { name?: string; arguments: string } }> } }>)[0]?.delta.tool_calls ?? []);
    expect(deltas[0]).toMatchObject({ index: 0, id: 'tooluse_fake0001', function: { name: 'get_weather', arguments: '' } });
    expect(JSON.parse(deltas.map((d) => d.function.arguments).join(''))).toEqual({ city: 'Paris', unit: 'celsius' });
    expect((s.events.at(-1)!.choices as Array<{ finish_reason: string }>)[0]!.finish_reason).toBe('tool_calls');
  });

  it('turns an exception message inside the stream into an error event', async () => {
    const s = await streamCall('exception-model', hi, 5);
    expect(s.wire.at(-1)).toEqual({ event: 'throttlingException', data: { message: 'Too many requests, please wait before trying again.' } });
    expect(s.events.at(-1)).toMatchObject({ error: { type: 'rate_limit_error', message: 'Too many requests, please wait before trying again.' } });
    expect(s.outcome).toEqual({ complete: false, upstreamErrorType: 'throttlingException' });
  });

  it('reports a stream cut before messageStop as incomplete', async () => {
    const s = await streamCall('cut-model', hi, 64);
    expect(s.outcome.complete).toBe(false);
    expect(s.events.some((e) => (e.choices as Array<{ finish_reason: string | null }>)[0]?.finish_reason)).toBe(false);
  });

  it('holds a message split across chunks and decodes messages packed into one chunk', () => {
    const a = encodeEvent('contentBlockDelta', { contentBlockIndex: 0, delta: { text: 'héllo ✓' } });
    const b = encodeEvent('messageStop', { stopReason: 'end_turn' });
    const both = new Uint8Array([...a, ...b]);
    const d = awsEventStreamDecoder();
    expect(d.push(both.slice(0, a.length - 1))).toEqual([]);
    expect(d.push(both.slice(a.length - 1))).toEqual([
      { event: 'contentBlockDelta', data: { contentBlockIndex: 0, delta: { text: 'héllo ✓' } } },
      { event: 'messageStop', data: { stopReason: 'end_turn' } },
    ]);
  });

  it('stops at a message whose CRC does not match, with a framing exception', () => {
    const good = encodeEvent('messageStart', { role: 'assistant' });
    const bad = encodeEvent('contentBlockDelta', { delta: { text: 'x' } });
    bad[bad.length - 8] = bad[bad.length - 8]! ^ 0xff; // a payload byte: the message CRC no longer matches
    const d = awsEventStreamDecoder();
    const events = d.push(new Uint8Array([...good, ...bad, ...good]));
    expect(events.map((e) => e.event)).toEqual(['messageStart', FRAMING_ERROR_EVENT]);
    expect(d.push(good)).toEqual([]);
    const t = openaiBedrock.stream(ctx('m'));
    for (const e of events) t.push(e);
    expect(t.outcome()).toEqual({ complete: false, upstreamErrorType: FRAMING_ERROR_EVENT });
  });

  it('refuses an absurd message length without waiting for 4 GiB', () => {
    const d = awsEventStreamDecoder();
    expect(d.push(new Uint8Array([0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0]))).toEqual([{ event: FRAMING_ERROR_EVENT, data: { message: 'The upstream stream could not be decoded.' } }]);
  });
});

import { bedrockEmbeddingsRequests, bedrockEmbeddingsResponse } from '../../worker/translate/openai-bedrock/embeddings';

describe('embeddings through InvokeModel', () => {
  it('embeds each input with Titan (one signed invoke per input), summing the token counts', async () => {
    const c = ctx('amazon.titan-embed-text-v2:0');
    const body = { model: 'bedrock/amazon.titan-embed-text-v2:0', input: ['a fox', 'a dog'], dimensions: 4 };
    const bodies = bedrockEmbeddingsRequests(body, c);
    expect(bodies).toEqual([{ inputText: 'a fox', dimensions: 4 }, { inputText: 'a dog', dimensions: 4 }]);
    const answers: Record<string, unknown>[] = [];
    for (const b of bodies) {
      const res = await send('amazon.titan-embed-text-v2:0', b, 'invoke');
      expect(res.status).toBe(200);
      answers.push((await res.json()) as Record<string, unknown>);
    }
    const out = bedrockEmbeddingsResponse(answers, body, c) as { data: Array<{ embedding: number[] }>; usage: { prompt_tokens: number } };
    expect(out.data.map((d) => d.embedding.length)).toEqual([4, 4]);
    expect(out.usage.prompt_tokens).toBe(10);
  });

  it('batches Cohere inputs by 96 and refuses models it cannot embed with', () => {
    const many = Array.from({ length: 100 }, (_, i) => `t${i}`);
    const bodies = bedrockEmbeddingsRequests({ model: 'x', input: many }, ctx('cohere.embed-english-v3'));
    expect(bodies.map((b) => (b.texts as string[]).length)).toEqual([96, 4]);
    expect(() => bedrockEmbeddingsRequests({ model: 'x', input: 'a' }, ctx('anthropic.claude-v2'))).toThrow(expect.objectContaining({ param: 'model' }));
  });
});

describe('the fake Bedrock checks what it receives', () => {
  it('refuses turns that do not alternate, tool blocks without toolConfig, and unknown fields — signed correctly', async () => {
    const alternate = await send('m', { messages: [{ role: 'user', content: [{ text: 'a' }] }, { role: 'user', content: [{ text: 'b' }] }] }, 'converse');
    expect([alternate.status, bedrockErrorType(alternate.headers)]).toEqual([400, 'ValidationException']);
    const tools = await send('m', { messages: [{ role: 'user', content: [{ toolResult: { toolUseId: 't', content: [{ text: 'x' }] } }] }] }, 'converse');
    expect(((await tools.json()) as { message: string }).message).toContain('toolConfig');
    const unknown = await send('m', { messages: [{ role: 'user', content: [{ text: 'a' }] }], temperature: 1 }, 'converse');
    expect(unknown.status).toBe(400);
  });

  it('merges an empty assistant message away so the turns still alternate', async () => {
    const r = await call('m', { model: 'x', messages: [{ role: 'user', content: 'a' }, { role: 'assistant', content: '' }, { role: 'user', content: 'b' }] });
    expect(r.status).toBe(200);
    expect(fake.received.at(-1)!.body.messages).toEqual([{ role: 'user', content: [{ text: 'a' }, { text: 'b' }] }]);
  });
});

import { BEDROCK_BASE_URL_TEMPLATE, bedrockBuildRequest } from '../../worker/providers/bedrock';

describe('the adapter entry point the pipeline calls', () => {
  it('moves model from the body into the URL, signs, and picks converse-stream for a stream', async () => {
    const body = { ...openaiBedrock.request(hi, ctx('m')), model: 'amazon.nova-pro-v1:0' };
    const req = await bedrockBuildRequest({ body, stream: true, apiKey: secretOf(FAKE_AWS), baseUrl: fake.url });
    expect(req.url).toBe(`${fake.url}/model/amazon.nova-pro-v1%3A0/converse-stream`);
    expect(JSON.parse(req.body)).not.toHaveProperty('model');
    const res = await fetch(req.url, { method: 'POST', headers: req.headers, body: req.body });
    expect(res.status).toBe(200);
    await res.arrayBuffer();
    const regional = await bedrockBuildRequest({ body, stream: false, apiKey: secretOf({ ...FAKE_AWS, region: 'eu-central-1' }), baseUrl: BEDROCK_BASE_URL_TEMPLATE });
    expect(regional.url).toBe('https://bedrock-runtime.eu-central-1.amazonaws.com/model/amazon.nova-pro-v1%3A0/converse');
  });
});

describe('documents', () => {
  it('gives two files of the same name distinct document names', () => {
    const pdf = 'data:application/pdf;base64,JVBERi0xLjQK';
    const out = openaiBedrock.request({ model: 'x', messages: [{ role: 'user', content: [{ type: 'file', file: { file_data: pdf, filename: 'a.pdf' } }, { type: 'file', file: { file_data: pdf, filename: 'a.pdf' } }] }] }, ctx('m')) as { messages: Array<{ content: Array<{ document: { name: string } }> }> };
    expect(out.messages[0]!.content.map((b) => b.document.name)).toEqual(['a', 'a (2)']);
  });
});
