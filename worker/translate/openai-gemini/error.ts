/**
 * Gemini error → OpenAI ErrorResponse. Gemini answers errors as Google's API error model:
 * `{"error": {"code": 400, "message": "…", "status": "INVALID_ARGUMENT", "details": [...]}}`.
 * A bad API key is HTTP 400 with an `ErrorInfo` detail whose reason is `API_KEY_INVALID`; a
 * missing one 403 `PERMISSION_DENIED`: both are about the organisation's key, so no upstream text.
 */
import { openaiError } from '../openai-chat-response';
import type { ErrorTranslator } from '../types';

function keyRejected(status: number, error: Record<string, unknown>): boolean {
  if (status === 401 || status === 403) return true;
  const details = Array.isArray(error.details) ? (error.details as unknown[]) : [];
  return details.some((d) => typeof d === 'object' && d !== null && (d as Record<string, unknown>).reason === 'API_KEY_INVALID');
}

export const geminiError: ErrorTranslator = (status, body) => {
  const error = typeof body === 'object' && body !== null && typeof (body as Record<string, unknown>).error === 'object' ? ((body as Record<string, unknown>).error as Record<string, unknown> | null) : null;
  if (!error) return openaiError(status, null, status === 401 || status === 403);
  const message = typeof error.message === 'string' ? error.message : null;
  return openaiError(status, message, keyRejected(status, error));
};
