/**
 * Anthropic `system` and `messages` → Chat Completions messages.
 *
 * - `system` becomes one leading `system` message; a `system` message among the others (API version
 *   2026-10-21) stays where it is.
 * - A user turn's `tool_result` blocks become `tool` messages, all of them ahead of the turn's
 *   other content (OpenAI wants tool messages right after the assistant's `tool_calls`). A tool
 *   result's `is_error` has no OpenAI form: the result's text (the error) is sent as it is.
 * - Images: a base64 source becomes a `data:` URL, a url source the URL itself.
 * - Assistant `tool_use` blocks become `tool_calls` (input as a JSON string); thinking blocks are
 *   the model's own earlier reasoning, which Chat Completions never takes back, and are left out.
 * - `cache_control` marks are hints for Anthropic's prompt cache; OpenAI caches on its own.
 */
import { unsupported } from '../support';
import type { AnthropicMessage, Block, MessagesRequest } from './request-schema';

type Part = Record<string, unknown>;
type ChatMessage = Record<string, unknown>;

const textContent = (parts: Part[]): string | Part[] => (parts.length === 1 && parts[0]!.type === 'text' ? (parts[0]!.text as string) : parts);

function imagePart(block: Extract<Block, { type: 'image' }>, at: string): Part {
  const source = block.source;
  if (source.type === 'base64') return { type: 'image_url', image_url: { url: `data:${source.media_type};base64,${source.data}` } };
  if (source.type === 'url') return { type: 'image_url', image_url: { url: source.url } };
  throw unsupported(`${at}.source.type`, 'images uploaded through the Anthropic Files API cannot be sent to this model; send base64 or a URL');
}

function toolMessage(block: Extract<Block, { type: 'tool_result' }>, at: string): ChatMessage {
  const content = block.content ?? '';
  if (typeof content === 'string') return { role: 'tool', tool_call_id: block.tool_use_id, content };
  const parts = content.map((inner, k) => {
    if (inner.type !== 'text') throw unsupported(`${at}.content.${k}.type`, 'OpenAI tool messages take text only');
    return { type: 'text', text: inner.text };
  });
  return { role: 'tool', tool_call_id: block.tool_use_id, content: parts.length === 0 ? '' : textContent(parts) };
}

function userMessages(msg: AnthropicMessage, at: string): ChatMessage[] {
  if (typeof msg.content === 'string') return [{ role: 'user', content: msg.content }];
  const tools: ChatMessage[] = [];
  const parts: Part[] = [];
  msg.content.forEach((block, j) => {
    const here = `${at}.content.${j}`;
    if (block.type === 'tool_result') tools.push(toolMessage(block, here));
    else if (block.type === 'text') parts.push({ type: 'text', text: block.text });
    else if (block.type === 'image') parts.push(imagePart(block, here));
    else throw unsupported(`${here}.type`, `content blocks of type '${block.type}' cannot be sent to this model`);
  });
  return parts.length > 0 ? [...tools, { role: 'user', content: textContent(parts) }] : tools;
}

function assistantMessage(msg: AnthropicMessage, at: string): ChatMessage {
  if (typeof msg.content === 'string') return { role: 'assistant', content: msg.content };
  const parts: Part[] = [];
  const toolCalls: Part[] = [];
  msg.content.forEach((block, j) => {
    if (block.type === 'text') parts.push({ type: 'text', text: block.text });
    else if (block.type === 'tool_use') {
      toolCalls.push({ id: block.id, type: 'function', function: { name: block.name, arguments: JSON.stringify(block.input) } });
    } else if (block.type !== 'thinking' && block.type !== 'redacted_thinking') {
      throw unsupported(`${at}.content.${j}.type`, `content blocks of type '${block.type}' cannot be sent to this model`);
    }
  });
  const out: ChatMessage = { role: 'assistant', content: parts.length > 0 ? textContent(parts) : null };
  if (toolCalls.length > 0) out.tool_calls = toolCalls;
  return out;
}

export function toChatMessages(req: MessagesRequest): ChatMessage[] {
  const out: ChatMessage[] = [];
  if (typeof req.system === 'string' && req.system.length > 0) out.push({ role: 'system', content: req.system });
  else if (Array.isArray(req.system) && req.system.length > 0) {
    out.push({ role: 'system', content: textContent(req.system.map((b) => ({ type: 'text', text: b.text }))) });
  }
  req.messages.forEach((msg, i) => {
    const at = `messages.${i}`;
    if (msg.role === 'system') {
      const content = typeof msg.content === 'string' ? msg.content : textContent(msg.content.map((b) => ({ type: 'text', text: b.text })));
      out.push({ role: 'system', content });
    } else if (msg.role === 'user') out.push(...userMessages(msg, at));
    else out.push(assistantMessage(msg, at));
  });
  return out;
}
