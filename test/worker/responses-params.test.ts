/**
 * /v1/responses refuses the parameters that escape the gateway's control (security review): a
 * background response runs unbilled past its limits, and previous_response_id / conversation let
 * any key of an organisation continue another key's stored responses.
 */
import { describe, expect, it } from 'vitest';
import { harness, seedKey, seedProviderKey } from './harness';

describe('/v1/responses stateful parameters', () => {
  const cases: Array<[string, Record<string, unknown>]> = [
    ['background', { background: true }],
    ['previous_response_id', { previous_response_id: 'resp_0123456789abcdef' }],
    ['conversation', { conversation: 'conv_0123456789abcdef' }],
    ['conversation', { conversation: { id: 'conv_0123456789abcdef' } }],
  ];
  for (const [param, extra] of cases) {
    it(`refuses ${param} with a 400 naming it, before any upstream call (${JSON.stringify(extra)})`, async () => {
      const h = harness();
      // Port 9 answers nothing: a request that reached the upstream would be a 502, not a 400.
      await seedProviderKey('openai', 'sk-responses-params', 'http://127.0.0.1:9');
      const { key } = await seedKey({ models: ['openai/*'] });
      for (const stream of [false, true]) {
        const { res, json } = await h.call('/v1/responses', { json: { model: 'openai/gpt-4o-mini', input: 'hi', stream, ...extra }, key });
        expect(res.status).toBe(400);
        expect(json).toMatchObject({ error: { type: 'invalid_request_error', param, message: expect.stringContaining(`'${param}'`) } });
      }
      expect(h.events.map((e) => e.status)).toEqual([400, 400]);
    });
  }

});
