/**
 * The official SDKs on the client side of each translator: a request built with the SDK's own
 * TypeScript types (checked at compile time) is what the translator receives, and the translated
 * answer is what the SDK parses. The upstream is played by a fixed body in the upstream's format.
 */
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { describe, expect, it } from 'vitest';
import { anthropicOpenai } from '../../worker/translate/anthropic-openai';
import { openaiAnthropic } from '../../worker/translate/openai-anthropic';
import type { TranslateContext, Translation } from '../../worker/translate/types';
import { openaiSchemaErrors } from '../support/openai-spec';

const ctx: TranslateContext = { clientModel: 'x/model', upstreamModel: 'model', requestId: 'req1', now: 1764300000 };

/** A fetch that plays gateway + upstream: translates the SDK's body, answers with `upstream`. */
function gateway(t: Translation, upstream: (translated: Record<string, unknown>) => Record<string, unknown>, seen: Array<Record<string, unknown>>) {
  return async (_url: string | URL | Request, init?: RequestInit): Promise<Response> => {
    const body = JSON.parse(String(init?.body)) as Record<string, unknown>;
    const translated = t.request(body, ctx);
    seen.push(translated);
    return Response.json(t.response(upstream(translated), ctx));
  };
}

describe('openai SDK → Anthropic model', () => {
  it('sends a typed request with tools and an image, and parses the translated tool call', async () => {
    const seen: Array<Record<string, unknown>> = [];
    const client = new OpenAI({
      apiKey: 'test',
      baseURL: 'http://sdk.invalid/v1',
      fetch: gateway(openaiAnthropic, () => ({
        id: 'msg_1', type: 'message', role: 'assistant', model: 'model', stop_reason: 'tool_use', stop_sequence: null,
        content: [{ type: 'text', text: 'Checking.' }, { type: 'tool_use', id: 'toolu_1', name: 'get_weather', input: { city: 'Paris' } }],
        usage: { input_tokens: 20, output_tokens: 10, cache_read_input_tokens: 5 },
      }), seen),
    });
    const params: OpenAI.ChatCompletionCreateParamsNonStreaming = {
      model: 'anthropic/claude-sonnet-4-5',
      messages: [
        { role: 'system', content: 'Be brief.' },
        { role: 'user', content: [{ type: 'text', text: 'Weather where this photo was taken?' }, { type: 'image_url', image_url: { url: 'https://x.example/p.jpg' } }] },
      ],
      tools: [{ type: 'function', function: { name: 'get_weather', parameters: { type: 'object', properties: { city: { type: 'string' } } } } }],
      tool_choice: 'auto',
      max_completion_tokens: 200,
    };
    const completion = await client.chat.completions.create(params);
    expect(seen[0]).toMatchObject({ model: 'model', system: 'Be brief.', max_tokens: 200, tool_choice: { type: 'auto' } });
    const call = completion.choices[0]!.message.tool_calls![0]!;
    expect(call.type === 'function' && JSON.parse(call.function.arguments)).toEqual({ city: 'Paris' });
    expect(completion.choices[0]!.finish_reason).toBe('tool_calls');
    expect(completion.usage).toMatchObject({ prompt_tokens: 25, completion_tokens: 10, prompt_tokens_details: { cached_tokens: 5 } });
  });
});

describe('@anthropic-ai/sdk → OpenAI model', () => {
  it('sends a typed request shaped like a coding agent’s, and parses the translated tool use', async () => {
    const seen: Array<Record<string, unknown>> = [];
    const client = new Anthropic({
      apiKey: 'test',
      baseURL: 'http://sdk.invalid',
      fetch: gateway(anthropicOpenai, () => ({
        id: 'chatcmpl-1', object: 'chat.completion', created: 1, model: 'model',
        choices: [{ index: 0, finish_reason: 'tool_calls', logprobs: null, message: { role: 'assistant', content: null, refusal: null,
          tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'Read', arguments: '{"file_path":"/src/a.ts"}' } }] } }],
        usage: { prompt_tokens: 3000, completion_tokens: 25, total_tokens: 3025, prompt_tokens_details: { cached_tokens: 2048 }, completion_tokens_details: { reasoning_tokens: 0 } },
      }), seen),
    });
    const params: Anthropic.MessageCreateParamsNonStreaming = {
      model: 'openai/gpt-4.1',
      max_tokens: 8192,
      system: [
        { type: 'text', text: 'You are a coding agent.' },
        { type: 'text', text: 'Project instructions…', cache_control: { type: 'ephemeral' } },
      ],
      messages: [
        { role: 'user', content: [{ type: 'text', text: 'Read src/a.ts', cache_control: { type: 'ephemeral' } }] },
      ],
      tools: [{
        name: 'Read',
        description: 'Reads a file',
        input_schema: { type: 'object', properties: { file_path: { type: 'string' } }, required: ['file_path'] },
      }],
      metadata: { user_id: 'user_abc_session_1' },
    };
    const message = await client.messages.create(params);
    expect(openaiSchemaErrors('CreateChatCompletionRequest', seen[0])).toEqual([]);
    expect(seen[0]).toMatchObject({ model: 'model', max_completion_tokens: 8192, user: 'user_abc_session_1' });
    expect(message.stop_reason).toBe('tool_use');
    expect(message.content).toEqual([{ type: 'tool_use', id: 'call_1', name: 'Read', input: { file_path: '/src/a.ts' } }]);
    expect(message.usage).toMatchObject({ input_tokens: 952, cache_read_input_tokens: 2048, output_tokens: 25 });
  });
});
