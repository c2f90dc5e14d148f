/**
 * OpenAI embeddings ↔ Gemini `models/{model}:batchEmbedContents` (one call for any number of
 * inputs). Request: `{requests: [{model: "models/{model}", content: {parts: [{text}]},
 * outputDimensionality?}]}`; response: `{embeddings: [{values: [...]}]}`, in input order. Gemini
 * reports no token counts for embeddings.
 */
import { GatewayError } from '../../../lib/errors';
import { embeddingsResponse, isVector, parseEmbeddingsRequest } from '../openai-embeddings';
import type { TranslateContext } from '../types';

export function geminiEmbeddingsRequest(body: Record<string, unknown>, ctx: TranslateContext): Record<string, unknown> {
  const req = parseEmbeddingsRequest(body, 'Gemini');
  return {
    requests: req.inputs.map((text) => ({
      model: `models/${ctx.upstreamModel}`,
      content: { parts: [{ text }] },
      ...(req.dimensions !== null ? { outputDimensionality: req.dimensions } : {}),
    })),
  };
}

export function geminiEmbeddingsResponse(json: Record<string, unknown>, clientBody: Record<string, unknown>, ctx: TranslateContext): Record<string, unknown> {
  const list = json.embeddings;
  const vectors = Array.isArray(list) ? list.map((e) => (typeof e === 'object' && e !== null ? (e as Record<string, unknown>).values : undefined)) : [];
  if (vectors.length === 0 || !vectors.every(isVector)) {
    throw new GatewayError('upstream_unreachable', 'The upstream provider returned a response the gateway could not read.', { reason: 'gemini embeddings: no embeddings[].values' });
  }
  return embeddingsResponse(ctx.clientModel, vectors, clientBody.encoding_format === 'base64', null);
}
