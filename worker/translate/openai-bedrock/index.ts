/** OpenAI Chat Completions (the hub) ↔ Amazon Bedrock Converse / ConverseStream. */
import type { Translation } from '../types';
import { bedrockError } from './error';
import { bedrockRequest } from './request';
import { bedrockResponse } from './response';
import { bedrockStream } from './stream';

export const openaiBedrock: Translation = {
  request: bedrockRequest,
  response: bedrockResponse,
  error: bedrockError,
  stream: bedrockStream,
};
