/**
 * The admin UI: server-rendered pages (hono/jsx escapes every value), a session cookie, CSRF
 * tokens on every state-changing form, and strict security headers on every response.
 */
import { Hono, type Context } from 'hono';
import type { z } from 'zod';
import { timingSafeEqualText } from '../../lib/crypto/encoding';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { adminError } from '../errors';
import { GatewayError } from '../../lib/errors';
import { activeUserWithMemberships, findUserByEmail } from '../domain/users';
import { parseBody, parseWith } from '../validation';
import { log } from '../../lib/log';
import * as actions from '../actions';
import { verifyAuditChain } from '../audit-log';
import type { AdminEnv } from '../env';
import { actionContext, cerbosFor, database, requestMeta, type AdminVariables } from '../middleware';
import { buildOpenApi } from '../openapi';
import { planFilter } from '../auth/plan';
import { auditLogPage, auditVisibility, eventVisibility, lastUsedByKey, listEvents, overviewSeries, topBy } from '../queries';
import { listQuerySchema, testLoginSchema, auditLogQuerySchema, createKeySchema, createOrgSchema, createProviderKeySchema, eventsQuerySchema } from '../schemas';
import { anonymousPrincipal, masterPrincipal } from '../auth/principal';
import { masterUiLoginEnabled, sessionPrincipal } from '../auth/session-principal';
import { masterKeyConfigured } from '../auth/api-auth';
import { giveBackSlot, MASTER_KEY_LIMITS, MASTER_KEY_WINDOW_MINUTES, takeAttemptSlot } from '../auth/master-key-limiter';
import { csrfToken, csrfValid, currentSession, endSession, loginCsrfToken, loginCsrfValid, startSession, type Session } from '../session';
import { SsoLoginForm } from '../sso/oidc/login-form';
import { ssoPages } from './pages/sso';
import { Chart } from './charts';
import { Badge, Csrf, ErrorBox, fmtCost, fmtTime, Layout, type PageContext } from './layout';
import { APP_CSS, APP_JS } from './static';

type UiVariables = AdminVariables & { session: Session; page: PageContext };
type Ctx = Context<{ Bindings: AdminEnv; Variables: UiVariables }>;


const CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "form-action 'self'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
  "connect-src 'self'",
].join('; ');

function securityHeaders(c: Context) {
  c.header('content-security-policy', CSP);
  c.header('x-frame-options', 'DENY');
  c.header('referrer-policy', 'no-referrer');
  c.header('x-content-type-options', 'nosniff');
  c.header('cross-origin-opener-policy', 'same-origin');
}


async function formOf(c: Ctx): Promise<Record<string, string>> {
  const body = await c.req.parseBody();
  // fromEntries defines own properties, so a field named __proto__ cannot reach the prototype.
  return Object.fromEntries(Object.entries(body).filter((e): e is [string, string] => typeof e[1] === 'string'));
}

/** zod issue → the message shown next to the form, naming the field. */
function problem(e: unknown): string {
  const err = adminError(e);
  return err.status >= 500 ? 'Something went wrong; nothing was changed. Try again.' : err.message;
}

/** The real status of a failed action (403 denied, 404 missing, 503 unavailable…), never forced to 400. */
function statusOf(e: unknown): ContentfulStatusCode {
  return adminError(e).status as ContentfulStatusCode;
}

function parse<S extends z.ZodType>(schema: S, raw: unknown): { ok: true; value: z.infer<S> } | { ok: false; message: string } {
  const r = schema.safeParse(raw);
  if (r.success) return { ok: true, value: r.data };
  const issue = r.error.issues[0]!;
  return { ok: false, message: `${issue.path.join('.') || 'input'}: ${issue.message}` };
}

const lines = (v: string | undefined) => (v ?? '').split(/[\n,]/).map((s) => s.trim()).filter(Boolean);

export function uiRoutes() {
  const ui = new Hono<{ Bindings: AdminEnv; Variables: UiVariables }>();

  ui.use('*', async function uiHeaders(c, next) {
    await next();
    securityHeaders(c);
    if (!c.req.path.startsWith('/ui/static/')) c.header('cache-control', 'no-store');
  });

  ui.get('/static/app.css', (c) => c.body(APP_CSS, 200, { 'content-type': 'text/css; charset=utf-8', 'cache-control': 'public, max-age=300' }));
  ui.get('/static/app.js', (c) => c.body(APP_JS, 200, { 'content-type': 'text/javascript; charset=utf-8', 'cache-control': 'public, max-age=300' }));

  ui.use('*', database());

  // ── login / logout ──

  const loginPage = async (c: Ctx, error: string | null, status: 200 | 401 | 403 | 429 = 200) =>
    c.html(
      <Layout title="Log in" page={{ actor: null, csrf: '', path: '/ui/login' }}>
        <div class="card">
          <ErrorBox message={error} />
          <form method="post" action="/ui/login">
            <input type="hidden" name="_csrf" value={await loginCsrfToken(c)} />
            <label for="master_key">Master key</label>
            <input type="password" id="master_key" name="master_key" autocomplete="current-password" required autofocus />
            <p class="muted">The master key is printed by <code>npm start</code> and set with <code>wrangler secret put MASTER_KEY</code>.</p>
            <button type="submit">Log in</button>
          </form>
        </div>
        <div class="card">
          <SsoLoginForm />
        </div>
      </Layout>,
      status,
    );

  ui.get('/login', async (c) => {
    if (await currentSession(c, c.var.db)) return c.redirect('/ui');
    return loginPage(c, null);
  });

  ui.post('/login', async (c) => {
    const form = await formOf(c);
    const m = requestMeta(c);
    const record = (outcome: 'allowed' | 'denied' | 'failed') =>
      actions.recordAction(
        { db: c.var.db, meta: m, principal: outcome === 'allowed' ? masterPrincipal() : anonymousPrincipal('master_key') },
        'login',
        outcome,
        { type: 'session', id: null },
      );
    if (!(await loginCsrfValid(c, form._csrf))) return loginPage(c, 'Your login form expired; please try again.', 403);
    if (!masterUiLoginEnabled(c.env) || !masterKeyConfigured(c.env)) {
      await record('denied');
      return loginPage(c, 'Logging in with the master key is switched off here. Use single sign-on.', 403);
    }
    // One atomic limiter with the API (admin/auth/master-key-limiter.ts): the slot is taken
    // before the key is compared, so concurrent guesses cannot all be checked.
    const slot = await takeAttemptSlot(c.var.db, m.clientIp);
    if (slot > MASTER_KEY_LIMITS.ui) {
      await record('denied');
      log('warn', 'login rate limited', { request_id: m.requestId, client_ip: m.clientIp });
      return loginPage(c, `Too many failed logins. Try again in ${MASTER_KEY_WINDOW_MINUTES} minutes.`, 429);
    }
    if (!form.master_key || !(await timingSafeEqualText(form.master_key, c.env.MASTER_KEY))) {
      await record('failed');
      log('warn', 'login failed', { request_id: m.requestId, client_ip: m.clientIp });
      return loginPage(c, 'That master key is not correct.', 401);
    }
    await giveBackSlot(c.var.db, m.clientIp);
    await startSession(c, c.var.db, { actor: 'master', loginMethod: 'master_key', mfa: false });
    await record('allowed');
    return c.redirect('/ui', 303);
  });

  /**
   * TEST ONLY. Starts a session for an existing, active user through the same `startSession` every
   * login uses, so end-to-end tests can act as a person before an identity provider is wired in.
   * It answers 404 unless ROUTERO_TEST_LOGIN=true (set only by the test stack) AND the request is
   * addressed to a loopback host; a deployed Worker never has the variable.
   */
  ui.post('/test-login', async (c) => {
    const host = new URL(c.req.url).hostname;
    if (c.env.ROUTERO_TEST_LOGIN !== 'true' || !['127.0.0.1', 'localhost', '[::1]'].includes(host)) {
      throw new GatewayError('not_found', `Unknown path: POST ${c.req.path}`);
    }
    const { email } = await parseBody(c, testLoginSchema);
    const user = await findUserByEmail(c.var.db, email);
    if (!user || !(await activeUserWithMemberships(c.var.db, user.id))) throw new GatewayError('permission', 'No active member with that email.');
    await startSession(c, c.var.db, { actor: user.id, userId: user.id, loginMethod: 'test_login', mfa: true });
    return c.json({ user_id: user.id });
  });

  // Everything below needs a session.
  ui.use('*', async function sessionAuth(c, next) {
    const session = await currentSession(c, c.var.db);
    if (!session) {
      if (c.req.method === 'GET') return c.redirect('/ui/login');
      return c.text('Your session has ended. Log in again.', 401);
    }
    const csrf = await csrfToken(c.env, session);
    c.set('session', session);
    c.set('cerbos', cerbosFor(c.env));
    const principal = await sessionPrincipal(c.var.db, c.env, session);
    if (!principal) {
      if (c.req.method === 'GET') return c.redirect('/ui/login');
      return c.text('Your session has ended. Log in again.', 401);
    }
    c.set('principal', principal);
    c.set('page', { actor: typeof principal.attr.email === 'string' && principal.attr.email ? principal.attr.email : session.actor, csrf, path: c.req.path });
    if (c.req.method === 'POST') {
      const form = await formOf(c);
      if (!(await csrfValid(c.env, session, form._csrf))) {
        await actions.recordAction(actionContext(c), `ui${c.req.path.replace(/^\/ui/, '').replace(/\//g, '.')}`, 'denied', { type: 'csrf', id: null });
        return c.text('This form is missing its security token (CSRF). Reload the page and try again.', 403);
      }
    }
    await next();
  });

  ui.route('/sso', ssoPages());

  ui.post('/logout', async (c) => {
    await actions.recordAction(actionContext(c), 'logout', 'allowed', { type: 'session', id: null });
    await endSession(c, c.var.db, c.var.session);
    return c.redirect('/ui/login', 303);
  });

  // ── overview ──

  ui.get('/', async (c) => {
    const period = (['24h', '7d', '30d'] as const).find((p) => p === c.req.query('period')) ?? '24h';
    const to = new Date();
    const hours = period === '24h' ? 24 : period === '7d' ? 24 * 7 : 24 * 30;
    const from = new Date(to.getTime() - hours * 3600_000);
    const allowed = await planFilter(actionContext(c), 'usage', 'read', eventVisibility);
    const bucket = period === '24h' ? 'hour' : 'day';
    const [series, models, keys] = await Promise.all([
      overviewSeries(c.var.db, from, to, bucket, allowed),
      topBy(c.var.db, from, to, 'model', allowed),
      topBy(c.var.db, from, to, 'key', allowed),
    ]);
    // Every bucket of the period, empty ones included, so the charts keep a steady time axis.
    const stepMs = bucket === 'hour' ? 3600_000 : 24 * 3600_000;
    const byKey = new Map(series.map((s) => [s.bucket, s]));
    const keyOf = (t: number) => new Date(t).toISOString().slice(0, bucket === 'hour' ? 13 : 10) + (bucket === 'hour' ? ':00' : 'T00:00');
    const first = Math.floor(from.getTime() / stepMs) * stepMs + stepMs;
    const filled = Array.from({ length: Math.round(hours / (stepMs / 3600_000)) }, (_, i) => {
      const k = keyOf(first + i * stepMs);
      return byKey.get(k) ?? { bucket: k, requests: 0, errors: 0, tokens: 0, cost_usd: 0, p50_ms: null, p95_ms: null };
    });
    series.splice(0, series.length, ...filled);
    const labels = series.map((s) => (bucket === 'hour' ? s.bucket.slice(11, 16) : s.bucket.slice(5, 10)));
    const total = series.reduce((a, s) => ({ requests: a.requests + s.requests, errors: a.errors + s.errors, tokens: a.tokens + s.tokens, cost: a.cost + s.cost_usd }), { requests: 0, errors: 0, tokens: 0, cost: 0 });
    return c.html(
      <Layout title="Overview" page={c.var.page}>
        <form class="filters" method="get" action="/ui">
          <div>
            <label for="period">Period</label>
            <select id="period" name="period">
              {(['24h', '7d', '30d'] as const).map((p) => <option value={p} selected={p === period}>{`last ${p}`}</option>)}
            </select>
          </div>
          <button class="secondary" type="submit">Show</button>
        </form>
        <div class="stats" data-testid="overview-stats">
          <div class="stat">Requests<b data-testid="total-requests">{total.requests}</b></div>
          <div class="stat">Tokens<b>{total.tokens}</b></div>
          <div class="stat">Spend<b>{fmtCost(total.cost)}</b></div>
          <div class="stat">Error rate<b>{total.requests ? `${((total.errors / total.requests) * 100).toFixed(1)} %` : '—'}</b></div>
        </div>
        <div class="grid">
          <div class="card"><Chart title="Requests" kind="bar" labels={labels} series={[{ label: 'requests', values: series.map((s) => s.requests), color: '#2f5bd3' }]} /></div>
          <div class="card"><Chart title="Tokens" kind="bar" labels={labels} series={[{ label: 'tokens', values: series.map((s) => s.tokens), color: '#7a5af8' }]} /></div>
          <div class="card"><Chart title="Spend" unit="USD" kind="bar" labels={labels} series={[{ label: 'spend', values: series.map((s) => s.cost_usd), color: '#067647' }]} /></div>
          <div class="card"><Chart title="Error rate" unit="%" kind="line" labels={labels} series={[{ label: 'errors', values: series.map((s) => (s.requests ? (s.errors / s.requests) * 100 : null)), color: '#b42318' }]} /></div>
          <div class="card"><Chart title="Latency" unit="ms" kind="line" labels={labels} series={[{ label: 'p50', values: series.map((s) => s.p50_ms), color: '#2f5bd3' }, { label: 'p95', values: series.map((s) => s.p95_ms), color: '#f79009' }]} /></div>
        </div>
        <div class="grid">
          {[['Top models', models], ['Top keys', keys]].map(([title, rows]) => (
            <div class="card">
              <h2>{title as string}</h2>
              <table>
                <thead><tr><th>name</th><th>requests</th><th>tokens</th><th>spend</th></tr></thead>
                <tbody>
                  {(rows as typeof models).map((r) => <tr><td>{r.name}</td><td>{r.requests}</td><td>{r.tokens}</td><td>{fmtCost(r.cost_usd)}</td></tr>)}
                </tbody>
              </table>
            </div>
          ))}
        </div>
      </Layout>,
    );
  });

  // ── organisations ──

  const orgsPage = async (c: Ctx, error: string | null = null, values: Record<string, string> = {}, status: ContentfulStatusCode = 200) => {
    const rows = await actions.listOrgs(actionContext(c));
    return c.html(
      <Layout title="Organisations" page={c.var.page}>
        <div class="card">
          <h2>New organisation</h2>
          <ErrorBox message={error} />
          <form method="post" action="/ui/orgs">
            <Csrf token={c.var.page.csrf} />
            <label for="org-name">Name</label>
            <input type="text" id="org-name" name="name" value={values.name ?? ''} required />
            <p><button type="submit">Create organisation</button></p>
          </form>
        </div>
        <table>
          <thead><tr><th>name</th><th>id</th><th>created</th></tr></thead>
          <tbody>{rows.map((o) => <tr><td>{o.name}</td><td><code>{o.id}</code></td><td>{fmtTime(o.created_at)}</td></tr>)}</tbody>
        </table>
      </Layout>,
      status,
    );
  };
  ui.get('/orgs', (c) => orgsPage(c));
  ui.post('/orgs', async (c) => {
    const form = await formOf(c);
    const parsed = parse(createOrgSchema, { name: form.name });
    if (!parsed.ok) return orgsPage(c, parsed.message, form, 400);
    try {
      await actions.createOrg(actionContext(c), parsed.value);
    } catch (e) {
      return orgsPage(c, problem(e), form, statusOf(e));
    }
    return c.redirect('/ui/orgs', 303);
  });

  // ── provider keys ──

  const providerKeysPage = async (c: Ctx, error: string | null = null, values: Record<string, string> = {}, status: ContentfulStatusCode = 200) => {
    const ctx = actionContext(c);
    const [orgRows, keys] = await Promise.all([actions.listOrgs(ctx), actions.listProviderKeys(ctx)]);
    const orgName = new Map(orgRows.map((o) => [o.id, o.name]));
    return c.html(
      <Layout title="Provider keys" page={c.var.page}>
        <div class="card">
          <h2>Add a provider key</h2>
          <p class="muted">The key is encrypted (AES-256-GCM) before it is stored and is never shown again — only its last four characters.</p>
          <ErrorBox message={error} />
          <form method="post" action="/ui/provider-keys">
            <Csrf token={c.var.page.csrf} />
            <label for="pk-org">Organisation</label>
            <select id="pk-org" name="org_id">{orgRows.map((o) => <option value={o.id} selected={values.org_id === o.id}>{o.name}</option>)}</select>
            <label for="pk-provider">Provider</label>
            <select id="pk-provider" name="provider">{['openai', 'anthropic'].map((p) => <option value={p} selected={values.provider === p}>{p}</option>)}</select>
            <label for="pk-name">Name</label>
            <input type="text" id="pk-name" name="name" value={values.name ?? ''} required />
            <label for="pk-secret">API key</label>
            <input type="password" id="pk-secret" name="secret" autocomplete="off" required />
            <label for="pk-base">Base URL (optional, for OpenAI-compatible servers)</label>
            <input type="url" id="pk-base" name="base_url" value={values.base_url ?? ''} />
            <p><button type="submit">Add provider key</button></p>
          </form>
        </div>
        <table>
          <thead><tr><th>name</th><th>provider</th><th>organisation</th><th>base URL</th><th>key</th><th>created</th><th></th></tr></thead>
          <tbody>
            {keys.map((k) => (
              <tr>
                <td>{k.name}</td><td>{k.provider}</td><td>{orgName.get(k.org_id) ?? k.org_id}</td><td>{k.base_url ?? 'default'}</td><td><code>{`…${k.last4}`}</code></td><td>{fmtTime(k.created_at)}</td>
                <td>
                  <form class="inline" method="post" action={`/ui/provider-keys/${k.id}/delete`} data-confirm={`Delete the provider key "${k.name}"? Requests using it will fail.`}>
                    <Csrf token={c.var.page.csrf} />
                    <button class="danger" type="submit">Delete</button>
                  </form>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </Layout>,
      status,
    );
  };
  ui.get('/provider-keys', (c) => providerKeysPage(c));
  ui.post('/provider-keys', async (c) => {
    const form = await formOf(c);
    const { secret: _secret, ...keep } = form; // never echo the secret back
    const parsed = parse(createProviderKeySchema(c.env.ALLOW_PRIVATE_UPSTREAMS === 'true'), {
      org_id: form.org_id,
      provider: form.provider,
      name: form.name,
      secret: form.secret,
      base_url: form.base_url ? form.base_url : null,
    });
    if (!parsed.ok) return providerKeysPage(c, parsed.message, keep, 400);
    try {
      await actions.createProviderKey(actionContext(c), parsed.value);
    } catch (e) {
      return providerKeysPage(c, problem(e), keep, statusOf(e));
    }
    return c.redirect('/ui/provider-keys', 303);
  });
  ui.post('/provider-keys/:id/delete', async (c) => {
    try {
      await actions.deleteProviderKey(actionContext(c), c.req.param('id'));
    } catch (e) {
      return providerKeysPage(c, problem(e), {}, statusOf(e));
    }
    return c.redirect('/ui/provider-keys', 303);
  });

  // ── virtual keys ──

  ui.get('/keys', async (c) => {
    const ctx = actionContext(c);
    const orgFilter = parseWith(listQuerySchema, { org_id: c.req.query('org_id') || undefined }).org_id;
    const status = c.req.query('status') || '';
    const [orgRows, keys, lastUsed] = await Promise.all([actions.listOrgs(ctx), actions.listVirtualKeys(ctx, orgFilter), lastUsedByKey(c.var.db)]);
    const orgName = new Map(orgRows.map((o) => [o.id, o.name]));
    const soon = Date.now() + 7 * 24 * 3600_000;
    const shown = keys.filter((k) =>
      status === 'expiring' ? k.status === 'active' && k.expires_at !== null && new Date(k.expires_at).getTime() < soon : status ? k.status === status : true,
    );
    return c.html(
      <Layout title="Virtual keys" page={c.var.page}>
        <p><a class="button" href="/ui/keys/new">Create a virtual key</a></p>
        <form class="filters" method="get" action="/ui/keys">
          <div><label for="f-org">Organisation</label><select id="f-org" name="org_id"><option value="">all</option>{orgRows.map((o) => <option value={o.id} selected={o.id === orgFilter}>{o.name}</option>)}</select></div>
          <div><label for="f-status">Status</label><select id="f-status" name="status">{[['', 'all'], ['active', 'active'], ['revoked', 'revoked'], ['expired', 'expired'], ['expiring', 'expiring within 7 days']].map(([v, l]) => <option value={v} selected={v === status}>{l}</option>)}</select></div>
          <button class="secondary" type="submit">Filter</button>
        </form>
        <table>
          <thead><tr><th>name</th><th>id</th><th>organisation</th><th>status</th><th>models</th><th>expires</th><th>last used</th><th></th></tr></thead>
          <tbody>
            {shown.map((k) => (
              <tr data-key-id={k.id}>
                <td><a href={`/ui/keys/${k.id}`}>{k.name}</a></td><td><code>{k.id}</code></td><td>{orgName.get(k.org_id) ?? k.org_id}</td><td><Badge value={k.status} /></td>
                <td>{k.models.join(', ')}</td><td>{fmtTime(k.expires_at)}</td><td>{fmtTime(lastUsed.get(k.id) ?? null)}</td>
                <td>{k.status === 'active' ? <a href={`/ui/keys/${k.id}/revoke`}>Revoke</a> : null}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </Layout>,
    );
  });

  const newKeyPage = async (c: Ctx, error: string | null = null, values: Record<string, string> = {}, status: ContentfulStatusCode = 200) => {
    const orgRows = await actions.listOrgs(actionContext(c));
    return c.html(
      <Layout title="Create a virtual key" page={c.var.page}>
        <div class="card">
          <ErrorBox message={error} />
          <form method="post" action="/ui/keys">
            <Csrf token={c.var.page.csrf} />
            <label for="k-org">Organisation</label>
            <select id="k-org" name="org_id">{orgRows.map((o) => <option value={o.id} selected={values.org_id === o.id}>{o.name}</option>)}</select>
            <label for="k-name">Name</label>
            <input type="text" id="k-name" name="name" value={values.name ?? ''} required />
            <label for="k-models">Allowed models (one pattern per line, e.g. openai/*; empty = all)</label>
            <textarea id="k-models" name="models">{values.models ?? ''}</textarea>
            <label for="k-expires">Expires (UTC, optional)</label>
            <input type="datetime-local" id="k-expires" name="expires_at" value={values.expires_at ?? ''} />
            <label for="k-cidrs">Allowed client networks (CIDR, one per line; empty = any)</label>
            <textarea id="k-cidrs" name="cidrs">{values.cidrs ?? ''}</textarea>
            <p><button type="submit">Create key</button></p>
          </form>
        </div>
      </Layout>,
      status,
    );
  };
  ui.get('/keys/new', (c) => newKeyPage(c));
  ui.post('/keys', async (c) => {
    const form = await formOf(c);
    const models = lines(form.models);
    const cidrs = lines(form.cidrs);
    const parsed = parse(createKeySchema, {
      org_id: form.org_id,
      name: form.name,
      ...(models.length ? { models } : {}),
      ...(cidrs.length ? { cidrs } : {}),
      // <input type="datetime-local"> sends "YYYY-MM-DDTHH:MM" with no zone: the form says UTC.
      ...(form.expires_at ? { expires_at: /^\d{4}-\d\d-\d\dT\d\d:\d\d$/.test(form.expires_at) ? `${form.expires_at}:00Z` : form.expires_at } : {}),
    });
    if (!parsed.ok) return newKeyPage(c, parsed.message, form, 400);
    let created: Awaited<ReturnType<typeof actions.createVirtualKey>>;
    try {
      created = await actions.createVirtualKey(actionContext(c), parsed.value);
    } catch (e) {
      return newKeyPage(c, problem(e), form, statusOf(e));
    }
    return c.html(
      <Layout title="Your new virtual key" page={c.var.page}>
        <div class="card">
          <div class="warning">Copy this key now. You will not see it again: Routero keeps only a hash of it.</div>
          <div class="secret">
            <code id="new-key" data-testid="new-key">{created.key}</code>
            <button type="button" data-copy="new-key">Copy</button>
          </div>
          <p>Name: {created.name} · id <code>{created.id}</code> · models: {created.models.join(', ')}</p>
          <p><a href="/ui/keys">Back to virtual keys</a></p>
        </div>
      </Layout>,
      201,
    );
  });

  ui.get('/keys/:id', async (c) => {
    const ctx = actionContext(c);
    const key = await actions.findVirtualKey(ctx, c.req.param('id'));
    const events = await listEvents(c.var.db, { key_id: key.id, limit: 20 }, await planFilter(ctx, 'event', 'list', eventVisibility));
    const totals = events.data.reduce((a, e) => ({ tokens: a.tokens + (e.input_tokens ?? 0) + (e.output_tokens ?? 0), cost: a.cost + (e.cost_usd ?? 0) }), { tokens: 0, cost: 0 });
    return c.html(
      <Layout title={`Virtual key: ${key.name}`} page={c.var.page}>
        <div class="card">
          <p>id <code>{key.id}</code> · <Badge value={key.status} /> · created {fmtTime(key.created_at)} · expires {fmtTime(key.expires_at)}</p>
          <p>Models: {key.models.join(', ')} · Networks: {key.cidrs.length ? key.cidrs.join(', ') : 'any'}</p>
          {key.status === 'active' ? <p><a class="button secondary" href={`/ui/keys/${key.id}/revoke`}>Revoke…</a></p> : null}
        </div>
        <h2>Recent usage</h2>
        <p class="muted">{`Last ${events.data.length} requests: ${totals.tokens} tokens, ${fmtCost(totals.cost)}`}</p>
        <EventsTable rows={events.data} />
      </Layout>,
    );
  });

  ui.get('/keys/:id/revoke', async (c) => {
    const key = await actions.findVirtualKey(actionContext(c), c.req.param('id'));
    return c.html(
      <Layout title="Revoke virtual key" page={c.var.page}>
        <div class="card">
          <p>Revoke <b>{key.name}</b> (<code>{key.id}</code>)? Applications using it will be refused within 30 seconds. This cannot be undone.</p>
          <form method="post" action={`/ui/keys/${key.id}/revoke`}>
            <Csrf token={c.var.page.csrf} />
            <button class="danger" type="submit">Revoke key</button> <a href="/ui/keys">Cancel</a>
          </form>
        </div>
      </Layout>,
    );
  });
  ui.post('/keys/:id/revoke', async (c) => {
    await actions.revokeVirtualKey(actionContext(c), c.req.param('id'));
    return c.redirect('/ui/keys', 303);
  });

  // ── requests (metadata events) ──

  ui.get('/requests', async (c) => {
    const parsed = parse(eventsQuerySchema, Object.fromEntries(Object.entries(c.req.query()).filter(([, v]) => v !== '')));
    const q = parsed.ok ? parsed.value : eventsQuerySchema.parse({});
    const page = await listEvents(c.var.db, q, await planFilter(actionContext(c), 'event', 'list', eventVisibility));
    const next = new URLSearchParams({ ...Object.fromEntries(Object.entries(c.req.query()).filter(([k, v]) => k !== 'cursor' && v !== '')), ...(page.next_cursor ? { cursor: page.next_cursor } : {}) });
    return c.html(
      <Layout title="Requests" page={c.var.page}>
        <p class="muted">Metadata only: Routero never stores prompts or responses.</p>
        {parsed.ok ? null : <ErrorBox message={parsed.message} />}
        <form class="filters" method="get" action="/ui/requests">
          <div><label for="r-key">Key id</label><input type="text" id="r-key" name="key_id" value={q.key_id ?? ''} /></div>
          <div><label for="r-model">Model</label><input type="text" id="r-model" name="model" value={q.model ?? ''} /></div>
          <div><label for="r-status">Status</label><input type="text" id="r-status" name="status" value={q.status === undefined ? '' : String(q.status)} /></div>
          <button class="secondary" type="submit">Filter</button>
        </form>
        <EventsTable rows={page.data} />
        {page.next_cursor ? <p class="pager"><a href={`/ui/requests?${next.toString()}`}>Older requests →</a></p> : null}
      </Layout>,
    );
  });

  // ── admin audit log ──

  ui.get('/audit', async (c) => {
    const parsed = parse(auditLogQuerySchema, Object.fromEntries(Object.entries(c.req.query()).filter(([k, v]) => v !== '' && k !== 'verify')));
    const q = parsed.ok ? parsed.value : auditLogQuerySchema.parse({});
    const allowed = await planFilter(actionContext(c), 'admin_audit', 'list', auditVisibility);
    const verify = c.req.query('verify') ? await actions.authorize(actionContext(c), { kind: 'admin_audit' }, 'verify').then(() => verifyAuditChain(c.var.db)) : null;
    const [page, chain] = [await auditLogPage(c.var.db, q, allowed), verify];
    const next = new URLSearchParams({ ...Object.fromEntries(Object.entries(c.req.query()).filter(([k, v]) => k !== 'cursor' && k !== 'verify' && v !== '')), ...(page.next_cursor ? { cursor: String(page.next_cursor) } : {}) });
    return c.html(
      <Layout title="Admin audit log" page={c.var.page}>
        {chain ? (
          chain.ok ? <div class="notice">{`Chain verified: ${chain.rows} rows, no gaps, every hash matches.`}</div> : <div class="error">{`Chain broken: ${chain.problems.map((p) => `#${p.seq} ${p.problem}`).join('; ')}`}</div>
        ) : (
          <p><a class="button secondary" href="/ui/audit?verify=1">Verify the hash chain</a></p>
        )}
        <form class="filters" method="get" action="/ui/audit">
          <div><label for="a-action">Action</label><input type="text" id="a-action" name="action" value={q.action ?? ''} /></div>
          <div><label for="a-outcome">Outcome</label><select id="a-outcome" name="outcome"><option value="">all</option>{['allowed', 'denied', 'failed'].map((o) => <option value={o} selected={q.outcome === o}>{o}</option>)}</select></div>
          <button class="secondary" type="submit">Filter</button>
        </form>
        <table data-testid="audit-table">
          <thead><tr><th>#</th><th>time</th><th>actor</th><th>action</th><th>target</th><th>outcome</th><th>client</th><th>request</th></tr></thead>
          <tbody>
            {page.data.map((r) => (
              <tr>
                <td>{r.seq}</td><td>{fmtTime(r.at)}</td><td>{`${r.actor} (${r.login_method})`}</td><td>{r.action}</td><td>{r.target_type ? `${r.target_type} ${r.target_id ?? ''}` : '—'}</td>
                <td><Badge value={r.outcome} /></td><td>{r.client_ip ?? '—'}<br /><span class="muted">{(r.user_agent ?? '').slice(0, 60)}</span></td><td><code>{r.request_id.slice(0, 13)}</code></td>
              </tr>
            ))}
          </tbody>
        </table>
        {page.next_cursor ? <p class="pager"><a href={`/ui/audit?${next.toString()}`}>Older entries →</a></p> : null}
      </Layout>,
    );
  });

  // ── API reference ──

  ui.get('/api', (c) => {
    const doc = buildOpenApi();
    return c.html(
      <Layout title="Management API" page={c.var.page}>
        <p>Machine-readable description: <a href="/api/openapi.json">/api/openapi.json</a> (OpenAPI {doc.openapi}). Every call needs <code>Authorization: Bearer &lt;MASTER_KEY&gt;</code>.</p>
        {Object.entries(doc.paths).flatMap(([p, ops]) =>
          Object.entries(ops).map(([method, op]) => (
            <div class="card">
              <h2><code>{`${method.toUpperCase()} ${p}`}</code></h2>
              <p>{op.summary}</p>
              {op.parameters?.length ? <p class="muted">{`Parameters: ${op.parameters.map((x) => `${x.name} (${x.in})`).join(', ')}`}</p> : null}
              {op.requestBody ? <pre>{JSON.stringify(op.requestBody.content['application/json'].schema, null, 2)}</pre> : null}
            </div>
          )),
        )}
      </Layout>,
    );
  });

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

type EventRow = Awaited<ReturnType<typeof listEvents>>['data'][number];

function EventsTable({ rows }: { rows: EventRow[] }) {
  return (
    <table data-testid="events-table">
      <thead><tr><th>time</th><th>org</th><th>key</th><th>model</th><th>status</th><th>tokens in/out</th><th>cost</th><th>latency</th></tr></thead>
      <tbody>
        {rows.map((e) => (
          <tr>
            <td>{fmtTime(e.started_at)}</td><td><code>{(e.org_id ?? '—').slice(0, 8)}</code></td><td><code>{e.key_id ?? '—'}</code></td><td>{e.model ?? '—'}</td>
            <td><span class={`badge ${e.status < 400 ? 'allowed' : 'failed'}`}>{e.status}</span></td>
            <td>{`${e.input_tokens ?? '—'} / ${e.output_tokens ?? '—'}`}</td><td>{fmtCost(e.cost_usd)}</td><td>{`${e.latency_ms} ms`}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
