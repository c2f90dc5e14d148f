/**
 * Events that fail the strict schema (an older gateway, a bug, a hostile producer) are salvaged
 * rather than dropped: each known field is kept when it is storable, cleaned or nulled when it is
 * not, and only an event without the facts a row needs (its id, endpoint, stream flag, status) is
 * set aside in the quarantine table. Unknown fields are never kept: content cannot ride along.
 */
import * as z from 'zod/mini';
import {
  AUDIT_EVENT_FIELDS,
  auditAttemptSchema,
  auditEventSchema,
  MAX_ATTEMPTS,
  boundCount,
  cleanAuditText,
  type AuditEvent,
} from '../../lib/audit/event';

/* eslint-disable security/detect-object-injection -- every bracket access in this file indexes a record built here with a field name from the constant field lists above/below, never a key chosen by a producer; unknown fields are only listed by name. */

export type Salvage = { ok: true; event: AuditEvent; repaired: string[] } | { ok: false; reason: string };

const uuid = z.uuid();
const storableTime = auditEventSchema.def.shape.started_at;
const TEXT_FIELDS = ['key_id', 'provider', 'model', 'error_type', 'route'] as const;
const COUNT_FIELDS = ['input_tokens', 'output_tokens', 'cache_read_tokens', 'cache_write_tokens', 'reasoning_tokens'] as const;

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function millis(v: unknown): number | null {
  return typeof v === 'number' && Number.isFinite(v) && v >= 0 && v <= Number.MAX_SAFE_INTEGER ? v : null;
}

/** `receivedAt` (the queue message's timestamp) stands in for a missing or unusable time. */
export function salvageEvent(body: unknown, receivedAt: Date): Salvage {
  if (!isRecord(body)) return { ok: false, reason: 'event is not a JSON object' };
  const repaired: string[] = [];
  const known = new Set<string>(AUDIT_EVENT_FIELDS);
  const unknown = Object.keys(body).filter((k) => !known.has(k));
  if (unknown.length > 0) repaired.push('unknown fields dropped');

  const requestIdRaw = typeof body.request_id === 'string' ? body.request_id : null;
  const id = uuid.safeParse(body.id).success
    ? (body.id as string)
    : requestIdRaw !== null && uuid.safeParse(requestIdRaw).success
      ? requestIdRaw
      : null;
  if (id === null) return { ok: false, reason: 'no usable event id' };
  if (id !== body.id) repaired.push('id');
  if (typeof body.endpoint !== 'string') return { ok: false, reason: 'endpoint missing' };
  if (typeof body.stream !== 'boolean') return { ok: false, reason: 'stream flag missing' };
  const status = body.status;
  if (typeof status !== 'number' || !Number.isInteger(status) || status < 0 || status > 999) {
    return { ok: false, reason: 'status missing or out of range' };
  }

  const time = (field: 'started_at' | 'finished_at', fallback: string): string => {
    const v = body[field];
    if (storableTime.safeParse(v).success) return v as string;
    repaired.push(field);
    return fallback;
  };
  const finished_at = time('finished_at', receivedAt.toISOString());
  const started_at = time('started_at', finished_at);

  const text = (field: string): string | null => {
    const v = body[field];
    if (v === null || v === undefined) return null;
    if (typeof v !== 'string') {
      repaired.push(field);
      return null;
    }
    const cleaned = cleanAuditText(v);
    if (cleaned !== v) repaired.push(field);
    return cleaned;
  };

  const event: Record<string, unknown> = {
    id,
    request_id: requestIdRaw === null ? id : cleanAuditText(requestIdRaw) || id,
    started_at,
    finished_at,
    org_id: body.org_id === null || uuid.safeParse(body.org_id).success ? (body.org_id ?? null) : (repaired.push('org_id'), null),
    endpoint: cleanAuditText(body.endpoint),
    stream: body.stream,
    status,
  };
  for (const f of TEXT_FIELDS) event[f] = text(f);
  for (const f of COUNT_FIELDS) {
    const v = body[f];
    const bounded = typeof v === 'number' ? boundCount(v) : null;
    if (bounded !== v && v !== null && v !== undefined) repaired.push(f);
    event[f] = bounded;
  }
  let latency = millis(body.latency_ms);
  if (latency === null) {
    repaired.push('latency_ms');
    latency = Math.max(0, Date.parse(finished_at) - Date.parse(started_at));
  }
  event.latency_ms = latency;
  const ttfb = body.ttfb_ms === null ? null : millis(body.ttfb_ms);
  if (ttfb === null && body.ttfb_ms !== null) repaired.push('ttfb_ms');
  event.ttfb_ms = ttfb;
  // Attempts: each one kept only whole and valid (they are metadata, checked field by field).
  if (body.attempts !== undefined) {
    const list = Array.isArray(body.attempts) ? body.attempts : [];
    const kept = list.slice(0, MAX_ATTEMPTS).flatMap((a) => {
      const p = auditAttemptSchema.safeParse(a);
      return p.success ? [p.data] : [];
    });
    if (kept.length !== list.length || !Array.isArray(body.attempts)) repaired.push('attempts');
    event.attempts = kept;
  }

  const parsed = auditEventSchema.safeParse(event);
  if (!parsed.success) return { ok: false, reason: `salvage failed: ${parsed.error.issues[0]?.path.join('.')}` };
  return { ok: true, event: parsed.data, repaired };
}

/**
 * What a quarantine row keeps of an event: its known fields only, text cleaned and capped, objects
 * reduced to their type (a known field holding an object could carry content), and the names of
 * unknown fields — never their values.
 */
export function quarantineRecord(body: unknown): Record<string, unknown> {
  if (!isRecord(body)) return { body_type: Array.isArray(body) ? 'array' : typeof body };
  const out: Record<string, unknown> = {};
  for (const f of AUDIT_EVENT_FIELDS) {
    if (!(f in body)) continue;
    const v = body[f];
    if (typeof v === 'string') out[f] = cleanAuditText(v);
    else if (typeof v === 'number') out[f] = Number.isFinite(v) ? v : String(v);
    else if (typeof v === 'boolean' || v === null) out[f] = v;
    else out[f] = `<${Array.isArray(v) ? 'array' : typeof v}>`;
  }
  const unknown = Object.keys(body).filter((k) => !(AUDIT_EVENT_FIELDS as string[]).includes(k));
  if (unknown.length > 0) out.unknown_fields = unknown.slice(0, 20).map((k) => cleanAuditText(k, 64));
  return out;
}

/** The request id a log line or quarantine row can name, cleaned; null when the event has none. */
export function requestIdOf(body: unknown): string | null {
  if (!isRecord(body)) return null;
  const v = typeof body.request_id === 'string' ? body.request_id : typeof body.id === 'string' ? body.id : null;
  return v === null ? null : cleanAuditText(v);
}
