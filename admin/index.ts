/**
 * The admin Worker (control plane): the management JSON API under /api/v1 and the consumer of the
 * audit Queue and its dead-letter queue.
 */
import { Hono } from 'hono';
import { GatewayError, toWireError } from '../lib/errors';
import { adminError } from './errors';
import { uuidv7 } from '../lib/crypto/encoding';
import { log } from '../lib/log';
import { API_ROUTES } from './api/routes';
import { mount, openRoute } from './route-table';
import { storeBatch } from './consumer';
import { deliverBatch, WEBHOOK_QUEUE } from './webhooks';
import { runScheduled } from './scheduled';
import { buildOpenApi } from './openapi';
import { oidcLoginRoutes } from './sso/oidc/routes';
import { scimRoutes } from './scim/routes';
import { samlLoginRoutes } from './sso/saml/routes';
import { uiRoutes } from './ui/routes';
import type { AdminEnv } from './env';
import { adminApiAuth } from './auth/api-auth';
import { database, type AdminVariables } from './middleware';

export function createAdminApp() {
  const app = new Hono<{ Bindings: AdminEnv; Variables: AdminVariables }>();

  app.use('*', async function requestId(c, next) {
    const id = uuidv7();
    c.set('requestId', id);
    await next();
    c.header('x-request-id', id);
  });

  app.get('/healthz', (c) => c.json({ status: 'ok' }, 200, { 'cache-control': 'no-store' }));
  app.get('/', (c) => c.redirect('/ui'));
  mount(app, [openRoute('GET', '/ui/', 'a redirect to /ui, which makes its own decision', (c) => c.redirect('/ui'))]);
  app.get('/api/openapi.json', (c) => c.json(buildOpenApi()));
  app.route('/ui', uiRoutes());
  app.route('/sso/oidc', oidcLoginRoutes());
  app.route('/scim/v2', scimRoutes());
  app.route('/sso/saml', samlLoginRoutes());

  const api = new Hono<{ Bindings: AdminEnv; Variables: AdminVariables }>();
  api.use('*', database(), adminApiAuth());
  mount(api, API_ROUTES);
  app.route('/api/v1', api);

  app.notFound((c) => toWireError(new GatewayError('not_found', `Unknown path: ${c.req.method} ${c.req.path}`), 'admin'));

  app.onError((e, c) => {
    const err = adminError(e);
    const requestId = c.get('requestId');
    log(err.status >= 500 ? 'error' : 'warn', 'admin request failed', { request_id: requestId, status: err.status, reason: err.reason });
    return toWireError(err, 'admin', requestId);
  });

  return app;
}

const app = createAdminApp();

export default {
  fetch: app.fetch,
  async queue(batch: MessageBatch<unknown>, env: AdminEnv, ctx: ExecutionContext): Promise<void> {
    if (batch.queue === WEBHOOK_QUEUE) await deliverBatch(batch, env, ctx);
    else await storeBatch(batch, env, ctx);
  },
  async scheduled(controller: ScheduledController, env: AdminEnv, ctx: ExecutionContext): Promise<void> {
    await runScheduled(controller, env, ctx);
  },
} satisfies ExportedHandler<AdminEnv>;
