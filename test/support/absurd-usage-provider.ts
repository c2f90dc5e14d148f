/**
 * An OpenAI-compatible upstream that answers Chat Completions correctly except for its usage
 * counts, which it takes from the model name: `count-<prompt>-<completion>`, each a JSON number
 * written as is (`count-3000000000-1e300`). It stands in for a buggy or hostile provider in the
 * audit-integrity tests; the body is OpenAI's published CreateChatCompletionResponse shape, and a
 * stream ends with the usage chunk `stream_options.include_usage` asks for.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface AbsurdUsageProvider {
  url: string;
  close(): Promise<void>;
}

export async function startAbsurdUsageProvider(): Promise<AbsurdUsageProvider> {
  const server = http.createServer((req, res) => {
    let text = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => (text += c));
    req.on('end', () => {
      const body = JSON.parse(text || '{}') as { model?: string; stream?: boolean };
      const m = /^count-([^-]+)-([^-]+)$/.exec(String(body.model ?? ''));
      // Written into the JSON text verbatim, so 1e300 reaches the gateway as the number 1e300.
      const prompt = m?.[1] ?? '1';
      const completion = m?.[2] ?? '1';
      const usage = `{"prompt_tokens":${prompt},"completion_tokens":${completion},"total_tokens":${prompt}}`;
      const base = `"id":"chatcmpl-absurd","created":1764300000,"model":${JSON.stringify(body.model)}`;
      if (!body.stream) {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(
          `{${base},"object":"chat.completion","choices":[{"index":0,"message":{"role":"assistant","content":"ok","refusal":null},"logprobs":null,"finish_reason":"stop"}],"usage":${usage}}`,
        );
        return;
      }
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write(`data: {${base},"object":"chat.completion.chunk","choices":[{"index":0,"delta":{"role":"assistant","content":"ok"},"logprobs":null,"finish_reason":"stop"}],"usage":null}\n\n`);
      res.write(`data: {${base},"object":"chat.completion.chunk","choices":[],"usage":${usage}}\n\n`);
      res.end('data: [DONE]\n\n');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}
