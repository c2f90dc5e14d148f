/**
 * OpenAI Chat Completions request → Amazon Bedrock Converse / ConverseStream request body (both
 * take the same body; the model id is in the URL). Converse's shape: `system` (a list of
 * SystemContentBlock), `messages` (alternating `user` / `assistant` turns of ContentBlocks:
 * text, image, document, toolUse, toolResult), `inferenceConfig` (maxTokens, temperature, topP,
 * stopSequences) and `toolConfig` (tools of `toolSpec`, `toolChoice` auto / any / tool).
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

type Block = Record<string, unknown>;
interface Message {
  role: 'user' | 'assistant';
  content: Block[];
}

const SUPPORTED = new Set([
  'max_tokens',
  'max_completion_tokens',
  'temperature',
  'top_p',
  'n',
  'stop',
  'tools',
  'tool_choice',
  'parallel_tool_calls',
  'response_format',
  'service_tier',
  'modalities',
]);

/** ImageBlock.format values and the media types they stand for. */
const IMAGE_FORMATS: Record<string, string> = { 'image/png': 'png', 'image/jpeg': 'jpeg', 'image/jpg': 'jpeg', 'image/gif': 'gif', 'image/webp': 'webp' };

/** DocumentBlock.format values and the media types they stand for. */
const DOCUMENT_FORMATS: Record<string, string> = {
  'application/pdf': 'pdf',
  'text/csv': 'csv',
  'application/msword': 'doc',
  'application/vnd.openxmlformats-officedocument.wordprocessingml.document': 'docx',
  'application/vnd.ms-excel': 'xls',
  'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet': 'xlsx',
  'text/html': 'html',
  'text/plain': 'txt',
  'text/markdown': 'md',
};

/**
 * A DocumentBlock name: Bedrock allows letters, digits, single spaces, hyphens, parentheses and
 * square brackets (the name is shown to the model, so a file name is kept as far as allowed).
 */
function documentName(filename: string | undefined, index: number): string {
  const base = (filename ?? '').replace(/\.[A-Za-z0-9]{1,8}$/, '');
  const clean = base.replace(/[^A-Za-z0-9\-()[\] ]/g, ' ').replace(/ {2,}/g, ' ').trim().slice(0, 200);
  return clean === '' ? `document-${index + 1}` : clean;
}

function userBlock(p: UserPart, param: string, docIndex: number, usedNames: Set<string>): Block {
  switch (p.type) {
    case 'text':
      return { text: p.text };
    case 'image_url': {
      const data = parseDataUrl(p.image_url.url);
      if (!data) throw unsupported(`${param}.image_url.url`, 'Bedrock takes images as base64 data URLs only, not URLs.');
      const format = IMAGE_FORMATS[data.mediaType];
      if (!format) throw unsupported(`${param}.image_url.url`, 'Bedrock takes png, jpeg, gif or webp images.');
      return { image: { format, source: { bytes: data.base64 } } };
    }
    case 'file': {
      const data = p.file.file_data ? parseDataUrl(p.file.file_data) : null;
      if (!data) throw unsupported(`${param}.file`, 'Bedrock takes files as base64 data URLs (file_data), not OpenAI file ids.');
      const format = DOCUMENT_FORMATS[data.mediaType];
      if (!format) throw unsupported(`${param}.file.file_data`, `Bedrock takes no '${data.mediaType}' documents.`);
      // Bedrock wants each document's name unique within the request.
      let name = documentName(p.file.filename, docIndex);
      if (usedNames.has(name)) name = `${name.slice(0, 190)} (${docIndex + 1})`;
      usedNames.add(name);
      return { document: { format, name, source: { bytes: data.base64 } } };
    }
    case 'input_audio':
      throw unsupported(`${param}.input_audio`, 'Bedrock Converse takes no audio input.');
  }
}

function conversation(req: ChatRequest): { system: Block[]; messages: Message[]; hasToolBlocks: boolean } {
  const known = toolCallNames(req.messages);
  const system: Block[] = [];
  const messages: Message[] = [];
  let seenTurn = false;
  let hasToolBlocks = false;
  let docs = 0;
  const docNames = new Set<string>();
  // Converse wants turns to alternate: consecutive messages of one role become one turn (tool
  // results followed by the user's next words, for example).
  const add = (role: Message['role'], content: Block[]) => {
    const last = messages.at(-1);
    if (last?.role === role) last.content.push(...content);
    else messages.push({ role, content });
  };
  for (const [i, m] of req.messages.entries()) {
    const param = `messages[${i}]`;
    switch (m.role) {
      case 'system':
      case 'developer':
        if (seenTurn) throw unsupported(`${param}.role`, 'Bedrock takes system messages only before the conversation starts.');
        system.push({ text: textOf(m.content) });
        break;
      case 'user':
        seenTurn = true;
        add('user', typeof m.content === 'string' ? [{ text: m.content }] : m.content.map((p, j) => userBlock(p, `${param}.content[${j}]`, p.type === 'file' ? docs++ : docs, docNames)));
        break;
      case 'assistant': {
        seenTurn = true;
        const content: Block[] = [];
        if (typeof m.content === 'string' && m.content !== '') content.push({ text: m.content });
        else if (Array.isArray(m.content)) for (const p of m.content) content.push({ text: p.type === 'text' ? p.text : p.refusal });
        if (m.refusal) content.push({ text: m.refusal });
        for (const [j, c] of (m.tool_calls ?? []).entries()) {
          hasToolBlocks = true;
          content.push({ toolUse: { toolUseId: c.id, name: c.function.name, input: toolArguments(c.function.arguments, `${param}.tool_calls[${j}].function.arguments`) } });
        }
        // An empty assistant turn says nothing; the upstream refuses a turn without content.
        if (content.length === 0) break;
        add('assistant', content);
        break;
      }
      case 'tool':
        seenTurn = true;
        hasToolBlocks = true;
        if (!known.has(m.tool_call_id)) {
          throw new GatewayError('invalid_request', `Invalid request: '${param}.tool_call_id' names no tool call of an earlier assistant message.`, { param: `${param}.tool_call_id` });
        }
        add('user', [{ toolResult: { toolUseId: m.tool_call_id, content: [{ text: textOf(m.content) }] } }]);
        break;
      case 'function':
        break;
    }
  }
  return { system, messages, hasToolBlocks };
}

function toolChoice(req: ChatRequest): Record<string, unknown> | undefined {
  const c = req.tool_choice;
  if (c === undefined || c === 'auto') return { auto: {} };
  if (c === 'required') return { any: {} };
  if (c === 'none') return undefined;
  if (c.type === 'function') return { tool: { name: c.function.name } };
  throw unsupported('tool_choice', 'Bedrock has no allowed_tools choice; name one function or use required.');
}

export const bedrockRequest: RequestTranslator = (body) => {
  const req = parseChatRequest(body, SUPPORTED, 'Bedrock Converse');
  if (req.n != null && req.n !== 1) throw unsupported('n', 'Bedrock Converse returns one choice.');
  if (req.response_format && req.response_format.type !== 'text') throw unsupported('response_format', 'Bedrock Converse has no JSON output mode.');
  if (req.parallel_tool_calls === false) throw unsupported('parallel_tool_calls', 'Bedrock Converse cannot be limited to one tool call per turn.');
  const { system, messages, hasToolBlocks } = conversation(req);
  if (messages.length === 0) throw new GatewayError('invalid_request', "Invalid request: 'messages' needs at least one user message.", { param: 'messages' });
  const out: Record<string, unknown> = { messages };
  if (system.length > 0) out.system = system;
  const inference: Record<string, unknown> = {};
  const max = req.max_completion_tokens ?? req.max_tokens;
  if (max != null) inference.maxTokens = max;
  if (req.temperature != null) inference.temperature = req.temperature;
  if (req.top_p != null) inference.topP = req.top_p;
  const stop = stopSequences(req.stop);
  if (stop && stop.length > 0) inference.stopSequences = stop;
  if (Object.keys(inference).length > 0) out.inferenceConfig = inference;

  const tools = functionTools(req);
  if (req.tool_choice !== undefined && req.tool_choice !== 'none' && tools.length === 0) throw unsupported('tool_choice', "needs 'tools'.");
  // Converse has no "none" choice. Leaving the tools out keeps its meaning (the model cannot call
  // one), but Bedrock refuses a history with toolUse/toolResult blocks and no toolConfig.
  if (req.tool_choice === 'none' && tools.length > 0) {
    if (hasToolBlocks) throw unsupported('tool_choice', "Bedrock has no 'none' choice once the conversation holds tool calls.");
    return out;
  }
  if (tools.length > 0) {
    out.toolConfig = {
      tools: tools.map((t) => ({
        toolSpec: {
          name: t.function.name,
          ...(t.function.description ? { description: t.function.description } : {}),
          inputSchema: { json: t.function.parameters ?? { type: 'object', properties: {} } },
        },
      })),
      toolChoice: toolChoice(req),
    };
  }
  return out;
};
