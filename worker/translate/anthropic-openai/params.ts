/**
 * Every top-level Messages parameter, and what becomes of it on the way to OpenAI Chat
 * Completions (the README table in this folder says the same). Anthropic itself refuses members it
 * does not know ("Extra inputs are not permitted"), and so does this translator.
 */
import { unsupported } from '../support';

type Rule = 'mapped' | { neutral: (v: unknown) => boolean; why: string };
const never = () => false;

const RULES: ReadonlyMap<string, Rule> = new Map<string, Rule>([
  ...['model', 'messages', 'system', 'max_tokens', 'stream', 'temperature', 'top_p', 'stop_sequences', 'tools', 'tool_choice', 'metadata', 'thinking']
    .map((k): [string, Rule] => [k, 'mapped']),
  // A cache breakpoint is a hint for Anthropic's prompt cache; OpenAI caches by itself.
  ['cache_control', 'mapped'],
  ['output_config', 'mapped'],
  ['inference_geo', { neutral: never, why: 'data residency is chosen by the provider configuration, not per request, for this model' }],
  ['speed', { neutral: (v) => v === 'standard', why: "only 'standard' is available for this model" }],
  ['diagnostics', { neutral: never, why: 'diagnostics exist only on Anthropic' }],
  ['user_profile_id', { neutral: never, why: 'user profiles exist only on Anthropic' }],
  ['workspace_id', { neutral: never, why: 'workspaces exist only on Anthropic' }],
  ['top_k', { neutral: never, why: 'OpenAI Chat Completions has no top-k sampling; use top_p' }],
  ['service_tier', { neutral: (v) => v === 'auto', why: "only 'auto' is available for this model" }],
  ['container', { neutral: never, why: 'code-execution containers exist only on Anthropic' }],
  ['mcp_servers', { neutral: never, why: 'the MCP connector exists only on Anthropic' }],
  ['context_management', { neutral: never, why: 'context management exists only on Anthropic' }],
]);

export function refuseUnsupportedParams(body: Record<string, unknown>): void {
  for (const [key, value] of Object.entries(body)) {
    if (value === undefined || value === null) continue;
    const rule = RULES.get(key);
    if (rule === 'mapped') continue;
    if (!rule) throw unsupported(key, 'not a Messages parameter this gateway can pass to this model');
    if (!rule.neutral(value)) throw unsupported(key, rule.why);
  }
}
