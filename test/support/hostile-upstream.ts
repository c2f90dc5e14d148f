/**
 * A hostile stand-in provider for the gateway's hardening tests. It speaks OpenAI Chat Completions
 * (POST /v1/chat/completions) and Anthropic Messages (POST /v1/messages) wire shapes, and its
 * behaviour is chosen by the model name:
 *   echo-headers          → 200, the answer text is the JSON of the request headers it received;
 *   leak-<form>-<status>  → that status; the error message (status ≥ 400) or the x-request-id
 *                           header (status 200) carries the provider key it was sent, in <form>;
 *   reqid-<case>          → 200 with an x-request-id that is not a short safe token.
 * Forms are the ways real upstreams and proxies echo a key: see LEAK_FORMS.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface HostileUpstream {
  url: string;
  close(): Promise<void>;
}

const b64 = (s: string) => Buffer.from(s, 'utf8').toString('base64');
const b64url = (s: string) => Buffer.from(s, 'utf8').toString('base64url');
const hex = (s: string) => Buffer.from(s, 'utf8').toString('hex');

/** The key as an upstream might echo it. */
export const LEAK_FORMS: Record<string, (key: string) => string> = {
  exact: (k) => k,
  lower: (k) => k.toLowerCase(),
  upper: (k) => k.toUpperCase(),
  middle12: (k) => k.slice(10, 22),
  first14last4: (k) => `${k.slice(0, 14)}...${k.slice(-4)}`,
  first14last4lower: (k) => `${k.slice(0, 14)}...${k.slice(-4)}`.toLowerCase(),
  first8stars: (k) => `${k.slice(0, 8)}${'*'.repeat(20)}${k.slice(-4)}`,
  first6ellipsis: (k) => `${k.slice(0, 6)}…${k.slice(-4)}`,
  base64: (k) => b64(k),
  base64url: (k) => b64url(k),
  base64middle: (k) => b64(k.slice(11, 31)),
  hex: (k) => hex(k),
  hexmiddle: (k) => hex(k.slice(7, 19)),
  spaced: (k) => k.split('').join(' '),
  dashed: (k) => k.split('').join('-'),
};

function readBody(req: http.IncomingMessage): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    let data = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => (data += c));
    req.on('end', () => {
      try {
        resolve(data ? (JSON.parse(data) as Record<string, unknown>) : {});
      } catch (e) {
        reject(e);
      }
    });
    req.on('error', reject);
  });
}

function answer(res: http.ServerResponse, anthropic: boolean, model: string, text: string, headers: Record<string, string> = {}): void {
  res.writeHead(200, { 'content-type': 'application/json', ...headers });
  res.end(
    JSON.stringify(
      anthropic
        ? { id: 'msg_hostile', type: 'message', role: 'assistant', model, content: [{ type: 'text', text }], stop_reason: 'end_turn', stop_sequence: null, usage: { input_tokens: 3, output_tokens: 1 } }
        : { id: 'chatcmpl-hostile', object: 'chat.completion', created: 1_764_300_000, model, choices: [{ index: 0, message: { role: 'assistant', content: text, refusal: null }, logprobs: null, finish_reason: 'stop' }], usage: { prompt_tokens: 3, completion_tokens: 1, total_tokens: 4 } },
    ),
  );
}

const ODD_REQUEST_IDS: Record<string, string> = {
  long: `req_${'a'.repeat(300)}`,
  spaces: 'req 123 <b>hi</b>',
  quote: 'req_1";evil=1',
  ok: 'req_0123456789abcdef',
};

export function startHostileUpstream(): Promise<HostileUpstream> {
  const server = http.createServer(async (req, res) => {
    const body = await readBody(req).catch(() => ({}) as Record<string, unknown>);
    const model = String(body.model ?? '');
    const anthropic = req.url === '/v1/messages';
    const key = anthropic ? String(req.headers['x-api-key'] ?? '') : String(req.headers.authorization ?? '').replace(/^Bearer /, '');
    if (model === 'echo-headers') return answer(res, anthropic, model, JSON.stringify(req.headers));
    const odd = /^reqid-(\w+)$/.exec(model);
    if (odd) return answer(res, anthropic, model, 'ok', { 'x-request-id': ODD_REQUEST_IDS[odd[1]!] ?? 'req_x', 'request-id': ODD_REQUEST_IDS[odd[1]!] ?? 'req_x' });
    const leak = /^leak-(\w+)-(\d{3})$/.exec(model);
    const form = leak ? LEAK_FORMS[leak[1]!] : undefined;
    if (!leak || !form) {
      res.writeHead(400, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { message: 'unknown hostile behaviour', type: 'invalid_request_error' } }));
      return;
    }
    const status = Number(leak[2]);
    const leaked = form(key);
    if (status === 200) {
      const inHeader = leaked.replace(/…/g, '...'); // header values are Latin-1
      return answer(res, anthropic, model, 'ok', { 'x-request-id': inHeader, 'request-id': inHeader });
    }
    res.writeHead(status, { 'content-type': 'application/json' });
    const message = `Key ${leaked} was refused here (${leaked}).`;
    res.end(JSON.stringify(anthropic ? { type: 'error', error: { type: 'invalid_request_error', message } } : { error: { message, type: 'invalid_request_error', param: null, code: null } }));
  });
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      resolve({
        url: `http://127.0.0.1:${port}`,
        close: () =>
          new Promise((r) => {
            server.closeAllConnections();
            server.close(() => r());
          }),
      });
    });
  });
}
