/**
 * Local stand-ins for the upstream providers, speaking their exact wire formats (bodies, SSE
 * streams, errors). They record what they receive so tests can assert, for example, that the
 * gateway sent the decrypted provider key. Behaviour is chosen by the model name:
 *   fail-429 / fail-500 / fail-401 → that error;  redirect → a 302;  slow-… → chunks 300 ms apart;
 *   anything else → an answer.
 * A provider key starting with `sk-bad` is refused (401, the provider's documented error), and
 * `GET /v1/models` lists models (OpenAI "List models", Anthropic "List Models"): what
 * "Test connection" calls.
 * Streams send their chunks `gapMs` apart so tests can see that bytes are not buffered.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ReceivedRequest {
  path: string;
  headers: http.IncomingHttpHeaders;
  body: Record<string, unknown>;
}

export interface FakeProvider {
  url: string;
  received: ReceivedRequest[];
  close(): Promise<void>;
}

/** Keys the fakes refuse, as a provider refuses a revoked or mistyped key. */
export const BAD_PROVIDER_KEY_PREFIX = 'sk-bad';

const WORDS = ['The', ' quick', ' brown', ' fox', ' jumps', '.'];

/** Reads and records one request; returns its JSON body and model. */
async function receive(req: http.IncomingMessage, received: ReceivedRequest[]): Promise<{ body: Record<string, unknown>; model: string }> {
  const text = await readBody(req);
  const body = (text ? JSON.parse(text) : {}) as Record<string, unknown>;
  received.push({ path: req.url ?? '', headers: req.headers, body });
  return { body, model: String(body.model ?? '') };
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

async function streamEvents(res: http.ServerResponse, events: string[], gapMs: number): Promise<void> {
  res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', 'x-request-id': 'req_fake123' });
  res.flushHeaders();
  for (const e of events) {
    if (res.destroyed) return;
    res.write(e);
    if (gapMs > 0) await new Promise((r) => setTimeout(r, gapMs));
  }
  res.end();
}

function listen(handler: http.RequestListener, received: ReceivedRequest[]): Promise<FakeProvider> {
  const server = http.createServer(handler);
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

export const FAKE_USAGE = {
  openai: { prompt_tokens: 31, completion_tokens: WORDS.length, cached_tokens: 8 },
  anthropic: { input_tokens: 21, cache_creation_input_tokens: 4, cache_read_input_tokens: 16, output_tokens: WORDS.length },
};

export async function startFakeOpenAI(opts: { gapMs?: number } = {}): Promise<FakeProvider> {
  const received: ReceivedRequest[] = [];
  const gapMs = opts.gapMs ?? 5;
  return listen(async (req, res) => {
    const { body, model } = await receive(req, received);
    const auth = String(req.headers.authorization ?? '');
    if (auth.startsWith(`Bearer ${BAD_PROVIDER_KEY_PREFIX}`)) {
      // OpenAI's 401 quotes the key, masked: the gateway must never pass this text on.
      const key = auth.slice(7);
      res.writeHead(401, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { message: `Incorrect API key provided: ${key.slice(0, 8)}***********${key.slice(-4)}. You can find your API key at https://platform.openai.com/account/api-keys.`, type: 'invalid_request_error', param: null, code: 'invalid_api_key' } }));
      return;
    }
    if (req.url === '/v1/models' && req.method === 'GET') {
      res.writeHead(200, { 'content-type': 'application/json', 'x-request-id': 'req_fake123' });
      res.end(JSON.stringify({ object: 'list', data: [{ id: 'gpt-4o-mini', object: 'model', created: 1_721_172_741, owned_by: 'system' }] }));
      return;
    }
    if (req.url !== '/v1/chat/completions' || req.method !== 'POST') {
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { message: `Unknown path ${req.url}`, type: 'invalid_request_error', param: null, code: 'unknown_url' } }));
      return;
    }
    if (model === 'redirect') {
      res.writeHead(302, { location: 'http://169.254.169.254/latest/meta-data' });
      res.end();
      return;
    }
    const fail = /^fail-(\d{3})$/.exec(model);
    if (fail) {
      const status = Number(fail[1]);
      const auth = String(req.headers.authorization ?? '');
      res.writeHead(status, { 'content-type': 'application/json', ...(status === 429 ? { 'retry-after': '7' } : {}) });
      res.end(
        JSON.stringify({
          error: {
            message: status === 401 ? `Incorrect API key provided: ${auth.slice(7)}.` : status === 429 ? 'Rate limit reached for requests' : 'The server had an error',
            type: status === 429 ? 'requests' : status === 401 ? 'invalid_request_error' : 'server_error',
            param: null,
            code: status === 401 ? 'invalid_api_key' : null,
          },
        }),
      );
      return;
    }
    const id = 'chatcmpl-fake0001';
    const created = 1_764_300_000;
    const usage = {
      prompt_tokens: FAKE_USAGE.openai.prompt_tokens,
      completion_tokens: FAKE_USAGE.openai.completion_tokens,
      total_tokens: FAKE_USAGE.openai.prompt_tokens + FAKE_USAGE.openai.completion_tokens,
      prompt_tokens_details: { cached_tokens: FAKE_USAGE.openai.cached_tokens, audio_tokens: 0 },
      completion_tokens_details: { reasoning_tokens: 0, audio_tokens: 0, accepted_prediction_tokens: 0, rejected_prediction_tokens: 0 },
    };
    if (!body.stream) {
      res.writeHead(200, { 'content-type': 'application/json', 'x-request-id': 'req_fake123' });
      res.end(
        JSON.stringify({
          id,
          object: 'chat.completion',
          created,
          model,
          choices: [{ index: 0, message: { role: 'assistant', content: WORDS.join(''), refusal: null, annotations: [] }, logprobs: null, finish_reason: 'stop' }],
          usage,
          service_tier: 'default',
          system_fingerprint: 'fp_fake',
        }),
      );
      return;
    }
    const includeUsage = (body.stream_options as { include_usage?: boolean } | undefined)?.include_usage === true;
    const chunk = (choices: unknown[], extra: Record<string, unknown> = {}) =>
      `data: ${JSON.stringify({ id, object: 'chat.completion.chunk', created, model, service_tier: 'default', system_fingerprint: 'fp_fake', choices, ...(includeUsage ? { usage: null } : {}), ...extra })}\n\n`;
    const events = [
      chunk([{ index: 0, delta: { role: 'assistant', content: '', refusal: null }, logprobs: null, finish_reason: null }]),
      ...WORDS.map((w) => chunk([{ index: 0, delta: { content: w }, logprobs: null, finish_reason: null }])),
      chunk([{ index: 0, delta: {}, logprobs: null, finish_reason: 'stop' }]),
      ...(includeUsage ? [chunk([], { usage })] : []),
      'data: [DONE]\n\n',
    ];
    await streamEvents(res, events, model.startsWith('slow') ? 300 : gapMs);
  }, received);
}

export async function startFakeAnthropic(opts: { gapMs?: number } = {}): Promise<FakeProvider> {
  const received: ReceivedRequest[] = [];
  const gapMs = opts.gapMs ?? 5;
  return listen(async (req, res) => {
    const { body, model } = await receive(req, received);
    const fail = /^fail-(\d{3})$/.exec(model);
    if (String(req.headers['x-api-key'] ?? '').startsWith(BAD_PROVIDER_KEY_PREFIX)) {
      res.writeHead(401, { 'content-type': 'application/json', 'request-id': 'req_fakeant' });
      res.end(JSON.stringify({ type: 'error', error: { type: 'authentication_error', message: 'invalid x-api-key' } }));
      return;
    }
    if (req.url === '/v1/models?limit=1' && req.method === 'GET' && req.headers['anthropic-version']) {
      res.writeHead(200, { 'content-type': 'application/json', 'request-id': 'req_fakeant' });
      res.end(JSON.stringify({ data: [{ type: 'model', id: 'claude-sonnet-4-5', display_name: 'Claude Sonnet 4.5', created_at: '2025-09-29T00:00:00Z' }], has_more: true, first_id: 'claude-sonnet-4-5', last_id: 'claude-sonnet-4-5' }));
      return;
    }
    if (req.url !== '/v1/messages' || !req.headers['x-api-key'] || !req.headers['anthropic-version']) {
      res.writeHead(400, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ type: 'error', error: { type: 'invalid_request_error', message: 'bad request to fake' } }));
      return;
    }
    if (fail) {
      const status = Number(fail[1]);
      res.writeHead(status, { 'content-type': 'application/json', 'request-id': 'req_fakeant' });
      res.end(JSON.stringify({ type: 'error', error: { type: status === 429 ? 'rate_limit_error' : status === 529 ? 'overloaded_error' : 'api_error', message: status === 429 ? 'Number of request tokens has exceeded your rate limit' : 'Internal server error' } }));
      return;
    }
    const u = FAKE_USAGE.anthropic;
    const id = 'msg_fake0001';
    if (!body.stream) {
      res.writeHead(200, { 'content-type': 'application/json', 'request-id': 'req_fakeant' });
      res.end(
        JSON.stringify({
          id,
          type: 'message',
          role: 'assistant',
          model,
          content: [{ type: 'text', text: WORDS.join('') }],
          stop_reason: 'end_turn',
          stop_sequence: null,
          usage: { ...u, service_tier: 'standard' },
        }),
      );
      return;
    }
    const ev = (event: string, data: unknown) => `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
    const events = [
      ev('message_start', {
        type: 'message_start',
        message: { id, type: 'message', role: 'assistant', model, content: [], stop_reason: null, stop_sequence: null, usage: { input_tokens: u.input_tokens, cache_creation_input_tokens: u.cache_creation_input_tokens, cache_read_input_tokens: u.cache_read_input_tokens, output_tokens: 1 } },
      }),
      ev('content_block_start', { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } }),
      ev('ping', { type: 'ping' }),
      ...WORDS.map((w) => ev('content_block_delta', { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: w } })),
      ev('content_block_stop', { type: 'content_block_stop', index: 0 }),
      ev('message_delta', { type: 'message_delta', delta: { stop_reason: 'end_turn', stop_sequence: null }, usage: { output_tokens: u.output_tokens } }),
      ev('message_stop', { type: 'message_stop' }),
    ];
    await streamEvents(res, events, model.startsWith('slow') ? 300 : gapMs);
  }, received);
}
