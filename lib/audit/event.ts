/**
 * The metadata event the gateway sends to the audit Queue for every data-plane request. Strict:
 * a field that is not listed here is rejected by the consumer, so content cannot ride along.
 *
 * The strict schema also describes what Postgres can store without refusing it: text without
 * control characters or lone surrogates (Postgres refuses NUL in text, SQLSTATE 22021), at most
 * `AUDIT_TEXT_MAX` characters, uuids where the column is a uuid, and token counts from 0 to
 * `MAX_TOKEN_COUNT` (they fit the bigint columns). The gateway builds events with
 * `cleanAuditText` and `boundCount`, so its events always pass; an event that does not pass is
 * salvaged or set aside by the consumer, never allowed to poison a batch.
 */
import * as z from 'zod/mini';

/** Longest text stored in an event field: provider/model names are far shorter. */
export const AUDIT_TEXT_MAX = 256;

/**
 * C0 controls, DEL and C1 controls (Unicode general category Cc), plus lone surrogates. With the
 * `u` flag a well-formed surrogate pair is one code point and does not match `\p{Cs}`; a lone one does.
 */
const UNSTORABLE = /[\p{Cc}\p{Cs}]/gu;
/** Printable ASCII only: nothing to clean (the usual id, provider and model name). */
const PRINTABLE_ASCII = /^[\x20-\x7e]*$/;
const HAS_UNSTORABLE = /[\p{Cc}\p{Cs}]/u;

/** Text as it may be stored: controls removed, lone surrogates replaced by U+FFFD, capped. */
export function cleanAuditText(value: string, max = AUDIT_TEXT_MAX): string {
  // Cap first (bounded work on a huge input), then clean: cleaning never lengthens the text.
  const s = value.length > max ? value.slice(0, max) : value;
  if (PRINTABLE_ASCII.test(s)) return s;
  // A cut between the halves of a surrogate pair leaves a lone high surrogate at the end.
  return s.replace(UNSTORABLE, (c) => (c >= '\ud800' && c <= '\udfff' ? '\ufffd' : ''));
}

export function cleanNullableAuditText(value: string | null, max = AUDIT_TEXT_MAX): string | null {
  return value === null ? null : cleanAuditText(value, max);
}

/**
 * The largest token count stored: a trillion tokens is far past any real request, yet keeps counts
 * exact in JavaScript, their price within numeric(20,10), and sums of millions of them within bigint.
 */
export const MAX_TOKEN_COUNT = 1_000_000_000_000;

/** A token count as stored: an integer from 0 to `MAX_TOKEN_COUNT`, or null when absurd (1e300). */
export function boundCount(value: number | null): number | null {
  return value !== null && Number.isInteger(value) && value >= 0 && value <= MAX_TOKEN_COUNT ? value : null;
}

const storableText = (max = AUDIT_TEXT_MAX) =>
  z.string().check(
    z.maxLength(max),
    z.refine((s) => !HAS_UNSTORABLE.test(s), 'contains control characters or lone surrogates'),
  );
/** Postgres has no year 0 and a JavaScript ISO string may name one: years 0001–9999 only (else 22008). */
const timestamp = () =>
  z.iso.datetime().check(
    z.refine((s) => {
      const year = Number(s.slice(0, 4));
      return year >= 1 && year <= 9999;
    }, 'year outside 0001-9999'),
  );
const count = () => z.nullable(z.int().check(z.nonnegative(), z.maximum(MAX_TOKEN_COUNT)));
const nullableText = () => z.nullable(storableText());
/** Milliseconds: a finite non-negative number within the safe-integer range once rounded. */
const millis = () => z.number().check(z.nonnegative(), z.maximum(Number.MAX_SAFE_INTEGER));

/** Most attempts one request makes (a route's `max_attempts` is capped to this). */
export const MAX_ATTEMPTS = 10;

/** One upstream call of a request: retries and fallbacks each add one (never content). */
export const auditAttemptSchema = z.strictObject({
  /** `provider/model` of the target tried. */
  model: storableText(),
  provider: storableText(),
  /** The provider key used (a server-side id, never the secret); null for the mock. */
  provider_key_id: nullableText(),
  /** The upstream's HTTP status; 0 when no response came (connection error, timeout). */
  status: z.int().check(z.minimum(0), z.maximum(999)),
  /** null when the attempt answered the client; else why it did not (`upstream_error`, `upstream_timeout`, …). */
  error_type: nullableText(),
  latency_ms: millis(),
});
export type AuditAttempt = z.infer<typeof auditAttemptSchema>;

export const auditEventSchema = z.strictObject({
  id: z.uuid(),
  request_id: storableText(),
  started_at: timestamp(),
  finished_at: timestamp(),
  org_id: z.nullable(z.uuid()),
  key_id: nullableText(),
  provider: nullableText(),
  model: nullableText(),
  endpoint: storableText(),
  stream: z.boolean(),
  /** HTTP status sent to the client (499 = client aborted). */
  status: z.int().check(z.minimum(0), z.maximum(999)),
  /** null on success; a wire error type, `upstream_error`, or `client_aborted`. */
  error_type: nullableText(),
  input_tokens: count(),
  output_tokens: count(),
  cache_read_tokens: count(),
  cache_write_tokens: count(),
  latency_ms: millis(),
  ttfb_ms: z.nullable(millis()),
  // Added with routing (migration 0011). Optional so events queued by an older gateway still pass.
  /** Reasoning (thinking) tokens, part of output_tokens where the provider reports them. */
  reasoning_tokens: z.optional(count()),
  /** The route's name when the client called `route/<name>`; `provider`/`model` are then the final target's. */
  route: z.optional(nullableText()),
  /** Every upstream call, in order; the last one is the final target's. Empty when none was made. */
  attempts: z.optional(z.array(auditAttemptSchema).check(z.maxLength(MAX_ATTEMPTS))),
});

export type AuditEvent = z.infer<typeof auditEventSchema>;

/** The event's field names: what a quarantined raw event may keep (metadata, never content). */
export const AUDIT_EVENT_FIELDS = Object.keys(auditEventSchema.def.shape) as Array<keyof AuditEvent>;

export interface Usage {
  input_tokens: number | null;
  output_tokens: number | null;
  cache_read_tokens: number | null;
  cache_write_tokens: number | null;
  /** Optional: readers that know of none leave it out. */
  reasoning_tokens?: number | null;
}

export const emptyUsage = (): Usage => ({
  input_tokens: null,
  output_tokens: null,
  cache_read_tokens: null,
  cache_write_tokens: null,
});
