/**
 * Benchmark upstream: a fast fake OpenAI server in its own process. Non-streaming requests get a
 * fixed tiny JSON answer; streaming requests get `chunks` SSE events `gapMs` apart (fewer when the
 * body asks with `bench_chunks`).
 * Usage: tsx scripts/bench/upstream.ts <port> <chunks> <gapMs>
 */
import http from 'node:http';

const [port = 0, chunks = 20, gapMs = 10] = process.argv.slice(2).map(Number);

const answer = JSON.stringify({
  id: 'chatcmpl-bench',
  object: 'chat.completion',
  created: 1764300000,
  model: 'gpt-4o-mini',
  choices: [{ index: 0, message: { role: 'assistant', content: 'ok', refusal: null }, logprobs: null, finish_reason: 'stop' }],
  usage: { prompt_tokens: 250, completion_tokens: 1, total_tokens: 251 },
});

const chunk = (i: number) =>
  `data: ${JSON.stringify({ id: 'chatcmpl-bench', object: 'chat.completion.chunk', created: 1764300000, model: 'gpt-4o-mini', choices: [{ index: 0, delta: { content: `t${i} ` }, logprobs: null, finish_reason: null }] })}\n\n`;
const usageChunk = (n: number) => `data: ${JSON.stringify({ id: 'chatcmpl-bench', object: 'chat.completion.chunk', created: 1764300000, model: 'gpt-4o-mini', choices: [], usage: { prompt_tokens: 250, completion_tokens: n, total_tokens: 250 + n } })}\n\n`;

const server = http.createServer((req, res) => {
  const parts: Buffer[] = [];
  req.on('data', (d: Buffer) => parts.push(d));
  req.on('end', () => {
    let stream = false;
    let includeUsage = false;
    let count = chunks;
    try {
      const body = JSON.parse(Buffer.concat(parts).toString('utf8')) as { stream?: boolean; stream_options?: { include_usage?: boolean }; bench_chunks?: unknown };
      stream = body.stream === true;
      includeUsage = body.stream_options?.include_usage === true;
      // A request may ask for fewer events (the time-to-first-byte run: many short streams).
      if (typeof body.bench_chunks === 'number' && body.bench_chunks >= 1) count = Math.min(chunks, body.bench_chunks);
    } catch {
      res.writeHead(400, { 'content-type': 'application/json' });
      res.end('{"error":{"message":"bad json","type":"invalid_request_error","param":null,"code":null}}');
      return;
    }
    if (!stream) {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(answer) });
      res.end(answer);
      return;
    }
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
    let i = 0;
    const next = () => {
      if (res.destroyed) return;
      if (i < count) {
        res.write(chunk(i++));
        setTimeout(next, gapMs);
      } else {
        if (includeUsage) res.write(usageChunk(count));
        res.end('data: [DONE]\n\n');
      }
    };
    next();
  });
});
server.keepAliveTimeout = 60_000;
server.listen(port, '127.0.0.1', () => {
  const addr = server.address() as { port: number };
  console.log(`ready ${addr.port}`);
});
