/**
 * Tool call ids for Gemini. Gemini names no id for a function call, so the gateway makes a stable
 * one (openai-chat-response.ts `toolCallId`). Gemini 2.5 and later attach a `thoughtSignature` to
 * a function call part, and Gemini 3 refuses a later turn whose function call comes back without
 * it. OpenAI's history has no place for it but the tool call id, which every client returns
 * unchanged: the signature rides in the id as base64url after `__sig__` (ids stay `[A-Za-z0-9_-]`).
 */
import type { TranslateContext } from '../types';
import { toolCallId } from '../openai-chat-response';

const MARK = '__sig__';

function toBase64Url(b64: string): string {
  return b64.replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

function fromBase64Url(s: string): string {
  const b64 = s.replace(/-/g, '+').replace(/_/g, '/');
  return b64 + '='.repeat((4 - (b64.length % 4)) % 4);
}

/** The id of the `position`-th function call of a candidate, carrying its signature if any. */
export function geminiToolCallId(ctx: TranslateContext, choice: number, position: number, signature: unknown): string {
  // The base id never holds `__` (underscores collapse), so the first MARK is ours.
  const base = toolCallId(ctx, choice, position).replace(/_+/g, '_');
  return typeof signature === 'string' && /^[A-Za-z0-9+/=_-]{1,16384}$/.test(signature) ? `${base}${MARK}${toBase64Url(signature)}` : base;
}

/** The thought signature a tool call id carries, as Gemini sent it (base64), or null. */
export function signatureFromToolCallId(id: string): string | null {
  const at = id.indexOf(MARK);
  if (at < 0) return null;
  const sig = id.slice(at + MARK.length);
  return /^[A-Za-z0-9_-]{1,16384}$/.test(sig) ? fromBase64Url(sig) : null;
}
