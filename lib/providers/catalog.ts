/**
 * The one list of providers (DESIGN §9): each provider's name, the wire format it speaks, its
 * default base URL, whether it needs a provider key and a base URL, and the models GET /v1/models
 * lists. The KV records (lib/kv/records.ts), the admin API's validation and UI, the gateway's
 * adapters (worker/providers/) and /v1/models all read this list; nothing else names providers.
 *
 * Adding an OpenAI-compatible server is one entry here: the gateway builds its adapter from it.
 */

/**
 * Upstream wire formats. `openai` is OpenAI Chat Completions — the hub every translation goes
 * through (worker/translate/types.ts).
 */
export const UPSTREAM_FORMATS = ['openai', 'anthropic', 'gemini', 'bedrock'] as const;
export type UpstreamFormat = (typeof UPSTREAM_FORMATS)[number];

export interface ProviderInfo {
  readonly name: string;
  /** What the admin UI shows. */
  readonly label: string;
  /**
   * The wire formats the provider speaks natively, preferred first. A client in one of them is
   * passed through untranslated; any other client format is translated into the first.
   */
  readonly formats: readonly UpstreamFormat[];
  /** Where calls go unless the provider key names its own `base_url` (SSRF-checked either way). */
  readonly defaultBaseUrl: string | null;
  /** Whether the organisation must add a provider key (false only for the built-in mock). */
  readonly requiresKey: boolean;
  /** A provider key must name a `base_url` (self-hosted servers have no public default). */
  readonly baseUrlRequired: boolean;
  /** Models listed by GET /v1/models (any other model name is still routed). */
  readonly knownModels: readonly string[];
}

const openaiCompatible = (name: string, label: string, defaultBaseUrl: string | null, knownModels: readonly string[]): ProviderInfo => ({
  name,
  label,
  formats: ['openai'],
  defaultBaseUrl,
  requiresKey: true,
  baseUrlRequired: defaultBaseUrl === null,
  knownModels,
});

export const PROVIDER_CATALOG = [
  {
    name: 'openai',
    label: 'OpenAI',
    formats: ['openai'],
    // Like the official SDK, the base URL includes the API version path.
    defaultBaseUrl: 'https://api.openai.com/v1',
    requiresKey: true,
    baseUrlRequired: false,
    knownModels: ['gpt-4o', 'gpt-4o-mini', 'gpt-4.1', 'gpt-4.1-mini', 'o4-mini'],
  },
  {
    name: 'anthropic',
    label: 'Anthropic',
    formats: ['anthropic'],
    // Like the official SDK, the base URL excludes /v1.
    defaultBaseUrl: 'https://api.anthropic.com',
    requiresKey: true,
    baseUrlRequired: false,
    knownModels: ['claude-sonnet-4-5', 'claude-haiku-4-5', 'claude-opus-4-1'],
  },
  {
    name: 'gemini',
    label: 'Google Gemini',
    formats: ['gemini'],
    // Like Google's SDKs, the base URL includes the API version.
    defaultBaseUrl: 'https://generativelanguage.googleapis.com/v1beta',
    requiresKey: true,
    baseUrlRequired: false,
    knownModels: ['gemini-2.5-pro', 'gemini-2.5-flash', 'gemini-2.5-flash-lite'],
  },
  {
    name: 'bedrock',
    label: 'Amazon Bedrock',
    formats: ['bedrock'],
    // https://bedrock-runtime.<region>.amazonaws.com, the region read from the key's credentials
    // (worker/providers/bedrock); a provider key's base_url (a VPC endpoint) replaces it.
    defaultBaseUrl: null,
    requiresKey: true,
    baseUrlRequired: false,
    knownModels: ['anthropic.claude-sonnet-4-5-20250929-v1:0', 'amazon.nova-pro-v1:0', 'meta.llama3-3-70b-instruct-v1:0'],
  },
  // OpenAI-compatible presets: OpenAI's Chat Completions format at each vendor's documented base URL.
  openaiCompatible('groq', 'Groq', 'https://api.groq.com/openai/v1', ['llama-3.3-70b-versatile', 'llama-3.1-8b-instant']),
  openaiCompatible('mistral', 'Mistral', 'https://api.mistral.ai/v1', ['mistral-large-latest', 'mistral-small-latest']),
  openaiCompatible('deepseek', 'DeepSeek', 'https://api.deepseek.com/v1', ['deepseek-chat', 'deepseek-reasoner']),
  openaiCompatible('together', 'Together AI', 'https://api.together.xyz/v1', ['meta-llama/Llama-3.3-70B-Instruct-Turbo']),
  openaiCompatible('fireworks', 'Fireworks AI', 'https://api.fireworks.ai/inference/v1', ['accounts/fireworks/models/llama-v3p3-70b-instruct']),
  openaiCompatible('openrouter', 'OpenRouter', 'https://openrouter.ai/api/v1', ['openai/gpt-4o-mini', 'anthropic/claude-sonnet-4.5']),
  openaiCompatible('xai', 'xAI', 'https://api.x.ai/v1', ['grok-4', 'grok-3-mini']),
  openaiCompatible('perplexity', 'Perplexity', 'https://api.perplexity.ai', ['sonar', 'sonar-pro']),
  // Self-hosted servers: the provider key must name the base URL; a private address is refused
  // unless the operator sets ALLOW_PRIVATE_UPSTREAMS=true (lib/net/host.ts).
  openaiCompatible('vllm', 'vLLM (self-hosted)', null, []),
  openaiCompatible('ollama', 'Ollama (self-hosted)', null, []),
  {
    name: 'mock',
    label: 'Built-in mock',
    formats: ['openai', 'anthropic'],
    defaultBaseUrl: 'mock://local',
    requiresKey: false,
    baseUrlRequired: false,
    knownModels: ['echo', 'gpt-4o-mini', 'claude-sonnet-4-5'],
  },
] as const satisfies readonly ProviderInfo[];

export type ProviderName = (typeof PROVIDER_CATALOG)[number]['name'];

export const PROVIDERS = PROVIDER_CATALOG.map((p) => p.name) as [ProviderName, ...ProviderName[]];

/** Providers an organisation adds keys for (every one except the built-in mock). */
export const KEYED_PROVIDERS = PROVIDER_CATALOG.filter((p) => p.requiresKey).map((p) => p.name) as [ProviderName, ...ProviderName[]];

const BY_NAME: ReadonlyMap<string, ProviderInfo> = new Map(PROVIDER_CATALOG.map((p) => [p.name, p]));

/** The provider called `name`, or null: never a prototype member for a client-chosen name. */
export function providerInfo(name: string): ProviderInfo | null {
  return BY_NAME.get(name) ?? null;
}
