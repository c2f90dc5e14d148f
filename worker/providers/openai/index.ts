/** OpenAI, and any OpenAI-compatible server an admin names as the provider key's base URL. */
import type { ProviderAdapter } from '../types';

export const openaiProvider: ProviderAdapter = {
  name: 'openai',
  endpoints: ['chat_completions'],
  requiresKey: true,
  // Like the official SDK, the base URL includes the API version path.
  defaultBaseUrl: 'https://api.openai.com/v1',
  knownModels: ['gpt-4o', 'gpt-4o-mini', 'gpt-4.1', 'gpt-4.1-mini', 'o4-mini'],
  buildRequest({ body, apiKey, baseUrl, clientHeaders }) {
    const headers = new Headers({ 'content-type': 'application/json', authorization: `Bearer ${apiKey ?? ''}` });
    for (const name of ['openai-organization', 'openai-project']) {
      const v = clientHeaders.get(name);
      if (v) headers.set(name, v);
    }
    return { url: `${baseUrl.replace(/\/+$/, '')}/chat/completions`, headers, body: JSON.stringify(body) };
  },
};
