/**
 * A member the gateway acts on, spelled another way, is refused: a provider that binds JSON names
 * case-insensitively (Go's encoding/json, as behind Ollama) would read `"Model"` as the model and
 * take the last one written — a model the key was never allowed (issue 13 review, side finding).
 */
import { describe, expect, it } from 'vitest';
import { GatewayError } from '../../lib/errors';
import { parseRequest } from '../../worker/pipeline/parse';

const call = (body: unknown, endpoint: 'chat_completions' | 'messages' = 'chat_completions') =>
  parseRequest(endpoint, new Request('http://gw/v1/chat/completions', { method: 'POST', body: JSON.stringify(body) }), 1 << 20);

const base = { model: 'ollama/llama3-8b', messages: [{ role: 'user', content: 'hi' }] };

describe('variant spellings of the members the gateway acts on', () => {
  it.each([
    ['Model', { ...base, Model: 'llama3:70b' }],
    ['MODEL', { ...base, MODEL: 'llama3:70b' }],
    ['Messages', { ...base, Messages: [{ role: 'user', content: 'x'.repeat(1000) }] }],
    ['ſtream (U+017F, folded to s by Go)', { ...base, ſtream: true }],
    ['Max_Tokens', { ...base, max_tokens: 1, Max_Tokens: 100000 }],
    ['N', { ...base, N: 50 }],
    ['stream_options.Include_Usage', { ...base, stream: true, stream_options: { include_usage: true, Include_Usage: false } }],
  ])('%s → 400 naming the member', async (_name, body) => {
    const err = await call(body).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(GatewayError);
    expect((err as GatewayError).status).toBe(400);
    expect((err as GatewayError).message).toMatch(/case-sensitive/);
  });

  it('the same on the Anthropic endpoint', async () => {
    const err = await call({ model: 'ollama/x', max_tokens: 8, messages: [{ role: 'user', content: 'hi' }], Stream: true }, 'messages').catch((e: unknown) => e);
    expect((err as GatewayError).status).toBe(400);
  });

  it('members the gateway does not act on pass as sent, whatever their case', async () => {
    const parsed = await call({ ...base, Temperature: 0.2, metadata: { Model: 'free text' }, user: 'u-1' });
    expect(parsed.model).toBe('ollama/llama3-8b');
    expect(parsed.raw).toContain('"Temperature":0.2');
  });
});

describe('the same class on embeddings and responses', () => {
  it('refuses "Input" next to input, and "Background" next to the refused background', async () => {
    const { checkMemberSpellings } = await import('../../worker/pipeline/parse');
    expect(() => checkMemberSpellings({ model: 'openai/e', input: 'hi', Input: 'x'.repeat(10_000) }, ['input'])).toThrow(/case-sensitive/);
    expect(() => checkMemberSpellings({ model: 'openai/r', input: 'hi', Background: true }, ['input', 'background'])).toThrow(/case-sensitive/);
    expect(() => checkMemberSpellings({ model: 'openai/r', input: 'hi', instructions: 'be brief' }, ['input', 'background'])).not.toThrow();
  });
});
