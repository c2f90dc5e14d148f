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

/**
 * One timer per exchange, not one per read: `setTimeout`/`clearTimeout` and a `Promise.race` on
 * every read cost the gateway ~10 % of its CPU under load (issue 13 profile). The watchdog fires at
 * the earliest moment a deadline could have passed and looks at what is under way then: the
 * headers of an attempt (its deadline from the attempt's start) or one body read (from that read's
 * start). Between reads nothing waits on the provider — a client that pulls slowly is never the
 * provider's silence — so a watchdog that finds nothing under way stops, and the next read sets it.
 */
type Waiting = { kind: 'headers' | 'read'; deadline: number; expire: () => void } | null;

export class UpstreamExchange {
  /** The current attempt's controller: each attempt (retry, fallback) gets its own; none before the first. */
  private abort: AbortController | null = null;
  private settled = false;
  /** The provider's body was read to its end: nothing is left to abort or cancel. */
  private bodyDone = false;
  private usageOf: () => Usage = emptyUsage;
  private readonly onSettle: Array<() => void> = [];
  private watchdog: ReturnType<typeof setTimeout> | null = null;
  /** When the watchdog fires. */
  private watchdogAt = 0;
  private waiting: Waiting = null;

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
   * Starts waiting on the provider until `waiting.deadline`, with the watchdog due by `fireBy` at
   * the latest; an earlier watchdog stays (it looks again when it fires), so most waits set no timer.
   */
  private wait(waiting: NonNullable<Waiting>, fireBy = waiting.deadline): void {
    this.waiting = waiting;
    if (this.watchdog !== null && this.watchdogAt <= fireBy) return;
    if (this.watchdog !== null) clearTimeout(this.watchdog);
    this.watchdogAt = fireBy;
    this.watchdog = setTimeout(this.check, Math.max(0, fireBy - Date.now()));
  }

  private readonly check = (): void => {
    this.watchdog = null;
    const w = this.waiting;
    // Nothing under way (between reads, or done): the next wait sets a new watchdog.
    if (this.settled || !w) return;
    if (Date.now() >= w.deadline) {
      this.waiting = null;
      w.expire();
      return;
    }
    this.wait(w);
  };

  private stopWatchdog(): void {
    this.waiting = null;
    if (this.watchdog !== null) clearTimeout(this.watchdog);
    this.watchdog = null;
  }

  /**
   * Records the request's one event and releases everything the call holds. Later calls do
   * nothing: the first outcome is the one that happened.
   */
  settle(status: number, errorType: string | null, usage?: Usage): void {
    if (this.settled) return;
    this.settled = true;
    this.stopWatchdog();
    this.clientSignal.removeEventListener('abort', this.clientLeft);
    this.audit.finish(status, errorType, usage ?? this.usageOf());
    this.letGo();
  }

  /**
   * Closes the provider's connection: a body being read is cancelled (which ends its connection);
   * otherwise the fetch is aborted. After the body's last byte neither is needed: aborting a
   * finished fetch cost 11 % of the gateway's CPU in the issue 13 profile.
   */
  private letGo(): void {
    const hooks = this.onSettle.splice(0);
    if (this.bodyDone) return;
    if (hooks.length > 0) for (const fn of hooks) fn();
    else this.abort?.abort();
  }

  /**
   * Releases the call without recording: for an error the gateway's onError records as it answers
   * the client. Later outcomes (the client leaving) are still recorded once.
   */
  release(): void {
    if (this.settled) return;
    this.stopWatchdog();
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
    this.bodyDone = false;
    let timedOut = false;
    // Due no later than an idle period from now, so the body's first read need not move it.
    const now = Date.now();
    this.wait(
      {
        kind: 'headers',
        deadline: now + timeoutMs,
        expire: () => {
          timedOut = true;
          attempt.abort();
        },
      },
      now + Math.min(timeoutMs, this.timeouts.idleMs),
    );
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
      if (this.waiting?.kind === 'headers') this.waiting = null;
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

  /** One read of the response body, at most the idle timeout (UpstreamIdle after it). */
  async read(reader: ReadableStreamDefaultReader<Uint8Array>): Promise<ReadableStreamReadResult<Uint8Array>> {
    let idle = false;
    this.wait({
      kind: 'read',
      deadline: Date.now() + this.timeouts.idleMs,
      expire: () => {
        idle = true;
        // Ends the pending read (it resolves as done) and the provider's connection.
        reader.cancel().catch(() => undefined);
        this.abort?.abort();
      },
    });
    let result: ReadableStreamReadResult<Uint8Array>;
    try {
      result = await reader.read();
    } catch (e) {
      if (idle) throw new UpstreamIdle(this.timeouts.idleMs);
      throw e;
    } finally {
      if (this.waiting?.kind === 'read') this.waiting = null;
    }
    if (idle) throw new UpstreamIdle(this.timeouts.idleMs);
    if (result.done) this.bodyDone = true;
    return result;
  }

  /**
   * A whole (non-streamed) body as text, read natively: it must arrive within the idle timeout
   * (a provider sends a non-streamed answer at once, after its headers). Reading it chunk by chunk
   * in JavaScript, with a timer per chunk, cost more than all of the gateway's policy work.
   */
  async text(res: Response): Promise<string> {
    if (!res.body) return '';
    let idle = false;
    let giveUp: (e: Error) => void = () => undefined;
    // A body the abort cannot reach (an in-process provider's) still ends the wait.
    const timedOut = new Promise<never>((_, reject) => (giveUp = reject));
    timedOut.catch(() => undefined);
    this.wait({
      kind: 'read',
      deadline: Date.now() + this.timeouts.idleMs,
      expire: () => {
        idle = true;
        // Aborting the fetch errors its body: the pending read fails and the connection closes.
        this.abort?.abort();
        giveUp(new UpstreamIdle(this.timeouts.idleMs));
      },
    });
    try {
      const text = await Promise.race([res.text(), timedOut]);
      if (idle) throw new UpstreamIdle(this.timeouts.idleMs);
      this.bodyDone = true;
      return text;
    } catch (e) {
      if (this.clientGone) throw new ClientGone();
      // Recorded by the pipeline, which owns the request's outcome (an error body that stalls
      // may still be followed by another attempt).
      if (idle || e instanceof UpstreamIdle) throw upstreamTimeoutError('stopped sending its answer', this.timeouts.idleMs);
      throw new GatewayError('upstream_unreachable', 'The upstream provider closed the connection before its answer was complete.', {
        reason: `upstream body failed: ${e instanceof Error ? e.message : String(e)}`,
      });
    } finally {
      if (this.waiting?.kind === 'read') this.waiting = null;
    }
  }
}
