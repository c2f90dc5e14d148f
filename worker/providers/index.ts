/** The gateway's provider adapters, one per catalog entry (lib/providers/catalog.ts). */
import { PROVIDER_CATALOG, providerInfo, type ProviderInfo } from '../../lib/providers/catalog';
import { anthropicProvider } from './anthropic';
import { bedrockBuildRequest } from './bedrock';
import { geminiBuildRequest } from './gemini';
import { mockProvider } from './mock';
import { openaiCompatibleProvider, openaiProvider } from './openai';
import type { ProviderAdapter } from './types';

/** Gemini: the model goes in the URL, the key in `x-goog-api-key` (worker/providers/gemini). */
const geminiProvider: ProviderAdapter = {
  info: providerInfo('gemini')!,
  clientHeaders: {},
  framing: 'sse',
  buildRequest: ({ body, stream, apiKey, baseUrl }) => geminiBuildRequest({ body, stream, apiKey, baseUrl: baseUrl || null }),
};

/** Bedrock Converse: SigV4-signed, ConverseStream in AWS event-stream framing (worker/providers/bedrock). */
const bedrockProvider: ProviderAdapter = {
  info: providerInfo('bedrock')!,
  clientHeaders: {},
  framing: 'aws-eventstream',
  buildRequest: ({ body, stream, apiKey, baseUrl }) => bedrockBuildRequest({ body, stream, apiKey, baseUrl: baseUrl || null }),
};

/** Adapters with their own folder; every other catalog entry speaking OpenAI's format gets the generic one. */
const SPECIFIC: ReadonlyMap<string, ProviderAdapter> = new Map([
  ['openai', openaiProvider],
  ['anthropic', anthropicProvider],
  ['gemini', geminiProvider],
  ['bedrock', bedrockProvider],
  ['mock', mockProvider],
]);

function adapterFor(info: ProviderInfo): ProviderAdapter | null {
  const specific = SPECIFIC.get(info.name);
  if (specific) return specific;
  return info.formats[0] === 'openai' ? openaiCompatibleProvider(info) : null;
}

const ADAPTERS: ReadonlyMap<string, ProviderAdapter> = new Map(
  PROVIDER_CATALOG.flatMap((info) => {
    const adapter = adapterFor(info);
    return adapter ? [[info.name, adapter] as const] : [];
  }),
);

/** Every provider the gateway can call, in catalog order. */
export const providerAdapters: readonly ProviderAdapter[] = [...ADAPTERS.values()];

export function providerFor(name: string): ProviderAdapter | null {
  return ADAPTERS.get(name) ?? null;
}
