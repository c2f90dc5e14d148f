/**
 * Golden fixtures for the format translators (test/fixtures/translate/<client>-<upstream>/).
 *
 * - `<name>.json`: `{ kind: 'request' | 'response' | 'error', ctx?, cases: [...] }`, each case
 *   `{ description, in, out }`, or `{ description, in, refused: { status, param, message } }` for a
 *   request the translator must refuse, or `{ description, in, upstreamFault: true }` for an
 *   upstream body it cannot read (a 502). Error cases take `in: { status, body }`.
 * - `<name>.in.sse` + `<name>.out.json`: an upstream stream as its provider sends it, and the client
 *   events `{ ctx?, events, usage, outcome }` the translator must produce from it.
 *
 * `UPDATE_GOLDEN=1` rewrites the `out` members from the translators' current output: review the diff
 * before committing it, as the fixtures are the specification.
 */
import fs from 'node:fs';
import path from 'node:path';
import { SseParser } from '../../worker/formats/sse';
import { doneEvent, isDone } from '../../worker/translate/support';
import type { TranslateContext, WireEvent } from '../../worker/translate/types';

export const FIXTURES = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..', 'fixtures', 'translate');
export const UPDATE = process.env.UPDATE_GOLDEN === '1';

export interface GoldenCase {
  description: string;
  in: unknown;
  out?: unknown;
  refused?: { status: number; param: string | null; message: string } | null;
  upstreamFault?: boolean;
}
export interface GoldenFile {
  kind: 'request' | 'response' | 'error';
  ctx?: Partial<TranslateContext>;
  cases: GoldenCase[];
}
export interface StreamGolden {
  ctx?: Partial<TranslateContext>;
  events: WireEvent[];
  usage: unknown;
  outcome: unknown;
}

export function listFixtures(pair: string, suffix: string): string[] {
  return fs.readdirSync(path.join(FIXTURES, pair)).filter((f) => f.endsWith(suffix)).sort();
}

export function readJson<T>(pair: string, file: string): T {
  return JSON.parse(fs.readFileSync(path.join(FIXTURES, pair, file), 'utf8')) as T;
}

export function writeJson(pair: string, file: string, value: unknown): void {
  fs.writeFileSync(path.join(FIXTURES, pair, file), `${JSON.stringify(value, null, 2)}\n`);
}

/**
 * SSE text → the `WireEvent`s a pipeline's decoder hands a translator: terminated events with data,
 * the `event:` name (null without one), the JSON payload, and OpenAI's `data: [DONE]` as
 * `doneEvent()`. An event cut off by the end of the stream is discarded, as the SSE spec says.
 */
export function decodeSse(text: string): WireEvent[] {
  const parser = new SseParser();
  const items = [...parser.push(new TextEncoder().encode(text)), ...parser.finish()];
  const out: WireEvent[] = [];
  for (const item of items) {
    if (item.kind !== 'event' || !item.event.terminated || !item.event.hasData || item.event.data === null) continue;
    if (item.event.data.trim() === '[DONE]') out.push(doneEvent());
    else out.push({ event: item.event.type, data: JSON.parse(item.event.data) as Record<string, unknown> });
  }
  return out;
}

/** Client events → SSE text, as the pipeline would write them (`[DONE]` as OpenAI writes it). */
export function encodeSse(events: WireEvent[]): string {
  return events
    .map((e) => (isDone(e) ? 'data: [DONE]\n\n' : `${e.event ? `event: ${e.event}\n` : ''}data: ${JSON.stringify(e.data)}\n\n`))
    .join('');
}
