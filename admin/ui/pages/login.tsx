/**
 * UI pages before a session exists: the login page (master key, and Sign in with SSO), the
 * test-only login, and logout. None of them is a Cerbos decision — there is no principal yet, or
 * the principal only ends their own session — so each is an `openRoute` with its reason.
 */
import { timingSafeEqualText } from '../../../lib/crypto/encoding';
import { GatewayError } from '../../../lib/errors';
import { log } from '../../../lib/log';
import * as actions from '../../actions';
import { masterKeyConfigured } from '../../auth/api-auth';
import { giveBackSlot, MASTER_KEY_LIMITS, MASTER_KEY_WINDOW_MINUTES, takeAttemptSlot } from '../../auth/master-key-limiter';
import { anonymousPrincipal, masterPrincipal } from '../../auth/principal';
import { masterUiLoginEnabled } from '../../auth/session-principal';
import { activeUserWithMemberships, findUserByEmail } from '../../domain/users';
import { actionContext, requestMeta } from '../../middleware';
import { openRoute, type AdminRoute } from '../../route-table';
import { testLoginSchema } from '../../schemas';
import { currentSession, endSession, loginCsrfToken, loginCsrfValid, startSession } from '../../session';
import { SsoLoginForm } from '../../sso/login-form';
import { parseBody } from '../../validation';
import { formOf } from '../forms';
import { ErrorBox, Layout } from '../layout';
import type { UiContext, UiEnv } from '../session-middleware';

/** Before the session middleware only `db` and `requestId` are set; these handlers read nothing else. */
type Ctx = UiContext;

async function loginPage(c: Ctx, error: string | null, status: 200 | 401 | 403 | 429 = 200) {
  return c.html(
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
}

async function masterKeyLogin(c: Ctx) {
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
}

/**
 * TEST ONLY. Starts a session for an existing, active user through the same `startSession` every
 * login uses, so end-to-end tests can act as a person without an identity provider. It answers
 * 404 unless ROUTERO_TEST_LOGIN=true (set only by the test stack) AND the request is addressed to
 * a loopback host; a deployed Worker never has the variable.
 */
async function testLogin(c: Ctx) {
  const host = new URL(c.req.url).hostname;
  if (c.env.ROUTERO_TEST_LOGIN !== 'true' || !['127.0.0.1', 'localhost', '[::1]'].includes(host)) {
    throw new GatewayError('not_found', `Unknown path: POST ${c.req.path}`);
  }
  const { email } = await parseBody(c, testLoginSchema);
  const user = await findUserByEmail(c.var.db, email);
  if (!user || !(await activeUserWithMemberships(c.var.db, user.id))) throw new GatewayError('permission', 'No active member with that email.');
  await startSession(c, c.var.db, { actor: user.id, userId: user.id, loginMethod: 'test_login', mfa: true });
  return c.json({ user_id: user.id });
}

/** Mounted before the session middleware: no session is needed (or exists) yet. */
export const LOGIN_ROUTES: AdminRoute<UiEnv>[] = [
  openRoute('GET', '/login', 'the login page: nobody is signed in yet', async (c) => {
    if (await currentSession(c, c.var.db)) return c.redirect('/ui');
    return loginPage(c, null);
  }),
  openRoute('POST', '/login', 'the login itself: the master key is the credential being checked', masterKeyLogin),
  openRoute('POST', '/test-login', 'test-only login on the loopback test stack (ROUTERO_TEST_LOGIN)', testLogin),
];

/** Mounted behind the session middleware (CSRF checked), but ending one's own session needs no policy. */
export const LOGOUT_ROUTES: AdminRoute<UiEnv>[] = [
  openRoute('POST', '/logout', 'ending your own session needs only that session', async (c) => {
    await actions.recordAction(actionContext(c), 'logout', 'allowed', { type: 'session', id: null });
    await endSession(c, c.var.db, c.var.session);
    return c.redirect('/ui/login', 303);
  }),
];
