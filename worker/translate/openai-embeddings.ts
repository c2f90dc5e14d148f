/**
 * OpenAI `POST /v1/embeddings` as the Gemini and Bedrock embedding translators read and answer it.
 * Request: `{model, input: string | string[], dimensions?, encoding_format?: "float" | "base64", user?}`
 * (token-id inputs are OpenAI-tokenizer specific and refused). Response: `{object: "list", data:
 * [{object: "embedding", index, embedding}], model, usage: {prompt_tokens, total_tokens}}`; with
 * `encoding_format: "base64"` each embedding is the little-endian float32 array in base64, as
 * OpenAI sends it.
 */
import * as z from 'zod/mini';
import { invalidField } from '../../lib/errors';
import { unsupported } from './openai-chat-request';

const embeddingsRequestSchema = z.object({
  model: z.string(),
  input: z.union([z.string(), z.array(z.string()).check(z.minLength(1), z.maxLength(2048)), z.array(z.unknown())]),
  dimensions: z.optional(z.int().check(z.positive())),
  encoding_format: z.optional(z.enum(['float', 'base64'])),
  user: z.optional(z.string()),
});

export interface EmbeddingsRequest {
  inputs: string[];
  dimensions: number | null;
  base64: boolean;
}

export function parseEmbeddingsRequest(body: Record<string, unknown>, upstream: string): EmbeddingsRequest {
  for (const key of Object.keys(body)) if (!['model', 'input', 'dimensions', 'encoding_format', 'user'].includes(key)) throw unsupported(key, `${upstream} embeddings have no equivalent.`);
  const r = embeddingsRequestSchema.safeParse(body);
  if (!r.success) {
    const issue = r.error.issues[0]!;
    throw invalidField(issue.path, issue.message);
  }
  const input = r.data.input;
  if (Array.isArray(input) && !input.every((v) => typeof v === 'string')) throw unsupported('input', `${upstream} embeds text, not token ids.`);
  const inputs = typeof input === 'string' ? [input] : (input as string[]);
  if (inputs.some((s) => s === '')) throw invalidField(['input'], 'an input must not be empty');
  return { inputs, dimensions: r.data.dimensions ?? null, base64: r.data.encoding_format === 'base64' };
}

function toBase64(vector: readonly number[]): string {
  const bytes = new Uint8Array(new Float32Array(vector).buffer);
  let s = '';
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s);
}

export function embeddingsResponse(model: string, vectors: readonly (readonly number[])[], base64: boolean, promptTokens: number | null): Record<string, unknown> {
  return {
    object: 'list',
    data: vectors.map((v, index) => ({ object: 'embedding', index, embedding: base64 ? toBase64(v) : v })),
    model,
    // OpenAI's schema requires the counts; an upstream that reports none (Gemini) gives 0 here
    // and null in the audit event (the caller reads `promptTokens`).
    usage: { prompt_tokens: promptTokens ?? 0, total_tokens: promptTokens ?? 0 },
  };
}

export function isVector(v: unknown): v is number[] {
  return Array.isArray(v) && v.every((x) => typeof x === 'number' && Number.isFinite(x));
}
