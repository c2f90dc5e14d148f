/**
 * POST /v1/chat/completions and POST /v1/messages: validate, scope, authorize, resolve the provider
 * key, call upstream (streamed), tap usage, and record one metadata event.
 */
import type { Context } from 'hono';
import type { ZodMiniType } from 'zod/mini';
import { PolicyUnavailableError } from '../../lib/authz/cerbos';
import { GatewayError, invalidField } from '../../lib/errors';
import { modelAllowed, modelNameProblem, parseModelName } from '../../lib/models';
import { readBodyText, parseJsonBody } from '../body';
import type { Env } from '../env';
import { createMessagesStreamTap, messagesRequestSchema, usageFromMessage } from '../formats/anthropic-messages';
import { chatCompletionRequestSchema, createChatStreamTap, usageFromChatCompletion } from '../formats/openai-chat';
import { isEventStream, parseJsonObject } from '../formats/sse';
import type { Endpoint, StreamTap } from '../formats/types';
import { alert, log } from '../../lib/log';
import type { KeyAuthVariables } from '../middleware/key-auth';
import type { RequestContextVariables } from '../middleware/request-context';
import { providerFor } from '../providers';
import { openUpstream, selectUpstream, upstreamError, type ProviderKeyStore } from '../upstream';
import { safeUpstreamRequestId } from '../redact';
import { tapStream } from '../stream';
import { ClientGone, UpstreamExchange } from '../exchange';

type GatewayContext = Context<{ Bindings: Env; Variables: RequestContextVariables & KeyAuthVariables }>;

const ENDPOINT_PATH: Record<Endpoint, string> = {
  chat_completions: '/v1/chat/completions',
  messages: '/v1/messages',
};

function validate(schema: ZodMiniType, body: Record<string, unknown>): void {
  const result = schema.safeParse(body);
  if (!result.success) {
    const issue = result.error.issues[0]!;
    throw invalidField(issue.path, issue.message);
  }
}

export function inferenceHandler(endpoint: Endpoint, providerKeys: ProviderKeyStore) {
  return async function inference(c: GatewayContext): Promise<Response> {
    const config = c.get('config');
    const audit = c.get('audit')!;
    const key = c.get('virtualKey');

    const body = parseJsonBody(await readBodyText(c.req.raw, config.maxBodyBytes));
    validate(endpoint === 'messages' ? messagesRequestSchema : chatCompletionRequestSchema, body);
    const modelName = body.model as string;
    const stream = body.stream === true;
    audit.stream = stream;
    audit.model = modelName; // the recorder caps and cleans it, whatever it holds
    const modelProblem = modelNameProblem(modelName);
    if (modelProblem) throw invalidField(['model'], modelProblem);

    const ref = parseModelName(modelName);
    const adapter = ref ? providerFor(ref.provider) : null;
    if (!ref || !adapter) {
      throw new GatewayError(
        'not_found',
        `The model '${modelName}' does not exist. Name models as provider/model, e.g. openai/gpt-4o-mini.`,
        { code: 'model_not_found', param: 'model' },
      );
    }
    audit.provider = adapter.name;
    if (!adapter.endpoints.includes(endpoint)) {
      // eslint-disable-next-line security/detect-object-injection -- endpoints are typed Endpoint, keys of the constant ENDPOINT_PATH
      const served = adapter.endpoints.map((e) => ENDPOINT_PATH[e]).join(', ');
      // eslint-disable-next-line security/detect-object-injection -- endpoint is typed Endpoint, a key of the constant ENDPOINT_PATH
      throw new GatewayError('invalid_request', `The model '${modelName}' is served on ${served}, not ${ENDPOINT_PATH[endpoint]}.`, {
        param: 'model',
      });
    }
    if (!modelAllowed(modelName, key.models)) {
      throw new GatewayError('permission', `This API key may not use the model '${modelName}'.`, {
        code: 'model_not_allowed',
        reason: `model ${modelName} outside scope of key ${key.id}`,
      });
    }

    // The provider key is chosen (still encrypted) before authorization, so the policy sees who owns
    // it: the resource's attributes come from the provider-key record and the adapter, not from the
    // virtual key (policies/model.yaml).
    const target = await selectUpstream(providerKeys, c.env, config, adapter, key.org_id, modelName);
    let allowed: boolean;
    try {
      allowed = await config.cerbos.isAllowed(
        { id: key.id, roles: ['virtual_key'], version: String(key.version), attr: { org_id: key.org_id } },
        {
          kind: 'model',
          id: modelName,
          attr: {
            provider: adapter.name,
            endpoint,
            requires_provider_key: adapter.requiresKey,
            provider_key_org_id: target.entry?.org_id ?? '',
            provider_key_provider: target.entry?.provider ?? '',
          },
        },
        'invoke',
      );
    } catch (e) {
      if (e instanceof PolicyUnavailableError) {
        alert('cerbos_unreachable', 'Cerbos could not be asked: request refused (fail closed)', { reason: e.message });
        throw new GatewayError('unavailable', 'The policy service is unavailable; try again shortly.', { reason: e.message });
      }
      throw e;
    }
    if (!allowed) {
      throw new GatewayError('permission', `This API key may not use the model '${modelName}'.`, {
        code: 'model_not_allowed',
        reason: `cerbos denied invoke of ${modelName} for key ${key.id}`,
      });
    }

    const upstream = await openUpstream(providerKeys, config, target);
    const upstreamBody: Record<string, unknown> = { ...body, model: ref.model };
    let stripInjectedUsage = false;
    if (endpoint === 'chat_completions' && stream) {
      const so = (body.stream_options ?? {}) as Record<string, unknown>;
      if (so.include_usage !== true) {
        stripInjectedUsage = true;
        upstreamBody.stream_options = { ...so, include_usage: true };
      }
    }
    const call = adapter.buildRequest({
      endpoint,
      body: upstreamBody,
      apiKey: upstream.apiKey,
      baseUrl: upstream.baseUrl,
      clientHeaders: c.req.raw.headers,
    });

    // From here on the exchange owns the call: timeouts, the client leaving, and the event.
    const exchange = new UpstreamExchange(audit, c.req.raw.signal, config.upstreamTimeouts);
    const format = c.get('wireFormat');
    try {
      let res: Response;
      try {
        res = await exchange.headers((signal) =>
          adapter.localFetch
            ? adapter.localFetch(call, endpoint)
            : fetch(call.url, { method: 'POST', headers: call.headers, body: call.body, redirect: 'manual', signal }),
        );
      } catch (e) {
        if (e instanceof GatewayError || e instanceof ClientGone) throw e;
        throw new GatewayError('upstream_unreachable', 'The upstream provider could not be reached.', {
          reason: `fetch ${adapter.name} failed: ${e instanceof Error ? e.message : String(e)}`,
        });
      }
      audit.markFirstByte();

      if (res.status >= 300 && res.status < 400) {
        await res.body?.cancel();
        throw new GatewayError('upstream_unreachable', 'The upstream provider answered with a redirect, which is not followed.', {
          reason: `upstream ${adapter.name} redirected (HTTP ${res.status})`,
        });
      }
      if (!res.ok) {
        throw upstreamError(res.status, await exchange.text(res), upstream.apiKey);
      }

      const headers = new Headers({
        'content-type': res.headers.get('content-type') ?? 'application/json',
        'cache-control': 'no-store',
      });
      const upstreamId = safeUpstreamRequestId(res.headers, upstream.apiKey);
      if (upstreamId) headers.set('x-upstream-request-id', upstreamId);
      if (config.exposeServerTiming) headers.set('server-timing', `auth;desc="${c.get('keyAuthPath')}"`);

      if (stream && isEventStream(res.headers.get('content-type')) && res.body) {
        const requestId = c.get('requestId');
        const tap: StreamTap =
          endpoint === 'messages'
            ? createMessagesStreamTap({ request_id: requestId })
            : createChatStreamTap(stripInjectedUsage, { request_id: requestId });
        const body = tapStream(res.body, tap, exchange, res.status, format, requestId);
        return new Response(body, { status: res.status, headers });
      }

      const text = await exchange.text(res);
      const json = parseJsonObject(text);
      exchange.settle(res.status, null, endpoint === 'messages' ? usageFromMessage(json) : usageFromChatCompletion(json));
      if (!json) log('warn', 'upstream answered with a non-JSON body', { request_id: c.get('requestId'), provider: adapter.name });
      return new Response(text, { status: res.status, headers });
    } catch (e) {
      // The client is gone (its 499 is recorded): nobody reads this answer.
      if (e instanceof ClientGone) return new Response(null, { status: 499 });
      // onError records the error (the first outcome wins); the provider's connection goes now.
      exchange.release();
      throw e;
    }
  };
}
