/**
 * What OpenAI Chat Completions sends back, as this translator reads it: the `chat.completion`
 * and `chat.completion.chunk` objects and their usage
 * (https://platform.openai.com/docs/api-reference/chat/object). Loose objects: members OpenAI or
 * a compatible server adds pass unread.
 */
import * as z from 'zod/mini';

const count = z.nullish(z.int().check(z.nonnegative()));

export const openaiUsageSchema = z.looseObject({
  prompt_tokens: count,
  completion_tokens: count,
  prompt_tokens_details: z.nullish(z.looseObject({ cached_tokens: count })),
  completion_tokens_details: z.nullish(z.looseObject({ reasoning_tokens: count })),
});
export type OpenAIUsage = z.infer<typeof openaiUsageSchema>;

const toolCallSchema = z.looseObject({
  id: z.nullish(z.string()),
  type: z.nullish(z.string()),
  function: z.nullish(z.looseObject({ name: z.nullish(z.string()), arguments: z.nullish(z.string()) })),
});

export const completionSchema = z.looseObject({
  choices: z.array(z.looseObject({
    message: z.looseObject({
      content: z.nullish(z.string()),
      refusal: z.nullish(z.string()),
      tool_calls: z.nullish(z.array(toolCallSchema)),
    }),
    finish_reason: z.nullish(z.string()),
  })),
  usage: z.nullish(openaiUsageSchema),
});

export const chunkSchema = z.looseObject({
  choices: z.optional(z.array(z.looseObject({
    delta: z.nullish(z.looseObject({
      content: z.nullish(z.string()),
      refusal: z.nullish(z.string()),
      tool_calls: z.nullish(z.array(z.looseObject({ index: z.int(), ...toolCallSchema.def.shape }))),
    })),
    finish_reason: z.nullish(z.string()),
  }))),
  usage: z.nullish(openaiUsageSchema),
  error: z.optional(z.unknown()),
});
export type Chunk = z.infer<typeof chunkSchema>;
