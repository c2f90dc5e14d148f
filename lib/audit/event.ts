/**
 * The metadata event the gateway sends to the audit Queue for every data-plane request. Strict:
 * a field that is not listed here is rejected by the consumer, so content cannot ride along.
 */
import { z } from 'zod';

export const auditEventSchema = z
  .object({
    id: z.string().uuid(),
    request_id: z.string(),
    started_at: z.string().datetime(),
    finished_at: z.string().datetime(),
    org_id: z.string().nullable(),
    key_id: z.string().nullable(),
    provider: z.string().nullable(),
    model: z.string().nullable(),
    endpoint: z.string(),
    stream: z.boolean(),
    status: z.number().int(),
    /** null on success; a wire error type, `upstream_error`, or `client_aborted`. */
    error_type: z.string().nullable(),
    input_tokens: z.number().int().nonnegative().nullable(),
    output_tokens: z.number().int().nonnegative().nullable(),
    cache_read_tokens: z.number().int().nonnegative().nullable(),
    cache_write_tokens: z.number().int().nonnegative().nullable(),
    latency_ms: z.number().nonnegative(),
    ttfb_ms: z.number().nonnegative().nullable(),
  })
  .strict();

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
