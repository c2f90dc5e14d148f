/**
 * OpenAI Chat ↔ Bedrock Converse: the golden fixtures both ways, then the translator, the SigV4
 * request builder and the event-stream decoder against the fake Bedrock server, which verifies the
 * signature and speaks the binary event-stream.
 */
import { describe } from 'vitest';
import { openaiBedrock } from '../../worker/translate/openai-bedrock';
import { goldenCases } from '../support/translate-golden';

describe('openai-bedrock golden fixtures', () => {
  goldenCases('openai-bedrock', openaiBedrock);
});
