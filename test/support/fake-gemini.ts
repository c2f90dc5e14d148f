/**
 * A local stand-in for the Gemini API (generativelanguage.googleapis.com/v1beta), speaking its
 * wire format: `models/{model}:generateContent`, `:streamGenerateContent?alt=sse` (SSE events of
 * `data: <GenerateContentResponse>` separated by CRLF CRLF, no end marker) and
 * `:batchEmbedContents`, with Google's error model `{"error": {code, message, status, details}}`.
 *
 * It checks what it receives as Gemini does: the `x-goog-api-key` header must be present (else 403
 * PERMISSION_DENIED) and be the key it was started with (else 400 INVALID_ARGUMENT with reason
 * API_KEY_INVALID); unknown JSON fields are refused ("Unknown name"); `contents` must hold turns of
 * role user/model with parts; a functionResponse must follow a model turn with as many function
 * calls. Behaviour by model name:
 *   fail-429 / fail-500 / fail-503 → that error;  tools → a function call (with a thoughtSignature)
 *   when the request has tools and the last turn is not a function response;  blocked → the prompt
 *   is blocked (promptFeedback);  thinking → a thought part and thoughtsTokenCount;  cut-… → the
 *   stream ends before its finishReason;  anything else → a text answer.
 */
import { timingSafeEqual } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { FakeProvider, ReceivedRequest } from './fake-providers';

export const FAKE_GEMINI_KEY = 'AIzaSyFakeGeminiKeyForTests0000000000';
const WORDS = ['The', ' quick', ' brown', ' fox', ' jumps', '.'];
export const FAKE_GEMINI_USAGE = { promptTokenCount: 31, cachedContentTokenCount: 8, candidatesTokenCount: WORDS.length, thoughtsTokenCount: 12 };
export const FAKE_THOUGHT_SIGNATURE = 'CiQBVKhc7oZ+fake/signature==';

const TOP_LEVEL = new Set(['contents', 'systemInstruction', 'tools', 'toolConfig', 'generationConfig', 'safetySettings', 'cachedContent']);
const GENERATION_CONFIG = new Set([
  'stopSequences', 'responseMimeType', 'responseSchema', 'responseJsonSchema', 'candidateCount', 'maxOutputTokens', 'temperature', 'topP', 'topK',
  'seed', 'presencePenalty', 'frequencyPenalty', 'responseLogprobs', 'logprobs', 'thinkingConfig', 'responseModalities',
]);

function send(res: http.ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json; charset=UTF-8' });
  res.end(JSON.stringify(body));
}

const STATUS_NAMES: Record<number, string> = { 400: 'INVALID_ARGUMENT', 403: 'PERMISSION_DENIED', 404: 'NOT_FOUND', 429: 'RESOURCE_EXHAUSTED', 500: 'INTERNAL', 503: 'UNAVAILABLE' };

export function geminiErrorBody(code: number, message: string, details?: unknown[]): Record<string, unknown> {
  return { error: { code, message, status: STATUS_NAMES[code] ?? 'UNKNOWN', ...(details ? { details } : {}) } };
}

function readBody(req: http.IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let data = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => (data += c));
    req.on('end', () => resolve(data));
    req.on('error', reject);
  });
}

type Json = Record<string, unknown>;

/** The first problem Gemini would report for this GenerateContentRequest, or null. */
function requestProblem(body: Json): string | null {
  for (const k of Object.keys(body)) if (!TOP_LEVEL.has(k)) return `Invalid JSON payload received. Unknown name "${k}": Cannot find field.`;
  const g = body.generationConfig as Json | undefined;
  if (g) for (const k of Object.keys(g)) if (!GENERATION_CONFIG.has(k)) return `Invalid JSON payload received. Unknown name "${k}" at 'generation_config': Cannot find field.`;
  const contents = body.contents;
  if (!Array.isArray(contents) || contents.length === 0) return '* GenerateContentRequest.contents: contents is not specified';
  let pendingCalls = 0;
  for (const [i, c] of (contents as Json[]).entries()) {
    if (c.role !== 'user' && c.role !== 'model') return `Please use a valid role: user, model. (contents[${i}])`;
    const parts = c.parts as Json[] | undefined;
    if (!Array.isArray(parts) || parts.length === 0) return `* GenerateContentRequest.contents[${i}].parts: contents.parts must not be empty.`;
    const responses = parts.filter((p) => p.functionResponse).length;
    if (responses > 0 && responses !== pendingCalls) {
      return 'Please ensure that the number of function response parts is equal to the number of function call parts of the function call turn.';
    }
    for (const p of parts) {
      const fr = p.functionResponse as Json | undefined;
      if (fr && (typeof fr.name !== 'string' || typeof fr.response !== 'object')) return `* GenerateContentRequest.contents[${i}].parts: function_response.name is required`;
      const inline = p.inlineData as Json | undefined;
      if (inline && (typeof inline.mimeType !== 'string' || typeof inline.data !== 'string')) return `* GenerateContentRequest.contents[${i}].parts: inline_data requires mime_type and data`;
    }
    pendingCalls = c.role === 'model' ? parts.filter((p) => p.functionCall).length : 0;
  }
  return null;
}

export interface FakeGeminiOptions {
  apiKey?: string;
  gapMs?: number;
}

export async function startFakeGemini(opts: FakeGeminiOptions = {}): Promise<FakeProvider> {
  const received: ReceivedRequest[] = [];
  const apiKey = opts.apiKey ?? FAKE_GEMINI_KEY;
  const gapMs = opts.gapMs ?? 5;
  const server = http.createServer((req, res) => {
    void (async () => {
      const text = await readBody(req);
      let body: Json = {};
      try {
        body = text ? (JSON.parse(text) as Json) : {};
      } catch {
        send(res, 400, geminiErrorBody(400, `Invalid JSON payload received. Unexpected token.`));
        return;
      }
      received.push({ path: req.url ?? '', headers: req.headers, body });
      const url = new URL(req.url ?? '/', 'http://fake');
      const m = /^\/v1beta\/models\/([A-Za-z0-9._-]+):(generateContent|streamGenerateContent|batchEmbedContents)$/.exec(url.pathname);
      if (req.method !== 'POST' || !m) {
        send(res, 404, geminiErrorBody(404, `models/${url.pathname} is not found for API version v1beta, or is not supported.`));
        return;
      }
      const key = req.headers['x-goog-api-key'];
      if (key === undefined) {
        send(res, 403, geminiErrorBody(403, "Method doesn't allow unregistered callers (callers without established identity). Please use API Key or other form of API consumer identity to call this API."));
        return;
      }
      if (typeof key !== 'string' || key.length !== apiKey.length || !timingSafeEqual(Buffer.from(key), Buffer.from(apiKey))) {
        send(res, 400, geminiErrorBody(400, 'API key not valid. Please pass a valid API key.', [
          { '@type': 'type.googleapis.com/google.rpc.ErrorInfo', reason: 'API_KEY_INVALID', domain: 'googleapis.com', metadata: { service: 'generativelanguage.googleapis.com' } },
        ]));
        return;
      }
      const model = m[1]!;
      const action = m[2]!;
      const fail = /^fail-(\d{3})$/.exec(model);
      if (fail) {
        const code = Number(fail[1]);
        const message = code === 429 ? 'You exceeded your current quota, please check your plan and billing details.' : code === 503 ? 'The model is overloaded. Please try again later.' : 'An internal error has occurred. Please retry or report in https://developers.generativeai.google/guide/troubleshooting';
        send(res, code, geminiErrorBody(code, message));
        return;
      }
      if (action === 'batchEmbedContents') {
        embed(res, model, body);
        return;
      }
      const problem = requestProblem(body);
      if (problem) {
        send(res, 400, geminiErrorBody(400, problem));
        return;
      }
      if (action === 'generateContent') {
        if (url.search !== '') {
          send(res, 400, geminiErrorBody(400, 'Unexpected query parameters.'));
          return;
        }
        send(res, 200, { ...answer(model, body), modelVersion: model, responseId: 'fakeResponseId01' });
        return;
      }
      if (url.searchParams.get('alt') !== 'sse') {
        // Without alt=sse Gemini streams a JSON array; the gateway never asks for that.
        send(res, 400, geminiErrorBody(400, 'This fake serves streamGenerateContent only with alt=sse.'));
        return;
      }
      await stream(res, model, body, model.startsWith('slow') ? 300 : gapMs);
    })().catch(() => {
      if (!res.headersSent) send(res, 500, geminiErrorBody(500, 'fake failure'));
      else res.destroy();
    });
  });
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      resolve({
        url: `http://127.0.0.1:${port}`,
        received,
        close: () =>
          new Promise((r) => {
            server.closeAllConnections();
            server.close(() => r());
          }),
      });
    });
  });
}

function usage(model: string, final: boolean): Json {
  const u = FAKE_GEMINI_USAGE;
  const thoughts = model.startsWith('thinking') ? u.thoughtsTokenCount : 0;
  const candidates = final ? u.candidatesTokenCount : 1;
  return {
    promptTokenCount: u.promptTokenCount,
    ...(final ? { candidatesTokenCount: candidates } : {}),
    ...(thoughts ? { thoughtsTokenCount: thoughts } : {}),
    cachedContentTokenCount: u.cachedContentTokenCount,
    totalTokenCount: u.promptTokenCount + (final ? candidates : 0) + thoughts,
    promptTokensDetails: [{ modality: 'TEXT', tokenCount: u.promptTokenCount }],
  };
}

/** Whether the model should call a function now: tools offered and the last turn is not a result. */
function callsTool(model: string, body: Json): Json | null {
  if (!model.startsWith('tools')) return null;
  const tools = body.tools as Array<{ functionDeclarations?: Json[] }> | undefined;
  const decl = tools?.[0]?.functionDeclarations?.[0];
  const contents = body.contents as Array<{ parts: Json[] }>;
  const last = contents.at(-1)!;
  if (!decl || last.parts.some((p) => p.functionResponse)) return null;
  return { functionCall: { name: decl.name, args: { city: 'Paris', unit: 'celsius' } }, thoughtSignature: FAKE_THOUGHT_SIGNATURE };
}

function answer(model: string, body: Json): Json {
  if (model.startsWith('blocked')) return { promptFeedback: { blockReason: 'SAFETY' }, usageMetadata: { promptTokenCount: 31, totalTokenCount: 31 } };
  const call = callsTool(model, body);
  const parts: Json[] = [];
  if (model.startsWith('thinking')) parts.push({ text: 'Let me think about foxes.', thought: true });
  if (call) parts.push({ text: 'Let me check.' }, call);
  else parts.push({ text: WORDS.join('') });
  return {
    candidates: [{ content: { parts, role: 'model' }, finishReason: 'STOP', index: 0 }],
    usageMetadata: usage(model, true),
  };
}

async function stream(res: http.ServerResponse, model: string, body: Json, gapMs: number): Promise<void> {
  res.writeHead(200, { 'content-type': 'text/event-stream', 'x-content-type-options': 'nosniff' });
  res.flushHeaders();
  const events: Json[] = [];
  const meta = { modelVersion: model, responseId: 'fakeResponseId01' };
  if (model.startsWith('blocked')) events.push({ promptFeedback: { blockReason: 'SAFETY' }, usageMetadata: { promptTokenCount: 31, totalTokenCount: 31 }, ...meta });
  else {
    const call = callsTool(model, body);
    if (model.startsWith('thinking')) events.push({ candidates: [{ content: { parts: [{ text: 'Let me think.', thought: true }], role: 'model' }, index: 0 }], usageMetadata: usage(model, false), ...meta });
    if (call) {
      events.push({ candidates: [{ content: { parts: [{ text: 'Let me check.' }], role: 'model' }, index: 0 }], usageMetadata: usage(model, false), ...meta });
      events.push({ candidates: [{ content: { parts: [call], role: 'model' }, finishReason: 'STOP', index: 0 }], usageMetadata: usage(model, true), ...meta });
    } else {
      WORDS.forEach((w, i) => {
        const last = i === WORDS.length - 1;
        events.push({ candidates: [{ content: { parts: [{ text: w }], role: 'model' }, ...(last ? { finishReason: 'STOP' } : {}), index: 0 }], usageMetadata: usage(model, last), ...meta });
      });
    }
  }
  // cut-…: the connection ends before the event with the finish reason.
  const send = model.startsWith('cut') ? events.slice(0, -1) : events;
  for (const e of send) {
    if (res.destroyed) return;
    res.write(`data: ${JSON.stringify(e)}\r\n\r\n`);
    if (gapMs > 0) await new Promise((r) => setTimeout(r, gapMs));
  }
  if (model.startsWith('cut')) res.destroy();
  else res.end();
}

/** A deterministic vector for a text: the same text always embeds the same. */
export function fakeVector(text: string, dims: number): number[] {
  const v: number[] = [];
  let h = 2166136261;
  for (const ch of text) h = Math.imul(h ^ ch.codePointAt(0)!, 16777619) >>> 0;
  for (let i = 0; i < dims; i++) {
    h = Math.imul(h ^ i, 16777619) >>> 0;
    v.push(Math.round(((h % 2000) / 1000 - 1) * 1e6) / 1e6);
  }
  return v;
}

function embed(res: http.ServerResponse, model: string, body: Json): void {
  const requests = body.requests as Json[] | undefined;
  if (!Array.isArray(requests) || requests.length === 0) {
    send(res, 400, geminiErrorBody(400, '* BatchEmbedContentsRequest.requests: requests is not specified'));
    return;
  }
  const embeddings: Json[] = [];
  for (const [i, r] of requests.entries()) {
    if (r.model !== `models/${model}`) {
      send(res, 400, geminiErrorBody(400, `* BatchEmbedContentsRequest.requests[${i}].model: Model names must match the URL (models/${model}).`));
      return;
    }
    const parts = (r.content as { parts?: Json[] } | undefined)?.parts;
    if (!Array.isArray(parts) || parts.length === 0 || typeof parts[0]!.text !== 'string') {
      send(res, 400, geminiErrorBody(400, `* BatchEmbedContentsRequest.requests[${i}].content: content.parts must not be empty`));
      return;
    }
    const dims = typeof r.outputDimensionality === 'number' ? r.outputDimensionality : 8;
    embeddings.push({ values: fakeVector(parts.map((p) => String(p.text)).join(''), dims) });
  }
  send(res, 200, { embeddings });
}
