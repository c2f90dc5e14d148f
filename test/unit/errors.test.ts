import { describe, expect, it } from 'vitest';
import { AUTH_FAILED_MESSAGE, asGatewayError, authFailed, GatewayError, invalidField, toWireError } from '../../lib/errors';
import { openaiSchemaErrors } from '../support/openai-spec';

const kinds = ['invalid_request', 'authentication', 'permission', 'not_found', 'payload_too_large', 'rate_limit', 'upstream_unreachable', 'unavailable', 'internal'] as const;

describe('error funnel', () => {
  it.each(kinds)('builds an OpenAI ErrorResponse that matches the published schema (%s)', async (kind) => {
    const res = toWireError(new GatewayError(kind, 'something went wrong', { param: 'model', code: 'x' }), 'openai', 'req-1');
    const body = await res.json();
    expect(openaiSchemaErrors('ErrorResponse', body)).toEqual([]);
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(res.headers.get('x-request-id')).toBe('req-1');
  });

  it('builds Anthropic error bodies', async () => {
    const res = toWireError(authFailed('secret mismatch'), 'anthropic');
    expect(res.status).toBe(401);
    expect(await res.json()).toEqual({ type: 'error', error: { type: 'authentication_error', message: AUTH_FAILED_MESSAGE } });
  });

  it('never sends the internal reason', async () => {
    const res = toWireError(authFailed('key id abc secret mismatch'), 'openai');
    expect(await res.text()).not.toContain('mismatch');
  });

  it('hides unexpected exceptions behind a generic 500', async () => {
    const err = asGatewayError(new Error('connection string postgres://user:pw@db'));
    expect(err.status).toBe(500);
    const text = await toWireError(err, 'openai').text();
    expect(text).not.toContain('postgres');
    expect(err.reason).toContain('postgres');
  });

  it('names the invalid field', () => {
    const err = invalidField(['messages', 0, 'role'], 'is required');
    expect(err.status).toBe(400);
    expect(err.param).toBe('messages.0.role');
    expect(err.message).toContain("'messages.0.role'");
  });
});

describe('the spec validator itself', () => {
  it('rejects a body that does not match', () => {
    expect(openaiSchemaErrors('ErrorResponse', { error: { message: 'x' } }).length).toBeGreaterThan(0);
  });
});
