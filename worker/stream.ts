/**
 * The response stream: bytes go to the client as upstream sends them (no buffering, no
 * reordering; DESIGN §4.7) while a tap reads usage. A pull-based stream with no read-ahead
 * (highWaterMark 0) means the gateway reads upstream only as fast as the client consumes, and
 * `cancel` tells a client abort apart from a normal end.
 */
import type { AuditRecorder } from './audit';
import type { StreamTap } from './formats/types';
import { log } from '../lib/log';

export function tapStream(
  upstream: ReadableStream<Uint8Array>,
  tap: StreamTap,
  audit: AuditRecorder,
  status: number,
  clientSignal?: AbortSignal,
): ReadableStream<Uint8Array> {
  const reader = upstream.getReader();
  // workerd signals a client disconnect on request.signal (compat flag enable_request_signal)
  // even when nothing is pulling the response body at that moment.
  clientSignal?.addEventListener('abort', () => {
    audit.finish(499, 'client_aborted', tap.usage());
    reader.cancel('client disconnected').catch(() => undefined);
  });
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        // Read until something can be sent: a rewriting tap may hold back a partial event or drop
        // one, and a pull that enqueues nothing is not always called again.
        for (;;) {
          let result: ReadableStreamReadResult<Uint8Array>;
          try {
            result = await reader.read();
          } catch (e) {
            log('warn', 'upstream stream failed', {
              request_id: audit.requestId,
              reason: e instanceof Error ? e.message : String(e),
            });
            audit.finish(status, 'upstream_stream_error', tap.usage());
            controller.error(e);
            return;
          }
          if (result.done) {
            for (const out of tap.finish()) controller.enqueue(out);
            controller.close();
            audit.finish(status, null, tap.usage());
            return;
          }
          const outs = tap.push(result.value);
          for (const out of outs) controller.enqueue(out);
          if (outs.length > 0) return;
        }
      },
      async cancel(reason) {
        audit.finish(499, 'client_aborted', tap.usage());
        await reader.cancel(reason).catch(() => undefined);
      },
    },
    { highWaterMark: 0 },
  );
}
