/**
 * OpenAI embeddings ↔ Bedrock InvokeModel (`/model/{modelId}/invoke`) for the embedding models
 * Bedrock hosts; their bodies differ by family:
 *   Amazon Titan Text Embeddings (`amazon.titan-embed-text-…`): one input per call,
 *     `{inputText, dimensions?}` → `{embedding: [...], inputTextTokenCount}`;
 *   Cohere Embed (`cohere.embed-…`): up to 96 inputs per call,
 *     `{texts: [...], input_type: "search_document"}` → `{embeddings: [[...]], …}` (no token count).
 * `bedrockEmbeddingsRequests` returns the bodies to invoke, in order; the pipeline sends each
 * (signed like Converse) and hands the answers, in the same order, to `bedrockEmbeddingsResponse`.
 */
import { GatewayError } from '../../../lib/errors';
import { unsupported } from '../openai-chat-request';
import { embeddingsResponse, isVector, parseEmbeddingsRequest } from '../openai-embeddings';
import type { TranslateContext } from '../types';

type Family = 'titan' | 'cohere';

/** Inference profile prefixes (`us.`, `eu.`, `apac.`, `global.`) come before the provider name. */
function family(modelId: string): Family | null {
  const id = modelId.replace(/^(?:us|eu|apac|global|us-gov)\./, '');
  if (id.startsWith('amazon.titan-embed-text')) return 'titan';
  if (id.startsWith('cohere.embed-')) return 'cohere';
  return null;
}

const COHERE_BATCH = 96;

export function bedrockEmbeddingsRequests(body: Record<string, unknown>, ctx: TranslateContext): Record<string, unknown>[] {
  const req = parseEmbeddingsRequest(body, 'Bedrock');
  const fam = family(ctx.upstreamModel);
  if (fam === null) throw unsupported('model', 'Bedrock embeddings are served for Amazon Titan Text Embeddings and Cohere Embed models.');
  if (fam === 'titan') return req.inputs.map((inputText) => ({ inputText, ...(req.dimensions !== null ? { dimensions: req.dimensions } : {}) }));
  if (req.dimensions !== null) throw unsupported('dimensions', 'Cohere Embed on Bedrock has fixed dimensions.');
  const bodies: Record<string, unknown>[] = [];
  for (let i = 0; i < req.inputs.length; i += COHERE_BATCH) bodies.push({ texts: req.inputs.slice(i, i + COHERE_BATCH), input_type: 'search_document' });
  return bodies;
}

export function bedrockEmbeddingsResponse(answers: readonly Record<string, unknown>[], clientBody: Record<string, unknown>, ctx: TranslateContext): Record<string, unknown> {
  const vectors: number[][] = [];
  let tokens: number | null = 0;
  for (const a of answers) {
    if (isVector(a.embedding)) {
      vectors.push(a.embedding);
      tokens = tokens !== null && typeof a.inputTextTokenCount === 'number' ? tokens + a.inputTextTokenCount : null;
    } else if (Array.isArray(a.embeddings) && a.embeddings.every(isVector)) {
      vectors.push(...(a.embeddings as number[][]));
      tokens = null;
    } else {
      throw new GatewayError('upstream_unreachable', 'The upstream provider returned a response the gateway could not read.', { reason: 'bedrock embeddings: no embedding vector' });
    }
  }
  return embeddingsResponse(ctx.clientModel, vectors, clientBody.encoding_format === 'base64', tokens);
}
