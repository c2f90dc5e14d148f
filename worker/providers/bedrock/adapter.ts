/** The pipeline's Bedrock adapter (worker/providers/types.ts) over ./index.ts. */
import { providerInfo } from '../../../lib/providers/catalog';
import type { ProviderAdapter } from '../types';
import { bedrockBuildRequest } from '.';

export const bedrockProvider: ProviderAdapter = {
  info: providerInfo('bedrock')!,
  clientHeaders: {},
  framing: 'aws-eventstream',
  buildRequest: ({ body, stream, apiKey, baseUrl }) => bedrockBuildRequest({ body, stream, apiKey, baseUrl }),
};
