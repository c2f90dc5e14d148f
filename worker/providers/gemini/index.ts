/**
 * Google Gemini API (generativelanguage.googleapis.com): the upstream request for a model, as
 * standalone functions the pipeline's Gemini adapter calls. The body comes from the translator
 * (worker/translate/openai-gemini). Authentication is the `x-goog-api-key` header, never a
 * `?key=` query parameter (a URL ends up in logs; a header does not).
 *
 *   POST {base}/models/{model}:generateContent
 *   POST {base}/models/{model}:streamGenerateContent?alt=sse   (SSE: `data: <GenerateContentResponse>`)
 *   POST {base}/models/{model}:batchEmbedContents               (embeddings, worker/providers/gemini/embeddings.ts)
 */
import { GatewayError } from '../../../lib/errors';
import type { UpstreamCall } from '../types';

/** Like Google's SDKs, the base URL includes the API version. */
export const GEMINI_DEFAULT_BASE_URL = 'https://generativelanguage.googleapis.com/v1beta';

export type GeminiAction = 'generateContent' | 'streamGenerateContent' | 'batchEmbedContents';

/** Gemini model ids: `gemini-2.5-flash`, `gemini-embedding-001`, tuned `tunedModels/…` excluded. */
const MODEL_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

/** The model id as the URL names it; `models/` (how Gemini lists its models) is accepted too. */
export function geminiModelId(model: string): string {
  const id = model.startsWith('models/') ? model.slice('models/'.length) : model;
  if (!MODEL_ID.test(id)) throw new GatewayError('invalid_request', `Invalid request: '${model.slice(0, 100)}' is not a Gemini model id.`, { param: 'model' });
  return id;
}

export function geminiUrl(baseUrl: string, model: string, action: GeminiAction): string {
  const query = action === 'streamGenerateContent' ? '?alt=sse' : '';
  return `${baseUrl.replace(/\/+$/, '')}/models/${geminiModelId(model)}:${action}${query}`;
}

export interface GeminiCallArgs {
  baseUrl: string;
  /** The upstream model name (without the `gemini/` prefix). */
  model: string;
  apiKey: string;
  /** The translated body (GenerateContentRequest or BatchEmbedContentsRequest). */
  body: Record<string, unknown>;
  action: GeminiAction;
}

export function buildGeminiCall({ baseUrl, model, apiKey, body, action }: GeminiCallArgs): UpstreamCall {
  const headers = new Headers({ 'content-type': 'application/json', 'x-goog-api-key': apiKey });
  return { url: geminiUrl(baseUrl, model, action), headers, body: JSON.stringify(body) };
}

/** What the pipeline's adapter receives (worker/providers/types.ts BuildRequestArgs, the parts used here). */
export interface GeminiAdapterArgs {
  /** The translated body with `model` set to the upstream model name (moved into the URL here). */
  body: Record<string, unknown>;
  stream: boolean;
  apiKey: string | null;
  baseUrl: string | null;
  /** Embeddings: `batchEmbedContents`; otherwise chosen by `stream`. */
  action?: GeminiAction;
}

/**
 * The adapter's `buildRequest`: Gemini names the model in the URL and refuses a `model` field in
 * the body ("Unknown name"), so it is taken out here.
 */
export function geminiBuildRequest({ body, stream, apiKey, baseUrl, action }: GeminiAdapterArgs): UpstreamCall {
  const { model, ...rest } = body;
  if (typeof model !== 'string') throw new GatewayError('internal', 'The server had an error while processing your request.', { reason: 'gemini buildRequest: body.model missing' });
  if (!apiKey) throw new GatewayError('unavailable', 'The provider key for this model cannot be used right now.', { reason: 'gemini: no API key' });
  return buildGeminiCall({ baseUrl: baseUrl ?? GEMINI_DEFAULT_BASE_URL, model, apiKey, body: rest, action: action ?? (stream ? 'streamGenerateContent' : 'generateContent') });
}
