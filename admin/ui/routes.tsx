/**
 * The admin UI: server-rendered pages (hono/jsx escapes every value), a session cookie, CSRF
 * tokens on every state-changing form, and strict security headers on every response.
 *
 * Like the management API, the UI is a route table (admin/route-table.ts): every route declares
 * the Cerbos decision it makes (kind + action from policies/matrix.ts) or is an `openRoute` with
 * its reason, and `mount` refuses to answer a route whose handler skipped its decision.
 * test/unit/route-table.test.ts fails when a registered /ui route is in no table.
 */
import { Hono } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { log } from '../../lib/log';
import { adminError } from '../errors';
import { database } from '../middleware';
import { mount, openRoute, type AdminRoute } from '../route-table';
import { securityHeaders } from './headers';
import { ErrorBox, Layout } from './layout';
import { API_REFERENCE_ROUTES } from './pages/api-reference';
import { API_TOKEN_ROUTES } from './pages/api-tokens';
import { AUDIT_ROUTES } from './pages/audit';
import { KEY_ROUTES } from './pages/keys';
import { LIMIT_ROUTES } from './pages/limits';
import { LOGIN_ROUTES, LOGOUT_ROUTES } from './pages/login';
import { MEMBER_ROUTES } from './pages/members';
import { ORG_ROUTES } from './pages/orgs';
import { OVERVIEW_ROUTES } from './pages/overview';
import { PROVIDER_KEY_ROUTES } from './pages/provider-keys';
import { REQUEST_ROUTES } from './pages/requests';
import { ROUTE_ROUTES } from './pages/routes';
import { SSO_ROUTES } from './pages/sso';
import { SCIM_TOKEN_ROUTES } from './pages/scim-tokens';
import { sessionAuth, type UiEnv } from './session-middleware';
import { APP_CSS, APP_JS } from './static';

const STATIC_ROUTES: AdminRoute<UiEnv>[] = [
  openRoute('GET', '/static/app.css', 'static stylesheet, the same for everyone', (c) =>
    c.body(APP_CSS, 200, { 'content-type': 'text/css; charset=utf-8', 'cache-control': 'public, max-age=300' }),
  ),
  openRoute('GET', '/static/app.js', 'static script, the same for everyone', (c) =>
    c.body(APP_JS, 200, { 'content-type': 'text/javascript; charset=utf-8', 'cache-control': 'public, max-age=300' }),
  ),
];

/** Every page behind the session middleware, one table per page module. */
const PAGE_ROUTES: AdminRoute<UiEnv>[] = [
  ...LOGOUT_ROUTES,
  ...OVERVIEW_ROUTES,
  ...KEY_ROUTES,
  ...PROVIDER_KEY_ROUTES,
  ...ROUTE_ROUTES,
  ...ORG_ROUTES,
  ...LIMIT_ROUTES,
  ...MEMBER_ROUTES,
  ...API_TOKEN_ROUTES,
  ...SSO_ROUTES,
  ...SCIM_TOKEN_ROUTES,
  ...REQUEST_ROUTES,
  ...AUDIT_ROUTES,
  ...API_REFERENCE_ROUTES,
];

/** Every UI route with its decision, paths relative to /ui (read by the route-table test). */
export const UI_ROUTES: ReadonlyArray<Pick<AdminRoute<UiEnv>, 'method' | 'path' | 'decision'>> = [...STATIC_ROUTES, ...LOGIN_ROUTES, ...PAGE_ROUTES];

export function uiRoutes() {
  const ui = new Hono<UiEnv>();

  ui.use('*', async function uiHeaders(c, next) {
    await next();
    securityHeaders(c);
    if (!c.req.path.startsWith('/ui/static/')) c.header('cache-control', 'no-store');
  });

  mount(ui, STATIC_ROUTES);
  ui.use('*', database());
  mount(ui, LOGIN_ROUTES);
  // Everything below needs a session (and a CSRF token on POST).
  ui.use('*', sessionAuth());
  mount(ui, PAGE_ROUTES);

  ui.onError((e, c) => {
    const err = adminError(e);
    log(err.status >= 500 ? 'error' : 'warn', 'ui request failed', { request_id: c.get('requestId'), status: err.status, reason: err.reason });
    securityHeaders(c);
    c.header('cache-control', 'no-store');
    const page = c.get('page') ?? { actor: null, csrf: '', path: c.req.path };
    return c.html(
      <Layout title="Something went wrong" page={page}>
        <ErrorBox message={err.status >= 500 ? 'The admin service had an error; nothing was changed. Try again.' : err.message} />
        <p><a href="/ui">Back to the overview</a></p>
      </Layout>,
      err.status as ContentfulStatusCode,
    );
  });

  return ui;
}
