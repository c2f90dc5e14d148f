/**
 * The OIDC sign-in flow of the admin UI:
 *
 *   POST /sso/oidc/find                    email → the connection of its domain → /start
 *   GET  /sso/oidc/:connection_id/start    → 302 to the IdP (Authorization Code + PKCE, state, nonce)
 *   GET  /sso/oidc/callback                the IdP's answer → verified → user → session → /ui
 *
 * Every refusal is a clear page and an audit row (`login`, outcome `denied`, target type
 * `oidc_refusal:<reason>`). A success is audited as `login` with login method `oidc` and the MFA
 * the ID Token showed, and starts the same session as any other login (admin/session.ts).
 */
import { Hono, type Context } from 'hono';
import type { Principal } from '../../../lib/authz/cerbos';
import { log } from '../../../lib/log';
import { anonymousPrincipal, userPrincipal } from '../../auth/principal';
import { recordAction } from '../../domain/change';
import { connectionIdForEmail, loadOidcConnection, OIDC_CALLBACK_PATH } from '../../domain/sso-connections';
import { findUserByEmail, membershipsOf, provisionSsoUser, type ProvisionRefusal } from '../../domain/users';
import type { AdminEnv } from '../../env';
import { database, requestMeta, type AdminVariables } from '../../middleware';
import { openRoute, mount } from '../../route-table';
import { startSession } from '../../session';
import { Layout } from '../../ui/layout';
import { beginLogin, finishLogin, type RpOptions } from './client';
import { identityFromClaims, type SsoIdentity } from './identity';
import { mfaEvidence } from './mfa';
import { savePendingLogin, takePendingLogin } from './login-states';
import { LoginRefused, type RefusalReason } from './refusal';

type Ctx = Context<{ Bindings: AdminEnv; Variables: AdminVariables }>;

/** The admin UI's headers (admin/ui): nothing framed, nothing inline, nothing cached, no referrer. */
function pageHeaders(c: Ctx) {
  c.header('content-security-policy', "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'");
  c.header('x-frame-options', 'DENY');
  // no-referrer: the callback URL carries the code and state; they must not leak to the next page.
  c.header('referrer-policy', 'no-referrer');
  c.header('x-content-type-options', 'nosniff');
  c.header('cache-control', 'no-store');
}

const rpOptions = (env: AdminEnv): RpOptions => ({ allowPrivate: env.ALLOW_PRIVATE_UPSTREAMS === 'true' });

/** Refusals that are a decision about the person (403) rather than a broken or stale request (400). */
const POLICY_REFUSALS: ReadonlySet<RefusalReason> = new Set(['domain_not_allowed', 'mfa_required', 'no_role', 'not_provisioned', 'user_suspended', 'identity_conflict']);

function refusedPage(c: Ctx, refusal: LoginRefused) {
  const status = refusal.reason === 'connection_unavailable' || refusal.reason === 'no_sso_for_domain' ? 404 : POLICY_REFUSALS.has(refusal.reason) ? 403 : 400;
  return c.html(
    <Layout title="Sign-in refused" page={{ actor: null, csrf: '', path: '/ui/login' }}>
      <div class="card" data-testid="sso-refused" data-reason={refusal.reason}>
        <div class="error" role="alert">{refusal.message}</div>
        <p><a href="/ui/login">Back to the login page</a></p>
      </div>
    </Layout>,
    status,
  );
}

async function auditRefusal(c: Ctx, refusal: LoginRefused, where: { connectionId: string | null; orgId: string | null; identity?: Partial<SsoIdentity> }) {
  const principal: Principal = anonymousPrincipal('oidc');
  if (where.identity?.email) principal.attr.email = where.identity.email;
  if (where.identity?.mfa !== undefined) principal.attr.mfa = where.identity.mfa;
  const meta = requestMeta(c);
  log('warn', 'sso login refused', { request_id: meta.requestId, reason: refusal.reason, detail: refusal.detail, connection_id: where.connectionId });
  await recordAction({ db: c.var.db, principal, meta }, 'login', 'denied', { type: `oidc_refusal:${refusal.reason}`, id: where.connectionId, orgId: where.orgId });
}

function provisionRefusal(refused: ProvisionRefusal, roleKnown: boolean): LoginRefused {
  switch (refused) {
    case 'suspended':
      return new LoginRefused('user_suspended', 'user is suspended');
    case 'identity_conflict':
      return new LoginRefused('identity_conflict', 'subject linked to a different user than the email names');
    default:
      return roleKnown ? new LoginRefused('not_provisioned', `provisioning refused: ${refused}`) : new LoginRefused('no_role', `no mapped group, no default role, ${refused}`);
  }
}

export function oidcLoginRoutes() {
  const app = new Hono<{ Bindings: AdminEnv; Variables: AdminVariables }>();
  app.use('*', async function ssoPageHeaders(c, next) {
    await next();
    pageHeaders(c);
  });
  app.use('*', database());
  // Open routes (admin/route-table.ts): there is no principal until the callback has verified the IdP.
  mount(app, [
    // No CSRF token here: this form only sends the browser to its own IdP, which a plain link to
    // /start does as well; the callback is what is bound to the browser (login-states.ts).
    openRoute('POST', '/find', 'sign-in step before any identity: finds the connection of an email domain', async (c) => {
      const body = await c.req.parseBody();
      const email = typeof body.email === 'string' ? body.email.trim() : '';
      const id = email.length <= 320 ? await connectionIdForEmail(c.var.db, email) : null;
      if (!id) {
        return refusedPage(c, new LoginRefused('no_sso_for_domain', 'no connection for this email domain'));
      }
      // A page, not a redirect: the login page's CSP has `form-action 'self'`, which browsers apply
      // to every redirect after a form post, so a redirect chain ending at the IdP would be blocked.
      const start = `/sso/oidc/${id}/start`;
      return c.html(
        <html lang="en">
          <head>
            <meta charset="utf-8" />
            <meta http-equiv="refresh" content={`0;url=${start}`} />
            <title>Single sign-on · Routero admin</title>
          </head>
          <body>
            <p>
              Continuing to your identity provider… <a href={start}>Continue</a>
            </p>
          </body>
        </html>,
      );
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
        await auditRefusal(c, e, { connectionId: found?.connection.id ?? null, orgId: found?.connection.orgId ?? null });
        return refusedPage(c, e);
      }
    }),

    openRoute('GET', '/callback', 'the SSO callback: the IdP answer being verified is the credential', async (c) => {
      let where: Parameters<typeof auditRefusal>[2] = { connectionId: null, orgId: null };
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

        // An organisation's IdP speaks for that organisation only. A person who already has an
        // account here but is not a member of this connection's organisation (someone another
        // organisation added, or a platform admin) is refused: otherwise an IdP could assert their
        // email and sign in as them, with all their other memberships.
        const existing = await findUserByEmail(c.var.db, identity.email);
        if (existing && !(await membershipsOf(c.var.db, existing.id)).some((m) => m.orgId === connection.orgId)) {
          throw new LoginRefused('identity_conflict', `existing user ${existing.id} is not a member of org ${connection.orgId}`);
        }

        // Without a role (no mapped group, no default role) nobody new is created; an existing
        // member still signs in with the role they have.
        const provisioned = await provisionSsoUser(
          c.var.db,
          {
            orgId: connection.orgId,
            connectionId,
            subject: identity.subject,
            email: identity.email,
            displayName: identity.displayName,
            role: identity.role ?? 'auditor',
            jit: connection.jit && identity.role !== null,
            mfa: identity.mfa,
          },
          requestMeta(c),
        );
        if ('refused' in provisioned) throw provisionRefusal(provisioned.refused, identity.role !== null);

        const { user, memberships } = provisioned;
        await startSession(c, c.var.db, { actor: user.id, userId: user.id, loginMethod: 'oidc', mfa: identity.mfa });
        const principal = userPrincipal(user, memberships, { loginMethod: 'oidc', mfa: identity.mfa });
        await recordAction({ db: c.var.db, principal, meta: requestMeta(c) }, 'login', 'allowed', { type: 'session', id: null, orgId: connection.orgId });
        // A page, not a redirect: the IdP sent the browser here cross-site, and a redirect would
        // keep that navigation cross-site, so the SameSite=Strict session cookie would not be sent
        // to /ui. A refresh from this (same-site) page is a same-site navigation.
        return c.html(
          <html lang="en">
            <head>
              <meta charset="utf-8" />
              <meta http-equiv="refresh" content="0;url=/ui" />
              <title>Signed in · Routero admin</title>
            </head>
            <body>
              <p>
                Signed in as {user.email}. <a href="/ui">Continue to the admin UI</a>.
              </p>
            </body>
          </html>,
        );
      } catch (e) {
        if (!(e instanceof LoginRefused)) throw e;
        await auditRefusal(c, e, where);
        return refusedPage(c, e);
      }
    }),
  ]);

  return app;
}
