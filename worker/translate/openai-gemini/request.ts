/**
 * OpenAI Chat Completions request → Gemini `GenerateContentRequest` (models.generateContent and
 * models.streamGenerateContent take the same body). Gemini's shape: `systemInstruction` (a
 * Content), `contents` (turns of role `user` or `model`, each a list of Parts), `tools`
 * (`functionDeclarations`), `toolConfig.functionCallingConfig`, `generationConfig`.
 */
import { GatewayError } from '../../../lib/errors';
import {
  functionTools,
  parseChatRequest,
  parseDataUrl,
  stopSequences,
  textOf,
  toolArguments,
  toolCallNames,
  unsupported,
  type ChatRequest,
  type UserPart,
} from '../openai-chat-request';
import type { RequestTranslator } from '../types';
import { signatureFromToolCallId } from './ids';

type Part = Record<string, unknown>;
interface Content {
  role: 'user' | 'model';
  parts: Part[];
}

const SUPPORTED = new Set([
  'max_tokens',
  'max_completion_tokens',
  'temperature',
  'top_p',
  'n',
  'stop',
  'seed',
  'presence_penalty',
  'frequency_penalty',
  'tools',
  'tool_choice',
  'parallel_tool_calls',
  'response_format',
  'reasoning_effort',
  'service_tier',
  'modalities',
]);

/**
 * Files the Gemini API itself holds (uploaded through its Files API): the only URLs `fileData`
 * accepts on the Gemini API. Any other http(s) URL would have to be fetched by the gateway.
 */
const GEMINI_FILE_URI = /^https:\/\/generativelanguage\.googleapis\.com\/v1(?:beta)?\/files\/[A-Za-z0-9_-]{1,128}$/;

/** Audio formats of OpenAI's `input_audio` and the media types Gemini documents for them. */
const AUDIO_TYPES: Record<string, string> = { wav: 'audio/wav', mp3: 'audio/mp3' };

/**
 * reasoning_effort → thinkingConfig.thinkingBudget, the token budgets Google documents for its
 * own OpenAI-compatible endpoint (none/minimal: no thinking where the model allows it).
 */
const THINKING_BUDGET: Record<string, number> = { none: 0, minimal: 0, low: 1024, medium: 8192, high: 24576, xhigh: 32768 };

function userPart(p: UserPart, param: string): Part {
  switch (p.type) {
    case 'text':
      return { text: p.text };
    case 'image_url': {
      const data = parseDataUrl(p.image_url.url);
      if (data) return { inlineData: { mimeType: data.mediaType, data: data.base64 } };
      if (GEMINI_FILE_URI.test(p.image_url.url)) return { fileData: { fileUri: p.image_url.url } };
      throw unsupported(`${param}.image_url.url`, 'Gemini takes images as base64 data URLs or Gemini Files API URIs, not other URLs.');
    }
    case 'input_audio': {
      const mimeType = AUDIO_TYPES[p.input_audio.format];
      if (!mimeType) throw unsupported(`${param}.input_audio.format`, "Gemini takes 'wav' or 'mp3' audio here.");
      return { inlineData: { mimeType, data: p.input_audio.data } };
    }
    case 'file': {
      const data = p.file.file_data ? parseDataUrl(p.file.file_data) : null;
      if (data) return { inlineData: { mimeType: data.mediaType, data: data.base64 } };
      throw unsupported(`${param}.file`, 'Gemini takes files as base64 data URLs (file_data), not OpenAI file ids.');
    }
  }
}

function contents(req: ChatRequest): { system: string[]; contents: Content[] } {
  const names = toolCallNames(req.messages);
  const system: string[] = [];
  const out: Content[] = [];
  let seenTurn = false;
  // Consecutive tool results answer one model turn: Gemini wants them as one user Content.
  let toolTurn: Content | null = null;
  for (const [i, m] of req.messages.entries()) {
    const param = `messages[${i}]`;
    if (m.role !== 'tool') toolTurn = null;
    switch (m.role) {
      case 'system':
      case 'developer':
        // Gemini has one system instruction, before the conversation; a later system message has
        // no place that keeps its meaning (it would become part of a user turn).
        if (seenTurn) throw unsupported(`${param}.role`, 'Gemini takes system messages only before the conversation starts.');
        system.push(textOf(m.content));
        break;
      case 'user':
        seenTurn = true;
        out.push({ role: 'user', parts: typeof m.content === 'string' ? [{ text: m.content }] : m.content.map((p, j) => userPart(p, `${param}.content[${j}]`)) });
        break;
      case 'assistant': {
        seenTurn = true;
        const parts: Part[] = [];
        if (typeof m.content === 'string' && m.content !== '') parts.push({ text: m.content });
        else if (Array.isArray(m.content)) for (const p of m.content) parts.push({ text: p.type === 'text' ? p.text : p.refusal });
        if (m.refusal) parts.push({ text: m.refusal });
        for (const [j, c] of (m.tool_calls ?? []).entries()) {
          const part: Part = { functionCall: { name: c.function.name, args: toolArguments(c.function.arguments, `${param}.tool_calls[${j}].function.arguments`) } };
          const signature = signatureFromToolCallId(c.id);
          if (signature) part.thoughtSignature = signature;
          parts.push(part);
        }
        // An empty assistant turn says nothing; the upstream refuses a turn without parts.
        if (parts.length === 0) break;
        out.push({ role: 'model', parts });
        break;
      }
      case 'tool': {
        seenTurn = true;
        const name = names.get(m.tool_call_id);
        if (name === undefined) {
          throw new GatewayError('invalid_request', `Invalid request: '${param}.tool_call_id' names no tool call of an earlier assistant message.`, { param: `${param}.tool_call_id` });
        }
        const part = { functionResponse: { name, response: toolResponse(textOf(m.content)) } };
        if (toolTurn) toolTurn.parts.push(part);
        else {
          toolTurn = { role: 'user', parts: [part] };
          out.push(toolTurn);
        }
        break;
      }
      case 'function':
        // Refused by parseChatRequest.
        break;
    }
  }
  return { system, contents: out };
}

/**
 * A tool result for `functionResponse.response`, which must be a JSON object: a result that is a
 * JSON object is passed as it is; anything else (plain text, an array) is `{"content": …}`.
 */
function toolResponse(text: string): Record<string, unknown> {
  try {
    const v: unknown = JSON.parse(text);
    if (typeof v === 'object' && v !== null && !Array.isArray(v)) return v as Record<string, unknown>;
  } catch {
    /* plain text */
  }
  return { content: text };
}

function toolConfig(req: ChatRequest): Record<string, unknown> | undefined {
  const choice = req.tool_choice;
  if (choice === undefined) return undefined;
  if (choice === 'auto') return { functionCallingConfig: { mode: 'AUTO' } };
  if (choice === 'none') return { functionCallingConfig: { mode: 'NONE' } };
  if (choice === 'required') return { functionCallingConfig: { mode: 'ANY' } };
  if (choice.type === 'function') return { functionCallingConfig: { mode: 'ANY', allowedFunctionNames: [choice.function.name] } };
  // Gemini restricts the callable functions only in ANY mode (the model must call one of them).
  if (choice.allowed_tools.mode === 'auto') throw unsupported('tool_choice.allowed_tools.mode', "Gemini restricts the callable tools only when a call is required ('required').");
  return { functionCallingConfig: { mode: 'ANY', allowedFunctionNames: choice.allowed_tools.tools.map((t) => t.function.name) } };
}

function generationConfig(req: ChatRequest): Record<string, unknown> {
  const g: Record<string, unknown> = {};
  const max = req.max_completion_tokens ?? req.max_tokens;
  if (max != null) g.maxOutputTokens = max;
  if (req.temperature != null) g.temperature = req.temperature;
  if (req.top_p != null) g.topP = req.top_p;
  if (req.n != null && req.n !== 1) {
    if (req.stream) throw unsupported('n', 'Gemini streams one candidate only.');
    g.candidateCount = req.n;
  }
  const stop = stopSequences(req.stop);
  if (stop && stop.length > 0) g.stopSequences = stop;
  if (req.seed != null) g.seed = req.seed;
  if (req.presence_penalty != null) g.presencePenalty = req.presence_penalty;
  if (req.frequency_penalty != null) g.frequencyPenalty = req.frequency_penalty;
  const format = req.response_format;
  if (format?.type === 'json_object') g.responseMimeType = 'application/json';
  if (format?.type === 'json_schema') {
    g.responseMimeType = 'application/json';
    // responseJsonSchema takes JSON Schema as it is (responseSchema only an OpenAPI subset).
    if (format.json_schema.schema) g.responseJsonSchema = format.json_schema.schema;
  }
  if (req.reasoning_effort != null) g.thinkingConfig = { thinkingBudget: THINKING_BUDGET[req.reasoning_effort] };
  return g;
}

export const geminiRequest: RequestTranslator = (body) => {
  const req = parseChatRequest(body, SUPPORTED, 'Gemini');
  if (req.parallel_tool_calls === false) throw unsupported('parallel_tool_calls', 'Gemini cannot be limited to one tool call per turn.');
  const { system, contents: turns } = contents(req);
  if (turns.length === 0) throw new GatewayError('invalid_request', "Invalid request: 'messages' needs at least one user message.", { param: 'messages' });
  const out: Record<string, unknown> = { contents: turns };
  if (system.length > 0) out.systemInstruction = { parts: system.map((text) => ({ text })) };
  const tools = functionTools(req);
  if (tools.length > 0) {
    out.tools = [
      {
        functionDeclarations: tools.map((t) => ({
          name: t.function.name,
          ...(t.function.description !== undefined ? { description: t.function.description } : {}),
          // parametersJsonSchema takes JSON Schema as it is; a function without parameters has none.
          ...(t.function.parameters ? { parametersJsonSchema: t.function.parameters } : {}),
        })),
      },
    ];
  }
  const config = toolConfig(req);
  if (config) {
    if (tools.length === 0 && req.tool_choice !== 'none') throw unsupported('tool_choice', "needs 'tools'.");
    out.toolConfig = config;
  }
  const g = generationConfig(req);
  if (Object.keys(g).length > 0) out.generationConfig = g;
  return out;
};
