/**
 * OpenAI Chat Completions request → Anthropic Messages request (POST /v1/messages,
 * https://docs.anthropic.com/en/api/messages).
 *
 * - `system` and `developer` messages, wherever they stand, become the top-level `system` in order.
 * - Consecutive messages that land on the same Anthropic role merge into one turn; `tool` messages
 *   become `tool_result` blocks of a user turn, ahead of any user text that follows them
 *   (Anthropic wants the results first).
 * - `max_tokens` is required by Anthropic: `max_completion_tokens` ?? `max_tokens` ?? 4096
 *   (`DEFAULT_MAX_TOKENS`, within every current Claude model's output limit).
 * - `temperature` above 1 is refused: Anthropic's range is 0–1 and clamping would change the
 *   sampling the client asked for.
 */
import { GatewayError } from '../../../lib/errors';
import { parseClient, unsupported } from '../support';
import type { RequestTranslator } from '../types';
import { toAnthropicMessages } from './messages';
import { refuseUnsupportedParams } from './params';
import { chatRequestSchema, type ChatRequest } from './request-schema';

export const DEFAULT_MAX_TOKENS = 4096;

function maxTokens(req: ChatRequest): number {
  const { max_tokens: legacy, max_completion_tokens: current } = req;
  if (legacy != null && current != null && legacy !== current) {
    throw unsupported('max_tokens', 'it differs from max_completion_tokens; send only max_completion_tokens');
  }
  return current ?? legacy ?? DEFAULT_MAX_TOKENS;
}

function tools(req: ChatRequest): Record<string, unknown>[] | undefined {
  if (!req.tools) return undefined;
  return req.tools.map((tool, i) => {
    if (tool.type !== 'function') throw unsupported(`tools.${i}.type`, "Anthropic models take tools of type 'function' only");
    const fn = tool.function;
    if (fn.strict === true) {
      throw unsupported(`tools.${i}.function.strict`, 'Anthropic models cannot guarantee strict schema adherence; leave strict out or set it to false');
    }
    return {
      name: fn.name,
      ...(fn.description !== undefined ? { description: fn.description } : {}),
      // Anthropic requires an object schema; OpenAI allows a function without parameters.
      input_schema: fn.parameters ?? { type: 'object', properties: {} },
    };
  });
}

function toolChoice(req: ChatRequest): Record<string, unknown> | undefined {
  const choice = req.tool_choice;
  const noParallel = req.parallel_tool_calls === false && req.tools != null && req.tools.length > 0;
  let out: Record<string, unknown> | undefined;
  if (choice === 'auto') out = { type: 'auto' };
  else if (choice === 'none') return { type: 'none' };
  else if (choice === 'required') out = { type: 'any' };
  else if (choice && choice.type === 'function' && 'function' in choice) out = { type: 'tool', name: choice.function.name };
  else if (choice) throw unsupported('tool_choice', `tool_choice of type '${choice.type}' has no Anthropic equivalent`);
  if (noParallel) return { ...(out ?? { type: 'auto' }), disable_parallel_tool_use: true };
  return out;
}

export const request: RequestTranslator = (body, ctx) => {
  const req = parseClient(chatRequestSchema, body);
  refuseUnsupportedParams(body);
  if (req.temperature != null && req.temperature > 1) {
    throw new GatewayError(
      'invalid_request',
      `Unsupported value for 'temperature': ${req.temperature}. Anthropic models take a temperature from 0 to 1.`,
      { param: 'temperature' },
    );
  }
  const { system, messages } = toAnthropicMessages(req.messages);
  const out: Record<string, unknown> = { model: ctx.upstreamModel, max_tokens: maxTokens(req), messages };
  if (system) out.system = system;
  if (req.temperature != null) out.temperature = req.temperature;
  if (req.top_p != null) out.top_p = req.top_p;
  if (req.stop != null) out.stop_sequences = typeof req.stop === 'string' ? [req.stop] : req.stop;
  const t = tools(req);
  if (t) out.tools = t;
  const tc = toolChoice(req);
  if (tc) out.tool_choice = tc;
  const userId = req.user ?? req.safety_identifier;
  if (userId != null) out.metadata = { user_id: userId };
  if (req.stream === true) out.stream = true;
  return out;
};
