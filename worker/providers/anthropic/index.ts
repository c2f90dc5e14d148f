/** Anthropic Messages API. */
import type { ProviderAdapter } from '../types';

/** The API version sent when the client names none (Anthropic requires the header). */
const DEFAULT_VERSION = '2023-06-01';

export const anthropicProvider: ProviderAdapter = {
  name: 'anthropic',
  endpoints: ['messages'],
  requiresKey: true,
  // Like the official SDK, the base URL excludes /v1.
  defaultBaseUrl: 'https://api.anthropic.com',
  knownModels: ['claude-sonnet-4-5', 'claude-haiku-4-5', 'claude-opus-4-1'],
  buildRequest({ body, apiKey, baseUrl, clientHeaders }) {
    const headers = new Headers({
      'content-type': 'application/json',
      'x-api-key': apiKey ?? '',
      'anthropic-version': clientHeaders.get('anthropic-version') ?? DEFAULT_VERSION,
    });
    const beta = clientHeaders.get('anthropic-beta');
    if (beta) headers.set('anthropic-beta', beta);
    return { url: `${baseUrl.replace(/\/+$/, '')}/v1/messages`, headers, body: JSON.stringify(body) };
  },
};
