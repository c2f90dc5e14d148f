/** The gateway's provider adapters, one per catalog entry (lib/providers/catalog.ts). */
import { PROVIDER_CATALOG, type ProviderInfo } from '../../lib/providers/catalog';
import { anthropicProvider } from './anthropic';
import { azureProvider } from './azure';
import { bedrockProvider } from './bedrock/adapter';
import { geminiProvider } from './gemini/adapter';
import { workersAiProvider } from './workers-ai';
import { mockProvider } from './mock';
import { openaiCompatibleProvider, openaiProvider } from './openai';
import type { ProviderAdapter } from './types';

/** Adapters with their own folder; every other catalog entry speaking OpenAI's format gets the generic one. */
const SPECIFIC: ReadonlyMap<string, ProviderAdapter> = new Map([
  ['openai', openaiProvider],
  ['anthropic', anthropicProvider],
  ['mock', mockProvider],
  ['azure', azureProvider],
  ['gemini', geminiProvider],
  ['bedrock', bedrockProvider],
  ['workers-ai', workersAiProvider],
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
