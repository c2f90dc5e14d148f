import { describe, expect, it } from 'vitest';
import type { AuditEvent } from '../../lib/audit/event';
import { backoffSeconds, toAuditRow } from '../../admin/consumer/index';
import { priceEvent } from '../../admin/pricing';

const event = (over: Partial<AuditEvent>): AuditEvent => ({
  id: '01900000-0000-7000-8000-000000000000',
  request_id: 'r',
  started_at: '2026-11-28T00:00:00.000Z',
  finished_at: '2026-11-28T00:00:01.000Z',
  org_id: null,
  key_id: null,
  provider: 'openai',
  model: 'openai/gpt-4o-mini',
  endpoint: 'chat_completions',
  stream: false,
  status: 200,
  error_type: null,
  input_tokens: 1_000_000,
  output_tokens: 1_000_000,
  cache_read_tokens: null,
  cache_write_tokens: null,
  latency_ms: 12.4,
  ttfb_ms: 3.6,
  ...over,
});

describe('cost from the maintained price library', () => {
  it('prices a known model (gpt-4o-mini: $0.15 in + $0.60 out per million)', () => {
    expect(priceEvent(event({}))).toBeCloseTo(0.75, 6);
  });

  it('prices Anthropic cache reads and writes at their own rates', () => {
    const plain = priceEvent(event({ provider: 'anthropic', model: 'anthropic/claude-sonnet-4-5', input_tokens: 1000, output_tokens: 0 }))!;
    const cached = priceEvent(event({ provider: 'anthropic', model: 'anthropic/claude-sonnet-4-5', input_tokens: 1000, output_tokens: 0, cache_read_tokens: 900 }))!;
    expect(plain).toBeGreaterThan(0);
    expect(cached).toBeLessThan(plain);
  });

  it('gives null, never 0, for an unknown model or missing usage', () => {
    expect(priceEvent(event({ model: 'openai/not-a-real-model-xyz' }))).toBeNull();
    expect(priceEvent(event({ provider: 'mock', model: 'mock/echo' }))).toBeNull();
    expect(priceEvent(event({ input_tokens: null, output_tokens: null }))).toBeNull();
  });

  it('turns an event into a row with cost and rounded timings', () => {
    const row = toAuditRow(event({}));
    expect(row.cost_usd).toBe('0.7500000000');
    expect(row.latency_ms).toBe(12);
    expect(row.ttfb_ms).toBe(4);
  });

  it('backs off exponentially, capped at five minutes', () => {
    expect([1, 2, 3, 4, 10, 20].map(backoffSeconds)).toEqual([1, 2, 4, 8, 300, 300]);
  });
});
