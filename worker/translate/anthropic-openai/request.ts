/**
 * Anthropic Messages request → OpenAI Chat Completions request
 * (https://platform.openai.com/docs/api-reference/chat/create).
 *
 * - `max_tokens` → `max_completion_tokens` (OpenAI's current name; reasoning models refuse the
 *   older `max_tokens`).
 * - Streaming sets `stream_options.include_usage`, so the usage arrives in a last chunk and the
 *   Anthropic client's `message_delta` can carry it.
 * - `top_k` and enabled `thinking` are refused: OpenAI Chat has neither.
 */
import { parseClient, unsupported } from '../support';
import type { RequestTranslator } from '../types';
import { toChatMessages } from './messages';
import { refuseUnsupportedParams } from './params';
import { messagesRequestSchema, type MessagesRequest } from './request-schema';

function tools(req: MessagesRequest): Record<string, unknown>[] | undefined {
  return req.tools?.map((tool, i) => {
    if (tool.type !== undefined && tool.type !== 'custom') {
      throw unsupported(`tools.${i}.type`, `the Anthropic server tool '${tool.type.slice(0, 64)}' is not available for this model`);
    }
    const fn: Record<string, unknown> = { name: tool.name };
    if (tool.description !== undefined) fn.description = tool.description;
    if (tool.input_schema !== undefined) fn.parameters = tool.input_schema;
    return { type: 'function', function: fn };
  });
}

function toolChoice(req: MessagesRequest, out: Record<string, unknown>): void {
  const choice = req.tool_choice;
  if (!choice) return;
  if (choice.type === 'none') out.tool_choice = 'none';
  else if (choice.type === 'auto') out.tool_choice = 'auto';
  else if (choice.type === 'tool') out.tool_choice = { type: 'function', function: { name: choice.name } };
  else out.tool_choice = 'required'; // any
  if (choice.type !== 'none' && choice.disable_parallel_tool_use === true) out.parallel_tool_calls = false;
}

/**
 * `output_config`: a JSON schema for the answer → OpenAI's strict `json_schema` response format (both
 * promise output that matches it); effort → `reasoning_effort` where OpenAI has the same level.
 */
function outputConfig(req: MessagesRequest, out: Record<string, unknown>): void {
  const config = req.output_config;
  if (!config) return;
  if (config.format) out.response_format = { type: 'json_schema', json_schema: { name: 'output', schema: config.format.schema, strict: true } };
  if (config.effort == null) return;
  if (config.effort !== 'low' && config.effort !== 'medium' && config.effort !== 'high') {
    throw unsupported('output_config.effort', `effort '${config.effort}' has no OpenAI equivalent; use low, medium or high`);
  }
  out.reasoning_effort = config.effort;
}

export const request: RequestTranslator = (body, ctx) => {
  const req = parseClient(messagesRequestSchema, body);
  refuseUnsupportedParams(body);
  if (req.thinking && req.thinking.type !== 'disabled') {
    throw unsupported('thinking', 'extended thinking is an Anthropic feature; this model takes no thinking budget');
  }
  const out: Record<string, unknown> = {
    model: ctx.upstreamModel,
    messages: toChatMessages(req),
    max_completion_tokens: req.max_tokens,
  };
  if (req.temperature !== undefined) out.temperature = req.temperature;
  if (req.top_p !== undefined) out.top_p = req.top_p;
  if (req.stop_sequences !== undefined && req.stop_sequences.length > 0) out.stop = req.stop_sequences;
  const t = tools(req);
  if (t) out.tools = t;
  toolChoice(req, out);
  if (req.metadata?.user_id != null) out.user = req.metadata.user_id;
  outputConfig(req, out);
  if (req.stream === true) {
    out.stream = true;
    out.stream_options = { include_usage: true };
  }
  return out;
};
