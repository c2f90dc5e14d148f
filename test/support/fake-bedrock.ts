/**
 * A local stand-in for Amazon Bedrock Runtime, speaking its wire format: Converse
 * (`POST /model/{modelId}/converse`), ConverseStream (`/converse-stream`, a binary AWS event-stream
 * encoded with the same Smithy codec the AWS SDK decodes with, payloads padded with a `p` field as
 * Bedrock pads them) and InvokeModel for Titan text embeddings (`/invoke`). Errors are AWS's
 * restJson1 shape: body `{"message": …}`, name in `x-amzn-ErrorType`.
 *
 * It verifies AWS Signature Version 4 the way AWS does, recomputing the signature from what it
 * received with the test credentials (node:crypto, independently of aws4fetch): no Authorization →
 * 403 MissingAuthenticationTokenException; an unknown access key → 403
 * UnrecognizedClientException; a wrong scope, a session token missing or wrong, a date more than
 * 5 minutes off, a body or signed header changed → 403 InvalidSignatureException.
 *
 * It validates the Converse body as Bedrock does (unknown fields, turns that must start with the
 * user and alternate, toolUse/toolResult blocks that need a toolConfig). Behaviour by model id:
 *   fail-429 / fail-500 / fail-503 → ThrottlingException / InternalServerException /
 *   ServiceUnavailableException;  tools… → a toolUse when tools are offered and the last turn holds
 *   no toolResult;  exception… → the stream carries a throttlingException after two deltas;
 *   cut… → the stream stops before messageStop;  anything else → a text answer.
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { EventStreamCodec } from '@smithy/eventstream-codec';
import { fakeVector } from './fake-gemini';
import type { FakeProvider, ReceivedRequest } from './fake-providers';

export interface FakeAwsCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
  region: string;
}

export const FAKE_AWS: FakeAwsCredentials = {
  accessKeyId: 'AKIAFAKEROUTERO0TEST',
  secretAccessKey: 'fakeSecretAccessKey/For+Routero/Tests0000',
  region: 'us-east-1',
};

const WORDS = ['The', ' quick', ' brown', ' fox', ' jumps', '.'];
export const FAKE_BEDROCK_USAGE = { inputTokens: 21, outputTokens: WORDS.length, cacheReadInputTokens: 16, cacheWriteInputTokens: 4 };

const CONVERSE_FIELDS = new Set([
  'messages', 'system', 'inferenceConfig', 'toolConfig', 'guardrailConfig', 'additionalModelRequestFields', 'promptVariables',
  'additionalModelResponseFieldPaths', 'requestMetadata', 'performanceConfig',
]);
const INFERENCE_FIELDS = new Set(['maxTokens', 'temperature', 'topP', 'stopSequences']);

const codec = new EventStreamCodec(
  (b: Uint8Array) => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('utf8'),
  (s: string) => new Uint8Array(Buffer.from(s, 'utf8')),
);

type Json = Record<string, unknown>;

function awsError(res: http.ServerResponse, status: number, type: string, message: string): void {
  res.writeHead(status, { 'content-type': 'application/json', 'x-amzn-errortype': `${type}:http://internal.amazon.com/coral/com.amazon.bedrock/`, 'x-amzn-requestid': 'fake-req-0001' });
  res.end(JSON.stringify({ message }));
}

// ---- SigV4 verification (AWS General Reference, "Create a signed AWS API request") ----

const sha256hex = (data: string | Buffer) => createHash('sha256').update(data).digest('hex');
const hmac = (key: Buffer | string, data: string) => createHmac('sha256', key).update(data).digest();

/** RFC 3986 percent-encoding of everything but unreserved characters. */
const uriEncode = (s: string) => encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);

/** The canonical URI for services other than S3: each path segment encoded twice (once by the sender). */
const canonicalUri = (rawPath: string) => rawPath.split('/').map(uriEncode).join('/');

function canonicalQuery(search: string): string {
  const params = [...new URLSearchParams(search)].map(([k, v]) => [uriEncode(k), uriEncode(v)] as const);
  params.sort(([a, av], [b, bv]) => (a === b ? (av < bv ? -1 : 1) : a < b ? -1 : 1));
  return params.map(([k, v]) => `${k}=${v}`).join('&');
}

/** Null when the request is signed correctly; else the AWS error it gets. */
export function sigv4Problem(req: { method: string; url: string; headers: http.IncomingHttpHeaders }, body: Buffer, creds: FakeAwsCredentials, service: string, now = Date.now()): { type: string; message: string } | null {
  const auth = req.headers.authorization;
  if (typeof auth !== 'string') return { type: 'MissingAuthenticationTokenException', message: 'Missing Authentication Token' };
  const m = /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request, ?SignedHeaders=([a-z0-9;-]+), ?Signature=([0-9a-f]{64})$/.exec(auth);
  if (!m) return { type: 'IncompleteSignatureException', message: 'Authorization header requires Credential, SignedHeaders and Signature.' };
  const [, keyId, day, region, svc, signedHeaderList, signature] = m as unknown as string[];
  if (keyId !== creds.accessKeyId) return { type: 'UnrecognizedClientException', message: 'The security token included in the request is invalid.' };
  if (region !== creds.region || svc !== service) return { type: 'InvalidSignatureException', message: `Credential should be scoped to a valid region and service (${creds.region}/${service}).` };
  const amzDate = req.headers['x-amz-date'];
  if (typeof amzDate !== 'string' || !/^\d{8}T\d{6}Z$/.test(amzDate) || amzDate.slice(0, 8) !== day) return { type: 'IncompleteSignatureException', message: 'X-Amz-Date must be present and match the credential scope.' };
  const signedAt = Date.UTC(+amzDate.slice(0, 4), +amzDate.slice(4, 6) - 1, +amzDate.slice(6, 8), +amzDate.slice(9, 11), +amzDate.slice(11, 13), +amzDate.slice(13, 15));
  if (Math.abs(now - signedAt) > 5 * 60_000) return { type: 'InvalidSignatureException', message: `Signature expired: ${amzDate} is now earlier than the allowed time window.` };
  const token = req.headers['x-amz-security-token'];
  if ((creds.sessionToken ?? null) !== (typeof token === 'string' ? token : null)) return { type: 'UnrecognizedClientException', message: 'The security token included in the request is invalid.' };
  const signedHeaders = signedHeaderList!.split(';');
  if (!signedHeaders.includes('host') || (token !== undefined && !signedHeaders.includes('x-amz-security-token'))) return { type: 'InvalidSignatureException', message: 'The host header (and the security token) must be signed.' };
  const url = new URL(req.url, 'http://fake');
  const rawPath = req.url.split('?')[0]!;
  const canonicalHeaders = signedHeaders.map((h) => `${h}:${String(req.headers[h] ?? '').trim().replace(/\s+/g, ' ')}\n`).join('');
  const canonicalRequest = [req.method, canonicalUri(rawPath), canonicalQuery(url.search), canonicalHeaders, signedHeaders.join(';'), sha256hex(body)].join('\n');
  const scope = `${day}/${region}/${svc}/aws4_request`;
  const stringToSign = ['AWS4-HMAC-SHA256', amzDate, scope, sha256hex(canonicalRequest)].join('\n');
  const key = hmac(hmac(hmac(hmac(`AWS4${creds.secretAccessKey}`, day!), region!), svc!), 'aws4_request');
  const expected = Buffer.from(createHmac('sha256', key).update(stringToSign).digest('hex'));
  if (!timingSafeEqual(expected, Buffer.from(signature!))) {
    return { type: 'InvalidSignatureException', message: 'The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.' };
  }
  return null;
}

// ---- Converse ----

function converseProblem(body: Json): string | null {
  for (const k of Object.keys(body)) if (!CONVERSE_FIELDS.has(k)) return `Malformed input request: extraneous key [${k}] is not permitted, please reformat your input and try again.`;
  const inf = body.inferenceConfig as Json | undefined;
  if (inf) for (const k of Object.keys(inf)) if (!INFERENCE_FIELDS.has(k)) return `Malformed input request: extraneous key [${k}] is not permitted in inferenceConfig.`;
  const messages = body.messages as Json[] | undefined;
  if (!Array.isArray(messages) || messages.length === 0) return 'The messages field is required and must not be empty.';
  let toolBlocks = false;
  for (const [i, msg] of messages.entries()) {
    const expected = i % 2 === 0 ? 'user' : 'assistant';
    if (msg.role !== expected) return i === 0 ? 'A conversation must start with a user message. Try again with a conversation that starts with a user message.' : 'A conversation must alternate between user and assistant roles. Make sure the conversation alternates between user and assistant roles and try again.';
    const content = msg.content as Json[] | undefined;
    if (!Array.isArray(content) || content.length === 0) return `The content field in the Message object at messages.${i} is empty. Add a ContentBlock object to the content field and try again.`;
    for (const b of content) {
      if (Object.keys(b).length !== 1) return `messages.${i}.content: a ContentBlock holds exactly one member.`;
      if (b.toolUse || b.toolResult) toolBlocks = true;
      const image = b.image as Json | undefined;
      if (image && (!['png', 'jpeg', 'gif', 'webp'].includes(String(image.format)) || typeof (image.source as Json | undefined)?.bytes !== 'string')) return `messages.${i}.content.image: format and source.bytes are required.`;
    }
  }
  if (toolBlocks && !body.toolConfig) return 'The toolConfig field must be defined when using toolUse and toolResult content blocks.';
  return null;
}

const pad = (n: number) => 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789'.slice(0, n);

function toolUseFor(model: string, body: Json): Json | null {
  if (!model.startsWith('tools')) return null;
  const spec = ((body.toolConfig as Json | undefined)?.tools as Json[] | undefined)?.[0]?.toolSpec as Json | undefined;
  const messages = body.messages as Array<{ content: Json[] }>;
  if (!spec || messages.at(-1)!.content.some((b) => b.toolResult)) return null;
  return { toolUseId: 'tooluse_fake0001', name: spec.name, input: { city: 'Paris', unit: 'celsius' } };
}

function usage(): Json {
  const u = FAKE_BEDROCK_USAGE;
  return { ...u, totalTokens: u.inputTokens + u.outputTokens + u.cacheReadInputTokens + u.cacheWriteInputTokens };
}

export function encodeEvent(eventType: string, payload: Json, messageType: 'event' | 'exception' = 'event'): Uint8Array {
  const typeHeader = messageType === 'event' ? ':event-type' : ':exception-type';
  return codec.encode({
    headers: {
      [typeHeader]: { type: 'string', value: eventType },
      ':content-type': { type: 'string', value: 'application/json' },
      ':message-type': { type: 'string', value: messageType },
    },
    body: new Uint8Array(Buffer.from(JSON.stringify(payload), 'utf8')),
  });
}

function streamMessages(model: string, body: Json): Uint8Array[] {
  const out: Uint8Array[] = [encodeEvent('messageStart', { p: pad(7), role: 'assistant' })];
  const tool = toolUseFor(model, body);
  if (tool) {
    out.push(encodeEvent('contentBlockDelta', { contentBlockIndex: 0, delta: { text: 'Let me check.' }, p: pad(3) }));
    out.push(encodeEvent('contentBlockStop', { contentBlockIndex: 0, p: pad(11) }));
    out.push(encodeEvent('contentBlockStart', { contentBlockIndex: 1, start: { toolUse: { toolUseId: tool.toolUseId, name: tool.name } }, p: pad(5) }));
    const args = JSON.stringify(tool.input);
    for (const piece of [args.slice(0, 9), args.slice(9, 20), args.slice(20)]) out.push(encodeEvent('contentBlockDelta', { contentBlockIndex: 1, delta: { toolUse: { input: piece } }, p: pad(4) }));
    out.push(encodeEvent('contentBlockStop', { contentBlockIndex: 1, p: pad(2) }));
    out.push(encodeEvent('messageStop', { stopReason: 'tool_use', p: pad(9) }));
  } else {
    WORDS.forEach((w, i) => {
      out.push(encodeEvent('contentBlockDelta', { contentBlockIndex: 0, delta: { text: w }, p: pad(i + 1) }));
      if (i === 1 && model.startsWith('exception')) out.push(encodeEvent('throttlingException', { message: 'Too many requests, please wait before trying again.' }, 'exception'));
    });
    out.push(encodeEvent('contentBlockStop', { contentBlockIndex: 0, p: pad(6) }));
    out.push(encodeEvent('messageStop', { stopReason: 'end_turn', p: pad(8) }));
  }
  out.push(encodeEvent('metadata', { usage: usage(), metrics: { latencyMs: 321 }, p: pad(10) }));
  // exception…: messageStart, two deltas, the exception; AWS ends the stream after an exception.
  if (model.startsWith('exception')) return out.slice(0, 4);
  return model.startsWith('cut') ? out.slice(0, -2) : out;
}

export interface FakeBedrockOptions {
  credentials?: FakeAwsCredentials;
  gapMs?: number;
}

export async function startFakeBedrock(opts: FakeBedrockOptions = {}): Promise<FakeProvider> {
  const received: ReceivedRequest[] = [];
  const creds = opts.credentials ?? FAKE_AWS;
  const gapMs = opts.gapMs ?? 5;
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      void (async () => {
        const raw = Buffer.concat(chunks);
        let body: Json = {};
        try {
          body = raw.length > 0 ? (JSON.parse(raw.toString('utf8')) as Json) : {};
        } catch {
          awsError(res, 400, 'SerializationException', 'Could not parse the request body as JSON.');
          return;
        }
        received.push({ path: req.url ?? '', headers: req.headers, body });
        const problem = sigv4Problem({ method: req.method ?? 'GET', url: req.url ?? '/', headers: req.headers }, raw, creds, 'bedrock');
        if (problem) {
          awsError(res, 403, problem.type, problem.message);
          return;
        }
        const m = /^\/model\/([^/]+)\/(converse|converse-stream|invoke)$/.exec((req.url ?? '').split('?')[0]!);
        if (req.method !== 'POST' || !m) {
          awsError(res, 404, 'UnknownOperationException', 'Unknown operation');
          return;
        }
        const model = decodeURIComponent(m[1]!);
        const action = m[2]!;
        const fail = /^fail-(\d{3})$/.exec(model);
        if (fail) {
          const status = Number(fail[1]);
          const [type, message] =
            status === 429 ? ['ThrottlingException', 'Too many requests, please wait before trying again.']
            : status === 503 ? ['ServiceUnavailableException', 'Bedrock is unable to process your request.']
            : ['InternalServerException', 'The server encountered an error processing your request.'];
          awsError(res, status, type!, message!);
          return;
        }
        if (action === 'invoke') {
          if (typeof body.inputText !== 'string') {
            awsError(res, 400, 'ValidationException', 'Malformed input request: #: required key [inputText] not found, please reformat your input and try again.');
            return;
          }
          const dims = typeof body.dimensions === 'number' ? body.dimensions : 8;
          res.writeHead(200, { 'content-type': 'application/json', 'x-amzn-bedrock-input-token-count': '5' });
          res.end(JSON.stringify({ embedding: fakeVector(body.inputText, dims), inputTextTokenCount: 5 }));
          return;
        }
        const invalid = converseProblem(body);
        if (invalid) {
          awsError(res, 400, 'ValidationException', invalid);
          return;
        }
        if (action === 'converse') {
          const tool = toolUseFor(model, body);
          const content = tool ? [{ text: 'Let me check.' }, { toolUse: tool }] : [{ text: WORDS.join('') }];
          res.writeHead(200, { 'content-type': 'application/json', 'x-amzn-requestid': 'fake-req-0001' });
          res.end(JSON.stringify({ output: { message: { role: 'assistant', content } }, stopReason: tool ? 'tool_use' : 'end_turn', usage: usage(), metrics: { latencyMs: 321 } }));
          return;
        }
        res.writeHead(200, { 'content-type': 'application/vnd.amazon.eventstream', 'x-amzn-requestid': 'fake-req-0001' });
        res.flushHeaders();
        for (const msg of streamMessages(model, body)) {
          if (res.destroyed) return;
          res.write(msg);
          if (gapMs > 0) await new Promise((r) => setTimeout(r, model.startsWith('slow') ? 300 : gapMs));
        }
        if (model.startsWith('cut')) res.destroy();
        else res.end();
      })();
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

/** The provider-key secret an admin would store for these credentials (docs/decisions/0018). */
export function fakeBedrockSecret(creds: FakeAwsCredentials = FAKE_AWS): string {
  return JSON.stringify({ access_key_id: creds.accessKeyId, secret_access_key: creds.secretAccessKey, region: creds.region, ...(creds.sessionToken ? { session_token: creds.sessionToken } : {}) });
}
