/**
 * Helpers every translator shares: parsing a body with a zod/mini schema into a 400 that names the
 * field, refusing a parameter the upstream cannot honour, and the OpenAI `[DONE]` marker.
 */
import type * as z from 'zod/mini';
import { GatewayError, invalidField } from '../../lib/errors';
import type { WireEvent } from './types';

/** Parses a client body: the first problem becomes a 400 naming the field (`param`). */
export function parseClient<T extends z.ZodMiniType>(schema: T, body: unknown): z.infer<T> {
  const result = schema.safeParse(body);
  if (!result.success) {
    const issue = result.error.issues[0]!;
    throw invalidField(issue.path, issue.message);
  }
  return result.data as z.infer<T>;
}

/**
 * Parses an upstream body: a shape the provider's documentation does not allow is the upstream's
 * fault (502), and the wire message says nothing of what it held.
 */
export function parseUpstream<T extends z.ZodMiniType>(schema: T, body: unknown, what: string): z.infer<T> {
  const result = schema.safeParse(body);
  if (!result.success) {
    const issue = result.error.issues[0]!;
    throw upstreamMalformed(`${what}: ${issue.path.map(String).join('.')}: ${issue.message}`);
  }
  return result.data as z.infer<T>;
}

export function upstreamMalformed(reason: string): GatewayError {
  return new GatewayError('upstream_unreachable', 'The upstream provider returned a response the gateway could not read.', { reason });
}

/** A parameter the upstream has no way to honour: a 400 naming it, never a silent drop. */
export function unsupported(param: string, why: string): GatewayError {
  return new GatewayError('invalid_request', `Unsupported parameter '${param}': ${why}`, { param });
}

/**
 * OpenAI's end-of-stream line `data: [DONE]` is not JSON, so it has its own `WireEvent`: the SSE
 * decoder hands it to a translator as `{ event: '[DONE]', data: {} }`, and an encoder writing this
 * event writes the line `data: [DONE]` (never `event: [DONE]`).
 */
export const DONE_EVENT_NAME = '[DONE]';
export const doneEvent = (): WireEvent => ({ event: DONE_EVENT_NAME, data: {} });
export const isDone = (ev: WireEvent): boolean => ev.event === DONE_EVENT_NAME;

/** Error message text from an upstream, as a bounded string (never an object dump). */
export function errorMessage(v: unknown, fallback: string): string {
  return typeof v === 'string' && v.length > 0 ? v.slice(0, 2000) : fallback;
}
