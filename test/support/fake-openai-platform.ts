/**
 * Local stand-ins for OpenAI's platform endpoints beside chat (Responses API, embeddings) and for
 * Azure OpenAI, speaking their documented wire formats and checking what they receive.
 *
 * `startFakeOpenAIPlatform(key)`: POST /v1/chat/completions (text and tool calls, streamed or not),
 * /v1/embeddings, /v1/responses (streamed: `response.created` … `response.completed` with usage);
 * `authorization: Bearer <key>` required (401 otherwise, OpenAI's error body).
 *
 * `startFakeAzure(key)`: the same operations at Azure's paths —
 *   /openai/deployments/{deployment}/chat/completions?api-version=…
 *   /openai/deployments/{deployment}/embeddings?api-version=…
 *   /openai/responses?api-version=…   (the deployment is the body's `model`)
 * It requires the `api-key` header (401 `{"error": {"code": "401", "message": "Access denied due to
 * invalid subscription key …"}}`) and a known `api-version` (404 `Resource not found` otherwise, as
 * Azure answers an unknown one; the Responses API only on preview versions). A deployment named
 * `missing` does not exist (404 DeploymentNotFound). Azure answers carry `prompt_filter_results`.
 *
 * Behaviour by model/deployment name: `fail-429` / `fail-500` → that error; a chat request with
 * tools whose last message is not a tool result → a tool call; anything else → a text answer.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { FakeProvider, ReceivedRequest } from './fake-providers';

export const FAKE_AZURE_KEY = 'fake-azure-api-key-0123456789abcdef';
export const FAKE_PLATFORM_KEY = 'sk-fake-platform-key-0123456789';
export const AZURE_API_VERSIONS = new Set(['2024-10-21', '2024-06-01', '2025-01-01-preview', '2025-03-01-preview', '2025-04-01-preview', 'preview']);
const WORDS = ['The', ' quick', ' brown', ' fox', ' jumps', '.'];
export const FAKE_PLATFORM_USAGE = { input: 23, cached: 4, output: WORDS.length, reasoning: 2, embedPerInput: 3 };

type Json = Record<string, unknown>;

function readBody(req: http.IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let data = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => (data += c));
    req.on('end', () => resolve(data));
    req.on('error', reject);
  });
}

function send(res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json', 'x-request-id': 'req_fakeplatform1', ...headers });
  res.end(JSON.stringify(body));
}

async function streamEvents(res: http.ServerResponse, events: string[]): Promise<void> {
  res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', 'x-request-id': 'req_fakeplatform1' });
  res.flushHeaders();
  for (const e of events) {
    if (res.destroyed) return;
    res.write(e);
    await new Promise((r) => setTimeout(r, 5));
  }
  res.end();
}

function openaiError(res: http.ServerResponse, status: number, message: string, type: string, code: string | null = null): void {
  send(res, status, { error: { message, type, param: null, code } }, status === 429 ? { 'retry-after': '7' } : {});
}

function embedding(text: string, dims: number): number[] {
  let h = 2166136261;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 16777619);
  return Array.from({ length: dims }, (_, i) => (((h >>> (i % 24)) & 0xff) - 128) / 128);
}

function embeddings(body: Json, model: string): Json {
  const input = typeof body.input === 'string' ? [body.input] : (body.input as string[]);
  const dims = typeof body.dimensions === 'number' ? body.dimensions : 8;
  const data = input.map((t, index) => {
    const v = embedding(t, dims);
    const embeddingValue = body.encoding_format === 'base64' ? Buffer.from(new Float32Array(v).buffer).toString('base64') : v;
    return { object: 'embedding', index, embedding: embeddingValue };
  });
  const tokens = input.length * FAKE_PLATFORM_USAGE.embedPerInput;
  return { object: 'list', data, model, usage: { prompt_tokens: tokens, total_tokens: tokens } };
}

function chatUsage() {
  return {
    prompt_tokens: FAKE_PLATFORM_USAGE.input,
    completion_tokens: FAKE_PLATFORM_USAGE.output,
    total_tokens: FAKE_PLATFORM_USAGE.input + FAKE_PLATFORM_USAGE.output,
    prompt_tokens_details: { cached_tokens: FAKE_PLATFORM_USAGE.cached, audio_tokens: 0 },
    completion_tokens_details: { reasoning_tokens: FAKE_PLATFORM_USAGE.reasoning, audio_tokens: 0, accepted_prediction_tokens: 0, rejected_prediction_tokens: 0 },
  };
}

async function chat(res: http.ServerResponse, body: Json, model: string, azure: boolean): Promise<void> {
  const messages = Array.isArray(body.messages) ? (body.messages as Json[]) : [];
  if (messages.length === 0) return openaiError(res, 400, "Missing required parameter: 'messages'.", 'invalid_request_error', 'missing_required_parameter');
  const tools = Array.isArray(body.tools) ? (body.tools as Json[]) : [];
  const wantsTool = tools.length > 0 && messages.at(-1)?.role !== 'tool';
  const toolName = String(((tools[0]?.function ?? {}) as Json).name ?? '');
  const id = 'chatcmpl-fakeplatform1';
  const created = 1_764_300_000;
  const filters = azure ? { prompt_filter_results: [{ prompt_index: 0, content_filter_results: {} }] } : {};
  if (!body.stream) {
    const message = wantsTool
      ? { role: 'assistant', content: null, tool_calls: [{ id: 'call_fake1', type: 'function', function: { name: toolName, arguments: '{"city":"Paris"}' } }], refusal: null }
      : { role: 'assistant', content: WORDS.join(''), refusal: null };
    return send(res, 200, { id, object: 'chat.completion', created, model, choices: [{ index: 0, message, logprobs: null, finish_reason: wantsTool ? 'tool_calls' : 'stop' }], usage: chatUsage(), system_fingerprint: 'fp_fake', ...filters });
  }
  const includeUsage = (body.stream_options as Json | undefined)?.include_usage === true;
  const chunk = (choices: unknown[], extra: Json = {}) => `data: ${JSON.stringify({ id, object: 'chat.completion.chunk', created, model, system_fingerprint: 'fp_fake', choices, ...(includeUsage ? { usage: null } : {}), ...extra })}\n\n`;
  const events = [
    ...(azure ? [`data: ${JSON.stringify({ id: '', object: '', created: 0, model: '', choices: [], ...filters })}\n\n`] : []),
    chunk([{ index: 0, delta: { role: 'assistant', content: wantsTool ? null : '', refusal: null }, logprobs: null, finish_reason: null }]),
    ...(wantsTool
      ? [
          chunk([{ index: 0, delta: { tool_calls: [{ index: 0, id: 'call_fake1', type: 'function', function: { name: toolName, arguments: '' } }] }, logprobs: null, finish_reason: null }]),
          chunk([{ index: 0, delta: { tool_calls: [{ index: 0, function: { arguments: '{"city":' } }] }, logprobs: null, finish_reason: null }]),
          chunk([{ index: 0, delta: { tool_calls: [{ index: 0, function: { arguments: '"Paris"}' } }] }, logprobs: null, finish_reason: null }]),
        ]
      : WORDS.map((w) => chunk([{ index: 0, delta: { content: w }, logprobs: null, finish_reason: null }]))),
    chunk([{ index: 0, delta: {}, logprobs: null, finish_reason: wantsTool ? 'tool_calls' : 'stop' }]),
    ...(includeUsage ? [chunk([], { usage: chatUsage() })] : []),
    'data: [DONE]\n\n',
  ];
  await streamEvents(res, events);
}

function responseObject(model: string, status: 'in_progress' | 'completed'): Json {
  const done = status === 'completed';
  return {
    id: 'resp_fake1',
    object: 'response',
    created_at: 1_764_300_000,
    status,
    error: null,
    incomplete_details: null,
    instructions: null,
    model,
    output: done
      ? [{ id: 'msg_fake1', type: 'message', status: 'completed', role: 'assistant', content: [{ type: 'output_text', text: WORDS.join(''), annotations: [] }] }]
      : [],
    parallel_tool_calls: true,
    tool_choice: 'auto',
    tools: [],
    usage: done
      ? {
          input_tokens: FAKE_PLATFORM_USAGE.input,
          input_tokens_details: { cached_tokens: FAKE_PLATFORM_USAGE.cached },
          output_tokens: FAKE_PLATFORM_USAGE.output,
          output_tokens_details: { reasoning_tokens: FAKE_PLATFORM_USAGE.reasoning },
          total_tokens: FAKE_PLATFORM_USAGE.input + FAKE_PLATFORM_USAGE.output,
        }
      : null,
  };
}

async function responses(res: http.ServerResponse, body: Json, model: string): Promise<void> {
  if (body.input === undefined) return openaiError(res, 400, "Missing required parameter: 'input'.", 'invalid_request_error', 'missing_required_parameter');
  if (!body.stream) return send(res, 200, responseObject(model, 'completed'));
  let seq = 0;
  const ev = (type: string, data: Json) => `event: ${type}\ndata: ${JSON.stringify({ type, sequence_number: seq++, ...data })}\n\n`;
  const item = { id: 'msg_fake1', type: 'message', status: 'in_progress', role: 'assistant', content: [] };
  const events = [
    ev('response.created', { response: responseObject(model, 'in_progress') }),
    ev('response.in_progress', { response: responseObject(model, 'in_progress') }),
    ev('response.output_item.added', { output_index: 0, item }),
    ev('response.content_part.added', { item_id: 'msg_fake1', output_index: 0, content_index: 0, part: { type: 'output_text', text: '', annotations: [] } }),
    ...WORDS.map((w) => ev('response.output_text.delta', { item_id: 'msg_fake1', output_index: 0, content_index: 0, delta: w })),
    ev('response.output_text.done', { item_id: 'msg_fake1', output_index: 0, content_index: 0, text: WORDS.join('') }),
    ev('response.content_part.done', { item_id: 'msg_fake1', output_index: 0, content_index: 0, part: { type: 'output_text', text: WORDS.join(''), annotations: [] } }),
    ev('response.output_item.done', { output_index: 0, item: { ...item, status: 'completed', content: [{ type: 'output_text', text: WORDS.join(''), annotations: [] }] } }),
    ev('response.completed', { response: responseObject(model, 'completed') }),
  ];
  await streamEvents(res, events);
}

function listen(handler: (req: http.IncomingMessage, res: http.ServerResponse, body: Json) => Promise<void>): Promise<FakeProvider> {
  const received: ReceivedRequest[] = [];
  const server = http.createServer((req, res) => {
    void (async () => {
      const text = await readBody(req);
      let body: Json = {};
      try {
        body = text ? (JSON.parse(text) as Json) : {};
      } catch {
        return openaiError(res, 400, 'We could not parse the JSON body of your request.', 'invalid_request_error');
      }
      received.push({ path: req.url ?? '', headers: req.headers, body });
      await handler(req, res, body);
    })().catch(() => {
      if (!res.headersSent) send(res, 500, { error: { message: 'fake failed', type: 'server_error', param: null, code: null } });
    });
  });
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      resolve({
        url: `http://127.0.0.1:${port}`,
        received,
        close: () => new Promise((r) => { server.closeAllConnections(); server.close(() => r()); }),
      });
    });
  });
}

function failure(res: http.ServerResponse, model: string): boolean {
  const fail = /^fail-(\d{3})$/.exec(model);
  if (!fail) return false;
  const status = Number(fail[1]);
  openaiError(res, status, status === 429 ? 'Rate limit reached for requests' : 'The server had an error', status === 429 ? 'requests' : 'server_error');
  return true;
}

export function startFakeOpenAIPlatform(key = FAKE_PLATFORM_KEY): Promise<FakeProvider> {
  return listen(async (req, res, body) => {
    if (req.headers.authorization !== `Bearer ${key}`) return openaiError(res, 401, 'Incorrect API key provided.', 'invalid_request_error', 'invalid_api_key');
    const model = String(body.model ?? '');
    if (req.method !== 'POST') return openaiError(res, 404, `Unknown path ${req.url}`, 'invalid_request_error', 'unknown_url');
    if (failure(res, model)) return;
    if (req.url === '/v1/chat/completions') return chat(res, body, model, false);
    if (req.url === '/v1/embeddings') return send(res, 200, embeddings(body, model));
    if (req.url === '/v1/responses') return responses(res, body, model);
    openaiError(res, 404, `Unknown path ${req.url}`, 'invalid_request_error', 'unknown_url');
  });
}

export function startFakeAzure(key = FAKE_AZURE_KEY): Promise<FakeProvider> {
  return listen(async (req, res, body) => {
    const url = new URL(req.url ?? '/', 'http://fake');
    if (req.headers['api-key'] !== key) {
      return send(res, 401, { error: { code: '401', message: 'Access denied due to invalid subscription key or wrong API endpoint. Make sure to provide a valid key for an active subscription and use a correct regional API endpoint for your resource.' } });
    }
    const version = url.searchParams.get('api-version');
    const notFound = () => send(res, 404, { error: { code: '404', message: 'Resource not found' } });
    if (req.method !== 'POST' || !version || !AZURE_API_VERSIONS.has(version)) return notFound();
    if (url.pathname === '/openai/responses') {
      if (!version.includes('preview')) return notFound();
      const deployment = String(body.model ?? '');
      if (failure(res, deployment)) return;
      return responses(res, body, deployment);
    }
    const m = /^\/openai\/deployments\/([^/]+)\/(chat\/completions|embeddings)$/.exec(url.pathname);
    if (!m) return notFound();
    const deployment = decodeURIComponent(m[1]!);
    if (deployment === 'missing') {
      return send(res, 404, { error: { code: 'DeploymentNotFound', message: 'The API deployment for this resource does not exist. If you created the deployment within the last 5 minutes, please wait a moment and try again.' } });
    }
    if (failure(res, deployment)) return;
    // Azure answers with the model behind the deployment, not the deployment name.
    const model = 'gpt-4o-mini-2024-07-18';
    if (m[2] === 'embeddings') return send(res, 200, embeddings(body, 'text-embedding-3-small'));
    return chat(res, body, model, true);
  });
}
