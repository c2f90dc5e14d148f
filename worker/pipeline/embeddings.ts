/**
 * POST /v1/embeddings in OpenAI's format, for OpenAI (and its compatible presets that serve
 * embeddings), Azure OpenAI, Google Gemini (batchEmbedContents), Amazon Bedrock (Titan and Cohere
 * through InvokeModel) and Workers AI (the AI binding). One audit event per request, with the
 * upstream's input-token count when it reports one (Gemini and Cohere report none: null).
 */
import type { Context } from 'hono';
import { emptyUsage, type Usage } from '../../lib/audit/event';
import { asGatewayError, GatewayError, invalidField } from '../../lib/errors';
import { parseJsonBody, readBodyText } from '../body';
import type { AuditRecorder } from '../audit';
import type { Env } from '../env';
import { ClientGone, UpstreamExchange } from '../exchange';
import { asCount, parseJsonObject } from '../formats/sse';
import type { KeyAuthVariables } from '../middleware/key-auth';
import type { RequestContextVariables } from '../middleware/request-context';
import { azureCall } from '../providers/azure';
import { bedrockBuildRequest } from '../providers/bedrock';
import { geminiBuildRequest } from '../providers/gemini';
import { workersAiBinding, workersAiModel } from '../providers/workers-ai';
import { bedrockEmbeddingsRequests, bedrockEmbeddingsResponse } from '../translate/openai-bedrock/embeddings';
import { geminiEmbeddingsRequest, geminiEmbeddingsResponse } from '../translate/openai-gemini/embeddings';
import { embeddingsResponse, isVector, parseEmbeddingsRequest } from '../translate/openai-embeddings';
import type { TranslateContext } from '../translate/types';
import type { ProviderKeyStore } from '../upstream';
import { auditErrorType } from './attempts';
import { checkMemberSpellings, checkModelName } from './parse';
import { openTarget, sendOnce, singleTarget, type SingleDeps } from './single';
import type { Target } from './types';
import { reserveForRequest } from './reserve';

type GatewayContext = Context<{ Bindings: Env; Variables: RequestContextVariables & KeyAuthVariables }>;

export const EMBEDDING_PROVIDERS = ['openai', 'azure', 'gemini', 'bedrock', 'workers-ai', 'mistral', 'together', 'fireworks', 'vllm', 'ollama'] as const;

/** Upstream calls one embeddings request may make on Bedrock (Titan: one per input). */
export const MAX_BEDROCK_CALLS = 64;

/** Embeddings have no output tokens: always 0, so the event can be priced. */
function usageOf(promptTokens: number | null): Usage {
  // Embeddings produce no output tokens; an input the provider did not count stays null (and a
  // limited key is charged the reservation's estimate for it: worker/limits chargeOf).
  return { ...emptyUsage(), input_tokens: promptTokens, output_tokens: 0 };
}

interface Embedded {
  body: Record<string, unknown>;
  usage: Usage;
}

async function readJson(exchange: UpstreamExchange, res: Response, provider: string): Promise<Record<string, unknown>> {
  const json = parseJsonObject(await exchange.text(res));
  if (!json) throw new GatewayError('upstream_unreachable', 'The upstream provider answered with a body that is not JSON.', { reason: `${provider} embeddings: non-JSON body` });
  return json;
}

async function embed(deps: SingleDeps, audit: AuditRecorder, exchange: UpstreamExchange, target: Target, body: Record<string, unknown>, ctx: TranslateContext): Promise<Embedded> {
  const provider = target.adapter.info.name;
  const upstream = await openTarget(deps, target);
  const { apiKey, baseUrl } = upstream;

  if (provider === 'gemini') {
    const call = geminiBuildRequest({ body: { ...geminiEmbeddingsRequest(body, ctx), model: target.upstreamModel }, stream: false, apiKey, baseUrl, action: 'batchEmbedContents' });
    const res = await sendOnce(exchange, audit, target, apiKey, call);
    return { body: geminiEmbeddingsResponse(await readJson(exchange, res, provider), body, ctx), usage: usageOf(null) };
  }
  if (provider === 'bedrock') {
    const answers: Record<string, unknown>[] = [];
    const bodies = bedrockEmbeddingsRequests(body, ctx);
    // Titan embeds one input per call: one request must not turn into thousands of upstream calls.
    if (bodies.length > MAX_BEDROCK_CALLS) {
      throw new GatewayError('invalid_request', `Invalid request: this Bedrock model embeds one input per call; send at most ${MAX_BEDROCK_CALLS} inputs per request.`, { param: 'input' });
    }
    for (const one of bodies) {
      const call = await bedrockBuildRequest({ body: { ...one, model: target.upstreamModel }, stream: false, apiKey, baseUrl, action: 'invoke' });
      const res = await sendOnce(exchange, audit, target, apiKey, call);
      answers.push(await readJson(exchange, res, provider));
    }
    const out = bedrockEmbeddingsResponse(answers, body, ctx);
    const tokens = (out.usage as { prompt_tokens: number }).prompt_tokens;
    // Cohere reports no counts: the response says 0, the event null.
    const known = answers.every((a) => typeof a.inputTextTokenCount === 'number');
    return { body: out, usage: usageOf(known ? tokens : null) };
  }
  if (provider === 'workers-ai') {
    const req = parseEmbeddingsRequest(body, 'Workers AI');
    if (req.dimensions !== null) throw new GatewayError('invalid_request', "Unsupported parameter: 'dimensions' is fixed by the Workers AI model.", { param: 'dimensions', code: 'unsupported_parameter' });
    const model = workersAiModel(target.upstreamModel);
    const ai = workersAiBinding();
    let out: unknown;
    await sendOnce(exchange, audit, target, null, async () => {
      try {
        out = await ai.run(model, { text: req.inputs });
        return new Response(null, { status: 200 });
      } catch (e) {
        return new Response(JSON.stringify({ error: { message: e instanceof Error ? e.message.slice(0, 300) : 'Workers AI failed.' } }), { status: 400 });
      }
    });
    const data = (out as { data?: unknown } | undefined)?.data;
    if (!Array.isArray(data) || !data.every(isVector)) {
      throw new GatewayError('upstream_unreachable', 'The upstream provider returned a response the gateway could not read.', { reason: 'workers-ai embeddings: no data vectors' });
    }
    return { body: embeddingsResponse(ctx.clientModel, data as number[][], req.base64, null), usage: usageOf(null) };
  }
  // OpenAI's own format: OpenAI and compatible servers, and Azure by deployment.
  const upstreamBody = { ...body, model: target.upstreamModel };
  const call =
    provider === 'azure'
      ? azureCall(baseUrl, apiKey, target.upstreamModel, 'embeddings', upstreamBody)
      : { url: `${baseUrl.replace(/\/+$/, '')}/embeddings`, headers: new Headers({ 'content-type': 'application/json', authorization: `Bearer ${apiKey ?? ''}` }), body: JSON.stringify(upstreamBody) };
  const res = await sendOnce(exchange, audit, target, apiKey, call);
  const json = await readJson(exchange, res, provider);
  const u = json.usage as Record<string, unknown> | undefined;
  // The client sees the model it asked for, like every other answer of the gateway.
  return { body: { ...json, model: ctx.clientModel }, usage: usageOf(asCount(u?.prompt_tokens)) };
}

export function embeddingsHandler(providerKeys: ProviderKeyStore) {
  return async function embeddings(c: GatewayContext): Promise<Response> {
    const config = c.get('config');
    const audit = c.get('audit')!;
    const requestId = c.get('requestId');
    const body = parseJsonBody(await readBodyText(c.req.raw, config.maxBodyBytes));
    checkMemberSpellings(body, ['input']);
    if (typeof body.model !== 'string') throw invalidField(['model'], 'is required and must be a string');
    if (body.input === undefined) throw invalidField(['input'], 'is required');
    if (body.stream !== undefined) throw new GatewayError('invalid_request', "Unsupported parameter: 'stream' is not part of the embeddings API.", { param: 'stream' });
    const model = body.model;
    audit.model = model;
    checkModelName(model);
    const deps: SingleDeps = { env: c.env, config, providerKeys, key: c.get('virtualKey') };
    const target = await singleTarget(deps, 'embeddings', model, EMBEDDING_PROVIDERS);
    audit.provider = target.adapter.info.name;
    const limits = await reserveForRequest(c.env, (p) => c.executionCtx.waitUntil(p), { key: deps.key, requestId, audit, body, models: [model] });
    const ctx: TranslateContext = { clientModel: model, upstreamModel: target.upstreamModel, requestId, now: Math.floor(Date.now() / 1000) };
    const exchange = new UpstreamExchange(audit, c.req.raw.signal, config.upstreamTimeouts);
    try {
      const out = await embed(deps, audit, exchange, target, body, ctx);
      exchange.settle(200, null, out.usage);
      return limits.decorate(c.json(out.body, 200, { 'cache-control': 'no-store' }));
    } catch (e) {
      if (e instanceof ClientGone) return new Response(null, { status: 499 });
      const err = asGatewayError(e);
      exchange.settle(err.status, auditErrorType(err));
      throw err;
    }
  };
}
