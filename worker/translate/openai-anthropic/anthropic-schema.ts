/**
 * What Anthropic Messages sends back, as this translator reads it: the message
 * (https://docs.anthropic.com/en/api/messages), its usage, and the stream events
 * (https://docs.anthropic.com/en/docs/build-with-claude/streaming). Loose objects: a member
 * Anthropic adds later passes through unread.
 */
import * as z from 'zod/mini';

const count = z.nullish(z.int().check(z.nonnegative()));

export const anthropicUsageSchema = z.looseObject({
  input_tokens: count,
  output_tokens: count,
  cache_creation_input_tokens: count,
  cache_read_input_tokens: count,
  /** Thinking tokens, already inside `output_tokens` (a read-only breakdown). */
  output_tokens_details: z.nullish(z.looseObject({ thinking_tokens: count })),
});
export type AnthropicUsage = z.infer<typeof anthropicUsageSchema>;

export const contentBlockSchema = z.looseObject({
  type: z.string(),
  text: z.optional(z.string()),
  id: z.optional(z.string()),
  name: z.optional(z.string()),
  input: z.optional(z.unknown()),
});

export const messageSchema = z.looseObject({
  id: z.optional(z.string()),
  content: z.array(contentBlockSchema),
  stop_reason: z.nullish(z.string()),
  usage: z.optional(anthropicUsageSchema),
});

export const streamEventSchema = z.discriminatedUnion('type', [
  z.looseObject({ type: z.literal('message_start'), message: z.looseObject({ usage: z.optional(anthropicUsageSchema) }) }),
  z.looseObject({ type: z.literal('content_block_start'), index: z.int(), content_block: contentBlockSchema }),
  z.looseObject({
    type: z.literal('content_block_delta'),
    index: z.int(),
    delta: z.looseObject({ type: z.string(), text: z.optional(z.string()), partial_json: z.optional(z.string()) }),
  }),
  z.looseObject({ type: z.literal('content_block_stop'), index: z.int() }),
  z.looseObject({
    type: z.literal('message_delta'),
    delta: z.looseObject({ stop_reason: z.nullish(z.string()) }),
    usage: z.optional(anthropicUsageSchema),
  }),
  z.looseObject({ type: z.literal('message_stop') }),
  z.looseObject({ type: z.literal('ping') }),
  z.looseObject({ type: z.literal('error'), error: z.optional(z.looseObject({ type: z.optional(z.unknown()), message: z.optional(z.unknown()) })) }),
]);
export type StreamEvent = z.infer<typeof streamEventSchema>;
