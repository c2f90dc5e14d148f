/**
 * Bedrock error → OpenAI ErrorResponse. Bedrock (AWS restJson1) answers errors with a body
 * `{"message": "…"}` (some services spell it `Message`) and names the error in the
 * `x-amzn-ErrorType` header (worker/providers/bedrock `bedrockErrorType`). A rejected signature or
 * access key is 403 (`InvalidSignatureException`, `UnrecognizedClientException`,
 * `AccessDeniedException`): about the organisation's credentials, so no upstream text.
 */
import { openaiError } from '../openai-chat-response';
import type { ErrorTranslator } from '../types';

export const bedrockError: ErrorTranslator = (status, body) => {
  const b = typeof body === 'object' && body !== null ? (body as Record<string, unknown>) : {};
  const message = typeof b.message === 'string' ? b.message : typeof b.Message === 'string' ? b.Message : null;
  return openaiError(status, message, status === 401 || status === 403);
};
