/**
 * The built-in `mock` provider: deterministic answers in the caller's own wire format, streaming
 * or not, with usage — so a first request works with no upstream account. It answers in-process;
 * nothing leaves the Worker.
 */
import { providerInfo, type UpstreamFormat } from '../../../lib/providers/catalog';
import type { ProviderAdapter, UpstreamCall } from '../types';

const REPLY_WORDS = ['Hello', 'from', 'the', 'Routero', 'mock', 'provider.'];

function inputTokens(body: Record<string, unknown>): number {
  return Math.max(1, Math.ceil(JSON.stringify(body.messages ?? []).length / 4));
}

function sse(lines: Array<{ event?: string; data: unknown }>): string {
  return lines
    .map((l) => `${l.event ? `event: ${l.event}\n` : ''}data: ${typeof l.data === 'string' ? l.data : JSON.stringify(l.data)}\n\n`)
    .join('');
}

function chatCompletion(body: Record<string, unknown>, model: string, id: string, created: number): Response {
  const prompt = inputTokens(body);
  const completion = REPLY_WORDS.length;
  const usage = { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion };
  if (!body.stream) {
    return Response.json({
      id,
      object: 'chat.completion',
      created,
      model,
      choices: [
        {
          index: 0,
          message: { role: 'assistant', content: REPLY_WORDS.join(' '), refusal: null },
          logprobs: null,
          finish_reason: 'stop',
        },
      ],
      usage,
    });
  }
  const so = body.stream_options as { include_usage?: boolean } | undefined;
  const withUsage = so?.include_usage === true;
  const base = { id, object: 'chat.completion.chunk', created, model };
  const extra = withUsage ? { usage: null } : {};
  const events: Array<{ data: unknown }> = [
    { data: { ...base, choices: [{ index: 0, delta: { role: 'assistant', content: '' }, logprobs: null, finish_reason: null }], ...extra } },
    ...REPLY_WORDS.map((w, i) => ({
      data: { ...base, choices: [{ index: 0, delta: { content: i === 0 ? w : ` ${w}` }, logprobs: null, finish_reason: null }], ...extra },
    })),
    { data: { ...base, choices: [{ index: 0, delta: {}, logprobs: null, finish_reason: 'stop' }], ...extra } },
  ];
  if (withUsage) events.push({ data: { ...base, choices: [], usage } });
  events.push({ data: '[DONE]' });
  return new Response(sse(events), { headers: { 'content-type': 'text/event-stream' } });
}

function message(body: Record<string, unknown>, model: string, id: string): Response {
  const input = inputTokens(body);
  const text = REPLY_WORDS.join(' ');
  if (!body.stream) {
    return Response.json({
      id,
      type: 'message',
      role: 'assistant',
      model,
      content: [{ type: 'text', text }],
      stop_reason: 'end_turn',
      stop_sequence: null,
      usage: { input_tokens: input, output_tokens: REPLY_WORDS.length, cache_creation_input_tokens: 0, cache_read_input_tokens: 0 },
    });
  }
  const events = [
    {
      event: 'message_start',
      data: {
        type: 'message_start',
        message: {
          id, type: 'message', role: 'assistant', model, content: [], stop_reason: null, stop_sequence: null,
          usage: { input_tokens: input, output_tokens: 1, cache_creation_input_tokens: 0, cache_read_input_tokens: 0 },
        },
      },
    },
    { event: 'content_block_start', data: { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } } },
    ...REPLY_WORDS.map((w, i) => ({
      event: 'content_block_delta',
      data: { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: i === 0 ? w : ` ${w}` } },
    })),
    { event: 'content_block_stop', data: { type: 'content_block_stop', index: 0 } },
    {
      event: 'message_delta',
      data: { type: 'message_delta', delta: { stop_reason: 'end_turn', stop_sequence: null }, usage: { output_tokens: REPLY_WORDS.length } },
    },
    { event: 'message_stop', data: { type: 'message_stop' } },
  ];
  return new Response(sse(events), { headers: { 'content-type': 'text/event-stream' } });
}

export const mockProvider: ProviderAdapter = {
  info: providerInfo('mock')!,
  clientHeaders: {},
  framing: 'sse',
  buildRequest({ body, baseUrl, format }) {
    return { url: `${baseUrl}/${format}`, headers: new Headers(), body: JSON.stringify(body) };
  },
  async localFetch(call: UpstreamCall, format: UpstreamFormat) {
    const body = JSON.parse(call.body) as Record<string, unknown>;
    const model = typeof body.model === 'string' ? body.model : 'echo';
    const id = `mock-${crypto.randomUUID()}`;
    return format === 'anthropic' ? message(body, model, id) : chatCompletion(body, model, id, Math.floor(Date.now() / 1000));
  },
};
