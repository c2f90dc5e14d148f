/**
 * The OIDC sign-in flow of the admin UI (the steps after verification are shared with SAML: ../sign-in.tsx):
 *
 *   POST /sso/oidc/find                    email → the connection of its domain (OIDC or SAML) → its /start
 *   GET  /sso/oidc/:connection_id/start    → 302 to the IdP (Authorization Code + PKCE, state, nonce)
 *   GET  /sso/oidc/callback                the IdP's answer → verified → user → session → /ui
 *
 * Every refusal is a clear page and an audit row (`login`, outcome `denied`, target type
 * `oidc_refusal:<reason>`). A success is audited as `login` with login method `oidc` and the MFA
 * the ID Token showed, and starts the same session as any other login (admin/session.ts).
 */
import { Hono } from 'hono';
import { connectionForEmail, loadOidcConnection, OIDC_CALLBACK_PATH } from '../../domain/sso-connections';
import type { AdminEnv } from '../../env';
import { database, type AdminVariables } from '../../middleware';
import { openRoute, mount } from '../../route-table';
import { LoginRefused } from '../refusal';
import { auditRefusal, completeSignIn, continuePage, refusedPage, ssoPageHeaders, type RefusalWhere } from '../sign-in';
import { beginLogin, finishLogin, type RpOptions } from './client';
import { identityFromClaims } from './identity';
import { mfaEvidence } from './mfa';
import { savePendingLogin, takePendingLogin } from './login-states';

const rpOptions = (env: AdminEnv): RpOptions => ({ allowPrivate: env.ALLOW_PRIVATE_UPSTREAMS === 'true' });

export function oidcLoginRoutes() {
  const app = new Hono<{ Bindings: AdminEnv; Variables: AdminVariables }>();
  app.use('*', async function securityHeaders(c, next) {
    await next();
    ssoPageHeaders(c);
  });
  app.use('*', database());
  // Open routes (admin/route-table.ts): there is no principal until the callback has verified the IdP.
  mount(app, [
    // No CSRF token here: this form only sends the browser to its own IdP, which a plain link to
    // /start does as well; the callback is what is bound to the browser (login-states.ts).
    openRoute('POST', '/find', 'sign-in step before any identity: finds the connection of an email domain', async (c) => {
      const body = await c.req.parseBody();
      const email = typeof body.email === 'string' ? body.email.trim() : '';
      const found = email.length <= 320 ? await connectionForEmail(c.var.db, email) : null;
      if (!found) {
        return refusedPage(c, new LoginRefused('no_sso_for_domain', 'no connection for this email domain'));
      }
      // A page, not a redirect: the login page's CSP has `form-action 'self'`, which browsers apply
      // to every redirect after a form post, so a redirect chain ending at the IdP would be blocked.
      return continuePage(c, `/sso/${found.protocol}/${found.id}/start`, 'Single sign-on', 'Continuing to your identity provider…');
    }),

    openRoute('GET', '/:connection_id/start', 'sign-in step before any identity: sends the browser to the IdP', async (c) => {
      const id = c.req.param('connection_id') ?? '';
      const found = await loadOidcConnection(c.var.db, c.env, id);
      try {
        if (!found) throw new LoginRefused('connection_unavailable', `no OIDC connection ${id}`);
        const origin = new URL(c.req.url).origin;
        const { url, pending } = await beginLogin(found.connection, `${origin}${OIDC_CALLBACK_PATH}`, rpOptions(c.env));
        await savePendingLogin(c, c.var.db, found.connection.id, pending);
        return c.redirect(url.toString(), 302);
      } catch (e) {
        if (!(e instanceof LoginRefused)) throw e;
        await auditRefusal(c, 'oidc', e, { connectionId: found?.connection.id ?? null, orgId: found?.connection.orgId ?? null });
        return refusedPage(c, e);
      }
    }),

    openRoute('GET', '/callback', 'the SSO callback: the IdP answer being verified is the credential', async (c) => {
      let where: RefusalWhere = { connectionId: null, orgId: null };
      try {
        const { connectionId, pending } = await takePendingLogin(c, c.var.db, c.req.query('state'));
        const found = await loadOidcConnection(c.var.db, c.env, connectionId);
        if (!found) throw new LoginRefused('connection_unavailable', `connection ${connectionId} was deleted during the login`);
        const { connection } = found;
        where = { connectionId, orgId: connection.orgId };
        const claims = await finishLogin(connection, await found.clientSecret(), pending, new URL(c.req.url), rpOptions(c.env));
        // Recorded on a refusal below: who the IdP said it was, and whether they used MFA.
        where.identity = { mfa: mfaEvidence(claims, connection.acrValues).mfa, ...(typeof claims.email === 'string' ? { email: claims.email.toLowerCase() } : {}) };
        const identity = identityFromClaims(connection, claims);
        where.identity = identity;

        return await completeSignIn(c, 'oidc', connection, identity);
      } catch (e) {
        if (!(e instanceof LoginRefused)) throw e;
        await auditRefusal(c, 'oidc', e, where);
        return refusedPage(c, e);
      }
    }),
  ]);

  return app;
}
