/**
 * Anthropic Messages client, OpenAI Chat Completions upstream: `@anthropic-ai/sdk` (and Claude
 * Code) calling `openai/…` and other OpenAI-format models. See README.md in this folder.
 */
import type { Translation } from '../types';
import { error } from './error';
import { request } from './request';
import { response } from './response';
import { createStream } from './stream';

export const anthropicOpenai: Translation = { request, response, error, stream: createStream };
