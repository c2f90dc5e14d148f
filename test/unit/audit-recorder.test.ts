/**
 * The gateway side of the audit pipeline: model-name validation, the recorder's caps and bounds,
 * and the per-isolate batcher against a Queue that refuses what Cloudflare Queues refuse
 * (https://developers.cloudflare.com/queues/platform/limits/: 128 KB per message, 100 messages and
 * 256 KB per sendBatch). The real Queue is exercised end to end in test/e2e/audit-integrity.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { auditEventSchema, cleanAuditText, type AuditEvent } from '../../lib/audit/event';
import { MODEL_NAME_MAX, modelNameProblem } from '../../lib/models';
import { AuditBatcher, AuditRecorder, auditDelivery, fitToQueueMessage, packBatches, QUEUE_LIMITS, queuedSize, type QueueLimits } from '../../worker/audit';

/** A Queue producer that enforces Cloudflare's limits, and refuses any batch holding a `refuse` model. */
function limitedQueue(limits: QueueLimits = QUEUE_LIMITS, refuse = 'poison/refused') {
  const stored: AuditEvent[] = [];
  const calls: number[] = [];
  const queue = {
    async send(body: AuditEvent) {
      await queue.sendBatch([{ body }]);
    },
    async sendBatch(batch: Iterable<{ body: AuditEvent }>) {
      const bodies = [...batch].map((m) => m.body);
      calls.push(bodies.length);
      const sizes = bodies.map((b) => Buffer.byteLength(JSON.stringify(b)) + limits.messageOverheadBytes);
      if (bodies.length > limits.batchMessages) throw new Error(`batch message count of ${bodies.length} exceeds limit`);
      if (sizes.some((s) => s > limits.messageBytes)) throw new Error('message in batch exceeds single message size limit');
      if (sizes.reduce((a, b) => a + b, 0) > limits.batchBytes) throw new Error('batch size exceeds limit');
      if (bodies.some((b) => b.model === refuse)) throw new Error('Queue refused the message');
      stored.push(...bodies.map((b) => structuredClone(b)));
    },
  };
  return { queue: queue as unknown as Queue<AuditEvent>, stored, calls };
}

/** Records one request per entry through real recorders sharing the queue; resolves when flushed. */
async function record(queue: Queue<AuditEvent>, models: string[], usage?: Partial<Record<'input_tokens' | 'output_tokens', number>>): Promise<string[]> {
  const flushes: Promise<unknown>[] = [];
  const ids: string[] = [];
  for (const model of models) {
    const id = crypto.randomUUID();
    ids.push(id);
    const rec = new AuditRecorder(queue, (p) => flushes.push(p), id, 'chat_completions');
    rec.model = model;
    rec.finish(200, null, { input_tokens: null, output_tokens: null, cache_read_tokens: null, cache_write_tokens: null, ...usage });
  }
  await Promise.all(flushes);
  return ids;
}

function event(i: number, model = `openai/model-${i}`): AuditEvent {
  const id = crypto.randomUUID();
  const now = new Date().toISOString();
  return {
    id, request_id: id, started_at: now, finished_at: now, org_id: null, key_id: null, provider: 'openai', model,
    endpoint: 'chat_completions', stream: false, status: 200, error_type: null, input_tokens: 1, output_tokens: 1,
    cache_read_tokens: null, cache_write_tokens: null, latency_ms: 3, ttfb_ms: 1,
  };
}

afterEach(() => vi.restoreAllMocks());

describe('model names', () => {
  it('accepts provider/model names, including non-ASCII letters and emoji pairs', () => {
    for (const m of ['openai/gpt-4o-mini', 'anthropic/claude-sonnet-4-5', 'mock/écho', 'mock/😀', 'x'.repeat(MODEL_NAME_MAX)]) {
      expect(modelNameProblem(m), m).toBeNull();
    }
  });

  it('refuses empty, over-long, control characters, NUL, DEL, C1, lone surrogates and bidi overrides', () => {
    const bad = ['', 'x'.repeat(MODEL_NAME_MAX + 1), 'x'.repeat(130_000), 'mock/a\u0000b', 'mock/\u0001', 'mock/a\nb', 'mock/\u007f', 'mock/\u0085',
      'mock/\u009f', 'mock/\ud800', 'mock/\udc00x', 'mock/x\ud83d', 'mock/\u202eevil', 'mock/a\u2028b'];
    for (const m of bad) expect(modelNameProblem(m), JSON.stringify(m)).not.toBeNull();
  });
});

describe('audit text cleaning', () => {
  it('caps, removes controls, replaces lone surrogates and never splits a pair into garbage', () => {
    expect(cleanAuditText('a\u0000b\u0007c\u007fd\u0085e')).toBe('abcde');
    expect(cleanAuditText('a\ud800b')).toBe('a\ufffdb');
    expect(cleanAuditText('x'.repeat(1000))).toHaveLength(256);
    expect(cleanAuditText('ab\ud83d\ude00', 3)).toBe('ab\ufffd');
    expect(cleanAuditText('ab\ud83d\ude00', 4)).toBe('ab\ud83d\ude00');
  });
});

describe('the audit recorder', () => {
  it('stores a 130 KB model name capped and cleaned, so the event fits the Queue and the schema', async () => {
    const { queue, stored } = limitedQueue();
    await record(queue, ['mock/' + '\u0000x'.repeat(65_000) + '\ud800']);
    expect(stored).toHaveLength(1);
    const e = stored[0]!;
    expect(e.model!.length).toBeLessThanOrEqual(256);
    expect(e.model!.includes('\u0000')).toBe(false);
    expect(auditEventSchema.safeParse(e).success).toBe(true);
  });

  it('keeps token counts a bigint holds and nulls absurd ones (1e300, negative, fractional)', async () => {
    const { queue, stored } = limitedQueue();
    await record(queue, ['openai/a'], { input_tokens: 3_000_000_000, output_tokens: 1e300 });
    await record(queue, ['openai/b'], { input_tokens: -1, output_tokens: 2.5 });
    expect(stored.map((e) => [e.input_tokens, e.output_tokens])).toEqual([[3_000_000_000, null], [null, null]]);
    for (const e of stored) expect(auditEventSchema.safeParse(e).success).toBe(true);
  });

  it('truncates the longest fields when an event would exceed the message limit', () => {
    const limits = { ...QUEUE_LIMITS, messageBytes: 700 };
    const e = { ...event(1), model: 'm'.repeat(256), provider: 'p'.repeat(200) };
    expect(queuedSize(e, limits)).toBeGreaterThan(700);
    const fitted = fitToQueueMessage(e, limits);
    expect(queuedSize(fitted, limits)).toBeLessThanOrEqual(700);
    expect(fitted.id).toBe(e.id);
  });
});

describe('the audit batcher', () => {
  it('delivers every event when one request had a 130 KB model and three others ran beside it', async () => {
    const { queue, stored } = limitedQueue();
    const ids = await record(queue, ['mock/' + 'x'.repeat(130_000), 'mock/echo', 'openai/gpt-4o-mini', 'anthropic/claude-sonnet-4-5']);
    expect(stored.map((e) => e.id).sort()).toEqual([...ids].sort());
  });

  it('keeps the nine events a refused one shared a batch with', async () => {
    vi.spyOn(console, 'error').mockImplementation(() => undefined);
    const { queue, stored } = limitedQueue();
    await record(queue, Array.from({ length: 10 }, (_, i) => (i === 6 ? 'poison/refused' : `openai/m${i}`)));
    expect(stored).toHaveLength(9);
  });

  it('cuts batches at 100 messages and at the byte limit, keeping order', () => {
    expect(packBatches(Array.from({ length: 250 }, (_, i) => event(i))).map((b) => b.length)).toEqual([100, 100, 50]);
    const limits = { ...QUEUE_LIMITS, batchBytes: 3_000 };
    const events = Array.from({ length: 20 }, (_, i) => event(i, 'm'.repeat(256)));
    const batches = packBatches(events, limits);
    expect(batches.length).toBeGreaterThan(1);
    for (const b of batches) expect(b.reduce((a, e) => a + queuedSize(e, limits), 0)).toBeLessThanOrEqual(3_000);
    expect(batches.flat()).toEqual(events);
  });

  it('sends by bytes through a Queue with small limits: nothing refused, nothing lost', async () => {
    const limits = { ...QUEUE_LIMITS, batchBytes: 3_000 };
    const { queue, stored, calls } = limitedQueue(limits);
    const batcher = new AuditBatcher(queue, limits);
    const events = Array.from({ length: 20 }, (_, i) => event(i, 'm'.repeat(256)));
    let flush: Promise<void> | null = null;
    for (const e of events) flush = batcher.add(e) ?? flush;
    await flush;
    expect(stored.map((e) => e.id)).toEqual(events.map((e) => e.id));
    expect(calls.length).toBeGreaterThan(1);
  });

  it('splits a refused batch down to the one event the Queue refuses, and counts and logs only that one', async () => {
    const errors: string[] = [];
    vi.spyOn(console, 'error').mockImplementation((line: string) => void errors.push(line));
    const { queue, stored } = limitedQueue();
    const batcher = new AuditBatcher(queue);
    const events = Array.from({ length: 10 }, (_, i) => event(i, i === 6 ? 'poison/refused' : `openai/m${i}`));
    const droppedBefore = auditDelivery.dropped;
    let flush: Promise<void> | null = null;
    for (const e of events) flush = batcher.add(e) ?? flush;
    await flush;
    expect(stored.map((e) => e.id).sort()).toEqual(events.filter((_, i) => i !== 6).map((e) => e.id).sort());
    expect(auditDelivery.dropped - droppedBefore).toBe(1);
    const dropped = errors.map((l) => JSON.parse(l)).filter((l) => l.msg === 'audit event dropped: the queue refused it');
    expect(dropped).toHaveLength(1);
    expect(dropped[0].request_ids).toEqual([events[6]!.request_id]);
    expect(dropped[0].dropped_total).toBe(auditDelivery.dropped);
  });

  it('reopens a batch window whose timer never fired, so one torn-down request cannot hold every later event', async () => {
    vi.spyOn(console, 'warn').mockImplementation(() => undefined);
    const { queue, stored } = limitedQueue();
    let clock = 0;
    let timers = 0;
    // The first window's timer never fires (its request was torn down); later ones do.
    const wait = (ms: number) => (timers++ === 0 ? new Promise<void>(() => undefined) : new Promise<void>((r) => setTimeout(r, ms)));
    const batcher = new AuditBatcher(queue, QUEUE_LIMITS, wait, () => clock);
    const events = [event(1), event(2), event(3)];
    expect(batcher.add(events[0]!)).not.toBeNull(); // opens the window that dies
    expect(batcher.add(events[1]!)).toBeNull(); // joins it
    clock = 5_000;
    const flush = batcher.add(events[2]!);
    expect(flush).not.toBeNull();
    await flush;
    expect(stored.map((e) => e.id)).toEqual(events.map((e) => e.id));
  });

  it('sends an event at once when asked (a client that disconnected), with whatever was waiting', async () => {
    const { queue, stored } = limitedQueue();
    const batcher = new AuditBatcher(queue, QUEUE_LIMITS, () => new Promise<void>(() => undefined));
    const events = [event(1), event(2)];
    batcher.add(events[0]!);
    await batcher.add(events[1]!, { now: true });
    expect(stored.map((e) => e.id)).toEqual(events.map((e) => e.id));
  });

  it('sends again the events of a flush that never finished (its request was torn down), with the next event', async () => {
    vi.spyOn(console, 'warn').mockImplementation(() => undefined);
    const { queue: real, stored } = limitedQueue();
    let first = true;
    // The first send's continuation is dropped: it never settles, as in a cancelled request.
    const queue = { ...real, sendBatch: (b: Parameters<typeof real.sendBatch>[0]) => (first ? ((first = false), new Promise<void>(() => undefined)) : real.sendBatch(b)) } as typeof real;
    let clock = 0;
    const batcher = new AuditBatcher(queue, QUEUE_LIMITS, (ms) => new Promise((r) => setTimeout(r, ms)), () => clock);
    const lost = event(1);
    void batcher.add(lost, { now: true });
    clock = 6_000;
    const next = event(2);
    await batcher.add(next, { now: true });
    expect(stored.map((e) => e.id)).toEqual([lost.id, next.id]);
  });
});
