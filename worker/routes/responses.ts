/**
 * POST /v1/responses: OpenAI's Responses API for OpenAI and Azure OpenAI models, passed through
 * (the request as the client sent it, the model name swapped for the provider's own; the answer
 * as the provider sent it). Streams pass through the usage tap, which reads the final
 * `response.completed` (or `response.incomplete` / `response.failed`) event's usage. One audit
 * event per request; errors in OpenAI's format.
 */
import type { Context } from 'hono';
import { emptyUsage, type Usage } from '../../lib/audit/event';
import { asGatewayError, GatewayError, invalidField } from '../../lib/errors';
import { parseJsonBody, readBodyText } from '../body';
import type { Env } from '../env';
import { ClientGone, UpstreamExchange } from '../exchange';
import { createEventTap } from '../formats/event-tap';
import { asCount, errorTypeLabel, isEventStream, looksLikeObject, parseJsonObject } from '../formats/sse';
import type { StreamOutcome } from '../formats/types';
import type { KeyAuthVariables } from '../middleware/key-auth';
import type { RequestContextVariables } from '../middleware/request-context';
import { auditErrorType } from '../pipeline/attempts';
import { checkMemberSpellings, checkModelName } from '../pipeline/parse';
import { openTarget, sendOnce, singleTarget, type SingleDeps } from '../pipeline/single';
import { azureCall } from '../providers/azure';
import { safeUpstreamRequestId } from '../redact';
import { tapStream } from '../stream';
import type { ProviderKeyStore } from '../upstream';
import { reserveForRequest } from '../pipeline/reserve';

type GatewayContext = Context<{ Bindings: Env; Variables: RequestContextVariables & KeyAuthVariables }>;

export const RESPONSES_PROVIDERS = ['openai', 'azure'] as const;

/** Usage of a Responses API `response` object: input/output, cached input, reasoning output. */
export function usageFromResponse(response: unknown): Usage {
  const usage = emptyUsage();
  const u = (response as { usage?: unknown } | null)?.usage;
  if (!u || typeof u !== 'object') return usage;
  const r = u as Record<string, unknown>;
  usage.input_tokens = asCount(r.input_tokens);
  usage.output_tokens = asCount(r.output_tokens);
  const inDetails = r.input_tokens_details as Record<string, unknown> | undefined;
  if (inDetails && typeof inDetails === 'object') usage.cache_read_tokens = asCount(inDetails.cached_tokens);
  const outDetails = r.output_tokens_details as Record<string, unknown> | undefined;
  if (outDetails && typeof outDetails === 'object') usage.reasoning_tokens = asCount(outDetails.reasoning_tokens);
  return usage;
}

/** The final events of a Responses stream: each carries the whole `response`, usage included. */
const FINAL = new Set(['response.completed', 'response.incomplete', 'response.failed']);

export function createResponsesStreamTap(context: Record<string, unknown> = {}) {
  let usage = emptyUsage();
  const outcome: StreamOutcome = { complete: false, upstreamErrorType: null };
  return createEventTap(
    {
      read(ev) {
        if (!ev.hasData || ev.data === null || (ev.type !== null && !FINAL.has(ev.type) && ev.type !== 'error')) return 'keep';
        const obj = looksLikeObject(ev.data) ? parseJsonObject(ev.data) : null;
        const type = ev.type ?? (typeof obj?.type === 'string' ? obj.type : null);
        if (type !== null && FINAL.has(type)) {
          outcome.complete = true;
          usage = usageFromResponse(obj?.response);
          if (type === 'response.failed') {
            const err = (obj?.response as { error?: { code?: unknown } } | undefined)?.error;
            outcome.upstreamErrorType ??= errorTypeLabel(err?.code ?? 'response_failed');
          }
        } else if (type === 'error') {
          outcome.upstreamErrorType ??= errorTypeLabel(obj?.code ?? 'error');
        }
        return 'keep';
      },
      usage: () => usage,
      outcome: () => ({ ...outcome }),
    },
    { rewrites: false, context },
  );
}

/**
 * Parameters the gateway refuses: `background` runs the response after the call returns, so its
 * usage is never seen (it would run unbilled, past every limit); `previous_response_id` and
 * `conversation` continue state the provider stored under the organisation's provider key, which
 * any other key of the organisation could then read or extend. Each is a 400 naming it.
 */
export function refuseStatefulParams(body: Record<string, unknown>): void {
  if (body.background !== undefined && body.background !== null && body.background !== false) {
    throw invalidField(['background'], 'is not supported by this gateway (a background response runs past its limits and audit); send the request without it.');
  }
  const stateful = { previous_response_id: body.previous_response_id, conversation: body.conversation };
  for (const [name, value] of Object.entries(stateful)) {
    if (value !== undefined && value !== null) {
      throw invalidField([name], 'is not supported by this gateway (stored responses would be shared by every key of the organisation); send the whole conversation as input instead.');
    }
  }
}

export function responsesHandler(providerKeys: ProviderKeyStore) {
  return async function responses(c: GatewayContext): Promise<Response> {
    const config = c.get('config');
    const audit = c.get('audit')!;
    const requestId = c.get('requestId');
    const body = parseJsonBody(await readBodyText(c.req.raw, config.maxBodyBytes));
    checkMemberSpellings(body, ['input', 'background', 'previous_response_id', 'conversation']);
    if (typeof body.model !== 'string') throw invalidField(['model'], 'is required and must be a string');
    if (body.stream !== undefined && typeof body.stream !== 'boolean') throw invalidField(['stream'], 'must be a boolean');
    refuseStatefulParams(body);
    const model = body.model;
    const stream = body.stream === true;
    audit.model = model;
    audit.stream = stream;
    checkModelName(model);
    const deps: SingleDeps = { env: c.env, config, providerKeys, key: c.get('virtualKey') };
    const target = await singleTarget(deps, 'responses', model, RESPONSES_PROVIDERS);
    audit.provider = target.adapter.info.name;
    const limits = await reserveForRequest(c.env, (p) => c.executionCtx.waitUntil(p), { key: deps.key, requestId, audit, body, models: [model] });
    const exchange = new UpstreamExchange(audit, c.req.raw.signal, config.upstreamTimeouts);
    try {
      const { apiKey, baseUrl } = await openTarget(deps, target);
      const upstreamBody = { ...body, model: target.upstreamModel };
      const call =
        target.adapter.info.name === 'azure'
          ? azureCall(baseUrl, apiKey, target.upstreamModel, 'responses', upstreamBody)
          : { url: `${baseUrl.replace(/\/+$/, '')}/responses`, headers: new Headers({ 'content-type': 'application/json', authorization: `Bearer ${apiKey ?? ''}` }), body: JSON.stringify(upstreamBody) };
      const res = await sendOnce(exchange, audit, target, apiKey, call);
      const headers = new Headers({ 'content-type': res.headers.get('content-type') ?? 'application/json', 'cache-control': 'no-store' });
      const upstreamId = safeUpstreamRequestId(res.headers, apiKey);
      if (upstreamId) headers.set('x-upstream-request-id', upstreamId);
      if (stream && res.body && isEventStream(res.headers.get('content-type'))) {
        const tap = createResponsesStreamTap({ request_id: requestId });
        return limits.decorate(new Response(tapStream(res.body, tap, exchange, res.status, 'openai', requestId), { status: res.status, headers }));
      }
      const text = await exchange.text(res);
      const json = parseJsonObject(text);
      if (!json) throw new GatewayError('upstream_unreachable', 'The upstream provider answered with a body that is not JSON.', { reason: `${target.adapter.info.name} responses: non-JSON body` });
      exchange.settle(res.status, null, usageFromResponse(json));
      return limits.decorate(new Response(text, { status: res.status, headers }));
    } catch (e) {
      if (e instanceof ClientGone) return new Response(null, { status: 499 });
      const err = asGatewayError(e);
      exchange.settle(err.status, auditErrorType(err));
      throw err;
    }
  };
}
