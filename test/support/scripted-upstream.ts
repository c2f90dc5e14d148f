/**
 * A provider stand-in driven byte by byte: each test registers a script under a model name, and a
 * request for that model (on /v1/chat/completions or /v1/messages) plays it — when the headers
 * come, which bytes in which writes, pauses, a stall, a TCP reset. It records each connection's
 * life, so tests can see that the gateway let go of the provider (no socket left open).
 *
 * Tests that cannot register scripts from the process the server runs in (the workerd test pool)
 * use scripts chosen by the model name — `headers-after-<ms>`, `body-after-<ms>` — and read the
 * connection log at `GET /__connections?model=<name>`.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export type Step =
  | string
  | Uint8Array
  /** Pause before the next step. */
  | { wait: number }
  /** Tear the connection down with a TCP reset, mid-body. */
  | { reset: true }
  /** Send nothing more and never end: the gateway must give up. */
  | { stall: true };

export interface Script {
  status?: number;
  contentType?: string;
  /** Milliseconds before the status line and headers are sent. */
  headersAfterMs?: number;
  /** Extra response headers (e.g. `retry-after`). */
  headers?: Record<string, string>;
  steps: Step[];
}

export interface UpstreamConnection {
  model: string;
  openedAt: number;
  /** When the gateway's connection to this provider closed (null while it is open). */
  closedAt: number | null;
  /** The script ran to its end (headers sent and every step written). */
  completed: boolean;
  headersSentAt: number | null;
}

export interface ScriptedUpstream {
  url: string;
  /** A list plays one script per request, in order; the last one repeats. */
  script(model: string, script: Script | Script[]): void;
  connections(model: string): UpstreamConnection[];
  close(): Promise<void>;
}

/** Splits a byte string into writes of `size` bytes (1 = one write per byte). */
export function inWrites(bytes: Uint8Array | string, size: number, gapMs = 0): Step[] {
  const b = typeof bytes === 'string' ? new TextEncoder().encode(bytes) : bytes;
  const steps: Step[] = [];
  for (let i = 0; i < b.length; i += size) {
    steps.push(b.slice(i, i + size));
    if (gapMs > 0) steps.push({ wait: gapMs });
  }
  return steps;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function readBody(req: http.IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let data = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => (data += c));
    req.on('end', () => resolve(data));
    req.on('error', reject);
  });
}

const SMALL_STREAM =
  'data: {"id":"c1","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"content":"ok"},"finish_reason":null}]}\n\n' +
  'data: {"id":"c1","object":"chat.completion.chunk","created":1,"model":"m","choices":[],"usage":{"prompt_tokens":3,"completion_tokens":1}}\n\ndata: [DONE]\n\n';
const SMALL_BODY = '{"id":"c1","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"ok"},"finish_reason":"stop"}],"usage":{"prompt_tokens":3,"completion_tokens":1,"total_tokens":4}}';

/** Scripts picked by the model name (see the header comment). */
function scriptByName(model: string): Script | undefined {
  const headersAfter = /^headers-after-(\d+)$/.exec(model);
  if (headersAfter) return { headersAfterMs: Number(headersAfter[1]), steps: [SMALL_STREAM] };
  const bodyAfter = /^body-after-(\d+)$/.exec(model);
  if (bodyAfter) return { contentType: 'application/json', steps: [SMALL_BODY.slice(0, 20), { wait: Number(bodyAfter[1]) }, SMALL_BODY.slice(20)] };
  return undefined;
}

export async function startScriptedUpstream(): Promise<ScriptedUpstream> {
  const scripts = new Map<string, Script[]>();
  const connections: UpstreamConnection[] = [];

  const server = http.createServer(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://upstream');
    if (req.method === 'GET' && url.pathname === '/__connections') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(connections.filter((c) => c.model === url.searchParams.get('model'))));
      return;
    }
    const text = await readBody(req);
    let model = '';
    try {
      model = String((JSON.parse(text) as { model?: unknown }).model ?? '');
    } catch {
      /* not JSON: no script */
    }
    const conn: UpstreamConnection = { model, openedAt: Date.now(), closedAt: null, completed: false, headersSentAt: null };
    connections.push(conn);
    // The response's close (not the socket's): keep-alive sockets outlive one exchange.
    res.on('close', () => (conn.closedAt ??= Date.now()));
    const queue = scripts.get(model);
    const script = queue ? (queue.length > 1 ? queue.shift() : queue[0]) : scriptByName(model);
    if (!script) {
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { message: `no script for model ${model}`, type: 'invalid_request_error', param: null, code: null } }));
      return;
    }
    if (script.headersAfterMs) await sleep(script.headersAfterMs);
    if (res.destroyed) return;
    res.writeHead(script.status ?? 200, {
      'content-type': script.contentType ?? 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache',
      'x-request-id': `req_scripted_${connections.length}`,
      ...script.headers,
    });
    res.flushHeaders();
    conn.headersSentAt = Date.now();
    for (const step of script.steps) {
      if (res.destroyed) return;
      if (typeof step === 'string' || step instanceof Uint8Array) {
        res.write(step);
      } else if ('wait' in step) {
        await sleep(step.wait);
      } else if ('reset' in step) {
        res.socket?.resetAndDestroy();
        return;
      } else {
        return; // stall: hold the connection open, send nothing
      }
    }
    conn.completed = true;
    res.end();
  });
  // Longer than any wait in the tests (a 2 s Retry-After): with 1 s, a retry could be sent on a
  // pooled socket this server was closing at that moment and fail as "could not be reached" (seen
  // once under full load). Real providers keep idle connections for a minute or more.
  server.keepAliveTimeout = 30_000;

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    script: (model, s) => void scripts.set(model, Array.isArray(s) ? [...s] : [s]),
    connections: (model) => connections.filter((c) => c.model === model),
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
