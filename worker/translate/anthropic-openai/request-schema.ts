/**
 * The Anthropic Messages request as this translator reads it (POST /v1/messages,
 * https://docs.anthropic.com/en/api/messages). Block types OpenAI Chat cannot take are typed only
 * by name, so the refusal can name them.
 */
import * as z from 'zod/mini';

const text = z.string({ error: 'must be a string' });
const cacheControl = { cache_control: z.nullish(z.unknown()) };

const textBlockSchema = z.looseObject({ type: z.literal('text'), text, ...cacheControl });
const imageBlockSchema = z.looseObject({
  type: z.literal('image'),
  source: z.discriminatedUnion('type', [
    z.object({ type: z.literal('base64'), media_type: text, data: text }),
    z.object({ type: z.literal('url'), url: text }),
    z.looseObject({ type: z.literal('file') }),
  ], { error: "must be a source of type 'base64' or 'url'" }),
  ...cacheControl,
});
const toolUseBlockSchema = z.looseObject({ type: z.literal('tool_use'), id: text, name: text, input: z.record(z.string(), z.unknown()), ...cacheControl });
const toolResultBlockSchema = z.looseObject({
  type: z.literal('tool_result'),
  tool_use_id: text,
  content: z.optional(z.union([text, z.array(z.discriminatedUnion('type', [textBlockSchema, imageBlockSchema, z.looseObject({ type: z.enum(['document', 'search_result']) })]))])),
  is_error: z.optional(z.boolean()),
  ...cacheControl,
});
const thinkingBlockSchema = z.looseObject({ type: z.enum(['thinking', 'redacted_thinking']) });
/** Block types Anthropic defines that have no OpenAI Chat form. */
const otherBlockSchema = z.looseObject({
  type: z.enum(['document', 'search_result', 'server_tool_use', 'web_search_tool_result', 'web_fetch_tool_result', 'code_execution_tool_result', 'mcp_tool_use', 'mcp_tool_result', 'container_upload']),
});

export const blockSchema = z.discriminatedUnion(
  'type',
  [textBlockSchema, imageBlockSchema, toolUseBlockSchema, toolResultBlockSchema, thinkingBlockSchema, otherBlockSchema],
  { error: 'must be a content block of a type Anthropic defines (text, image, tool_use, tool_result, …)' },
);
export type Block = z.infer<typeof blockSchema>;

const messageSchema = z.discriminatedUnion('role', [
  z.object({ role: z.enum(['user', 'assistant']), content: z.union([text, z.array(blockSchema)], { error: 'must be a string or an array of content blocks' }) }),
  // API version 2026-10-21 allows system messages among the others.
  z.object({ role: z.literal('system'), content: z.union([text, z.array(textBlockSchema)], { error: 'must be a string or an array of text blocks' }) }),
], { error: "must be 'user', 'assistant' or 'system'" });
export type AnthropicMessage = z.infer<typeof messageSchema>;

const toolSchema = z.looseObject({
  type: z.optional(z.string()),
  name: text,
  description: z.optional(text),
  input_schema: z.optional(z.record(z.string(), z.unknown())),
  ...cacheControl,
});

const toolChoiceSchema = z.discriminatedUnion('type', [
  z.object({ type: z.enum(['auto', 'any']), disable_parallel_tool_use: z.optional(z.boolean()) }),
  z.object({ type: z.literal('tool'), name: text, disable_parallel_tool_use: z.optional(z.boolean()) }),
  z.object({ type: z.literal('none') }),
], { error: "must be {type: 'auto' | 'any' | 'tool' | 'none'}" });

export const messagesRequestSchema = z.looseObject({
  model: text,
  messages: z.array(messageSchema).check(z.minLength(1, 'must contain at least one message')),
  system: z.optional(z.union([text, z.array(textBlockSchema)], { error: 'must be a string or an array of text blocks' })),
  max_tokens: z.int({ error: 'is required and must be a positive integer' }).check(z.positive('must be a positive integer')),
  stream: z.optional(z.boolean({ error: 'must be a boolean' })),
  temperature: z.optional(z.number({ error: 'must be a number' }).check(z.gte(0, 'must be at least 0'), z.lte(1, 'must be at most 1'))),
  top_p: z.optional(z.number({ error: 'must be a number' }).check(z.gte(0, 'must be at least 0'), z.lte(1, 'must be at most 1'))),
  stop_sequences: z.optional(z.array(text)),
  tools: z.optional(z.array(toolSchema)),
  tool_choice: z.optional(toolChoiceSchema),
  metadata: z.optional(z.object({ user_id: z.nullish(text) })),
  thinking: z.optional(z.looseObject({ type: z.string() })),
  output_config: z.nullish(z.object({
    effort: z.nullish(z.enum(['low', 'medium', 'high', 'xhigh', 'max'])),
    format: z.nullish(z.object({ type: z.literal('json_schema'), schema: z.record(z.string(), z.unknown()) })),
  })),
});
export type MessagesRequest = z.infer<typeof messagesRequestSchema>;
