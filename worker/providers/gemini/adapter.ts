/** The pipeline's Gemini adapter (worker/providers/types.ts) over ./index.ts. */
import { providerInfo } from '../../../lib/providers/catalog';
import type { ProviderAdapter } from '../types';
import { geminiBuildRequest } from '.';

export const geminiProvider: ProviderAdapter = {
  info: providerInfo('gemini')!,
  clientHeaders: {},
  framing: 'sse',
  buildRequest: ({ body, stream, apiKey, baseUrl }) => geminiBuildRequest({ body, stream, apiKey, baseUrl }),
};
