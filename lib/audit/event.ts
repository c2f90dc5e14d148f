/**
 * The metadata event the gateway sends to the audit Queue for every data-plane request. Strict:
 * a field that is not listed here is rejected by the consumer, so content cannot ride along.
 */
import * as z from 'zod/mini';

const count = () => z.nullable(z.int().check(z.nonnegative()));
const nullableText = () => z.nullable(z.string());

export const auditEventSchema = z.strictObject({
  id: z.uuid(),
  request_id: z.string(),
  started_at: z.iso.datetime(),
  finished_at: z.iso.datetime(),
  org_id: nullableText(),
  key_id: nullableText(),
  provider: nullableText(),
  model: nullableText(),
  endpoint: z.string(),
  stream: z.boolean(),
  status: z.int(),
  /** null on success; a wire error type, `upstream_error`, or `client_aborted`. */
  error_type: nullableText(),
  input_tokens: count(),
  output_tokens: count(),
  cache_read_tokens: count(),
  cache_write_tokens: count(),
  latency_ms: z.number().check(z.nonnegative()),
  ttfb_ms: z.nullable(z.number().check(z.nonnegative())),
});

export type AuditEvent = z.infer<typeof auditEventSchema>;

export interface Usage {
  input_tokens: number | null;
  output_tokens: number | null;
  cache_read_tokens: number | null;
  cache_write_tokens: number | null;
}

export const emptyUsage = (): Usage => ({
  input_tokens: null,
  output_tokens: null,
  cache_read_tokens: null,
  cache_write_tokens: null,
});
