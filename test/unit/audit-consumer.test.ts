/**
 * The consumer's decisions that need no database: salvaging events that fail the strict schema,
 * what a quarantine row may keep, and telling data errors from outages by SQLSTATE. The same code
 * runs against real Postgres (PGlite and DATABASE_URL) in test/e2e/audit-integrity.e2e.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { auditEventSchema } from '../../lib/audit/event';
import { isDataError, sqlState } from '../../admin/consumer/db-errors';
import { prepare, toAuditRow } from '../../admin/consumer/index';
import { quarantineRecord, salvageEvent } from '../../admin/consumer/salvage';
import { claim } from '../support/claims';

const at = new Date('2026-01-02T03:04:05.000Z');

function body(over: Record<string, unknown> = {}): Record<string, unknown> {
  const id = crypto.randomUUID();
  return {
    id, request_id: id, started_at: '2026-01-02T03:04:00.000Z', finished_at: '2026-01-02T03:04:01.000Z', org_id: null, key_id: 'k1',
    provider: 'openai', model: 'openai/gpt-4o-mini', endpoint: 'chat_completions', stream: false, status: 200, error_type: null,
    input_tokens: 10, output_tokens: 5, cache_read_tokens: null, cache_write_tokens: null, latency_ms: 1000, ttfb_ms: 100, ...over,
  };
}

function message(b: unknown) {
  const calls: string[] = [];
  return { msg: { id: crypto.randomUUID(), timestamp: at, attempts: 1, body: b, ack: () => calls.push('ack'), retry: () => calls.push('retry') } as unknown as Message<unknown>, calls };
}

describe('the strict event schema', () => {
  it('refuses what Postgres would refuse: NUL, counts past the bounds, a non-uuid org, year 0000', () => {
    expect(auditEventSchema.safeParse(body()).success).toBe(true);
    for (const bad of [{ model: 'a\u0000b' }, { input_tokens: 3e15 }, { input_tokens: 1e300 }, { org_id: 'not-a-uuid' }, { started_at: '0000-01-01T00:00:00Z' }, { model: 'x'.repeat(257) }]) {
      expect(auditEventSchema.safeParse(body(bad)).success, JSON.stringify(bad).slice(0, 60)).toBe(false);
    }
  });
});

describe('salvaging events that fail the schema', () => {
  it('cleans NUL out of text, nulls absurd counts and unusable fields, and keeps the rest', () => {
    const s = salvageEvent(body({ model: 'mock/a\u0000b', input_tokens: 1e300, output_tokens: 3_000_000_000, org_id: 'junk', started_at: '0000-01-01T00:00:00Z' }), at);
    expect(s.ok).toBe(true);
    if (!s.ok) return;
    expect(s.event).toMatchObject({ model: 'mock/ab', input_tokens: null, output_tokens: 3_000_000_000, org_id: null, started_at: '2026-01-02T03:04:01.000Z', status: 200 });
    expect(s.repaired).toEqual(expect.arrayContaining(['model', 'input_tokens', 'org_id', 'started_at']));
  });

  it(claim('metadata-only', 'drops unknown fields, so content never rides along'), () => {
    const s = salvageEvent(body({ messages: [{ role: 'user', content: 'SECRET-PROMPT' }] }), at);
    expect(s.ok && JSON.stringify(s.event)).not.toContain('SECRET-PROMPT');
    const q = quarantineRecord(body({ messages: 'SECRET-PROMPT', model: { content: 'SECRET-PROMPT' } }));
    expect(JSON.stringify(q)).not.toContain('SECRET-PROMPT');
    expect(q).toMatchObject({ model: '<object>', unknown_fields: ['messages'] });
  });

  it('keeps each valid attempt of a routed request and drops an attempt that carries anything else', () => {
    const good = { model: 'openai/gpt-4o', provider: 'openai', provider_key_id: null, status: 503, error_type: 'upstream_error', latency_ms: 12 };
    const s = salvageEvent(body({ route: 'prod', reasoning_tokens: 5, attempts: [good, { ...good, content: 'SECRET-PROMPT' }], model: 'x\u0000' }), at);
    expect(s.ok).toBe(true);
    if (!s.ok) return;
    expect(s.event.attempts).toEqual([good]);
    expect(s.repaired).toContain('attempts');
    expect(JSON.stringify(s.event)).not.toContain('SECRET-PROMPT');
    const row = toAuditRow(s.event);
    expect(row).toMatchObject({ route: 'prod', reasoning_tokens: 5, attempt_count: 1 });
  });

  it('stores an event from a gateway that predates routing with no attempts', () => {
    const row = toAuditRow(auditEventSchema.parse(body({})));
    expect(row).toMatchObject({ route: null, reasoning_tokens: null, attempt_count: 0, attempts: [] });
  });

  it('gives up only without the facts a row needs', () => {
    expect(salvageEvent('not an object', at)).toMatchObject({ ok: false });
    expect(salvageEvent(body({ id: 'x', request_id: 'y' }), at)).toMatchObject({ ok: false, reason: 'no usable event id' });
    expect(salvageEvent(body({ status: 1e300 }), at)).toMatchObject({ ok: false });
  });

  it('routes a message: strict rows as they are, salvaged rows cleaned, the rest to the quarantine', () => {
    expect(prepare(message(body()).msg, 'routero-audit')).toHaveProperty('row');
    const salvaged = prepare(message(body({ model: 'm\u0000' })).msg, 'routero-audit');
    expect('row' in salvaged && salvaged.row.model).toBe('m');
    const q = prepare(message(body({ id: 7, request_id: 'req-\u0000-1', endpoint: undefined })).msg, 'routero-audit');
    expect('quarantine' in q && q.quarantine).toMatchObject({ requestId: 'req--1' });
  });

  it('never stores a price numeric(20,10) cannot hold', () => {
    const row = toAuditRow(auditEventSchema.parse(body({ input_tokens: 1_000_000_000_000, output_tokens: 1_000_000_000_000, model: 'openai/gpt-4o' })));
    expect(row.cost_usd === null || Number(row.cost_usd) < 1e10).toBe(true);
  });
});

describe('data errors and outages', () => {
  it('reads the SQLSTATE through wrappers and sorts by class', () => {
    const driver = Object.assign(new Error('invalid byte sequence for encoding "UTF8": 0x00'), { code: '22021' });
    const wrapped = Object.assign(new Error('Failed query: insert …'), { cause: driver });
    expect(sqlState(wrapped)).toBe('22021');
    expect(isDataError(wrapped)).toBe(true);
    expect(isDataError(Object.assign(new Error('null value'), { code: '23502' }))).toBe(true);
    expect(isDataError(Object.assign(new Error('admin shutdown'), { code: '57P01' }))).toBe(false);
    expect(isDataError(new Error('connect ECONNREFUSED'))).toBe(false);
    expect(isDataError(Object.assign(new Error('socket'), { code: 'ECONNRESET' }))).toBe(false);
  });
});
