/**
 * Every top-level Chat Completions parameter, and what becomes of it on the way to Anthropic
 * Messages (the table in this folder's README.md says the same for readers). A parameter Anthropic
 * cannot honour is refused with a 400 naming it unless its value asks for nothing (OpenAI's
 * default, e.g. `n: 1`, `presence_penalty: 0`); a parameter this table does not know is refused
 * too, as OpenAI itself refuses unknown arguments: nothing a client asked for is dropped unseen.
 */
import { unsupported } from '../support';

type Rule = 'mapped' | { neutral: (v: unknown) => boolean; why: string };

const never = () => false;
const isEmptyObject = (v: unknown) => typeof v === 'object' && v !== null && !Array.isArray(v) && Object.keys(v).length === 0;

const RULES: ReadonlyMap<string, Rule> = new Map<string, Rule>([
  ...['model', 'messages', 'stream', 'stream_options', 'max_tokens', 'max_completion_tokens', 'temperature', 'top_p', 'stop']
    .map((k): [string, Rule] => [k, 'mapped']),
  ...['tools', 'tool_choice', 'parallel_tool_calls', 'user', 'safety_identifier', 'prompt_cache_key']
    .map((k): [string, Rule] => [k, 'mapped']),
  ['n', { neutral: (v) => v === 1, why: 'Anthropic models return one choice per request; send n: 1 or leave it out' }],
  ['logprobs', { neutral: (v) => v === false, why: 'Anthropic models do not return log probabilities' }],
  ['top_logprobs', { neutral: never, why: 'Anthropic models do not return log probabilities' }],
  ['logit_bias', { neutral: isEmptyObject, why: 'Anthropic models take no token biases' }],
  ['presence_penalty', { neutral: (v) => v === 0, why: 'Anthropic models have no presence penalty' }],
  ['frequency_penalty', { neutral: (v) => v === 0, why: 'Anthropic models have no frequency penalty' }],
  ['response_format', {
    neutral: (v) => typeof v === 'object' && v !== null && (v as { type?: unknown }).type === 'text',
    why: 'JSON mode and JSON schemas are not available for Anthropic models through the Chat Completions format; describe the format in the prompt or use a tool',
  }],
  ['seed', { neutral: never, why: 'Anthropic models offer no seeded sampling' }],
  ['audio', { neutral: never, why: 'Anthropic models do not produce audio' }],
  ['modalities', {
    neutral: (v) => Array.isArray(v) && v.length === 1 && v[0] === 'text',
    why: "Anthropic models produce text only; send ['text'] or leave it out",
  }],
  ['prediction', { neutral: never, why: 'Anthropic models take no predicted output' }],
  ['service_tier', { neutral: (v) => v === 'auto', why: "only 'auto' is available for Anthropic models" }],
  ['store', { neutral: (v) => v === false, why: 'completions of Anthropic models are not stored by OpenAI' }],
  ['metadata', { neutral: isEmptyObject, why: 'metadata belongs to stored OpenAI completions; use user to attribute a request' }],
  ['reasoning_effort', { neutral: never, why: 'extended thinking of Anthropic models is available through the Anthropic Messages format (/v1/messages)' }],
  ['verbosity', { neutral: never, why: 'Anthropic models take no verbosity setting' }],
  ['web_search_options', { neutral: never, why: 'web search is not available for Anthropic models through the Chat Completions format' }],
  ['functions', { neutral: never, why: 'deprecated by OpenAI; use tools' }],
  ['function_call', { neutral: never, why: 'deprecated by OpenAI; use tool_choice' }],
]);

/** Throws a 400 naming the first parameter Anthropic cannot honour. */
export function refuseUnsupportedParams(body: Record<string, unknown>): void {
  for (const [key, value] of Object.entries(body)) {
    if (value === null || value === undefined) continue;
    const rule = RULES.get(key);
    if (rule === 'mapped') continue;
    if (!rule) throw unsupported(key, 'not a Chat Completions parameter this gateway can pass to Anthropic models');
    if (!rule.neutral(value)) throw unsupported(key, rule.why);
  }
}
