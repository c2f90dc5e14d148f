/**
 * What the pipeline passes between its stages (DESIGN §9): parse → authorize → plan → attempts →
 * respond. Each stage takes the previous one's typed result, never the raw body.
 */
import type { ProviderKeyEntry } from '../../lib/kv/records';
import type { ChatCompletionRequest } from '../formats/openai-chat';
import type { MessagesRequest } from '../formats/anthropic-messages';
import type { Endpoint } from '../formats/types';
import type { ProviderAdapter } from '../providers/types';

/** The wire formats clients speak (the endpoint decides): OpenAI Chat Completions or Anthropic Messages. */
export type ClientFormat = 'openai' | 'anthropic';

/**
 * A client request, validated in its own format: the zod result, not the raw JSON. `raw` (the
 * body's text) and `json` (JSON.parse of it) serve only to send it on untranslated
 * (worker/pipeline/body-text.ts).
 */
export type ParsedRequest =
  | { endpoint: 'chat_completions'; format: 'openai'; body: ChatCompletionRequest; model: string; stream: boolean; raw: string; json: unknown }
  | { endpoint: 'messages'; format: 'anthropic'; body: MessagesRequest; model: string; stream: boolean; raw: string; json: unknown };

export const CLIENT_FORMAT: Record<Endpoint, ClientFormat> = { chat_completions: 'openai', messages: 'anthropic' };

/** One place a request may go: a provider, its model, and the provider key (still encrypted). */
export interface Target {
  /** `provider/model`, as recorded in the event and priced. */
  modelName: string;
  adapter: ProviderAdapter;
  /** The provider's own model name. */
  upstreamModel: string;
  baseUrl: string;
  /** Null for providers that need no key (the built-in mock). */
  providerKey: ProviderKeyEntry | null;
}

/** Where a request goes: targets in the order they are tried, and how hard to try. */
export interface Plan {
  /** The route's name when the client called `route/<name>`, else null. */
  route: string | null;
  targets: Target[];
  /** Upstream calls at most, retries and fallbacks included (1: no retry). */
  maxAttempts: number;
  /** Per attempt, until the upstream's response headers arrive; null: the gateway's header timeout. */
  timeoutMs: number | null;
}
