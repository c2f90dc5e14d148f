/**
 * OpenAI error body `{error: {message, type, param, code}}` (or anything else an upstream sends)
 * → Anthropic's `{type: "error", error: {type, message}}`, keeping the status. Anthropic's error
 * type follows the status as its API documents (https://docs.anthropic.com/en/api/errors).
 */
import { errorMessage } from '../support';
import type { ErrorTranslator } from '../types';

export function anthropicErrorType(status: number): string {
  switch (status) {
    case 400:
      return 'invalid_request_error';
    case 401:
      return 'authentication_error';
    case 403:
      return 'permission_error';
    case 404:
      return 'not_found_error';
    case 413:
      return 'request_too_large';
    case 429:
      return 'rate_limit_error';
    case 503:
    case 529:
      return 'overloaded_error';
    default:
      return status >= 500 ? 'api_error' : 'invalid_request_error';
  }
}

function openaiMessage(body: unknown): unknown {
  if (!body || typeof body !== 'object') return undefined;
  const err = (body as { error?: unknown }).error;
  if (typeof err === 'string') return err;
  return err && typeof err === 'object' ? (err as { message?: unknown }).message : undefined;
}

export function anthropicErrorBody(status: number, body: unknown): Record<string, unknown> {
  const message = errorMessage(openaiMessage(body), `The upstream provider answered with status ${status}.`);
  return { type: 'error', error: { type: anthropicErrorType(status), message } };
}

export const error: ErrorTranslator = (status, body) => anthropicErrorBody(status, body);
