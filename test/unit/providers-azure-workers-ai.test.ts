/**
 * The pieces of the Azure OpenAI and Workers AI providers and of the Responses API tap that decide
 * what a user sees: the URL and api-version Azure is called with, the binding's answers as OpenAI
 * chat completions and chunks, and the usage read from a Responses stream.
 */
import { describe, expect, it } from 'vitest';
import { GatewayError } from '../../lib/errors';
import { azureCall, azureUrl } from '../../worker/providers/azure';
import { workersAiCompletion, workersAiInputs, workersAiModel, workersAiStream } from '../../worker/providers/workers-ai';
import { createResponsesStreamTap, usageFromResponse } from '../../worker/routes/responses';
import { checkCallUrl } from '../../worker/upstream';

const enc = new TextEncoder();
const dec = new TextDecoder();

describe('Azure OpenAI addressing', () => {
  it('puts the deployment in the path and the default api-version in the query', () => {
    expect(azureUrl('https://acme.openai.azure.com', 'gpt4o-prod', 'chat/completions')).toBe('https://acme.openai.azure.com/openai/deployments/gpt4o-prod/chat/completions?api-version=2024-10-21');
    expect(azureUrl('https://acme.openai.azure.com/openai/', 'emb', 'embeddings')).toBe('https://acme.openai.azure.com/openai/deployments/emb/embeddings?api-version=2024-10-21');
  });

  it('uses the provider key’s own api-version, for every operation', () => {
    const base = 'https://acme.openai.azure.com?api-version=2025-03-01-preview';
    expect(azureUrl(base, 'd', 'chat/completions')).toMatch(/\?api-version=2025-03-01-preview$/);
    expect(azureUrl(base, 'd', 'responses')).toBe('https://acme.openai.azure.com/openai/responses?api-version=2025-03-01-preview');
    expect(azureUrl('https://acme.openai.azure.com', 'd', 'responses')).toMatch(/api-version=2025-04-01-preview$/);
  });

  it('refuses a deployment name that would change the path, and a malformed api-version', () => {
    for (const bad of ['../x', 'a/b', 'a?b', '', 'a b']) expect(() => azureUrl('https://acme.openai.azure.com', bad, 'chat/completions')).toThrow(GatewayError);
    expect(() => azureUrl('https://acme.openai.azure.com?api-version=x&y', 'd', 'embeddings')).toThrow(GatewayError);
  });

  it('authenticates with api-key, never Authorization', () => {
    const call = azureCall('https://acme.openai.azure.com', 'secret-key', 'd', 'chat/completions', { model: 'd' });
    expect(call.headers.get('api-key')).toBe('secret-key');
    expect(call.headers.get('authorization')).toBeNull();
  });
});

describe('Workers AI through the binding', () => {
  it('accepts catalog model names only', () => {
    expect(workersAiModel('@cf/meta/llama-3.1-8b-instruct')).toBe('@cf/meta/llama-3.1-8b-instruct');
    for (const bad of ['llama', '@cf/../x', 'https://x/y', '@cf/meta']) expect(() => workersAiModel(bad)).toThrow(GatewayError);
  });

  it('passes the parameters the binding takes and names any other', () => {
    expect(workersAiInputs({ model: 'm', messages: [], max_completion_tokens: 5, temperature: 0.2, stream_options: { include_usage: true } })).toEqual({ messages: [], max_tokens: 5, temperature: 0.2 });
    expect(() => workersAiInputs({ model: 'm', messages: [], logprobs: true })).toThrow(/logprobs/);
    expect(() => workersAiInputs({ model: 'm', messages: [], tool_choice: 'required' })).toThrow(/tool_choice/);
  });

  it('turns a text answer and a tool call into chat completions with usage', () => {
    const text = workersAiCompletion({ response: 'Hi.', usage: { prompt_tokens: 3, completion_tokens: 2, total_tokens: 5 } }, 'workers-ai/@cf/x/y', 'chatcmpl-1', 7) as { choices: Array<{ message: Record<string, unknown>; finish_reason: string }>; usage: unknown };
    expect(text.choices[0]!.message.content).toBe('Hi.');
    expect(text.choices[0]!.finish_reason).toBe('stop');
    expect(text.usage).toEqual({ prompt_tokens: 3, completion_tokens: 2, total_tokens: 5 });
    const tool = workersAiCompletion({ response: null, tool_calls: [{ name: 'get_weather', arguments: { city: 'Paris' } }] }, 'm', 'chatcmpl-2', 7) as { choices: Array<{ message: { content: unknown; tool_calls: Array<{ function: { name: string; arguments: string } }> }; finish_reason: string }> };
    expect(tool.choices[0]!.finish_reason).toBe('tool_calls');
    expect(tool.choices[0]!.message.content).toBeNull();
    expect(tool.choices[0]!.message.tool_calls[0]!.function).toEqual({ name: 'get_weather', arguments: '{"city":"Paris"}' });
  });

  async function readAll(stream: ReadableStream<Uint8Array>): Promise<string> {
    let out = '';
    const reader = stream.getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return out;
      out += dec.decode(value);
    }
  }

  const source = (parts: string[]) => new ReadableStream<Uint8Array>({ start(c) { for (const p of parts) c.enqueue(enc.encode(p)); c.close(); } });

  it('turns the binding’s stream into OpenAI chunks, a usage chunk and [DONE]', async () => {
    const out = await readAll(workersAiStream(source(['data: {"response":"Hel', 'lo","p":"x"}\n\ndata: {"response":"!"}\n\n', 'data: {"response":"","usage":{"prompt_tokens":4,"completion_tokens":2}}\n\ndata: [DONE]\n\n']), 'm', 'id1', 1));
    const events = out.split('\n\n').filter(Boolean).map((e) => e.slice('data: '.length));
    expect(events.at(-1)).toBe('[DONE]');
    const chunks = events.slice(0, -1).map((e) => JSON.parse(e) as { choices: Array<{ delta: { content?: string }; finish_reason: string | null }>; usage?: unknown });
    expect(chunks.map((c) => c.choices[0]?.delta.content ?? '').join('')).toBe('Hello!');
    expect(chunks.at(-2)!.choices[0]!.finish_reason).toBe('stop');
    expect(chunks.at(-1)!.usage).toEqual({ prompt_tokens: 4, completion_tokens: 2, total_tokens: 6 });
  });

  it('does not call a cut stream complete: no finish chunk, no [DONE]', async () => {
    const out = await readAll(workersAiStream(source(['data: {"response":"Hel"}\n\n']), 'm', 'id1', 1));
    expect(out).not.toContain('[DONE]');
    expect(out).not.toContain('"finish_reason":"stop"');
  });
});

describe('Responses API usage', () => {
  const usage = { input_tokens: 20, input_tokens_details: { cached_tokens: 5 }, output_tokens: 9, output_tokens_details: { reasoning_tokens: 4 }, total_tokens: 29 };

  it('maps input, cached, output and reasoning tokens', () => {
    expect(usageFromResponse({ usage })).toEqual({ input_tokens: 20, output_tokens: 9, cache_read_tokens: 5, cache_write_tokens: null, reasoning_tokens: 4 });
  });

  it('reads the final event of a stream, passing every byte on unchanged', () => {
    const tap = createResponsesStreamTap();
    const text = `event: response.created\ndata: {"type":"response.created","response":{"usage":null}}\n\nevent: response.output_text.delta\ndata: {"type":"response.output_text.delta","delta":"Hi"}\n\nevent: response.completed\ndata: ${JSON.stringify({ type: 'response.completed', response: { usage } })}\n\n`;
    const bytes = enc.encode(text);
    const out = [...tap.push(bytes.slice(0, 50)), ...tap.push(bytes.slice(50)), ...tap.finish()];
    expect(out.map((b) => dec.decode(b)).join('')).toBe(text);
    expect(tap.outcome()).toEqual({ complete: true, upstreamErrorType: null });
    expect(tap.usage().input_tokens).toBe(20);
    expect(tap.usage().reasoning_tokens).toBe(4);
  });

  it('reports a stream without its final event as incomplete, and a failed response as an error', () => {
    const cut = createResponsesStreamTap();
    cut.push(enc.encode('event: response.created\ndata: {"type":"response.created"}\n\n'));
    expect(cut.outcome().complete).toBe(false);
    const failed = createResponsesStreamTap();
    failed.push(enc.encode('event: response.failed\ndata: {"type":"response.failed","response":{"error":{"code":"server_error"}}}\n\n'));
    expect(failed.outcome().upstreamErrorType).toBe('server_error');
  });
});

describe('templated base URLs', () => {
  it('checks the final Bedrock call URL, not the {region} template', () => {
    const target = { baseUrl: 'https://bedrock-runtime.{region}.amazonaws.com', entry: null };
    expect(() => checkCallUrl(target, 'https://bedrock-runtime.us-east-1.amazonaws.com/model/x/converse', false)).not.toThrow();
    expect(() => checkCallUrl(target, 'http://169.254.169.254/model/x/converse', false)).toThrow(GatewayError);
  });
});

describe('OpenAI-compatible presets', () => {
  // Each vendor's documented Chat Completions endpoint (their API references, 2026).
  const DOCUMENTED: Record<string, string> = {
    openai: 'https://api.openai.com/v1/chat/completions',
    groq: 'https://api.groq.com/openai/v1/chat/completions',
    mistral: 'https://api.mistral.ai/v1/chat/completions',
    deepseek: 'https://api.deepseek.com/v1/chat/completions',
    together: 'https://api.together.xyz/v1/chat/completions',
    fireworks: 'https://api.fireworks.ai/inference/v1/chat/completions',
    openrouter: 'https://openrouter.ai/api/v1/chat/completions',
    xai: 'https://api.x.ai/v1/chat/completions',
    perplexity: 'https://api.perplexity.ai/chat/completions',
  };

  it.each(Object.entries(DOCUMENTED))('%s is called at its documented endpoint with a Bearer key', async (name, url) => {
    const { providerFor } = await import('../../worker/providers');
    const adapter = providerFor(name)!;
    const call = await adapter.buildRequest({ format: 'openai', body: { model: 'm', messages: [] }, stream: false, apiKey: 'k', baseUrl: adapter.info.defaultBaseUrl!, clientHeaders: new Headers() });
    expect(call.url).toBe(url);
    expect(call.headers.get('authorization')).toBe('Bearer k');
  });

  it('self-hosted servers have no default: the provider key must name one', async () => {
    const { providerInfo } = await import('../../lib/providers/catalog');
    for (const name of ['vllm', 'ollama', 'azure']) {
      expect(providerInfo(name)!.defaultBaseUrl).toBeNull();
      expect(providerInfo(name)!.baseUrlRequired).toBe(true);
    }
  });
});
