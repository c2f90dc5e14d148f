/**
 * The limits step every data-plane endpoint takes (DESIGN §8): chat, messages, embeddings and
 * responses reserve the same way, after authorization and before any upstream call, and settle
 * with the request's one outcome (AuditRecorder.whenFinished: complete, error, timeout or client
 * abort; an answered request whose usage never arrived is charged the reservation's estimate).
 * A key without limits returns at once without touching a Durable Object.
 */
import type { VirtualKeyRecord } from '../../lib/kv/records';
import type { AuditRecorder } from '../audit';
import type { Env } from '../env';
import { reserveLimits } from '../limits';

export interface LimitsStep {
  /** Adds the limit headers to a successful answer (no-op for keys without limits). */
  decorate(res: Response): Response;
}

export async function reserveForRequest(
  env: Env,
  waitUntil: (p: Promise<unknown>) => void,
  req: { key: VirtualKeyRecord; requestId: string; audit: AuditRecorder; body: object; models: string[] },
): Promise<LimitsStep> {
  const limits = await reserveLimits(env, {
    subjects: req.key.limits ?? [],
    keyId: req.key.id,
    requestId: req.requestId,
    body: req.body,
    models: req.models,
  });
  if (!limits) return { decorate: (res) => res };
  req.audit.whenFinished((_status, usage) => waitUntil(limits.settle(usage, req.audit.model, req.audit.upstreamAnswered)));
  return {
    decorate(res) {
      for (const [name, value] of Object.entries(limits.headers())) res.headers.set(name, value);
      return res;
    },
  };
}
