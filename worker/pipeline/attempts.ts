/**
 * Stage 4, attempts: call the plan's targets until one answers. Per attempt: translate the request
 * if the formats differ, build it (async: signing fits), fetch through the exchange (per-attempt
 * timeout), and judge the answer. Retries and fallbacks happen here only, so only before the first
 * byte reaches the client: once an attempt answers 2xx, the answer is the client's, whatever
 * follows.
 *
 * What is tried again: a connection error, a timeout, 429 and 5xx. A 401, 403 or 404 is about that
 * target (its key, its model): the next target is tried, never the same one again. Any other 4xx
 * is the request's own fault and would fail anywhere: it ends the request. A fallback to another
 * target goes at once; the same target again waits an exponential backoff with jitter, or its
 * `Retry-After` when longer. A target asking to wait longer than `MAX_RETRY_AFTER_MS` is not tried
 * again (decision 0012).
 */
import type { UpstreamFormat } from '../../lib/providers/catalog';
import { asGatewayError, GatewayError } from '../../lib/errors';
import type { AuditRecorder } from '../audit';
import type { GatewayConfig } from '../env';
import { ClientGone, type UpstreamExchange } from '../exchange';
import { translationFor } from '../translate';
import type { TranslateContext, Translation } from '../translate/types';
import { checkCallUrl, openUpstream, upstreamError, type ProviderKeyStore } from '../upstream';
import { withIncludeUsage, withModel } from './body-text';
import type { ParsedRequest, Plan, Target } from './types';

/** The longest `Retry-After` honoured; a target asking for more is not tried again. */
export const MAX_RETRY_AFTER_MS = 10_000;
/** Backoff before the same target is tried again: 250 ms, 500 ms, 1 s … at most 4 s, with jitter. */
const BACKOFF_BASE_MS = 250;
const BACKOFF_MAX_MS = 4_000;

/** The attempt that answered: what the respond stage needs. */
export interface Answer {
  res: Response;
  target: Target;
  apiKey: string | null;
  upstreamFormat: UpstreamFormat;
  /** Null: same format, passed through. */
  translation: Translation | null;
  translateContext: TranslateContext;
  /** The gateway added `stream_options.include_usage` to a pass-through OpenAI stream. */
  stripInjectedUsage: boolean;
}

export interface AttemptDeps {
  config: GatewayConfig;
  providerKeys: ProviderKeyStore;
  exchange: UpstreamExchange;
  audit: AuditRecorder;
  clientHeaders: Headers;
  requestId: string;
  random?: () => number;
}

/** An attempt that did not answer: the error the client gets if it is the last, and whether to go on. */
class AttemptFailed extends Error {
  constructor(
    readonly error: GatewayError,
    readonly upstreamStatus: number,
    /** `retry`: this target again (after a wait) or the next; `fallback`: the next target only; `no`: the request ends. */
    readonly next: 'retry' | 'fallback' | 'no',
    readonly retryAfterMs: number | null,
  ) {
    super(error.message);
  }
}

/** `Retry-After` (seconds or an HTTP date, RFC 9110 §10.2.3), or OpenAI's `retry-after-ms`; null when absent or unreadable. */
export function retryAfterMs(headers: Headers, now = Date.now()): number | null {
  const ms = headers.get('retry-after-ms');
  if (ms !== null && /^\d{1,9}$/.test(ms.trim())) return Number(ms.trim());
  const value = headers.get('retry-after')?.trim();
  if (!value) return null;
  if (/^\d{1,9}$/.test(value)) return Number(value) * 1000;
  // An HTTP date names its weekday and month (RFC 9110 §5.6.7); anything else ("-1", "soon") is unreadable.
  if (value.length > 64 || !/^[A-Za-z]{3}, /.test(value)) return null;
  const date = Date.parse(value);
  return Number.isFinite(date) ? Math.max(0, date - now) : null;
}

/** The wait before trying a target for the `failures`-th time again: exponential, with equal jitter. */
export function backoffMs(failures: number, random: () => number = Math.random): number {
  const ceiling = Math.min(BACKOFF_MAX_MS, BACKOFF_BASE_MS * 2 ** Math.max(0, failures - 1));
  return Math.round(ceiling / 2 + random() * (ceiling / 2));
}

/** The error type an event records for a gateway error. */
export function auditErrorType(err: GatewayError): string {
  if (err.code === 'upstream_error' || err.code === 'upstream_timeout') return err.code;
  return err.kind;
}

/**
 * The OpenAI/Anthropic request body for the target, translated or passed through. Passed through,
 * it is also the client's own bytes with the model swapped (`bodyText`), when that is certain.
 */
function upstreamBody(parsed: ParsedRequest, target: Target, format: UpstreamFormat, translation: Translation | null, ctx: TranslateContext) {
  let body: Record<string, unknown>;
  let bodyText: string | null = null;
  let stripInjectedUsage = false;
  if (translation) {
    body = translation.request(parsed.body, ctx);
    // Every adapter gets the provider's model name in `model`; Gemini and Bedrock move it into the URL.
    body.model = target.upstreamModel;
  } else {
    body = { ...parsed.body, model: target.upstreamModel };
    bodyText = withModel(parsed.raw, parsed.json, parsed.model, target.upstreamModel);
  }
  // The gateway always needs usage: OpenAI streams report it only when asked (stream_options).
  if (format === 'openai' && parsed.stream) {
    const so = (typeof body.stream_options === 'object' && body.stream_options !== null ? body.stream_options : {}) as Record<string, unknown>;
    if (so.include_usage !== true) {
      stripInjectedUsage = translation === null;
      body.stream_options = { ...so, include_usage: true };
      bodyText = bodyText === null ? null : withIncludeUsage(bodyText);
    }
  }
  return { body, bodyText, stripInjectedUsage };
}

async function attempt(deps: AttemptDeps, parsed: ParsedRequest, target: Target, timeoutMs: number): Promise<Answer> {
  const { adapter } = target;
  const upstreamFormat = adapter.info.formats.find((f) => f === parsed.format) ?? adapter.info.formats[0]!;
  const translation = translationFor(parsed.format, upstreamFormat);
  if (translation === undefined) {
    // The plan only keeps targets it can reach; this is a build without the translator.
    const err = new GatewayError('internal', 'The gateway cannot translate this request.', { reason: `no ${parsed.format}-${upstreamFormat} translation` });
    throw new AttemptFailed(err, 0, 'no', null);
  }
  const translateContext: TranslateContext = {
    clientModel: parsed.model,
    upstreamModel: target.upstreamModel,
    requestId: deps.requestId,
    now: Math.floor(Date.now() / 1000),
    // An OpenAI client's own choice: usage in its stream only when it asked (decision 0019).
    includeUsage: parsed.format === 'openai' && parsed.body.stream_options?.include_usage === true,
  };
  const { body, bodyText, stripInjectedUsage } = upstreamBody(parsed, target, upstreamFormat, translation, translateContext);
  const upstream = await openUpstream(deps.providerKeys, deps.config, { baseUrl: target.baseUrl, entry: target.providerKey });
  const call = await adapter.buildRequest({
    format: upstreamFormat,
    body,
    bodyText,
    stream: parsed.stream,
    apiKey: upstream.apiKey,
    baseUrl: upstream.baseUrl,
    clientHeaders: deps.clientHeaders,
  });
  checkCallUrl({ baseUrl: target.baseUrl, entry: target.providerKey }, call.url, deps.config.allowPrivateUpstreams);

  let res: Response;
  try {
    res = await deps.exchange.headers(
      (signal) =>
        adapter.localFetch
          ? adapter.localFetch(call, upstreamFormat)
          : fetch(call.url, { method: 'POST', headers: call.headers, body: call.body, redirect: 'manual', signal }),
      timeoutMs,
    );
  } catch (e) {
    if (e instanceof ClientGone) throw e;
    if (e instanceof GatewayError) throw new AttemptFailed(e, 0, 'retry', null);
    const err = new GatewayError('upstream_unreachable', 'The upstream provider could not be reached.', {
      reason: `fetch ${adapter.info.name} failed: ${e instanceof Error ? e.message : String(e)}`,
    });
    throw new AttemptFailed(err, 0, 'retry', null);
  }

  if (res.status >= 300 && res.status < 400) {
    await res.body?.cancel();
    const err = new GatewayError('upstream_unreachable', 'The upstream provider answered with a redirect, which is not followed.', {
      reason: `upstream ${adapter.info.name} redirected (HTTP ${res.status})`,
    });
    throw new AttemptFailed(err, res.status, 'no', null);
  }
  if (!res.ok) {
    // 429 and 5xx pass; 401/403/404 are about this target (its provider key, its model): another
    // target may still answer. Any other 4xx is the request's own fault.
    const next = res.status === 429 || res.status >= 500 ? 'retry' : [401, 403, 404].includes(res.status) ? 'fallback' : 'no';
    const wait = retryAfterMs(res.headers);
    const err = upstreamError(res.status, await deps.exchange.text(res), upstream.apiKey);
    throw new AttemptFailed(err, res.status, next, wait);
  }
  return { res, target, apiKey: upstream.apiKey, upstreamFormat, translation, translateContext, stripInjectedUsage };
}

/**
 * Tries the plan's targets in order, wrapping round while attempts remain; every attempt is
 * recorded in the request's event. Throws the last attempt's error when none answered.
 */
export async function runAttempts(deps: AttemptDeps, parsed: ParsedRequest, plan: Plan): Promise<Answer> {
  const { exchange, audit } = deps;
  const random = deps.random ?? Math.random;
  const timeoutMs = plan.timeoutMs ?? deps.config.upstreamTimeouts.headerMs;
  const failures = new Map<Target, number>();
  const notBefore = new Map<Target, number>();
  const excluded = new Set<Target>();
  let last: GatewayError | null = null;

  for (let n = 0, i = 0; n < plan.maxAttempts; i++) {
    if (excluded.size === plan.targets.length) break;
    const target = plan.targets[i % plan.targets.length]!;
    if (excluded.has(target)) continue;
    n++;
    // Only a target tried before waits (the first attempt pays no timer and no extra await).
    const due = notBefore.get(target);
    if (due !== undefined) await exchange.pause(due - Date.now());

    const startedAt = Date.now();
    try {
      const answer = await attempt(deps, parsed, target, timeoutMs);
      audit.markFirstByte();
      audit.recordAttempt({ model: target.modelName, provider: target.adapter.info.name, provider_key_id: target.providerKey?.id ?? null, status: answer.res.status, error_type: null, startedAt });
      return answer;
    } catch (e) {
      if (e instanceof ClientGone) throw e;
      const failed = e instanceof AttemptFailed ? e : new AttemptFailed(asGatewayError(e), 0, 'no', null);
      audit.recordAttempt({
        model: target.modelName,
        provider: target.adapter.info.name,
        provider_key_id: target.providerKey?.id ?? null,
        status: failed.upstreamStatus,
        error_type: auditErrorType(failed.error),
        startedAt,
      });
      last = failed.error;
      if (failed.next === 'no') throw failed.error;
      if (failed.next === 'fallback') {
        excluded.add(target);
        continue;
      }
      const count = (failures.get(target) ?? 0) + 1;
      failures.set(target, count);
      if (failed.retryAfterMs !== null && failed.retryAfterMs > MAX_RETRY_AFTER_MS) {
        excluded.add(target);
        continue;
      }
      notBefore.set(target, Date.now() + Math.max(backoffMs(count, random), failed.retryAfterMs ?? 0));
    }
  }
  throw last ?? new GatewayError('upstream_unreachable', 'No upstream provider could be tried.');
}
