/**
 * An OpenAI Chat Completions request as the hub-to-upstream translators read it (openai-gemini,
 * openai-bedrock). The body was validated by the pipeline; this schema types the parts a
 * translator maps, and every refusal is a 400 that names the parameter, in OpenAI's error shape.
 */
import * as z from 'zod/mini';
import { GatewayError, invalidField } from '../../lib/errors';

const textPart = z.object({ type: z.literal('text'), text: z.string() });
const imagePart = z.object({
  type: z.literal('image_url'),
  image_url: z.object({ url: z.string(), detail: z.optional(z.string()) }),
});
const audioPart = z.object({ type: z.literal('input_audio'), input_audio: z.object({ data: z.string(), format: z.string() }) });
const filePart = z.object({
  type: z.literal('file'),
  file: z.object({ file_data: z.optional(z.string()), file_id: z.optional(z.string()), filename: z.optional(z.string()) }),
});
const refusalPart = z.object({ type: z.literal('refusal'), refusal: z.string() });
export const userPart = z.discriminatedUnion('type', [textPart, imagePart, audioPart, filePart]);
export type UserPart = z.infer<typeof userPart>;

const toolCall = z.object({
  id: z.string(),
  type: z.literal('function'),
  function: z.object({ name: z.string(), arguments: z.string() }),
});
export type ToolCall = z.infer<typeof toolCall>;

const message = z.discriminatedUnion('role', [
  z.object({ role: z.literal('system'), content: z.union([z.string(), z.array(textPart)]), name: z.optional(z.string()) }),
  z.object({ role: z.literal('developer'), content: z.union([z.string(), z.array(textPart)]), name: z.optional(z.string()) }),
  z.object({ role: z.literal('user'), content: z.union([z.string(), z.array(userPart)]), name: z.optional(z.string()) }),
  z.object({
    role: z.literal('assistant'),
    content: z.optional(z.nullable(z.union([z.string(), z.array(z.union([textPart, refusalPart]))]))),
    refusal: z.optional(z.nullable(z.string())),
    tool_calls: z.optional(z.array(toolCall)),
    function_call: z.optional(z.nullable(z.unknown())),
    audio: z.optional(z.nullable(z.unknown())),
    name: z.optional(z.string()),
  }),
  z.object({ role: z.literal('tool'), tool_call_id: z.string(), content: z.union([z.string(), z.array(textPart)]) }),
  z.object({ role: z.literal('function'), name: z.string(), content: z.nullable(z.string()) }),
]);
export type ChatMessage = z.infer<typeof message>;

const functionTool = z.object({
  type: z.literal('function'),
  function: z.object({
    name: z.string(),
    description: z.optional(z.string()),
    parameters: z.optional(z.record(z.string(), z.unknown())),
    strict: z.optional(z.nullable(z.boolean())),
  }),
});
export type FunctionTool = z.infer<typeof functionTool>;

const toolChoice = z.union([
  z.enum(['none', 'auto', 'required']),
  z.object({ type: z.literal('function'), function: z.object({ name: z.string() }) }),
  z.object({
    type: z.literal('allowed_tools'),
    allowed_tools: z.object({ mode: z.enum(['auto', 'required']), tools: z.array(z.object({ type: z.literal('function'), function: z.object({ name: z.string() }) })) }),
  }),
]);
export type ToolChoice = z.infer<typeof toolChoice>;

const responseFormat = z.discriminatedUnion('type', [
  z.object({ type: z.literal('text') }),
  z.object({ type: z.literal('json_object') }),
  z.object({
    type: z.literal('json_schema'),
    json_schema: z.object({ name: z.string(), description: z.optional(z.string()), schema: z.optional(z.record(z.string(), z.unknown())), strict: z.optional(z.nullable(z.boolean())) }),
  }),
]);

const num = () => z.optional(z.nullable(z.number()));
export const chatRequestSchema = z.object({
  model: z.string(),
  messages: z.array(message).check(z.minLength(1)),
  stream: z.optional(z.nullable(z.boolean())),
  stream_options: z.optional(z.nullable(z.object({ include_usage: z.optional(z.boolean()), include_obfuscation: z.optional(z.boolean()) }))),
  max_tokens: z.optional(z.nullable(z.int().check(z.positive()))),
  max_completion_tokens: z.optional(z.nullable(z.int().check(z.positive()))),
  temperature: num(),
  top_p: num(),
  n: z.optional(z.nullable(z.int().check(z.positive()))),
  stop: z.optional(z.nullable(z.union([z.string(), z.array(z.string())]))),
  seed: z.optional(z.nullable(z.int())),
  presence_penalty: num(),
  frequency_penalty: num(),
  tools: z.optional(z.array(z.union([functionTool, z.object({ type: z.string() })]))),
  tool_choice: z.optional(toolChoice),
  parallel_tool_calls: z.optional(z.boolean()),
  response_format: z.optional(responseFormat),
  reasoning_effort: z.optional(z.nullable(z.enum(['none', 'minimal', 'low', 'medium', 'high', 'xhigh']))),
  user: z.optional(z.string()),
  safety_identifier: z.optional(z.string()),
  metadata: z.optional(z.nullable(z.record(z.string(), z.string()))),
  store: z.optional(z.nullable(z.boolean())),
  service_tier: z.optional(z.nullable(z.string())),
  logprobs: z.optional(z.nullable(z.boolean())),
  top_logprobs: z.optional(z.nullable(z.int())),
  logit_bias: z.optional(z.nullable(z.record(z.string(), z.number()))),
  modalities: z.optional(z.nullable(z.array(z.string()))),
});
export type ChatRequest = z.infer<typeof chatRequestSchema>;

/**
 * Parameters that change nothing an upstream computes: who the end user is (`user`,
 * `safety_identifier`), OpenAI-side storage (`store`, `metadata`), and stream framing that the
 * translator handles itself (`stream`, `stream_options`).
 */
const PASSIVE = new Set(['model', 'messages', 'stream', 'stream_options', 'user', 'safety_identifier', 'metadata', 'store']);

/** A parameter the upstream has no way to honour: a 400 naming it, never a silent drop. */
export function unsupported(param: string, why: string): GatewayError {
  return new GatewayError('invalid_request', `Unsupported parameter '${param}': ${why}`, { param });
}

/**
 * Parses the hub request. `supported` names the parameters the upstream maps (besides the passive
 * ones); any other key present with a meaningful value is refused by name.
 */
export function parseChatRequest(body: Record<string, unknown>, supported: ReadonlySet<string>, upstream: string): ChatRequest {
  for (const [key, value] of Object.entries(body)) {
    if (value === null || value === undefined || PASSIVE.has(key) || supported.has(key)) continue;
    throw unsupported(key, `${upstream} has no equivalent.`);
  }
  const result = chatRequestSchema.safeParse(body);
  if (!result.success) {
    const issue = result.error.issues[0]!;
    throw invalidField(issue.path, issue.message);
  }
  const req = result.data;
  for (const [i, m] of req.messages.entries()) {
    if ('name' in m && m.name !== undefined && m.role !== 'function') throw unsupported(`messages[${i}].name`, `${upstream} has no participant names.`);
    if (m.role === 'function') throw unsupported(`messages[${i}].role`, "the deprecated 'function' role; use tools and 'tool' messages.");
    if (m.role === 'assistant' && m.function_call) throw unsupported(`messages[${i}].function_call`, "deprecated; use 'tool_calls'.");
    if (m.role === 'assistant' && m.audio) throw unsupported(`messages[${i}].audio`, `${upstream} takes no audio replies in history.`);
  }
  if (req.tools) {
    for (const [i, t] of req.tools.entries()) {
      if (t.type !== 'function' || !('function' in t)) throw unsupported(`tools[${i}].type`, `only function tools reach ${upstream}.`);
    }
  }
  if (req.modalities && req.modalities.some((m) => m !== 'text')) throw unsupported('modalities', `only text output from ${upstream}.`);
  if (req.service_tier && req.service_tier !== 'auto' && req.service_tier !== 'default') throw unsupported('service_tier', `${upstream} has no such tier.`);
  if (req.max_tokens != null && req.max_completion_tokens != null) throw unsupported('max_tokens', "give either 'max_tokens' or 'max_completion_tokens', not both.");
  return req;
}

/** The function tools of a parsed request (non-function tools were refused by parseChatRequest). */
export function functionTools(req: ChatRequest): FunctionTool[] {
  return (req.tools ?? []).filter((t): t is FunctionTool => t.type === 'function' && 'function' in t);
}

/** System/developer/tool content as one string (text parts joined as the model sees them). */
export function textOf(content: string | ReadonlyArray<{ type: 'text'; text: string }>): string {
  return typeof content === 'string' ? content : content.map((p) => p.text).join('\n');
}

export function stopSequences(stop: ChatRequest['stop']): string[] | undefined {
  if (stop === null || stop === undefined) return undefined;
  return typeof stop === 'string' ? [stop] : stop;
}

/** A `data:` URL's media type and base64 payload (RFC 2397); null for anything else. */
export function parseDataUrl(url: string): { mediaType: string; base64: string } | null {
  // Bounded: the media type is at most 127 characters of a fixed class, then ";base64,".
  // eslint-disable-next-line security/detect-unsafe-regex -- anchored, bounded quantifiers, no nested repetition
  const m = /^data:([a-z0-9.+-]{1,63}\/[a-z0-9.+-]{1,63})(?:;[a-z0-9=.-]{1,64}){0,4};base64,/i.exec(url.slice(0, 400));
  if (!m) return null;
  return { mediaType: m[1]!.toLowerCase(), base64: url.slice(m[0].length) };
}

/**
 * Every tool call id in the history mapped to its function name: a tool result in Gemini and
 * Bedrock is tied to its call by name (Gemini) or id (Bedrock), and both need the call to exist.
 */
export function toolCallNames(messages: readonly ChatMessage[]): Map<string, string> {
  const names = new Map<string, string>();
  for (const m of messages) if (m.role === 'assistant') for (const c of m.tool_calls ?? []) names.set(c.id, c.function.name);
  return names;
}

/** Parses a tool call's JSON arguments; a model's history with broken JSON is the caller's 400. */
export function toolArguments(raw: string, param: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = raw.trim() === '' ? {} : JSON.parse(raw);
  } catch {
    throw new GatewayError('invalid_request', `Invalid request: '${param}' is not valid JSON.`, { param });
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new GatewayError('invalid_request', `Invalid request: '${param}' must be a JSON object.`, { param });
  }
  return value as Record<string, unknown>;
}
