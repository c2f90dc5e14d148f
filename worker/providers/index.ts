import type { ProviderName } from '../../lib/kv/records';
import { anthropicProvider } from './anthropic';
import { mockProvider } from './mock';
import { openaiProvider } from './openai';
import type { ProviderAdapter } from './types';

export const providers: Record<ProviderName, ProviderAdapter> = {
  openai: openaiProvider,
  anthropic: anthropicProvider,
  mock: mockProvider,
};

export function providerFor(name: string): ProviderAdapter | null {
  return Object.hasOwn(providers, name) ? providers[name as ProviderName] : null;
}
