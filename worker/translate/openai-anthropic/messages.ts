/**
 * Chat messages → Anthropic `system` and `messages`. Content becomes Anthropic content blocks:
 * text, images (a `data:` URL becomes a base64 source, an http(s) URL a url source), assistant
 * `tool_calls` become `tool_use` blocks (arguments parsed: Anthropic takes an object), `tool`
 * messages `tool_result` blocks. Anthropic refuses empty text blocks, so empty text is left out.
 */
import { unsupported } from '../support';
import type { ChatMessage, UserPart } from './request-schema';

type Block = Record<string, unknown>;
interface Turn {
  role: 'user' | 'assistant';
  content: Block[];
}

/** Anthropic's image media types (https://docs.anthropic.com/en/docs/build-with-claude/vision). */
const IMAGE_TYPES = new Set(['image/jpeg', 'image/png', 'image/gif', 'image/webp']);
const DATA_URL = /^data:([^;,]+);base64,(.*)$/s;

function textOf(content: string | Array<{ text: string }>): string[] {
  return (typeof content === 'string' ? [content] : content.map((p) => p.text)).filter((t) => t.length > 0);
}

function imageBlock(url: string, param: string): Block {
  const data = DATA_URL.exec(url);
  if (data) {
    const mediaType = data[1]!.toLowerCase();
    if (!IMAGE_TYPES.has(mediaType)) throw unsupported(param, `Anthropic models take image/jpeg, image/png, image/gif or image/webp, not ${mediaType.slice(0, 64)}`);
    return { type: 'image', source: { type: 'base64', media_type: mediaType, data: data[2] } };
  }
  if (/^https?:\/\//i.test(url)) return { type: 'image', source: { type: 'url', url } };
  throw unsupported(param, 'an image must be a base64 data: URL or an http(s) URL');
}

function userBlocks(content: string | UserPart[], at: string): Block[] {
  if (typeof content === 'string') return content.length > 0 ? [{ type: 'text', text: content }] : [];
  const blocks: Block[] = [];
  content.forEach((part, j) => {
    if (part.type === 'text') {
      if (part.text.length > 0) blocks.push({ type: 'text', text: part.text });
    } else if (part.type === 'image_url') {
      blocks.push(imageBlock(part.image_url.url, `${at}.content.${j}.image_url.url`));
    } else {
      throw unsupported(`${at}.content.${j}.type`, `content parts of type '${part.type}' cannot be sent to Anthropic models through the Chat Completions format`);
    }
  });
  return blocks;
}

function assistantBlocks(msg: Extract<ChatMessage, { role: 'assistant' }>, at: string): Block[] {
  if (msg.function_call != null) throw unsupported(`${at}.function_call`, 'deprecated by OpenAI; send tool_calls');
  const blocks: Block[] = [];
  const content = msg.content ?? [];
  const parts = typeof content === 'string' ? [content] : content.map((p) => (p.type === 'text' ? p.text : p.refusal));
  if (msg.refusal) parts.push(msg.refusal);
  for (const text of parts) if (text.length > 0) blocks.push({ type: 'text', text });
  (msg.tool_calls ?? []).forEach((call, j) => {
    let input: unknown;
    try {
      input = JSON.parse(call.function.arguments || '{}');
    } catch {
      input = undefined;
    }
    if (!input || typeof input !== 'object' || Array.isArray(input)) {
      throw unsupported(`${at}.tool_calls.${j}.function.arguments`, 'must be a JSON object, as Anthropic models take tool input as an object');
    }
    blocks.push({ type: 'tool_use', id: call.id, name: call.function.name, input });
  });
  return blocks;
}

export function toAnthropicMessages(messages: ChatMessage[]): { system: string | Block[] | null; messages: Turn[] } {
  const system: string[] = [];
  const turns: Turn[] = [];
  const add = (role: Turn['role'], blocks: Block[], at: string, toolResults = false) => {
    const last = turns.at(-1);
    if (last && last.role === role) {
      // Tool results lead their user turn: a result that follows user text starts a new turn's worth of order.
      if (toolResults) {
        const firstOther = last.content.findIndex((b) => b.type !== 'tool_result');
        if (firstOther !== -1) throw unsupported(at, 'a tool message must directly follow the assistant message with its tool_calls');
      }
      last.content.push(...blocks);
    } else {
      turns.push({ role, content: blocks });
    }
  };
  messages.forEach((msg, i) => {
    const at = `messages.${i}`;
    if (msg.role === 'function') throw unsupported(`${at}.role`, "the 'function' role is deprecated by OpenAI; send tool messages");
    if ('name' in msg && msg.name != null) throw unsupported(`${at}.name`, 'Anthropic models take no participant names; put the name in the content');
    switch (msg.role) {
      case 'system':
      case 'developer':
        system.push(...textOf(msg.content));
        return;
      case 'user': {
        const blocks = userBlocks(msg.content, at);
        if (blocks.length === 0) throw unsupported(`${at}.content`, 'Anthropic models refuse a user message without content');
        return add('user', blocks, at);
      }
      case 'assistant': {
        const blocks = assistantBlocks(msg, at);
        if (blocks.length === 0) throw unsupported(`${at}.content`, 'Anthropic models refuse an assistant message without content or tool_calls');
        return add('assistant', blocks, at);
      }
      case 'tool': {
        const texts = textOf(msg.content);
        const content = texts.length === 1 ? texts[0] : texts.map((text) => ({ type: 'text', text }));
        const result = { type: 'tool_result', tool_use_id: msg.tool_call_id, ...(texts.length > 0 ? { content } : {}) };
        return add('user', [result], at, true);
      }
    }
  });
  return { system: system.length === 0 ? null : system.length === 1 ? system[0]! : system.map((text) => ({ type: 'text', text })), messages: turns };
}
