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

/**
 * The members whose values the gateway acts on (policy, response path, metering). A provider whose
 * JSON binding matches names case-insensitively — Go's encoding/json, behind Ollama's
 * OpenAI-compatible API — would read `"Model"` or `"ſtream"` as the field the gateway read under
 * its exact name, and the last one written wins there: another model than the one authorized, a
 * stream the gateway does not tap, more output than was reserved. A variant spelling of one of
 * these names is refused; any other member passes as sent.
 */
const ACTED_ON = new Set(['model', 'messages', 'stream', 'stream_options', 'max_tokens', 'max_completion_tokens', 'max_output_tokens', 'n']);
const ACTED_ON_IN_STREAM_OPTIONS = new Set(['include_usage']);

/** Go's simple case folding for these names: lower case, with ſ (U+017F) as s and K (U+212A) as k. */
function folded(name: string): string {
  return name.replace(/\u017f/g, 's').replace(/\u212a/g, 'k').toLowerCase();
}

function refuseVariantSpellings(obj: Record<string, unknown>, names: ReadonlySet<string>, path: string[] = []): void {
  for (const key in obj) {
    if (names.has(key) || !Object.hasOwn(obj, key)) continue;
    const f = folded(key);
    if (names.has(f)) throw invalidField([...path, key], `unknown member: did you mean '${f}'? Member names are case-sensitive, and a second spelling of '${f}' is refused.`);
  }
}

/**
 * Refuses a variant spelling of a member the gateway acts on, at the top level (and in
 * `stream_options`); `extra`: an endpoint's own such members (embeddings' `input`, …).
 */
export function checkMemberSpellings(json: Record<string, unknown>, extra: readonly string[] = []): void {
  refuseVariantSpellings(json, extra.length ? new Set([...ACTED_ON, ...extra]) : ACTED_ON);
  const so = json.stream_options;
  if (so && typeof so === 'object' && !Array.isArray(so)) refuseVariantSpellings(so as Record<string, unknown>, ACTED_ON_IN_STREAM_OPTIONS, ['stream_options']);
}

export async function parseRequest(endpoint: Endpoint, request: Request, maxBodyBytes: number): Promise<ParsedRequest> {
  const raw = await readBodyText(request, maxBodyBytes);
  const json = parseJsonBody(raw);
  checkMemberSpellings(json);
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
