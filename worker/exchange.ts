/**
 * One call to a provider, from `fetch` to its last byte: the header and idle timeouts, the client
 * leaving, and the one place where its outcome becomes the request's metadata event (`settle`).
 *
 * Whatever ends the call — the last byte, a timeout, the client disconnecting, a reset — goes
 * through `settle`, which records the event once, stops the timers and aborts the upstream fetch so
 * no provider socket outlives the request (issue 8, finding 2). Errors thrown before a response is
 * returned are recorded by the gateway's one `onError`; the recorder keeps the first outcome, so a
 * request never gets two events.
 */
import { emptyUsage, type Usage } from '../lib/audit/event';
import { GatewayError } from '../lib/errors';
import type { AuditRecorder } from './audit';
import type { UpstreamTimeouts } from './env';

/** The client disconnected: nothing more can be sent; the event (499) is already recorded. */
export class ClientGone extends Error {
  constructor() {
    super('client disconnected');
  }
}

/** The provider sent nothing for the idle timeout once its response had started. */
export class UpstreamIdle extends Error {
  constructor(readonly ms: number) {
    super(`upstream sent nothing for ${ms} ms`);
  }
}

export function upstreamTimeoutError(what: string, ms: number): GatewayError {
  return new GatewayError('upstream_unreachable', `The upstream provider ${what} within ${Math.round(ms / 1000)} s.`, {
    status: 504,
    code: 'upstream_timeout',
    reason: `upstream ${what} within ${ms} ms`,
  });
}

export class UpstreamExchange {
  /** The current attempt's controller: each attempt (retry, fallback) gets its own. */
  private abort = new AbortController();
  private settled = false;
  private usageOf: () => Usage = emptyUsage;
  private readonly onSettle: Array<() => void> = [];

  constructor(
    private readonly audit: AuditRecorder,
    private readonly clientSignal: AbortSignal,
    readonly timeouts: UpstreamTimeouts,
  ) {
    // workerd fires request.signal when the client disconnects (compat flag enable_request_signal),
    // even while the handler waits on the provider or nothing pulls the response body.
    if (clientSignal.aborted) this.clientLeft();
    else clientSignal.addEventListener('abort', this.clientLeft);
  }

  /** Aborts the upstream fetch and its body. */
  get signal(): AbortSignal {
    return this.abort.signal;
  }

  get clientGone(): boolean {
    return this.clientSignal.aborted;
  }

  get isSettled(): boolean {
    return this.settled;
  }

  /** Where the usage for the event comes from once the response body is being read. */
  readUsageFrom(fn: () => Usage): void {
    this.usageOf = fn;
  }

  /** Runs when the exchange ends (e.g. to cancel the body reader). */
  whenSettled(fn: () => void): void {
    if (this.settled) fn();
    else this.onSettle.push(fn);
  }

  private readonly clientLeft = (): void => {
    this.settle(499, 'client_aborted');
  };

  /**
   * Records the request's one event and releases everything the call holds. Later calls do
   * nothing: the first outcome is the one that happened.
   */
  settle(status: number, errorType: string | null, usage?: Usage): void {
    if (this.settled) return;
    this.settled = true;
    this.clientSignal.removeEventListener('abort', this.clientLeft);
    this.audit.finish(status, errorType, usage ?? this.usageOf());
    this.letGo();
  }

  /**
   * Closes the provider's connection: a body being read is cancelled (which ends its connection);
   * otherwise the fetch is aborted. After a normal end neither does anything.
   */
  private letGo(): void {
    const hooks = this.onSettle.splice(0);
    if (hooks.length > 0) for (const fn of hooks) fn();
    else this.abort.abort();
  }

  /**
   * Releases the call without recording: for an error the gateway's onError records as it answers
   * the client. Later outcomes (the client leaving) are still recorded once.
   */
  release(): void {
    if (this.settled) return;
    this.letGo();
  }

  /**
   * One attempt: waits for the response headers, at most `timeoutMs` (the header timeout unless a
   * route sets its own). A timeout aborts this attempt only and throws a 504 `upstream_timeout`
   * error; whether another attempt follows, or the request ends with it, is the pipeline's call.
   */
  async headers(call: (signal: AbortSignal) => Promise<Response>, timeoutMs = this.timeouts.headerMs): Promise<Response> {
    if (this.settled) throw new ClientGone();
    const attempt = new AbortController();
    this.abort = attempt;
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      attempt.abort();
    }, timeoutMs);
    try {
      // The client's own signal goes to the fetch too, so the runtime ties the provider call to
      // the client's connection directly, whatever JS gets to run when the client leaves.
      const res = await call(AbortSignal.any([this.clientSignal, attempt.signal]));
      if (this.clientGone || this.settled || timedOut) {
        // The provider answered after the client left (or after the timeout): not a success.
        await res.body?.cancel().catch(() => undefined);
        if (timedOut && !this.clientGone) throw upstreamTimeoutError('did not answer', timeoutMs);
        throw new ClientGone();
      }
      return res;
    } catch (e) {
      if (this.clientGone || this.settled) throw new ClientGone();
      if (timedOut) throw upstreamTimeoutError('did not answer', timeoutMs);
      throw e;
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * Waits before another attempt, or until the client leaves (then throws ClientGone): a retry's
   * backoff never outlives the client.
   */
  async pause(ms: number): Promise<void> {
    if (ms <= 0) return;
    await new Promise<void>((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.clientSignal.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.clientSignal.addEventListener('abort', done);
    });
    if (this.clientGone || this.settled) throw new ClientGone();
  }

  /** One read of the response body, at most the idle timeout. */
  async read(reader: ReadableStreamDefaultReader<Uint8Array>): Promise<ReadableStreamReadResult<Uint8Array>> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const idle = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new UpstreamIdle(this.timeouts.idleMs)), this.timeouts.idleMs);
    });
    try {
      return await Promise.race([reader.read(), idle]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** A whole (non-streamed) body as text, with the idle timeout between chunks. */
  async text(res: Response): Promise<string> {
    if (!res.body) return '';
    const reader = res.body.getReader();
    const decoder = new TextDecoder();
    let text = '';
    try {
      for (;;) {
        const { done, value } = await this.read(reader);
        if (done) return text + decoder.decode();
        text += decoder.decode(value, { stream: true });
      }
    } catch (e) {
      reader.cancel().catch(() => undefined);
      if (this.clientGone) throw new ClientGone();
      // Recorded by the pipeline, which owns the request's outcome (an error body that stalls
      // may still be followed by another attempt).
      if (e instanceof UpstreamIdle) throw upstreamTimeoutError('stopped sending its answer', e.ms);
      throw new GatewayError('upstream_unreachable', 'The upstream provider closed the connection before its answer was complete.', {
        reason: `upstream body failed: ${e instanceof Error ? e.message : String(e)}`,
      });
    }
  }
}
