/**
 * The OpenAI Chat Completions request as this translator reads it (POST /v1/chat/completions,
 * https://platform.openai.com/docs/api-reference/chat/create). Only the members that carry meaning
 * Anthropic can honour are typed in detail; the rest are checked by name in `params.ts`.
 */
import * as z from 'zod/mini';

const text = z.string({ error: 'must be a string' });

export const textPartSchema = z.object({ type: z.literal('text'), text });
const imagePartSchema = z.object({
  type: z.literal('image_url'),
  image_url: z.object({ url: text, detail: z.optional(z.enum(['auto', 'low', 'high'])) }),
});
/** Part types OpenAI defines that Anthropic Messages cannot take from a chat request. */
const otherPartSchema = z.looseObject({ type: z.enum(['input_audio', 'file', 'refusal']) });
const userPartSchema = z.discriminatedUnion('type', [textPartSchema, imagePartSchema, otherPartSchema], {
  error: "must be a content part of type 'text' or 'image_url'",
});
const assistantPartSchema = z.discriminatedUnion('type', [textPartSchema, z.object({ type: z.literal('refusal'), refusal: text })], {
  error: "must be a content part of type 'text' or 'refusal'",
});

const textContent = z.union([text, z.array(textPartSchema)], { error: 'must be a string or an array of text parts' });
const name = z.optional(z.unknown());

export const toolCallSchema = z.object({
  id: text,
  type: z.literal('function'),
  function: z.object({ name: text, arguments: text }),
});

const messageSchema = z.discriminatedUnion(
  'role',
  [
    z.looseObject({ role: z.enum(['system', 'developer']), content: textContent, name }),
    z.looseObject({
      role: z.literal('user'),
      content: z.union([text, z.array(userPartSchema)], { error: 'must be a string or an array of content parts' }),
      name,
    }),
    z.looseObject({
      role: z.literal('assistant'),
      content: z.nullish(z.union([text, z.array(assistantPartSchema)])),
      tool_calls: z.nullish(z.array(toolCallSchema)),
      function_call: z.nullish(z.unknown()),
      refusal: z.nullish(text),
      name,
    }),
    z.looseObject({ role: z.literal('tool'), tool_call_id: text, content: textContent }),
    z.looseObject({ role: z.literal('function') }),
  ],
  { error: "must have a role of 'system', 'developer', 'user', 'assistant' or 'tool'" },
);
export type ChatMessage = z.infer<typeof messageSchema>;
export type UserPart = z.infer<typeof userPartSchema>;

const functionToolSchema = z.object({
  type: z.literal('function'),
  function: z.object({
    name: text,
    description: z.optional(text),
    parameters: z.optional(z.record(z.string(), z.unknown())),
    strict: z.nullish(z.boolean()),
  }),
});
const toolSchema = z.discriminatedUnion('type', [functionToolSchema, z.looseObject({ type: z.literal('custom') })], {
  error: "must be a tool of type 'function'",
});

const toolChoiceSchema = z.union(
  [
    z.enum(['none', 'auto', 'required']),
    z.object({ type: z.literal('function'), function: z.object({ name: text }) }),
    z.looseObject({ type: z.enum(['allowed_tools', 'custom']) }),
  ],
  { error: "must be 'none', 'auto', 'required' or {type: 'function', function: {name}}" },
);

const positiveInt = z.nullish(z.int({ error: 'must be a positive integer' }).check(z.positive('must be a positive integer')));

export const chatRequestSchema = z.looseObject({
  model: text,
  messages: z.array(messageSchema).check(z.minLength(1, 'must contain at least one message')),
  stream: z.nullish(z.boolean({ error: 'must be a boolean' })),
  stream_options: z.nullish(z.object({ include_usage: z.optional(z.boolean({ error: 'must be a boolean' })) })),
  max_tokens: positiveInt,
  max_completion_tokens: positiveInt,
  temperature: z.nullish(z.number({ error: 'must be a number' }).check(z.gte(0, 'must be at least 0'), z.lte(2, 'must be at most 2'))),
  top_p: z.nullish(z.number({ error: 'must be a number' }).check(z.gte(0, 'must be at least 0'), z.lte(1, 'must be at most 1'))),
  stop: z.nullish(z.union([text, z.array(text)], { error: 'must be a string or an array of strings' })),
  tools: z.nullish(z.array(toolSchema)),
  tool_choice: z.nullish(toolChoiceSchema),
  parallel_tool_calls: z.nullish(z.boolean({ error: 'must be a boolean' })),
  user: z.nullish(text),
  safety_identifier: z.nullish(text),
});
export type ChatRequest = z.infer<typeof chatRequestSchema>;
