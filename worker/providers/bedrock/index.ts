/**
 * Amazon Bedrock Runtime, Converse API: the signed upstream request for a model, as standalone
 * functions the pipeline's Bedrock adapter calls. The body comes from the translator
 * (worker/translate/openai-bedrock); the answer of ConverseStream is AWS event-stream framing
 * (./eventstream.ts).
 *
 *   POST https://bedrock-runtime.{region}.amazonaws.com/model/{modelId}/converse
 *   POST https://bedrock-runtime.{region}.amazonaws.com/model/{modelId}/converse-stream
 *   POST https://bedrock-runtime.{region}.amazonaws.com/model/{modelId}/invoke   (embeddings)
 *
 * Every request is signed with AWS Signature Version 4 (service `bedrock`) by aws4fetch, over the
 * exact body sent. A provider key's own base URL (a VPC endpoint, or a local fake in tests)
 * replaces the regional host; the region still comes from the credentials.
 */
import { AwsV4Signer } from 'aws4fetch';
import { GatewayError } from '../../../lib/errors';
import type { UpstreamCall } from '../types';
import { parseBedrockCredentials } from '../../../lib/providers/bedrock-credentials';

export type BedrockAction = 'converse' | 'converse-stream' | 'invoke';

/** SigV4 service name of Bedrock Runtime. */
const SERVICE = 'bedrock';

/**
 * The regional endpoint. A catalog entry can name it as this template; `{region}` is filled from
 * the credentials (a static default URL cannot know the region).
 */
export const BEDROCK_BASE_URL_TEMPLATE = 'https://bedrock-runtime.{region}.amazonaws.com';

export function bedrockDefaultBaseUrl(region: string): string {
  return BEDROCK_BASE_URL_TEMPLATE.replace('{region}', region);
}

/**
 * Model ids, inference profile ids and ARNs: `anthropic.claude-sonnet-4-5-20250929-v1:0`,
 * `us.anthropic.claude-…`, `arn:aws:bedrock:us-east-1:123456789012:inference-profile/…`.
 */
const MODEL_ID = /^[A-Za-z0-9][A-Za-z0-9._:/-]{0,2047}$/;

export function bedrockUrl(baseUrl: string, modelId: string, action: BedrockAction): string {
  if (!MODEL_ID.test(modelId)) throw new GatewayError('invalid_request', `Invalid request: '${modelId.slice(0, 100)}' is not a Bedrock model id.`, { param: 'model' });
  // The model id is one path segment: ':' and '/' (in ARNs) are percent-encoded.
  return `${baseUrl.replace(/\/+$/, '')}/model/${encodeURIComponent(modelId)}/${action}`;
}

export interface BedrockCallArgs {
  /** The provider key's base URL, or null for the regional endpoint of the credentials' region. */
  baseUrl: string | null;
  /** The upstream model id (without the `bedrock/` prefix). */
  model: string;
  /** The decrypted provider-key secret: the JSON credentials (./credentials.ts). */
  secret: string;
  body: Record<string, unknown>;
  action: BedrockAction;
  /** For tests: the signing time (aws4fetch takes `YYYYMMDDTHHMMSSZ`); the clock otherwise. */
  datetime?: string;
}

export async function buildBedrockCall({ baseUrl, model, secret, body, action, datetime }: BedrockCallArgs): Promise<UpstreamCall> {
  const creds = parseBedrockCredentials(secret);
  const base = baseUrl === null || baseUrl === BEDROCK_BASE_URL_TEMPLATE ? bedrockDefaultBaseUrl(creds.region) : baseUrl;
  const url = bedrockUrl(base, model, action);
  const text = JSON.stringify(body);
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (action === 'converse-stream') headers.accept = 'application/vnd.amazon.eventstream';
  else headers.accept = 'application/json';
  const signer = new AwsV4Signer({
    method: 'POST',
    url,
    headers,
    body: text,
    accessKeyId: creds.access_key_id,
    secretAccessKey: creds.secret_access_key,
    ...(creds.session_token ? { sessionToken: creds.session_token } : {}),
    service: SERVICE,
    region: creds.region,
    ...(datetime ? { datetime } : {}),
  });
  const signed = await signer.sign();
  return { url: signed.url.toString(), headers: signed.headers, body: text };
}

/**
 * The AWS error name of an error response: `x-amzn-ErrorType` is `Name` or `Name:namespace-uri`
 * (e.g. `ValidationException:http://internal.amazon.com/coral/com.amazon.bedrock/`).
 */
export function bedrockErrorType(headers: Headers): string | null {
  const raw = headers.get('x-amzn-errortype');
  if (!raw) return null;
  const name = raw.split(':')[0]!.trim();
  return /^[A-Za-z]{1,64}$/.test(name) ? name : null;
}

/** What the pipeline's adapter receives (worker/providers/types.ts BuildRequestArgs, the parts used here). */
export interface BedrockAdapterArgs {
  /** The translated body with `model` set to the upstream model id (moved into the URL here). */
  body: Record<string, unknown>;
  stream: boolean;
  /** The decrypted provider-key secret: the JSON credentials. */
  apiKey: string | null;
  /** The provider key's base URL, `BEDROCK_BASE_URL_TEMPLATE` or null: the regional endpoint. */
  baseUrl: string | null;
  /** Embeddings: `invoke`; otherwise chosen by `stream`. */
  action?: BedrockAction;
}

/**
 * The adapter's `buildRequest` (async: the signature is computed over the final body). Converse
 * refuses unknown body fields, so `model` is taken out of the body and put in the URL.
 */
export function bedrockBuildRequest({ body, stream, apiKey, baseUrl, action }: BedrockAdapterArgs): Promise<UpstreamCall> {
  const { model, ...rest } = body;
  if (typeof model !== 'string') throw new GatewayError('internal', 'The server had an error while processing your request.', { reason: 'bedrock buildRequest: body.model missing' });
  if (!apiKey) throw new GatewayError('unavailable', 'The provider key for this model cannot be used right now.', { reason: 'bedrock: no credentials' });
  return buildBedrockCall({ baseUrl, model, secret: apiKey, body: rest, action: action ?? (stream ? 'converse-stream' : 'converse') });
}
