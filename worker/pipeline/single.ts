/**
 * The endpoints besides chat (POST /v1/embeddings, POST /v1/responses) call one provider model
 * directly: the same plan rules (model scope, the organisation's provider key, SSRF-checked base
 * URL), the same Cerbos decision, and the same recorded attempt as the chat pipeline, without
 * translation between chat formats or routes.
 */
import { GatewayError } from '../../lib/errors';
import { modelAllowed, parseModelName } from '../../lib/models';
import type { Env, GatewayConfig } from '../env';
import type { AuditRecorder } from '../audit';
import type { UpstreamExchange } from '../exchange';
import { ClientGone } from '../exchange';
import { providerFor } from '../providers';
import type { UpstreamCall } from '../providers/types';
import { openUpstream, selectUpstream, upstreamError, type ProviderKeyStore, type ResolvedUpstream } from '../upstream';
import type { VirtualKeyRecord } from '../../lib/kv/records';
import { auditErrorType } from './attempts';
import { authorize } from './authorize';
import { ROUTE_PREFIX } from './plan';
import type { Target } from './types';

export type AuxEndpoint = 'embeddings' | 'responses';

const PATH: Record<AuxEndpoint, string> = { embeddings: '/v1/embeddings', responses: '/v1/responses' };

export interface SingleDeps {
  env: Env;
  config: GatewayConfig;
  providerKeys: ProviderKeyStore;
  key: VirtualKeyRecord;
}

/** The one target `model` names, checked and allowed; the provider must be one of `served`. */
export async function singleTarget(deps: SingleDeps, endpoint: AuxEndpoint, model: string, served: readonly string[]): Promise<Target> {
  // eslint-disable-next-line security/detect-object-injection -- endpoint is an AuxEndpoint, a key of the constant PATH
  const path = PATH[endpoint];
  if (model.startsWith(ROUTE_PREFIX)) {
    throw new GatewayError('invalid_request', `Routes serve /v1/chat/completions and /v1/messages; call ${path} with a provider/model name.`, { param: 'model' });
  }
  const ref = parseModelName(model);
  const adapter = ref ? providerFor(ref.provider) : null;
  if (!ref || !adapter) {
    throw new GatewayError('not_found', `The model '${model}' does not exist. Name models as provider/model, e.g. openai/text-embedding-3-small.`, { code: 'model_not_found', param: 'model' });
  }
  if (!served.includes(adapter.info.name)) {
    throw new GatewayError('invalid_request', `The model '${model}' cannot be called on ${path}: it serves ${served.map((p) => `${p}/…`).join(', ')} models.`, { param: 'model' });
  }
  if (!modelAllowed(model, deps.key.models)) {
    throw new GatewayError('permission', `This API key may not use the model '${model}'.`, { code: 'model_not_allowed', reason: `model ${model} outside scope of key ${deps.key.id}` });
  }
  const upstream = await selectUpstream(deps.providerKeys, deps.env, deps.config, adapter, deps.key.org_id, model);
  const target: Target = { modelName: model, adapter, upstreamModel: ref.model, baseUrl: upstream.baseUrl, providerKey: upstream.entry };
  await authorize(deps.config, deps.key, endpoint, { route: null, targets: [target], maxAttempts: 1, timeoutMs: null }, model);
  return target;
}

export function openTarget(deps: SingleDeps, target: Target): Promise<ResolvedUpstream> {
  return openUpstream(deps.providerKeys, deps.config, { baseUrl: target.baseUrl, entry: target.providerKey });
}

/**
 * One upstream call through the exchange (header timeout, the client leaving), recorded as the
 * request's attempt. A non-2xx answer becomes the caller-format error (secrets redacted).
 */
export async function sendOnce(exchange: UpstreamExchange, audit: AuditRecorder, target: Target, apiKey: string | null, call: UpstreamCall | (() => Promise<Response>)): Promise<Response> {
  const startedAt = Date.now();
  const record = (status: number, errorType: string | null) =>
    audit.recordAttempt({ model: target.modelName, provider: target.adapter.info.name, provider_key_id: target.providerKey?.id ?? null, status, error_type: errorType, startedAt });
  let res: Response;
  try {
    res = await exchange.headers((signal) =>
      typeof call === 'function' ? call() : fetch(call.url, { method: 'POST', headers: call.headers, body: call.body, redirect: 'manual', signal }),
    );
  } catch (e) {
    if (e instanceof ClientGone) throw e;
    const err = e instanceof GatewayError ? e : new GatewayError('upstream_unreachable', 'The upstream provider could not be reached.', { reason: `fetch ${target.adapter.info.name} failed: ${e instanceof Error ? e.message : String(e)}` });
    record(0, auditErrorType(err));
    throw err;
  }
  if (res.status >= 300 && res.status < 400) {
    await res.body?.cancel();
    const err = new GatewayError('upstream_unreachable', 'The upstream provider answered with a redirect, which is not followed.', { reason: `upstream ${target.adapter.info.name} redirected (HTTP ${res.status})` });
    record(res.status, auditErrorType(err));
    throw err;
  }
  if (!res.ok) {
    const err = upstreamError(res.status, await exchange.text(res), apiKey);
    record(res.status, auditErrorType(err));
    throw err;
  }
  audit.markFirstByte();
  record(res.status, null);
  return res;
}
