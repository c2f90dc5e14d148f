/**
 * Stage 5, respond: the answering attempt's response, in the client's format. A same-format answer
 * passes through as bytes (streams through the usage tap, exactly as before the pipeline); another
 * format is translated back — streams event by event, whole bodies at once.
 */
import { GatewayError } from '../../lib/errors';
import { log } from '../../lib/log';
import { createMessagesStreamTap, usageFromMessage } from '../formats/anthropic-messages';
import { createChatStreamTap, usageFromChatCompletion } from '../formats/openai-chat';
import { isEventStream, parseJsonObject } from '../formats/sse';
import type { StreamTap } from '../formats/types';
import type { UpstreamExchange } from '../exchange';
import { safeUpstreamRequestId } from '../redact';
import { tapStream } from '../stream';
import type { Answer } from './attempts';
import { createTranslatingTap, decoderFor } from './translated-stream';
import type { ParsedRequest } from './types';

export interface RespondContext {
  exchange: UpstreamExchange;
  requestId: string;
  /** Server-Timing value, when the operator exposes it. */
  serverTiming: string | null;
}

const usageReader = (parsed: ParsedRequest) => (parsed.format === 'anthropic' ? usageFromMessage : usageFromChatCompletion);

export async function respond(parsed: ParsedRequest, answer: Answer, rc: RespondContext): Promise<Response> {
  const { res, translation } = answer;
  const { exchange, requestId } = rc;
  const logContext = { request_id: requestId };
  // A plain record: the Response builds its own Headers from it (one Headers object, not two).
  const headers: Record<string, string> = {
    'content-type': translation
      ? parsed.stream ? 'text/event-stream' : 'application/json'
      : (res.headers.get('content-type') ?? 'application/json'),
    'cache-control': 'no-store',
  };
  const upstreamId = safeUpstreamRequestId(res.headers, answer.apiKey);
  if (upstreamId) headers['x-upstream-request-id'] = upstreamId;
  if (rc.serverTiming) headers['server-timing'] = rc.serverTiming;

  if (parsed.stream && res.body && (translation || isEventStream(res.headers.get('content-type')))) {
    let tap: StreamTap;
    if (!translation) {
      tap = parsed.format === 'anthropic' ? createMessagesStreamTap(logContext) : createChatStreamTap(answer.stripInjectedUsage, logContext);
    } else {
      tap = createTranslatingTap(decoderFor(answer.target.adapter, logContext), translation.stream(answer.translateContext), parsed.format, logContext);
    }
    return new Response(tapStream(res.body, tap, exchange, res.status, parsed.format, requestId), { status: res.status, headers });
  }

  const text = await exchange.text(res);
  const json = parseJsonObject(text);
  if (!translation) {
    exchange.settle(res.status, null, usageReader(parsed)(json));
    if (!json) log('warn', 'upstream answered with a non-JSON body', { ...logContext, provider: answer.target.adapter.info.name });
    return new Response(text, { status: res.status, headers });
  }
  if (!json) {
    throw new GatewayError('upstream_unreachable', 'The upstream provider answered with a body that is not JSON.', {
      reason: `${answer.target.adapter.info.name} answered HTTP ${res.status} with a non-JSON body`,
    });
  }
  const translated = translation.response(json, answer.translateContext);
  // Usage as near the upstream as a reader exists: its own body for OpenAI and Anthropic (Anthropic's
  // cache writes have no OpenAI field), else the translated body in the client's format.
  const usage =
    answer.upstreamFormat === 'anthropic' ? usageFromMessage(json)
    : answer.upstreamFormat === 'openai' ? usageFromChatCompletion(json)
    : usageReader(parsed)(translated);
  exchange.settle(res.status, null, usage);
  return new Response(JSON.stringify(translated), { status: res.status, headers });
}
