/**
 * Stage 1, parse: the body in the client's wire format, validated by its zod schema. The rest of
 * the pipeline uses the parse result's type (`ParsedRequest`), never the raw JSON through casts.
 */
import type * as z from 'zod/mini';
import { invalidField } from '../../lib/errors';
import { modelNameProblem } from '../../lib/models';
import { parseJsonBody, readBodyText } from '../body';
import { messagesRequestSchema } from '../formats/anthropic-messages';
import { chatCompletionRequestSchema } from '../formats/openai-chat';
import type { Endpoint } from '../formats/types';
import type { ParsedRequest } from './types';

function validated<S extends z.ZodMiniType>(schema: S, body: Record<string, unknown>): z.infer<S> {
  const result = schema.safeParse(body);
  if (!result.success) {
    const issue = result.error.issues[0]!;
    throw invalidField(issue.path, issue.message);
  }
  return result.data;
}

export async function parseRequest(endpoint: Endpoint, request: Request, maxBodyBytes: number): Promise<ParsedRequest> {
  const raw = await readBodyText(request, maxBodyBytes);
  const json = parseJsonBody(raw);
  if (endpoint === 'messages') {
    const body = validated(messagesRequestSchema, json);
    return { endpoint, format: 'anthropic', body, model: body.model, stream: body.stream === true, raw, json };
  }
  const body = validated(chatCompletionRequestSchema, json);
  return { endpoint, format: 'openai', body, model: body.model, stream: body.stream === true, raw, json };
}

/** The model name's own problems (length, unprintable characters), before any lookup. */
export function checkModelName(model: string): void {
  const problem = modelNameProblem(model);
  if (problem) throw invalidField(['model'], problem);
}
