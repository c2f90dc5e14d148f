/**
 * Anthropic error body `{type: "error", error: {type, message}}` → OpenAI's
 * `{error: {message, type, param, code}}` (all four present, param and code nullable). The
 * status stays; OpenAI's `type` follows the status the way the gateway's own errors do
 * (lib/errors.ts), and `code` keeps Anthropic's type (e.g. `overloaded_error`) for a client that
 * wants to tell cases apart.
 */
import { errorTypeLabel } from '../../formats/sse';
import { errorMessage } from '../support';
import type { ErrorTranslator } from '../types';

export function openaiErrorType(status: number): string {
  if (status === 429) return 'rate_limit_error';
  if (status >= 500) return 'api_error';
  return 'invalid_request_error';
}

function anthropicError(body: unknown): { type: string | null; message: unknown } {
  if (!body || typeof body !== 'object') return { type: null, message: undefined };
  const err = (body as { error?: unknown }).error;
  if (!err || typeof err !== 'object') return { type: null, message: undefined };
  const { type, message } = err as { type?: unknown; message?: unknown };
  return { type: type === undefined ? null : errorTypeLabel(type), message };
}

export function openaiErrorBody(status: number, body: unknown): Record<string, unknown> {
  const { type, message } = anthropicError(body);
  return {
    error: {
      message: errorMessage(message, `The upstream provider answered with status ${status}.`),
      type: openaiErrorType(status),
      param: null,
      code: type,
    },
  };
}

export const error: ErrorTranslator = (status, body) => openaiErrorBody(status, body);
