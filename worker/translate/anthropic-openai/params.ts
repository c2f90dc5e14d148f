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
  ['top_k', { neutral: never, why: 'OpenAI Chat Completions has no top-k sampling; use top_p' }],
  ['service_tier', { neutral: (v) => v === 'auto', why: "only 'auto' is available for this model" }],
  ['container', { neutral: never, why: 'code-execution containers exist only on Anthropic' }],
  ['mcp_servers', { neutral: never, why: 'the MCP connector exists only on Anthropic' }],
  ['context_management', { neutral: never, why: 'context management exists only on Anthropic' }],
]);

export function refuseUnsupportedParams(body: Record<string, unknown>): void {
  for (const [key, value] of Object.entries(body)) {
    if (value === undefined) continue;
    const rule = RULES.get(key);
    if (rule === 'mapped') continue;
    if (!rule) throw unsupported(key, 'not a Messages parameter this gateway can pass to this model');
    if (!rule.neutral(value)) throw unsupported(key, rule.why);
  }
}
