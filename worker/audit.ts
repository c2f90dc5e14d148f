/**
 * One metadata event per data-plane request, whatever its outcome (DESIGN §3.8, §4.6). The
 * recorder collects attribution as the request proceeds and sends exactly once. Never content.
 *
 * Whatever the client sent, the event fits the Queue and the database: every text field is capped
 * and cleaned (`cleanAuditText`), token counts are bounded (`boundCount`), and the
 * serialized event is checked against the Queue's message size limit before it is batched.
 */
import {
  boundCount,
  cleanAuditText,
  cleanNullableAuditText,
  emptyUsage,
  MAX_ATTEMPTS,
  type AuditAttempt,
  type AuditEvent,
  type Usage,
} from '../lib/audit/event';
import { alert, log } from '../lib/log';
import { ErrorRateMonitor } from '../lib/error-rate';

/** The isolate's error-rate watch (alert error_rate_spike). */
const errorRate = new ErrorRateMonitor();

export class AuditRecorder {
  orgId: string | null = null;
  keyId: string | null = null;
  provider: string | null = null;
  /** May hold whatever the client sent; `finish` caps and cleans it. */
  model: string | null = null;
  stream = false;
  /** The route's name when the client called `route/<name>`. */
  route: string | null = null;
  private readonly attempts: AuditAttempt[] = [];
  private answered2xx = false;
  private firstByteAt: number | null = null;
  private sent = false;
  private readonly onFinish: Array<(status: number, usage: Usage) => void> = [];

  constructor(
    private readonly queue: Queue<AuditEvent> | undefined,
    private readonly waitUntil: (p: Promise<unknown>) => void,
    readonly requestId: string,
    readonly endpoint: string,
    readonly startedAt: number = Date.now(),
  ) {}

  markFirstByte(now = Date.now()): void {
    this.firstByteAt ??= now;
  }

  /**
   * One upstream call, as it ends (answered, failed, timed out). The pipeline records each attempt;
   * `provider`/`model` follow the latest, so the event names the final target.
   */
  recordAttempt(attempt: Omit<AuditAttempt, 'latency_ms'> & { startedAt: number }, now = Date.now()): void {
    this.provider = attempt.provider;
    this.model = attempt.model;
    if (attempt.status >= 200 && attempt.status < 300) this.answered2xx = true;
    if (this.attempts.length >= MAX_ATTEMPTS) return;
    this.attempts.push({
      model: cleanAuditText(attempt.model),
      provider: cleanAuditText(attempt.provider),
      provider_key_id: cleanNullableAuditText(attempt.provider_key_id),
      status: Number.isInteger(attempt.status) && attempt.status >= 0 && attempt.status <= 999 ? attempt.status : 0,
      error_type: cleanNullableAuditText(attempt.error_type),
      latency_ms: Math.max(0, now - attempt.startedAt),
    });
  }

  /** Whether an upstream sent 2xx headers: from then on the request costs, whatever follows. */
  get upstreamAnswered(): boolean {
    return this.answered2xx;
  }

  get finished(): boolean {
    return this.sent;
  }

  /**
   * Runs once with the request's outcome, whatever it is (success, error, timeout, the client
   * leaving, streamed or not): where a limits reservation settles (worker/limits).
   */
  whenFinished(fn: (status: number, usage: Usage) => void): void {
    this.onFinish.push(fn);
  }

  finish(status: number, errorType: string | null, usage: Usage = emptyUsage(), now = Date.now()): void {
    if (this.sent) return;
    this.sent = true;
    for (const fn of this.onFinish.splice(0)) {
      try {
        fn(status, usage);
      } catch (e) {
        log('error', 'request finish hook failed', { request_id: this.requestId, reason: e instanceof Error ? e.message : String(e) });
      }
    }
    const latency = Math.max(0, now - this.startedAt);
    const event: AuditEvent = fitToQueueMessage({
      // One event per request: the request id (a UUIDv7) is the event id too.
      id: this.requestId,
      request_id: cleanAuditText(this.requestId),
      started_at: new Date(this.startedAt).toISOString(),
      finished_at: new Date(now).toISOString(),
      org_id: this.orgId,
      key_id: cleanNullableAuditText(this.keyId),
      provider: cleanNullableAuditText(this.provider),
      model: cleanNullableAuditText(this.model),
      endpoint: cleanAuditText(this.endpoint),
      stream: this.stream,
      status: Number.isInteger(status) && status >= 0 && status <= 999 ? status : 500,
      error_type: cleanNullableAuditText(errorType),
      // An upstream may report any number (3e9, 1e300): keep what a bigint holds, else null.
      input_tokens: boundCount(usage.input_tokens),
      output_tokens: boundCount(usage.output_tokens),
      cache_read_tokens: boundCount(usage.cache_read_tokens),
      cache_write_tokens: boundCount(usage.cache_write_tokens),
      latency_ms: latency,
      ttfb_ms: this.firstByteAt === null ? null : Math.max(0, this.firstByteAt - this.startedAt),
      reasoning_tokens: boundCount(usage.reasoning_tokens ?? null),
      route: cleanNullableAuditText(this.route),
      attempts: this.attempts,
    });
    const spike = errorRate.record(event.status, Date.now());
    if (spike) alert('error_rate_spike', 'gateway error rate spike in this isolate', { window_seconds: 60, requests: spike.total, errors_5xx: spike.errors, rate: Math.round(spike.rate * 100) / 100 });
    if (!this.queue) return;
    const flush = batcherFor(this.queue).add(event, { now: status === 499 });
    if (flush) this.waitUntil(flush);
  }
}

/**
 * Cloudflare Queues' documented limits (https://developers.cloudflare.com/queues/platform/limits/):
 * a message is at most 128 KB, where 1 KB = 1000 bytes and up to ~100 bytes of internal metadata
 * count towards it; one `sendBatch` carries at most 100 messages and 256 KB in total.
 */
export interface QueueLimits {
  messageBytes: number;
  batchBytes: number;
  batchMessages: number;
  /** Internal metadata the Queue adds to each message. */
  messageOverheadBytes: number;
}

export const QUEUE_LIMITS: QueueLimits = {
  messageBytes: 128_000,
  batchBytes: 256_000,
  batchMessages: 100,
  messageOverheadBytes: 100,
};

/** UTF-8 length of a string without encoding it. */
export function utf8Length(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length && (s.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      n += 4;
      i++;
    } else n += 3;
  }
  return n;
}

/** What the event costs against the Queue's limits: its JSON plus the Queue's metadata. */
export function queuedSize(event: AuditEvent, limits: QueueLimits = QUEUE_LIMITS): number {
  return utf8Length(JSON.stringify(event)) + limits.messageOverheadBytes;
}

/**
 * An upper bound of the UTF-8 length of `JSON.stringify(value)`, from the value's shape alone: a
 * string is at most 6 bytes a UTF-16 unit (`\u001f`), a number at most 25 characters. Every event
 * the gateway builds (text capped at AUDIT_TEXT_MAX) is far inside the Queue's limits by this
 * bound, so the exact count — serialising the event and counting every character, ~3 % of the
 * gateway's CPU in the issue 13 profile — runs only near a limit.
 */
export function jsonSizeBound(value: unknown): number {
  if (value === null || value === undefined) return 9;
  switch (typeof value) {
    case 'string':
      return 2 + value.length * 6;
    case 'number':
      return 25; // -1.2345678901234567e-300
    case 'boolean':
      return 5;
    case 'object': {
      let n = 2;
      if (Array.isArray(value)) {
        for (const v of value) n += jsonSizeBound(v) + 1;
        return n;
      }
      // for…in, not Object.entries: no array per member (this runs for every event).
      const record = value as Record<string, unknown>;
      for (const k in record) {
        // eslint-disable-next-line security/detect-object-injection -- k is an own key of the event being measured
        if (Object.hasOwn(record, k)) n += 2 + k.length * 6 + jsonSizeBound(record[k]) + 2;
      }
      return n;
    }
    default:
      return Infinity;
  }
}

function queuedSizeBound(event: AuditEvent, limits: QueueLimits): number {
  return jsonSizeBound(event) + limits.messageOverheadBytes;
}

const TRUNCATABLE = ['model', 'provider', 'key_id', 'error_type', 'endpoint', 'request_id', 'route'] as const;

/**
 * Shrinks the event's longest text fields until it fits one Queue message. With text capped at
 * `AUDIT_TEXT_MAX` an event is ~2 KB at most, so this is the last line of defence should a field
 * ever be added without a cap: an oversized message would make `sendBatch` refuse it.
 */
/* eslint-disable security/detect-object-injection -- the keys are the constant TRUNCATABLE field names */
export function fitToQueueMessage(event: AuditEvent, limits: QueueLimits = QUEUE_LIMITS): AuditEvent {
  if (queuedSizeBound(event, limits) <= limits.messageBytes) return event;
  let size = queuedSize(event, limits);
  if (size <= limits.messageBytes) return event;
  const fitted: AuditEvent = { ...event };
  const originalSize = size;
  while (size > limits.messageBytes) {
    let longest: (typeof TRUNCATABLE)[number] | null = null;
    for (const f of TRUNCATABLE) {
      const v = fitted[f];
      if (v && (longest === null || v.length > (fitted[longest] ?? '').length)) longest = f;
    }
    const text = longest ? fitted[longest] : null;
    if (!longest || !text) break;
    fitted[longest] = cleanAuditText(text, Math.floor(text.length / 2));
    size = queuedSize(fitted, limits);
  }
  log('warn', 'audit event truncated to fit a queue message', { request_id: event.request_id, bytes: originalSize, fitted_bytes: size });
  return fitted;
}
/* eslint-enable security/detect-object-injection */

/** Delivery counters of this isolate, logged with every drop (the metric tests and operators read). */
export const auditDelivery = { queued: 0, dropped: 0 };

/**
 * Sends events in batches: each Queue send is a round trip, and under load one per request cost
 * the gateway a third of its throughput (measured at 32 connections: 1,100 req/s with a send per
 * request, 1,800 batched, 2,200 with no send at all). Events that finish within 20 ms of each
 * other share one `sendBatch`: the cost is per send, not per event — with a 5 ms window the local
 * Queue took a third of the gateway's throughput at 32 connections, with 20 ms almost none
 * (issue 13: 1,555 → 1,974 req/s under the profiler, 2,023 with the send stubbed). Events reach
 * the Queue at most 20 ms later; audit lag is measured in hundreds of milliseconds anyway.
 *
 * The request that opens a batch holds its flush in `waitUntil`, so its isolate stays alive until
 * every event in the batch is handed to the Queue. Requests that join an open batch do not await
 * it: workerd cancels continuations that wait on a promise from another request's context. Their
 * events live and die with the same isolate as the opener's, exactly as their own sends would.
 *
 * One event must never cost the others: batches are cut by count and by bytes to the Queue's
 * limits, and a batch the Queue refuses is split in halves (sent concurrently) down to single
 * events, so only an event the Queue refuses on its own is dropped — counted and logged with its
 * request id.
 */
const FLUSH_WINDOW_MS = 20;
/** A window still open after this long has lost its timer. */
const STALE_WINDOW_MS = 1_000;
/** A flush still unfinished after this long was dropped (retries take about 1 s per batch at most). */
const STALE_FLUSH_MS = 5_000;
/** A single event: 4 attempts, 50, 200, 800 ms apart (a Queue that refuses under load usually takes it moments later). */
const SINGLE_SEND_ATTEMPTS = 4;
/** A batch: one retry, then split, so a refused event is isolated within a second or two. */
const BATCH_SEND_ATTEMPTS = 2;

export class AuditBatcher {
  private pending: AuditEvent[] = [];
  private scheduled: Promise<void> | null = null;
  private scheduledAt = 0;
  /** Flushes under way: their events and when they started. A finished flush removes itself. */
  private readonly inflight = new Set<{ events: AuditEvent[]; startedAt: number }>();

  constructor(
    private readonly queue: Queue<AuditEvent>,
    private readonly limits: QueueLimits = QUEUE_LIMITS,
    /** The batch window's timer (tests pass one that never fires, as a torn-down request's may not). */
    private readonly wait: (ms: number) => Promise<void> = (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
    private readonly now: () => number = Date.now,
  ) {}

  /**
   * Returns the flush to wait for when this event opened a batch (or is sent at once), else null.
   * `now`: send without the batch window — for an event recorded as the client disconnects, whose
   * request may be torn down before a timer it starts would fire.
   */
  add(event: AuditEvent, opts: { now?: boolean } = {}): Promise<void> | null {
    this.pending.push(event);
    // A window whose timer died with the request that opened it (workerd drops a cancelled request's
    // timers) would hold every later event of this isolate: past a generous bound, open a new one.
    if (this.scheduled && this.now() - this.scheduledAt > STALE_WINDOW_MS) {
      log('warn', 'audit batch window did not fire; reopening it', { pending: this.pending.length });
      this.scheduled = null;
    }
    // A flush whose continuation was dropped with its request never finishes: after a bound longer
    // than any retry sequence, send its events again with this one. A duplicate is harmless — the
    // consumer stores each event id once (INSERT … ON CONFLICT DO NOTHING).
    for (const f of this.inflight) {
      if (this.now() - f.startedAt <= STALE_FLUSH_MS) continue;
      this.inflight.delete(f);
      log('warn', 'audit flush did not finish; sending its events again', { request_ids: f.events.map((e) => e.request_id) });
      this.pending.unshift(...f.events);
    }
    if (opts.now) return this.flush();
    if (this.scheduled) return null;
    this.scheduledAt = this.now();
    const scheduled: Promise<void> = this.wait(FLUSH_WINDOW_MS).then((): Promise<void> | undefined => (this.scheduled === scheduled ? this.flush() : undefined));
    this.scheduled = scheduled;
    return scheduled;
  }

  private async flush(): Promise<void> {
    this.scheduled = null;
    const flight = { events: this.pending.splice(0), startedAt: this.now() };
    if (flight.events.length === 0) return;
    this.inflight.add(flight);
    try {
      for (const batch of packBatches(flight.events, this.limits)) await this.send(batch);
    } finally {
      this.inflight.delete(flight);
    }
  }

  private async send(batch: AuditEvent[]): Promise<void> {
    const attempts = batch.length > 1 ? BATCH_SEND_ATTEMPTS : SINGLE_SEND_ATTEMPTS;
    let reason = '';
    for (let attempt = 1; attempt <= attempts; attempt++) {
      try {
        await this.queue.sendBatch(batch.map((body) => ({ body, contentType: 'json' as const })));
        auditDelivery.queued += batch.length;
        return;
      } catch (e) {
        reason = e instanceof Error ? e.message : String(e);
        if (attempt < attempts) await new Promise((r) => setTimeout(r, 50 * 4 ** (attempt - 1)));
      }
    }
    if (batch.length > 1) {
      const half = Math.ceil(batch.length / 2);
      await Promise.all([this.send(batch.slice(0, half)), this.send(batch.slice(half))]);
      return;
    }
    auditDelivery.dropped += 1;
    alert('audit_events_dropped', 'audit event dropped: the queue refused it', {
      request_ids: batch.map((b) => b.request_id),
      attempts,
      reason,
      dropped_total: auditDelivery.dropped,
    });
  }
}

/** Cuts events into sendBatch calls within the Queue's count and byte limits, in order. */
export function packBatches(events: AuditEvent[], limits: QueueLimits = QUEUE_LIMITS): AuditEvent[][] {
  const batches: AuditEvent[][] = [];
  let current: AuditEvent[] = [];
  let bytes = 0;
  for (const event of events) {
    // The bound when the batch has room for it, else the exact size.
    let size = queuedSizeBound(event, limits);
    if (bytes + size > limits.batchBytes) size = queuedSize(event, limits);
    if (current.length > 0 && (current.length >= limits.batchMessages || bytes + size > limits.batchBytes)) {
      batches.push(current);
      current = [];
      bytes = 0;
    }
    current.push(event);
    bytes += size;
  }
  if (current.length > 0) batches.push(current);
  return batches;
}

const batchers = new WeakMap<Queue<AuditEvent>, AuditBatcher>();

function batcherFor(queue: Queue<AuditEvent>): AuditBatcher {
  let b = batchers.get(queue);
  if (!b) {
    b = new AuditBatcher(queue);
    batchers.set(queue, b);
  }
  return b;
}
