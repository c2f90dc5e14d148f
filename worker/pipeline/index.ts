/**
 * POST /v1/chat/completions and POST /v1/messages as one pipeline (DESIGN §9):
 *
 *   parse (client's format, zod) → plan (model or route → ordered targets, provider keys chosen)
 *   → authorize (Cerbos per target) → [limits: reserve] → attempts (translate, build, fetch,
 *   retry/fall back before the first byte) → respond (pass through, or translate back; tap usage)
 *
 * The request's audit record has one owner from here on: this handler fills it (stream, model,
 * route), the attempts stage adds each upstream call, and the exchange finishes it exactly once —
 * on the stream's end, on the client leaving, or here, with the error the client is answered with.
 */
import type { Context } from 'hono';
import { asGatewayError } from '../../lib/errors';
import type { Env } from '../env';
import { ClientGone, UpstreamExchange } from '../exchange';
import type { Endpoint } from '../formats/types';
import type { KeyAuthVariables } from '../middleware/key-auth';
import type { RequestContextVariables } from '../middleware/request-context';
import type { ProviderKeyStore } from '../upstream';
import { auditErrorType, runAttempts } from './attempts';
import { authorize } from './authorize';
import { checkModelName, parseRequest } from './parse';
import { plan, RouteStore } from './plan';
import { respond } from './respond';
import { reserveForRequest } from './reserve';

type GatewayContext = Context<{ Bindings: Env; Variables: RequestContextVariables & KeyAuthVariables }>;

export function inferenceHandler(endpoint: Endpoint, providerKeys: ProviderKeyStore, routes: RouteStore = new RouteStore()) {
  return async function inference(c: GatewayContext): Promise<Response> {
    const config = c.get('config');
    const audit = c.get('audit')!;
    const key = c.get('virtualKey');
    const requestId = c.get('requestId');

    const parsed = await parseRequest(endpoint, c.req.raw, config.maxBodyBytes);
    audit.stream = parsed.stream;
    audit.model = parsed.model; // the recorder caps and cleans it, whatever it holds
    checkModelName(parsed.model);

    const planned = await plan({ env: c.env, config, providerKeys, routes }, parsed, key);
    audit.route = planned.route;
    if (!planned.route) audit.provider = planned.targets[0]!.adapter.info.name;
    const allowed = await authorize(config, key, endpoint, planned, parsed.model);

    // Limits (DESIGN §8, worker/limits): reserve after the plan is known and allowed, before any
    // upstream call; the reservation settles with the request's one outcome, whichever path ends it
    // (AuditRecorder.finish), with the usage of the model that answered.
    const limits = await reserveForRequest(c.env, (p) => c.executionCtx.waitUntil(p), {
      key,
      requestId,
      audit,
      body: parsed.body,
      models: planned.targets.map((t) => t.modelName),
    });

    // From here on the exchange owns the call: timeouts, the client leaving, and the event.
    const exchange = new UpstreamExchange(audit, c.req.raw.signal, config.upstreamTimeouts);
    try {
      const answer = await runAttempts(
        { config, providerKeys, exchange, audit, clientHeaders: c.req.raw.headers, requestId },
        parsed,
        allowed,
      );
      const res = await respond(parsed, answer, {
        exchange,
        requestId,
        serverTiming: config.exposeServerTiming ? `auth;desc="${c.get('keyAuthPath')}"` : null,
      });
      return limits.decorate(res);
    } catch (e) {
      // The client is gone (its 499 is recorded): nobody reads this answer.
      if (e instanceof ClientGone) return new Response(null, { status: 499 });
      // The event records the error the client is about to get; onError writes the answer.
      const err = asGatewayError(e);
      exchange.settle(err.status, auditErrorType(err));
      throw err;
    }
  };
}
