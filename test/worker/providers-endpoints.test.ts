/**
 * Inside workerd: /v1/models lists the organisation's routes within the key's scope, and Workers
 * AI goes through whatever `AI` binding the Worker has (here a stand-in object with `run()`), or
 * answers 503 when the Worker has none.
 */
import { env } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { kvKeys, type RouteRecord } from '../../lib/kv/records';
import type { Env } from '../../worker/env';
import { harness, ORG, seedKey } from './harness';

async function seedRoute(orgId: string, name: string): Promise<void> {
  const record: RouteRecord = { id: crypto.randomUUID(), org_id: orgId, name, strategy: 'fallback', targets: [{ model: 'mock/echo', provider_key_id: null, weight: 1 }], max_attempts: 1, timeout_ms: null };
  await (env as unknown as Env).ROUTERO_KV.put(kvKeys.route(orgId, name), JSON.stringify(record));
}

type ModelList = { data: Array<{ id: string; owned_by: string }> };

describe('GET /v1/models', () => {
  it('lists the organisation’s routes the key may call, and no other organisation’s', async () => {
    await seedRoute(ORG, 'prod-chat');
    await seedRoute('5b0c4f51-0000-4000-8000-00000000ffff', 'someone-elses');
    const h = harness();
    const scoped = await seedKey({ models: ['route/*', 'mock/*'] });
    const ids = ((await h.call('/v1/models', { key: scoped.key })).json as ModelList).data.map((m) => m.id);
    expect(ids).toContain('route/prod-chat');
    expect(ids).toContain('mock/echo');
    expect(ids.some((id) => id.includes('someone-elses'))).toBe(false);
    const mockOnly = await seedKey({ models: ['mock/*'] });
    const ids2 = ((await h.call('/v1/models', { key: mockOnly.key })).json as ModelList).data.map((m) => m.id);
    expect(ids2.some((id) => id.startsWith('route/'))).toBe(false);
  });

  it('lists Workers AI models only where the Worker has the AI binding', async () => {
    const { key } = await seedKey({ models: ['workers-ai/*'] });
    const bound = harness({ AI: { run: async () => ({}) } });
    expect(((await bound.call('/v1/models', { key })).json as ModelList).data.length).toBeGreaterThan(0);
    const unbound = harness({ AI: undefined });
    expect(((await unbound.call('/v1/models', { key })).json as ModelList).data).toEqual([]);
  });
});

describe('Workers AI through the binding', () => {
  it('answers a chat completion with the binding’s text and usage, recorded once', async () => {
    const calls: Array<{ model: string; inputs: Record<string, unknown> }> = [];
    const h = harness({
      AI: {
        run: async (model: string, inputs: Record<string, unknown>) => {
          calls.push({ model, inputs });
          return { response: 'Hello there.', usage: { prompt_tokens: 9, completion_tokens: 3, total_tokens: 12 } };
        },
      },
    });
    const { key } = await seedKey({ models: ['workers-ai/*'] });
    const { res, json } = await h.call('/v1/chat/completions', { key, json: { model: 'workers-ai/@cf/meta/llama-3.1-8b-instruct', messages: [{ role: 'user', content: 'hi' }], max_tokens: 20 } });
    expect(res.status).toBe(200);
    const body = json as { choices: Array<{ message: { content: string } }>; usage: { prompt_tokens: number } };
    expect(body.choices[0]!.message.content).toBe('Hello there.');
    expect(calls).toEqual([{ model: '@cf/meta/llama-3.1-8b-instruct', inputs: { messages: [{ role: 'user', content: 'hi' }], max_tokens: 20 } }]);
    expect(h.events).toHaveLength(1);
    expect(h.events[0]).toMatchObject({ status: 200, provider: 'workers-ai', input_tokens: 9, output_tokens: 3 });
  });

  it('answers 503 in OpenAI’s format when the Worker has no AI binding', async () => {
    const h = harness({ AI: undefined });
    const { key } = await seedKey({ models: ['workers-ai/*'] });
    const { res, json } = await h.call('/v1/chat/completions', { key, json: { model: 'workers-ai/@cf/meta/llama-3.1-8b-instruct', messages: [{ role: 'user', content: 'hi' }] } });
    expect(res.status).toBe(503);
    expect((json as { error: { message: string } }).error.message).toMatch(/Workers AI is not configured/);
    expect(h.events).toHaveLength(1);
  });
});
