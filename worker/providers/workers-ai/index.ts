/**
 * Cloudflare Workers AI through the Worker's `AI` binding (wrangler.toml `[ai] binding = "AI"`):
 * `env.AI.run(model, inputs)`, no HTTP and no provider key — the account the gateway is deployed
 * on pays. Clients name models `workers-ai/@cf/<vendor>/<model>`.
 *
 * The binding answers text generation as `{response, tool_calls?, usage?}` (or, for the newest
 * models, already as an OpenAI chat completion), and streams as SSE `data: {"response": "…"}`
 * ending with `data: [DONE]`. `localFetch` turns both into OpenAI Chat Completions, so the rest of
 * the pipeline treats Workers AI like any OpenAI-compatible server (same-format pass-through, the
 * same usage tap). Embedding models answer `{shape, data}` (worker/pipeline/embeddings.ts).
 *
 * Locally (npm start, e2e tests) `AI` is a service binding to test/support/fake-workers-ai.ts,
 * which has the same `run()` (scripts/stack.ts swaps it in): nothing calls Cloudflare.
 */
import { GatewayError } from '../../../lib/errors';
import { providerInfo } from '../../../lib/providers/catalog';
import { parseJsonObject, SseParser } from '../../formats/sse';
import type { ProviderAdapter, UpstreamCall } from '../types';

/** The part of the `Ai` binding the gateway uses. */
export interface AiBinding {
  run(model: string, inputs: Record<string, unknown>, options?: Record<string, unknown>): Promise<unknown>;
}

/** Bindings are fixed for an isolate's life: the gateway hands the binding over once per request. */
let binding: AiBinding | null = null;

export function useWorkersAiBinding(ai: unknown): void {
  binding = ai && typeof (ai as AiBinding).run === 'function' ? (ai as AiBinding) : null;
}

export function workersAiBinding(): AiBinding {
  if (!binding) {
    throw new GatewayError('unavailable', 'Workers AI is not configured on this gateway.', { code: 'provider_unavailable', reason: 'no AI binding' });
  }
  return binding;
}

export function hasWorkersAiBinding(): boolean {
  return binding !== null;
}

/** `@cf/meta/llama-3.1-8b-instruct`, `@hf/…`: the catalog names of Workers AI models. */
const MODEL = /^@(?:cf|hf)\/[A-Za-z0-9][A-Za-z0-9._-]{0,63}\/[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/;

export function workersAiModel(model: string): string {
  if (!MODEL.test(model)) throw new GatewayError('invalid_request', `Invalid request: '${model.slice(0, 100)}' is not a Workers AI model (e.g. @cf/meta/llama-3.1-8b-instruct).`, { param: 'model' });
  return model;
}

/** Chat Completions parameters the binding takes; any other is refused by name, never dropped. */
const PASSED = ['messages', 'tools', 'max_tokens', 'max_completion_tokens', 'temperature', 'top_p', 'seed', 'frequency_penalty', 'presence_penalty', 'response_format', 'stream'] as const;
const IGNORED = new Set(['model', 'stream_options', 'user', 'tool_choice']);

export function workersAiInputs(body: Record<string, unknown>): Record<string, unknown> {
  for (const k of Object.keys(body)) {
    if (!(PASSED as readonly string[]).includes(k) && !IGNORED.has(k)) {
      throw new GatewayError('invalid_request', `Unsupported parameter: '${k}' is not supported by Workers AI.`, { param: k, code: 'unsupported_parameter' });
    }
  }
  if (body.tool_choice !== undefined && body.tool_choice !== 'auto') {
    throw new GatewayError('invalid_request', "Unsupported parameter: Workers AI supports only tool_choice 'auto'.", { param: 'tool_choice', code: 'unsupported_parameter' });
  }
  const inputs: Record<string, unknown> = {};
  for (const k of PASSED) {
    // eslint-disable-next-line security/detect-object-injection -- k is one of the constant PASSED names
    if (body[k] !== undefined) inputs[k === 'max_completion_tokens' ? 'max_tokens' : k] = body[k];
  }
  return inputs;
}

interface WaiToolCall { name?: unknown; arguments?: unknown; id?: unknown; function?: { name?: unknown; arguments?: unknown } }

function toolCalls(calls: unknown, prefix: string): Record<string, unknown>[] {
  if (!Array.isArray(calls)) return [];
  return calls.map((c: WaiToolCall, i) => {
    const name = c.function?.name ?? c.name;
    const args = c.function?.arguments ?? c.arguments;
    return {
      id: typeof c.id === 'string' ? c.id : `call_${prefix}_${i}`,
      type: 'function',
      function: { name: typeof name === 'string' ? name : '', arguments: typeof args === 'string' ? args : JSON.stringify(args ?? {}) },
    };
  });
}

function openaiUsage(u: unknown): Record<string, number> | null {
  if (typeof u !== 'object' || u === null) return null;
  const r = u as Record<string, unknown>;
  const p = typeof r.prompt_tokens === 'number' ? r.prompt_tokens : 0;
  const c = typeof r.completion_tokens === 'number' ? r.completion_tokens : 0;
  return { prompt_tokens: p, completion_tokens: c, total_tokens: p + c };
}

/** A non-streamed answer of the binding as an OpenAI chat completion. */
export function workersAiCompletion(out: unknown, model: string, id: string, created: number): Record<string, unknown> {
  const r = (typeof out === 'object' && out !== null ? out : {}) as Record<string, unknown>;
  if (Array.isArray(r.choices)) return { ...r, id: typeof r.id === 'string' ? r.id : id, object: 'chat.completion', model };
  const calls = toolCalls(r.tool_calls, id);
  const text = typeof r.response === 'string' ? r.response : r.response === undefined || r.response === null ? null : JSON.stringify(r.response);
  return {
    id,
    object: 'chat.completion',
    created,
    model,
    choices: [
      {
        index: 0,
        message: { role: 'assistant', content: calls.length > 0 && !text ? null : (text ?? ''), ...(calls.length > 0 ? { tool_calls: calls } : {}), refusal: null },
        logprobs: null,
        finish_reason: calls.length > 0 ? 'tool_calls' : 'stop',
      },
    ],
    usage: openaiUsage(r.usage) ?? { prompt_tokens: 0, completion_tokens: 0, total_tokens: 0 },
  };
}

const encoder = new TextEncoder();

/** The binding's SSE stream as OpenAI chat.completion.chunk events, usage last, then `[DONE]`. */
export function workersAiStream(source: ReadableStream<Uint8Array>, model: string, id: string, created: number): ReadableStream<Uint8Array> {
  const parser = new SseParser();
  const chunk = (delta: Record<string, unknown>, finish: string | null) =>
    `data: ${JSON.stringify({ id, object: 'chat.completion.chunk', created, model, choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }] })}\n\n`;
  let usage: Record<string, number> | null = null;
  let calls = 0;
  let ended = false;
  const reader = source.getReader();
  return new ReadableStream<Uint8Array>({
    start(controller) {
      controller.enqueue(encoder.encode(chunk({ role: 'assistant', content: '' }, null)));
    },
    // Reads until there is something to send: a pull that enqueues nothing is not called again.
    async pull(controller) {
      for (;;) {
        if (await step(controller)) return;
      }
    },
    cancel(reason) {
      return reader.cancel(reason);
    },
  });

  async function step(controller: ReadableStreamDefaultController<Uint8Array>): Promise<boolean> {
      const { done, value } = await reader.read();
      const items = done ? parser.finish() : parser.push(value);
      let text = '';
      for (const item of items) {
        if (item.kind !== 'event' || item.event.data === null) continue;
        if (item.event.data.trim() === '[DONE]') {
          ended = true;
          continue;
        }
        const data = parseJsonObject(item.event.data);
        if (!data) continue;
        usage = openaiUsage(data.usage) ?? usage;
        if (typeof data.response === 'string' && data.response !== '') text += chunk({ content: data.response }, null);
        const tc = toolCalls(data.tool_calls, id).map((c) => ({ index: calls++, ...c }));
        if (tc.length > 0) text += chunk({ tool_calls: tc }, null);
      }
      if (text) controller.enqueue(encoder.encode(text));
      if (done) {
        // Only a stream the binding itself ended cleanly is reported complete.
        if (ended) {
          controller.enqueue(
            encoder.encode(
              chunk({}, calls > 0 ? 'tool_calls' : 'stop') +
                `data: ${JSON.stringify({ id, object: 'chat.completion.chunk', created, model, choices: [], usage: usage ?? { prompt_tokens: 0, completion_tokens: 0, total_tokens: 0 } })}\n\n` +
                'data: [DONE]\n\n',
            ),
          );
        }
        controller.close();
        return true;
      }
      return text !== '';
  }
}

function errorResponse(e: unknown): Response {
  // The binding's errors name the model or the input problem ("AiError: 5006: …"); they carry no secret.
  const message = e instanceof Error ? e.message.slice(0, 300) : 'Workers AI failed.';
  const status = /\b(?:5006|5007|8001)\b|invalid|not found|No such model/i.test(message) ? 400 : 502;
  return new Response(JSON.stringify({ error: { message, type: status === 400 ? 'invalid_request_error' : 'api_error' } }), {
    status,
    headers: { 'content-type': 'application/json' },
  });
}

export const workersAiProvider: ProviderAdapter = {
  info: providerInfo('workers-ai')!,
  clientHeaders: {},
  framing: 'sse',
  buildRequest({ body }) {
    const model = workersAiModel(String(body.model));
    const inputs = workersAiInputs(body);
    return { url: `binding://AI/${model}`, headers: new Headers(), body: JSON.stringify({ model, inputs }) };
  },
  async localFetch(call: UpstreamCall) {
    const ai = workersAiBinding();
    const { model, inputs } = JSON.parse(call.body) as { model: string; inputs: Record<string, unknown> };
    const id = `chatcmpl-${crypto.randomUUID()}`;
    const created = Math.floor(Date.now() / 1000);
    let out: unknown;
    try {
      out = await ai.run(model, inputs);
    } catch (e) {
      return errorResponse(e);
    }
    if (out instanceof ReadableStream) {
      return new Response(workersAiStream(out as ReadableStream<Uint8Array>, model, id, created), { headers: { 'content-type': 'text/event-stream' } });
    }
    return new Response(JSON.stringify(workersAiCompletion(out, model, id, created)), { headers: { 'content-type': 'application/json' } });
  },
};
