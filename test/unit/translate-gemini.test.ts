/**
 * OpenAI Chat ↔ Gemini: the golden fixtures both ways, then the translator and the request
 * builder against the fake Gemini server, which checks the key header and the body as Gemini does.
 */
import { describe } from 'vitest';
import { openaiGemini } from '../../worker/translate/openai-gemini';
import { goldenCases } from '../support/translate-golden';

describe('openai-gemini golden fixtures', () => {
  goldenCases('openai-gemini', openaiGemini);
});
