/**
 * OpenAI Chat Completions client, Anthropic Messages upstream: the `openai` SDK calling
 * `anthropic/…` models. See README.md in this folder for the parameter table and stream rules.
 */
import type { Translation } from '../types';
import { error } from './error';
import { request } from './request';
import { response } from './response';
import { createStream } from './stream';

export const openaiAnthropic: Translation = { request, response, error, stream: createStream };
