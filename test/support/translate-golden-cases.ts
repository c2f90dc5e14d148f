/**
 * (The Gemini and Bedrock translators' harness: one case per file. The OpenAI/Anthropic pairings use
 * ./translate-golden.ts, many cases per file.)
 * Golden fixtures for a translator folder (test/fixtures/translate/<pairing>/*.json). Each file is
 * one case: `direction` request | response | stream | error, an `input`, and either `expected`
 * (the translated body, or for a stream `{events, usage, outcome}`) or `expectedError` (a request
 * the translator must refuse: status and the parameter named). The expected parts were produced
 * by the translator and then read line by line against the providers' documentation; a change
 * shows up as a diff. `UPDATE_GOLDEN=1` rewrites them (review the diff before committing).
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { expect, it } from 'vitest';
import { GatewayError } from '../../lib/errors';
import type { TranslateContext, Translation, WireEvent } from '../../worker/translate/types';
import { openaiSchemaErrors } from './openai-spec';

export const GOLDEN_CTX: TranslateContext = { clientModel: 'provider/model-x', upstreamModel: 'model-x', requestId: 'req-0001', now: 1_764_300_000 };

interface Fixture {
  description: string;
  direction: 'request' | 'response' | 'stream' | 'error';
  ctx?: Record<string, unknown>;
  status?: number;
  input: unknown;
  expected?: unknown;
  expectedError?: { status: number; param: string | null };
}

function run(t: Translation, f: Fixture): unknown {
  const ctx = { ...GOLDEN_CTX, ...f.ctx } as TranslateContext;
  switch (f.direction) {
    case 'request':
      return t.request(f.input as Record<string, unknown>, ctx);
    case 'response':
      return t.response(f.input as Record<string, unknown>, ctx);
    case 'error':
      return t.error(f.status ?? 500, f.input, ctx);
    case 'stream': {
      const s = t.stream(ctx);
      const events: WireEvent[] = [];
      for (const e of f.input as WireEvent[]) events.push(...s.push(e));
      events.push(...s.end());
      return { events, usage: s.usage(), outcome: s.outcome() };
    }
  }
}

export function goldenCases(pairing: string, translation: Translation): void {
  const dir = new URL(`../fixtures/translate/${pairing}/`, import.meta.url);
  const files = readdirSync(dir).filter((n) => n.endsWith('.json')).sort();
  it(`has fixtures for ${pairing}`, () => expect(files.length).toBeGreaterThan(10));
  for (const name of files) {
    const path = new URL(name, dir);
    const f = JSON.parse(readFileSync(path, 'utf8')) as Fixture;
    it(`${f.direction}: ${name.replace(/\.json$/, '')} — ${f.description}`, () => {
      if (f.expectedError) {
        let thrown: unknown;
        try {
          run(translation, f);
        } catch (e) {
          thrown = e;
        }
        expect(thrown).toBeInstanceOf(GatewayError);
        const err = thrown as GatewayError;
        expect({ status: err.status, param: err.param }).toEqual(f.expectedError);
        expect(err.message).toMatch(/\S/);
        return;
      }
      const actual = JSON.parse(JSON.stringify(run(translation, f))) as unknown;
      if (process.env.UPDATE_GOLDEN === '1') {
        writeFileSync(path, `${JSON.stringify({ ...f, expected: actual }, null, 2)}\n`);
        return;
      }
      expect(f.expected, 'fixture has no expected output: run with UPDATE_GOLDEN=1 and review').toBeDefined();
      expect(actual).toEqual(f.expected);
      // The OpenAI side of every case is checked against OpenAI's published schema as well.
      if (f.direction === 'request') expect(openaiSchemaErrors('CreateChatCompletionRequest', f.input)).toEqual([]);
      if (f.direction === 'response') expect(openaiSchemaErrors('CreateChatCompletionResponse', actual)).toEqual([]);
      if (f.direction === 'error') expect(openaiSchemaErrors('ErrorResponse', actual)).toEqual([]);
      if (f.direction === 'stream') {
        for (const e of (actual as { events: WireEvent[] }).events) {
          expect(openaiSchemaErrors('data' in e && 'error' in e.data ? 'ErrorResponse' : 'CreateChatCompletionStreamResponse', e.data)).toEqual([]);
        }
      }
    });
  }
}
