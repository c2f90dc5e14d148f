/** Anthropic Messages API. */
import { providerInfo } from '../../../lib/providers/catalog';
import { allowedClientHeaders } from '../headers';
import type { ProviderAdapter } from '../types';

/** The API version sent when the client names none (Anthropic requires the header). */
const DEFAULT_VERSION = '2023-06-01';

export const anthropicProvider: ProviderAdapter = {
  info: providerInfo('anthropic')!,
  framing: 'sse',
  // The API version (a date) and opt-in beta features (comma-separated names, e.g.
  // "prompt-caching-2024-07-31") shape the call; the official SDK sends both.
  clientHeaders: {
    'anthropic-version': /^\d{4}-\d{2}-\d{2}$/,
    // eslint-disable-next-line security/detect-unsafe-regex -- bounded repetitions of a fixed character class separated by a comma: linear, no ambiguous nesting
    'anthropic-beta': /^[a-z0-9-]{1,64}(?:\s*,\s*[a-z0-9-]{1,64}){0,19}$/,
  },
  buildRequest({ body, bodyText, apiKey, baseUrl, clientHeaders }) {
    const headers = new Headers({ 'content-type': 'application/json', 'x-api-key': apiKey ?? '', 'anthropic-version': DEFAULT_VERSION });
    for (const [name, value] of allowedClientHeaders(clientHeaders, anthropicProvider.clientHeaders)) headers.set(name, value);
    return { url: `${baseUrl.replace(/\/+$/, '')}/v1/messages`, headers, body: bodyText ?? JSON.stringify(body) };
  },
  // GET /v1/models?limit=1 (API reference "List Models"): authenticated, free.
  probe: ({ apiKey, baseUrl }) => ({
    method: 'GET',
    url: `${baseUrl.replace(/\/+$/, '')}/v1/models?limit=1`,
    headers: new Headers({ 'x-api-key': apiKey ?? '', 'anthropic-version': DEFAULT_VERSION }),
    body: '',
  }),
};
