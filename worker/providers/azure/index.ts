/**
 * Azure OpenAI: OpenAI's wire formats behind a resource endpoint, addressed by deployment name.
 *
 *   POST {resource}/openai/deployments/{deployment}/chat/completions?api-version=…
 *   POST {resource}/openai/deployments/{deployment}/embeddings?api-version=…
 *   POST {resource}/openai/responses?api-version=…        (Responses API: the deployment is `model`)
 *
 * Authentication is the `api-key` header. The provider key's base URL is the resource endpoint
 * (`https://<resource>.openai.azure.com`, `/openai` optional) and may carry `?api-version=…`;
 * without it the defaults below apply. Clients name models `azure/<deployment>`.
 */
import { GatewayError } from '../../../lib/errors';
import { providerInfo } from '../../../lib/providers/catalog';
import type { ProviderAdapter, UpstreamCall } from '../types';

/** The latest generally available data-plane version for chat completions and embeddings. */
export const AZURE_DEFAULT_API_VERSION = '2024-10-21';
/** The Responses API exists only in preview versions so far. */
export const AZURE_DEFAULT_RESPONSES_API_VERSION = '2025-04-01-preview';

const API_VERSION = /^\d{4}-\d{2}-\d{2}(?:-preview)?$|^(?:preview|latest)$/;
/** Azure deployment names: letters, digits, '-', '_' and '.', at most 64. */
const DEPLOYMENT = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

export type AzureOperation = 'chat/completions' | 'embeddings' | 'responses';

/** The resource root (no `/openai`, no query) and the key's own api-version, if it names one. */
export function azureEndpoint(baseUrl: string): { root: string; apiVersion: string | null } {
  const url = new URL(baseUrl);
  const apiVersion = url.searchParams.get('api-version');
  if (apiVersion !== null && !API_VERSION.test(apiVersion)) {
    throw new GatewayError('upstream_unreachable', 'The provider for this model is misconfigured.', { reason: 'azure base URL: api-version is not a version' });
  }
  const path = url.pathname.replace(/\/+$/, '').replace(/\/openai$/, '');
  return { root: `${url.origin}${path}`, apiVersion };
}

export function azureUrl(baseUrl: string, deployment: string, operation: AzureOperation): string {
  const { root, apiVersion } = azureEndpoint(baseUrl);
  if (operation === 'responses') {
    return `${root}/openai/responses?api-version=${encodeURIComponent(apiVersion ?? AZURE_DEFAULT_RESPONSES_API_VERSION)}`;
  }
  if (!DEPLOYMENT.test(deployment)) {
    throw new GatewayError('invalid_request', `Invalid request: '${deployment.slice(0, 100)}' is not an Azure deployment name.`, { param: 'model' });
  }
  return `${root}/openai/deployments/${deployment}/${operation}?api-version=${encodeURIComponent(apiVersion ?? AZURE_DEFAULT_API_VERSION)}`;
}

export function azureCall(baseUrl: string, apiKey: string | null, deployment: string, operation: AzureOperation, body: Record<string, unknown>): UpstreamCall {
  const headers = new Headers({ 'content-type': 'application/json', 'api-key': apiKey ?? '' });
  return { url: azureUrl(baseUrl, deployment, operation), headers, body: JSON.stringify(body) };
}

export const azureProvider: ProviderAdapter = {
  info: providerInfo('azure')!,
  clientHeaders: {},
  framing: 'sse',
  buildRequest({ body, apiKey, baseUrl }) {
    // The deployment is in the URL; Azure ignores a body `model`, so it stays as OpenAI sends it.
    return azureCall(baseUrl, apiKey, String(body.model), 'chat/completions', body);
  },
};
