/**
 * The gateway Worker (data plane). Routes, middleware order and the one `onError` that turns every
 * failure into the caller's wire format.
 */
import { Hono } from 'hono';
import { HTTPException } from 'hono/http-exception';
import { asGatewayError, GatewayError, toWireError } from '../lib/errors';
import { gatewayConfig, type Env } from './env';
import { log } from '../lib/log';
import { keyAuth, type KeyAuthVariables } from './middleware/key-auth';
import { requestContext, wireFormatFor, type RequestContextVariables } from './middleware/request-context';
import { inferenceHandler } from './pipeline';
import { RouteStore } from './pipeline/plan';
import { internalRoutes } from './routes/internal';
import { listModels } from './routes/models';
import { responsesHandler } from './routes/responses';
import { embeddingsHandler } from './pipeline/embeddings';
import { useWorkersAiBinding } from './providers/workers-ai';
import { ProviderKeyStore } from './upstream';
import { auditErrorType } from './pipeline/attempts';

/** `now` is the clock of key and service-token checks (tests inject one; the Worker uses Date.now). */
export function createGateway(opts: { now?: () => number } = {}) {
  const app = new Hono<{ Bindings: Env; Variables: RequestContextVariables & KeyAuthVariables }>();
  const providerKeys = new ProviderKeyStore();

  app.get('/healthz', async (c) => {
    try {
      await gatewayConfig(c.env);
    } catch (e) {
      const err = asGatewayError(e);
      log('error', 'gateway not ready', { reason: err.reason });
      return c.json({ status: 'unavailable' }, 503, { 'cache-control': 'no-store' });
    }
    return c.json({ status: 'ok' }, 200, { 'cache-control': 'no-store' });
  });

  // Internal routes (admin Worker through its service binding, signed service token only).
  app.route('/', internalRoutes(providerKeys, opts));

  app.use('/v1/*', requestContext(), keyAuth(opts), async (c, next) => {
    // Bindings are the isolate's; the Workers AI adapter keeps the one it is handed.
    useWorkersAiBinding(c.env.AI);
    await next();
  });
  const routes = new RouteStore();
  app.post('/v1/chat/completions', inferenceHandler('chat_completions', providerKeys, routes));
  app.post('/v1/messages', inferenceHandler('messages', providerKeys, routes));
  app.post('/v1/embeddings', embeddingsHandler(providerKeys));
  app.post('/v1/responses', responsesHandler(providerKeys));
  app.get('/v1/models', listModels(providerKeys));

  app.notFound((c) => {
    const err = new GatewayError('not_found', `Unknown path: ${c.req.method} ${c.req.path}`, { code: 'unknown_url' });
    return toWireError(err, wireFormatFor(c.req.path));
  });

  app.onError((e, c) => {
    let err: GatewayError;
    if (e instanceof HTTPException) {
      err = new GatewayError(e.status === 413 ? 'payload_too_large' : 'invalid_request', e.message || 'Bad request.', {
        status: e.status,
      });
    } else {
      err = asGatewayError(e);
    }
    const requestId = c.get('requestId') as string | undefined;
    const audit = c.get('audit');
    audit?.finish(err.status, auditErrorType(err));
    log(err.status >= 500 ? 'error' : 'warn', 'request failed', {
      request_id: requestId,
      status: err.status,
      kind: err.kind,
      reason: err.reason,
    });
    return toWireError(err, wireFormatFor(c.req.path), requestId);
  });

  return app;
}

export default createGateway();

/** The Durable Object class of the limit counters (wrangler.toml `LIMITS`). */
export { LimitCounter } from './limits/counter';
