/**
 * Bad input gets a clear error, never a crash: whatever a client sends, the request translators
 * either translate it or throw a GatewayError (a 400 in the client's format); whatever an upstream
 * sends, the response and stream translators either translate it or throw a GatewayError (a 502),
 * and the error translators always build a body.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { GatewayError } from '../../lib/errors';
import { anthropicOpenai } from '../../worker/translate/anthropic-openai';
import { openaiAnthropic } from '../../worker/translate/openai-anthropic';
import { doneEvent } from '../../worker/translate/support';
import type { TranslateContext, Translation } from '../../worker/translate/types';

const ctx: TranslateContext = { clientModel: 'c/m', upstreamModel: 'm', requestId: 'r1', now: 1, includeUsage: true };
const PAIRS: Array<[string, Translation]> = [['openai-anthropic', openaiAnthropic], ['anthropic-openai', anthropicOpenai]];

function onlyGatewayErrors(fn: () => unknown): void {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(GatewayError);
  }
}

// Values shaped like the formats' own (roles, block and event types) so the search reaches deep code.
const word = fc.constantFrom('user', 'assistant', 'system', 'developer', 'tool', 'text', 'image', 'image_url', 'tool_use', 'tool_result',
  'function', 'message_start', 'content_block_start', 'content_block_delta', 'message_delta', 'message_stop', 'error', 'input_json_delta',
  'text_delta', 'base64', 'url', 'auto', 'any', 'none', 'required', 'tool_calls', 'stop', 'data:image/png;base64,AA', 'https://x.example/a.png');
const key = fc.constantFrom('role', 'content', 'type', 'text', 'tool_calls', 'tool_call_id', 'id', 'name', 'function', 'arguments', 'index',
  'delta', 'choices', 'usage', 'message', 'content_block', 'partial_json', 'source', 'url', 'image_url', 'input', 'tool_use_id',
  'finish_reason', 'stop_reason', 'error', 'prompt_tokens', 'input_tokens', 'messages', 'tools', 'tool_choice', 'system', 'max_tokens');
const value = fc.letrec((tie) => ({
  v: fc.oneof({ depthSize: 'small' }, word, fc.integer(), fc.double(), fc.boolean(), fc.constant(null), fc.string(),
    fc.array(tie('v'), { maxLength: 4 }), fc.dictionary(key, tie('v'), { maxKeys: 6 })),
})).v;
const object = fc.dictionary(key, value, { maxKeys: 8 });

describe.each(PAIRS)('%s on hostile input', (_name, t) => {
  it('request: translates or throws a GatewayError', () => {
    fc.assert(fc.property(object, (body) => onlyGatewayErrors(() => t.request({ model: 'm', max_tokens: 5, ...body }, ctx))), { numRuns: 1000 });
  });

  it('response: translates or throws a GatewayError', () => {
    fc.assert(fc.property(object, (body) => onlyGatewayErrors(() => t.response(body, ctx))), { numRuns: 1000 });
  });

  it('error: always builds a body', () => {
    fc.assert(fc.property(fc.integer({ min: 400, max: 599 }), value, (status, body) => {
      expect(t.error(status, body, ctx)).toBeTypeOf('object');
    }), { numRuns: 800 });
  });

  it('stream: every event translates or throws a GatewayError, and the stream keeps its state', () => {
    const event = fc.record({ event: fc.option(word, { nil: null }), data: object });
    fc.assert(fc.property(fc.array(fc.oneof(event, fc.constant(doneEvent())), { maxLength: 12 }), (events) => {
      const s = t.stream(ctx);
      for (const e of events) onlyGatewayErrors(() => s.push(e));
      onlyGatewayErrors(() => s.end());
      expect(s.outcome()).toHaveProperty('complete');
    }), { numRuns: 800 });
  });
});
