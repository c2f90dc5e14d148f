/**
 * OpenAI, and every OpenAI-compatible server in the catalog (Groq, Mistral, DeepSeek, Together,
 * Fireworks, OpenRouter, xAI, Perplexity, vLLM, Ollama) or named as a provider key's base URL.
 */
import { providerInfo, type ProviderInfo } from '../../../lib/providers/catalog';
import { allowedClientHeaders } from '../headers';
import type { ProviderAdapter } from '../types';

export function openaiCompatibleProvider(info: ProviderInfo): ProviderAdapter {
  const adapter: ProviderAdapter = {
    info,
    // Chat Completions takes no shaping headers. OpenAI-Organization / OpenAI-Project choose whose
    // account the shared provider key bills: they belong to the provider-key configuration, never
    // to the client. OpenAI-Beta only opts into the Assistants API, which this gateway does not serve.
    clientHeaders: {},
    framing: 'sse',
    buildRequest({ body, bodyText, apiKey, baseUrl, clientHeaders }) {
      const headers = new Headers({ 'content-type': 'application/json', authorization: `Bearer ${apiKey ?? ''}` });
      for (const [name, value] of allowedClientHeaders(clientHeaders, adapter.clientHeaders)) headers.set(name, value);
      return { url: `${baseUrl.replace(/\/+$/, '')}/chat/completions`, headers, body: bodyText ?? JSON.stringify(body) };
    },
    // GET /v1/models (API reference "List models"): authenticated, free, answered by compatible servers too.
    probe: ({ apiKey, baseUrl }) => ({
      method: 'GET',
      url: `${baseUrl.replace(/\/+$/, '')}/models`,
      headers: new Headers({ authorization: `Bearer ${apiKey ?? ''}` }),
      body: '',
    }),
  };
  return adapter;
}

export const openaiProvider = openaiCompatibleProvider(providerInfo('openai')!);
