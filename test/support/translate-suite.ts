/**
 * Runs every golden fixture of one translator pairing (see translate-golden.ts), and hands each
 * output to the caller's `validate` hooks (OpenAI spec, SDK consumers) so a fixture cannot pin a
 * shape the client would refuse.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { GatewayError } from '../../lib/errors';
import type { TranslateContext, Translation, WireEvent } from '../../worker/translate/types';
import { FIXTURES, UPDATE, decodeSse, listFixtures, readJson, writeJson, type GoldenFile, type StreamGolden } from './translate-golden';

export interface Validators {
  request?(out: Record<string, unknown>): void;
  response?(out: Record<string, unknown>): void;
  error?(out: Record<string, unknown>): void;
  stream?(events: WireEvent[], ctx: TranslateContext, upstream: WireEvent[]): Promise<void> | void;
}

function caught(fn: () => unknown): unknown {
  try {
    fn();
  } catch (e) {
    return e;
  }
  return null;
}

export function goldenSuite(pair: string, translation: Translation, baseCtx: TranslateContext, validate: Validators): void {
  describe(`${pair} golden fixtures`, () => {
    for (const file of listFixtures(pair, '.json').filter((f) => !f.endsWith('.out.json'))) {
      const golden = readJson<GoldenFile>(pair, file);
      const ctx = { ...baseCtx, ...golden.ctx };
      if (UPDATE) afterAll(() => writeJson(pair, file, golden));
      describe(file, () => {
        it.each(golden.cases.map((c) => [c.description, c] as const))('%s', (_d, c) => {
          const input = structuredClone(c.in);
          const run = (): Record<string, unknown> => {
            if (golden.kind === 'request') return translation.request(input as Record<string, unknown>, ctx);
            if (golden.kind === 'response') return translation.response(input as Record<string, unknown>, ctx);
            const { status, body } = input as { status: number; body: unknown };
            return translation.error(status, body, ctx);
          };
          if (c.refused !== undefined || c.upstreamFault) {
            const err = caught(run);
            expect(err).toBeInstanceOf(GatewayError);
            const g = err as GatewayError;
            if (c.upstreamFault) expect({ status: g.status, kind: g.kind }).toEqual({ status: 502, kind: 'upstream_unreachable' });
            else if (UPDATE) c.refused = { status: g.status, param: g.param, message: g.message };
            else expect({ status: g.status, param: g.param, message: g.message }).toEqual(c.refused);
            return;
          }
          const out = run();
          expect(input, 'the translator must not change its input').toEqual(c.in);
          if (UPDATE) c.out = out;
          else expect(out).toEqual(c.out);
          validate[golden.kind]?.(out);
        });
      });
    }

    for (const file of listFixtures(pair, '.in.sse')) {
      const name = file.slice(0, -'.in.sse'.length);
      it(`stream ${name}`, async () => {
        const upstream = decodeSse(fs.readFileSync(path.join(FIXTURES, pair, file), 'utf8'));
        const outFile = `${name}.out.json`;
        const expected = fs.existsSync(path.join(FIXTURES, pair, outFile)) ? readJson<StreamGolden>(pair, outFile) : { events: [], usage: null, outcome: null };
        const ctx = { ...baseCtx, ...expected.ctx };
        const t = translation.stream(ctx);
        const events = [...upstream.flatMap((e) => t.push(e)), ...t.end()];
        const got: StreamGolden = { ...(expected.ctx ? { ctx: expected.ctx } : {}), events, usage: t.usage(), outcome: t.outcome() };
        if (UPDATE) writeJson(pair, outFile, got);
        else expect(got).toEqual({ ...expected, ...(expected.ctx ? { ctx: expected.ctx } : {}) });
        await validate.stream?.(events, ctx, upstream);
      });
    }
  });
}
