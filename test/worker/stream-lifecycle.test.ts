/**
 * The end of an upstream call inside workerd (issue 8, finding 2), where the test controls the
 * client's request signal as Cloudflare does in production (compat flag enable_request_signal):
 * a client that leaves before the response exists, a provider that never sends headers. The
 * provider is the scripted stand-in (test/support/scripted-upstream.ts), which reports whether
 * the gateway closed its connection.
 */
import { createExecutionContext, waitOnExecutionContext } from 'cloudflare:test';
import { describe, expect, inject, it } from 'vitest';
import { createGateway } from '../../worker/index';
import { harness, seedKey, seedProviderKey } from './harness';

interface Connection {
  closedAt: number | null;
  headersSentAt: number | null;
  completed: boolean;
}

const upstreamUrl = () => inject('scriptedUpstreamUrl');

async function connections(model: string): Promise<Connection[]> {
  return (await (await fetch(`${upstreamUrl()}/__connections?model=${model}`)).json()) as Connection[];
}

async function waitFor<T>(fn: () => Promise<T | undefined>, ms = 3000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** Sends a chat request whose client signal the test holds; `leaveAfterMs` aborts it. */
async function call(h: ReturnType<typeof harness>, key: string, model: string, opts: { stream: boolean; leaveAfterMs?: number }) {
  const app = createGateway();
  const ctx = createExecutionContext();
  const client = new AbortController();
  const started = Date.now();
  const pending = app.fetch(
    new Request('https://gateway.test/v1/chat/completions', {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: `openai/${model}`, stream: opts.stream, messages: [{ role: 'user', content: 'hi' }] }),
      signal: client.signal,
    }),
    h.env,
    ctx,
  );
  if (opts.leaveAfterMs !== undefined) setTimeout(() => client.abort(), opts.leaveAfterMs);
  const res = await pending;
  const text = await res.text().catch(() => '');
  await waitOnExecutionContext(ctx);
  return { res, text, elapsedMs: Date.now() - started };
}

describe('an upstream call that does not end normally', () => {
  it('a client that leaves while the provider has not answered: one 499 event, the provider connection closed before it answers', async () => {
    const h = harness();
    const { key } = await seedKey();
    await seedProviderKey('openai', 'sk-test-lifecycle-1', `${upstreamUrl()}/v1`);
    const { res } = await call(h, key, 'headers-after-1500', { stream: true, leaveAfterMs: 300 });
    expect(res.status).toBe(499);
    expect(h.events).toHaveLength(1);
    expect(h.events[0]).toMatchObject({ status: 499, error_type: 'client_aborted', stream: true });
    const [conn] = await waitFor(async () => {
      const c = await connections('headers-after-1500');
      return c[0]?.closedAt ? c : undefined;
    });
    expect(conn!.headersSentAt).toBeNull(); // closed before the provider could answer
  });

  it('a client that leaves while a non-streamed answer is arriving: 499 client_aborted, not a 500', async () => {
    const h = harness();
    const { key } = await seedKey();
    await seedProviderKey('openai', 'sk-test-lifecycle-2', `${upstreamUrl()}/v1`);
    const { res } = await call(h, key, 'body-after-1000', { stream: false, leaveAfterMs: 300 });
    expect(res.status).toBe(499);
    expect(h.events).toHaveLength(1);
    expect(h.events[0]).toMatchObject({ status: 499, error_type: 'client_aborted', stream: false });
    const [conn] = await waitFor(async () => {
      const c = await connections('body-after-1000');
      return c[0]?.closedAt ? c : undefined;
    });
    expect(conn!.completed).toBe(false);
  });

  it('a provider that sends no headers within UPSTREAM_HEADER_TIMEOUT_MS: 504 upstream_timeout, its connection closed', async () => {
    const h = harness({ UPSTREAM_HEADER_TIMEOUT_MS: '400' });
    const { key } = await seedKey();
    await seedProviderKey('openai', 'sk-test-lifecycle-3', `${upstreamUrl()}/v1`);
    const { res, text, elapsedMs } = await call(h, key, 'headers-after-2000', { stream: true });
    expect(res.status).toBe(504);
    expect(JSON.parse(text)).toMatchObject({ error: { type: 'api_error', code: 'upstream_timeout' } });
    expect(elapsedMs).toBeGreaterThanOrEqual(400);
    expect(elapsedMs).toBeLessThan(1500);
    expect(h.events).toHaveLength(1);
    expect(h.events[0]).toMatchObject({ status: 504, error_type: 'upstream_timeout' });
    const [conn] = await waitFor(async () => {
      const c = await connections('headers-after-2000');
      return c[0]?.closedAt ? c : undefined;
    });
    expect(conn!.headersSentAt).toBeNull();
  });
});
