/**
 * Helpers every translator shares: parsing a body with a zod/mini schema into a 400 that names the
 * field, refusing a parameter the upstream cannot honour, and the OpenAI `[DONE]` marker.
 */
import type * as z from 'zod/mini';
import { GatewayError, invalidField } from '../../lib/errors';
import { redactSecret } from '../redact';
import type { WireEvent } from './types';

interface Issue {
  code: string;
  path: PropertyKey[];
  message: string;
  errors?: Issue[][];
}

/**
 * The most precise account of a problem. A union (`string | block[]`) that fails reports only
 * itself; when exactly one of its options got past the type check (the value is an array), that
 * option's own first problem names the field that is wrong (`messages.0.content.1.type`).
 */
function preciseIssue(issue: Issue): { path: PropertyKey[]; message: string } {
  if (issue.code === 'invalid_union' && issue.errors) {
    const reached = issue.errors.filter((errs) => errs.length > 0 && !(errs.length === 1 && errs[0]!.code === 'invalid_type' && errs[0]!.path.length === 0));
    if (reached.length === 1) {
      const inner = preciseIssue(reached[0]![0]!);
      return { path: [...issue.path, ...inner.path], message: inner.message };
    }
  }
  return issue;
}

/** Parses a client body: the first problem becomes a 400 naming the field (`param`). */
export function parseClient<T extends z.ZodMiniType>(schema: T, body: unknown): z.infer<T> {
  const result = schema.safeParse(body);
  if (!result.success) {
    const issue = preciseIssue(result.error.issues[0] as Issue);
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

/**
 * Error message text from an upstream, as a bounded string (never an object dump), with anything
 * key-shaped removed (OpenAI's 401 names a masked key). Translators never see the provider key, so
 * the pipeline still redacts the key's own fragments (`redactSecret` with the key) on what it sends.
 */
export function errorMessage(v: unknown, fallback: string): string {
  return typeof v === 'string' && v.length > 0 ? redactSecret(v.slice(0, 2000), null) : fallback;
}
