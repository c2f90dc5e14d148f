/** OpenAI, and any OpenAI-compatible server an admin names as the provider key's base URL. */
import { allowedClientHeaders } from '../headers';
import type { ProviderAdapter } from '../types';

export const openaiProvider: ProviderAdapter = {
  name: 'openai',
  endpoints: ['chat_completions'],
  requiresKey: true,
  // Like the official SDK, the base URL includes the API version path.
  defaultBaseUrl: 'https://api.openai.com/v1',
  knownModels: ['gpt-4o', 'gpt-4o-mini', 'gpt-4.1', 'gpt-4.1-mini', 'o4-mini'],
  // Chat Completions takes no shaping headers. OpenAI-Organization / OpenAI-Project choose whose
  // account the shared provider key bills: they belong to the provider-key configuration, never to
  // the client. OpenAI-Beta only opts into the Assistants API, which this gateway does not serve.
  clientHeaders: {},
  buildRequest({ body, apiKey, baseUrl, clientHeaders }) {
    const headers = new Headers({ 'content-type': 'application/json', authorization: `Bearer ${apiKey ?? ''}` });
    for (const [name, value] of allowedClientHeaders(clientHeaders, openaiProvider.clientHeaders)) headers.set(name, value);
    return { url: `${baseUrl.replace(/\/+$/, '')}/chat/completions`, headers, body: JSON.stringify(body) };
  },
  // GET /v1/models (API reference "List models"): authenticated, free, answered by compatible servers too.
  probe: ({ apiKey, baseUrl }) => ({
    method: 'GET',
    url: `${baseUrl.replace(/\/+$/, '')}/models`,
    headers: new Headers({ authorization: `Bearer ${apiKey ?? ''}` }),
    body: '',
  }),
};
