/**
 * The response stream: events go to the client as upstream sends them (no buffering, no
 * reordering; DESIGN §4.7) while a tap reads usage and the outcome. A pull-based stream with no
 * read-ahead (highWaterMark 0) means the gateway reads upstream only as fast as the client
 * consumes, so the idle timeout measures the provider's silence, never a slow client.
 *
 * How the stream ends decides the event (recorded once, by the exchange):
 *   last byte, end marker seen        → the upstream status, no error
 *   last byte, no end marker          → `incomplete` (the provider closed early)
 *   the provider's own error event    → `upstream_error:<its error type>`
 *   reset mid-stream                  → 502 `upstream_stream_error`, an error event to the client
 *   nothing for the idle timeout      → 504 `upstream_timeout`, an error event to the client
 *   the client leaves                 → 499 `client_aborted`, the upstream fetch aborted
 */
import { GatewayError, wireErrorBody, type WireFormat } from '../lib/errors';
import { log } from '../lib/log';
import { ClientGone, UpstreamIdle, upstreamTimeoutError, type UpstreamExchange } from './exchange';
import type { StreamOutcome, StreamTap } from './formats/types';

const encoder = new TextEncoder();

/**
 * An error as an SSE event in the caller's format, as the providers send one mid-stream: Anthropic
 * `event: error` with its error body (what @anthropic-ai/sdk raises on), OpenAI a `data:` chunk
 * whose `error` member the openai SDK raises on.
 */
export function errorEvent(format: Exclude<WireFormat, 'admin'>, err: GatewayError): Uint8Array {
  const body = JSON.stringify(wireErrorBody(err, format));
  return encoder.encode(format === 'anthropic' ? `event: error\ndata: ${body}\n\n` : `data: ${body}\n\n`);
}

/** The error type an ended stream is recorded with (null: a complete, successful stream). */
export function outcomeErrorType(outcome: StreamOutcome): string | null {
  if (outcome.upstreamErrorType) return `upstream_error:${outcome.upstreamErrorType}`;
  return outcome.complete ? null : 'incomplete';
}

export function tapStream(
  upstream: ReadableStream<Uint8Array>,
  tap: StreamTap,
  exchange: UpstreamExchange,
  status: number,
  format: Exclude<WireFormat, 'admin'>,
  requestId: string,
): ReadableStream<Uint8Array> {
  const reader = upstream.getReader();
  exchange.readUsageFrom(() => tap.usage());
  // Once the exchange ends for any reason (the client leaving included), stop reading upstream.
  exchange.whenSettled(() => void reader.cancel().catch(() => undefined));

  /**
   * Hands bytes to the client. Once the client's side is gone, enqueue and close throw, and that
   * may be the only sign the gateway gets (workerd does not always call `cancel` or fire the
   * request signal): it is recorded as the client leaving, never left unrecorded.
   */
  const deliver = (controller: ReadableStreamDefaultController<Uint8Array>, outs: Uint8Array[], close: boolean): boolean => {
    try {
      for (const out of outs) controller.enqueue(out);
      if (close) controller.close();
      return true;
    } catch {
      exchange.settle(499, 'client_aborted');
      return false;
    }
  };

  const pump = async (controller: ReadableStreamDefaultController<Uint8Array>): Promise<void> => {
    // Read until something can be sent: the tap holds back a half-received event or drops one,
    // and a pull that enqueues nothing is not always called again.
    for (;;) {
      let result: ReadableStreamReadResult<Uint8Array>;
      try {
        if (exchange.isSettled) throw new ClientGone();
        result = await exchange.read(reader);
      } catch (e) {
        // The client left (recorded as 499): the stream is cancelled, there is no one to tell.
        if (exchange.isSettled) return;
        const idle = e instanceof UpstreamIdle;
        const err = idle
          ? upstreamTimeoutError('stopped sending its stream', e.ms)
          : new GatewayError('upstream_unreachable', 'The upstream provider ended the stream unexpectedly.', {
              code: 'upstream_stream_error',
            });
        log('warn', idle ? 'upstream stream idle: ended with an error event' : 'upstream stream failed: ended with an error event', {
          request_id: requestId,
          reason: e instanceof Error ? e.message : String(e),
        });
        if (deliver(controller, tap.fail(errorEvent(format, err)), true)) {
          exchange.settle(idle ? 504 : 502, idle ? 'upstream_timeout' : 'upstream_stream_error');
        }
        return;
      }
      if (result.done) {
        if (deliver(controller, tap.finish(), true)) exchange.settle(status, outcomeErrorType(tap.outcome()));
        return;
      }
      const outs = tap.push(result.value);
      if (!deliver(controller, outs, false) || outs.length > 0) return;
    }
  };

  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        try {
          await pump(controller);
        } catch (e) {
          // A fault in the gateway itself: still one event, and the client sees the stream fail.
          log('error', 'stream tap failed', { request_id: requestId, reason: e instanceof Error ? e.message : String(e) });
          exchange.settle(500, 'internal');
          controller.error(e);
        }
      },
      cancel() {
        exchange.settle(499, 'client_aborted');
      },
    },
    { highWaterMark: 0 },
  );
}
