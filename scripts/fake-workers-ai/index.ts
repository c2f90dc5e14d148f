/**
 * A local stand-in for the Workers AI binding (`env.AI.run(model, inputs)`), reached over a
 * service binding's RPC with the same method and the same answers as the real binding:
 *   text generation   {messages, stream?, max_tokens?, temperature?, tools?, …}
 *                     → {response, tool_calls?, usage: {prompt_tokens, completion_tokens, total_tokens}};
 *                     stream: true → a ReadableStream of SSE `data: {"response": "…", "p": "…"}`, a
 *                     last `data: {"response": "", "usage": {…}}`, then `data: [DONE]`
 *   embeddings        {text: string | string[]} → {shape: [n, 768], data: [[…]], pooling: "mean"}
 * Errors are thrown as the binding throws them: `AiError: 5007: No such model …`,
 * `AiError: 5006: … must NOT have additional properties`. Behaviour by model name: a model whose
 * name contains `bge` embeds; `…-fail` throws an internal error; any other `@cf/…` model answers,
 * with a tool call when the request has tools and its last message is not a tool result.
 */
import { WorkerEntrypoint } from 'cloudflare:workers';

const WORDS = ['The', ' quick', ' brown', ' fox', ' jumps', '.'];
export const FAKE_WORKERS_AI_USAGE = { prompt_tokens: 17, completion_tokens: WORDS.length };
const TEXT_INPUTS = new Set(['messages', 'prompt', 'stream', 'max_tokens', 'temperature', 'top_p', 'top_k', 'seed', 'repetition_penalty', 'frequency_penalty', 'presence_penalty', 'tools', 'functions', 'response_format', 'raw', 'lora']);
const DIMENSIONS = 768;

type Json = Record<string, unknown>;

function aiError(code: number, message: string): Error {
  return new Error(`AiError: ${code}: ${message}`);
}

function vector(text: string): number[] {
  // Deterministic per text, so tests can tell inputs apart.
  let h = 2166136261;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 16777619);
  return Array.from({ length: DIMENSIONS }, (_, i) => (((h >>> (i % 24)) & 0xff) - 128) / 128);
}

function usage() {
  return { ...FAKE_WORKERS_AI_USAGE, total_tokens: FAKE_WORKERS_AI_USAGE.prompt_tokens + FAKE_WORKERS_AI_USAGE.completion_tokens };
}

export class FakeAi extends WorkerEntrypoint {
  async run(model: string, inputs: Json): Promise<unknown> {
    if (typeof model !== 'string' || !/^@(cf|hf)\//.test(model)) throw aiError(5007, `No such model ${String(model)} or task`);
    if (model.endsWith('-fail')) throw aiError(3040, 'Capacity temporarily exceeded, please try again.');
    if (model.includes('bge')) {
      const text = inputs.text;
      const texts = typeof text === 'string' ? [text] : Array.isArray(text) && text.every((t) => typeof t === 'string') ? (text as string[]) : null;
      if (!texts || texts.length === 0) throw aiError(5006, "Error: required properties at '/' are 'text'");
      return { shape: [texts.length, DIMENSIONS], data: texts.map(vector), pooling: 'mean' };
    }
    for (const k of Object.keys(inputs)) if (!TEXT_INPUTS.has(k)) throw aiError(5006, `Error: must NOT have additional properties '${k}'`);
    const messages = inputs.messages;
    if (!Array.isArray(messages) || messages.length === 0 || !messages.every((m: Json) => typeof m?.role === 'string')) {
      throw aiError(5006, "Error: required properties at '/' are 'messages'");
    }
    const last = messages[messages.length - 1] as Json;
    const tools = Array.isArray(inputs.tools) ? (inputs.tools as Json[]) : [];
    if (tools.length > 0 && last.role !== 'tool') {
      const first = tools[0]!;
      const name = String((first.function as Json | undefined)?.name ?? first.name ?? 'tool');
      const call = { name, arguments: { city: 'Paris' } };
      if (inputs.stream === true) {
        return sse([{ response: '', tool_calls: [call] }, { response: '', usage: usage() }], this.ctx);
      }
      return { response: null, tool_calls: [call], usage: usage() };
    }
    if (inputs.stream === true) {
      return sse([...WORDS.map((w) => ({ response: w, p: 'abcdef' })), { response: '', usage: usage() }], this.ctx);
    }
    return { response: WORDS.join(''), tool_calls: [], usage: usage() };
  }
}

/** A byte stream, as the binding returns one (only byte streams end cleanly across RPC). */
function sse(events: Json[], ctx: ExecutionContext): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  const parts = [...events.map((e) => `data: ${JSON.stringify(e)}\n\n`), 'data: [DONE]\n\n'];
  const { readable, writable } = new IdentityTransformStream();
  const writer = writable.getWriter();
  ctx.waitUntil(
    (async () => {
      for (const p of parts) {
        await new Promise((r) => setTimeout(r, 5));
        await writer.write(encoder.encode(p));
      }
      await writer.close();
    })().catch(() => undefined),
  );
  return readable;
}

export default {
  fetch: () => new Response('routero fake Workers AI: call it through a service binding\n', { status: 404 }),
};
