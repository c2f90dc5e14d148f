/** OpenAI Chat Completions (the hub) ↔ Google Gemini generateContent / streamGenerateContent. */
import type { Translation } from '../types';
import { geminiError } from './error';
import { geminiRequest } from './request';
import { geminiResponse } from './response';
import { geminiStream } from './stream';

export const openaiGemini: Translation = {
  request: geminiRequest,
  response: geminiResponse,
  error: geminiError,
  stream: geminiStream,
};
