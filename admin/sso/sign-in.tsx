/**
 * What every SSO sign-in (OIDC, SAML) shares once the protocol has verified the IdP's answer: the
 * person → user → session step, the pages (refusal, "signed in"), the headers, and the audit rows.
 *
 * A refusal is a clear page and an audit row (`login`, outcome `denied`, target type
 * `<protocol>_refusal:<reason>`). A success is audited as `login` with the protocol as login method
 * and the MFA the IdP showed, and starts the same session as any other login (admin/session.ts).
 */
import type { Context } from 'hono';
import type { Principal } from '../../lib/authz/cerbos';
import { log } from '../../lib/log';
import { anonymousPrincipal, userPrincipal } from '../auth/principal';
import { recordAction } from '../domain/change';
import { findUserByEmail, membershipsOf, provisionSsoUser, type ProvisionRefusal } from '../domain/users';
import type { AdminEnv } from '../env';
import { requestMeta, type AdminVariables } from '../middleware';
import { startSession } from '../session';
import { Layout } from '../ui/layout';
import type { SsoIdentity } from './identity';
import { LoginRefused, type RefusalReason } from './refusal';

export type SsoCtx = Context<{ Bindings: AdminEnv; Variables: AdminVariables }>;
export type SsoProtocol = 'oidc' | 'saml';

/** The admin UI's headers (admin/ui): nothing framed, nothing inline, nothing cached, no referrer. */
export function ssoPageHeaders(c: SsoCtx) {
  c.header('content-security-policy', "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'");
  c.header('x-frame-options', 'DENY');
  // no-referrer: callback URLs carry codes and state; they must not leak to the next page.
  c.header('referrer-policy', 'no-referrer');
  c.header('x-content-type-options', 'nosniff');
  c.header('cache-control', 'no-store');
}

/** Refusals that are a decision about the person (403) rather than a broken or stale request (400). */
const POLICY_REFUSALS: ReadonlySet<RefusalReason> = new Set(['domain_not_allowed', 'mfa_required', 'no_role', 'not_provisioned', 'user_suspended', 'identity_conflict', 'deprovisioned']);

export function refusedPage(c: SsoCtx, refusal: LoginRefused) {
  const status =
    refusal.reason === 'busy' ? 429 : refusal.reason === 'connection_unavailable' || refusal.reason === 'no_sso_for_domain' ? 404 : POLICY_REFUSALS.has(refusal.reason) ? 403 : 400;
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

export interface RefusalWhere {
  connectionId: string | null;
  orgId: string | null;
  identity?: Partial<SsoIdentity>;
}

export async function auditRefusal(c: SsoCtx, protocol: SsoProtocol, refusal: LoginRefused, where: RefusalWhere) {
  const principal: Principal = anonymousPrincipal(protocol);
  if (where.identity?.email) principal.attr.email = where.identity.email;
  if (where.identity?.mfa !== undefined) principal.attr.mfa = where.identity.mfa;
  const meta = requestMeta(c);
  log('warn', 'sso login refused', { request_id: meta.requestId, protocol, reason: refusal.reason, detail: refusal.detail, connection_id: where.connectionId });
  await recordAction({ db: c.var.db, principal, meta }, 'login', 'denied', { type: `${protocol}_refusal:${refusal.reason}`, id: where.connectionId, orgId: where.orgId });
}

function provisionRefusal(refused: ProvisionRefusal, roleKnown: boolean): LoginRefused {
  switch (refused) {
    case 'suspended':
      return new LoginRefused('user_suspended', 'user is suspended');
    case 'identity_conflict':
      return new LoginRefused('identity_conflict', 'subject linked to a different user than the email names');
    case 'linked_email_outside':
      return new LoginRefused('identity_conflict', "subject linked to a user whose email is outside the connection's domains");
    case 'scim_deprovisioned':
      return new LoginRefused('deprovisioned', 'SCIM deactivated this user in the organisation');
    default:
      return roleKnown ? new LoginRefused('not_provisioned', `provisioning refused: ${refused}`) : new LoginRefused('no_role', `no mapped group, no default role, ${refused}`);
  }
}

/** A page that moves the browser on with a same-site refresh (see the callers for why not a redirect). */
export function continuePage(c: SsoCtx, to: string, title: string, text: string) {
  return c.html(
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta http-equiv="refresh" content={`0;url=${to}`} />
        <title>{title} · Routero admin</title>
      </head>
      <body>
        <p>
          {text} <a href={to}>Continue</a>
        </p>
      </body>
    </html>,
  );
}

/**
 * From a verified identity to a signed-in person: refuses someone who belongs here only through
 * another organisation, provisions (JIT) or finds the user, starts the session, audits the login.
 * Throws LoginRefused; the caller audits and shows it.
 */
export async function completeSignIn(c: SsoCtx, protocol: SsoProtocol, connection: { id: string; orgId: string; jit: boolean }, identity: SsoIdentity) {
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
      connectionId: connection.id,
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
  await startSession(c, c.var.db, { actor: user.id, userId: user.id, loginMethod: protocol, mfa: identity.mfa });
  const principal = userPrincipal(user, memberships, { loginMethod: protocol, mfa: identity.mfa });
  await recordAction({ db: c.var.db, principal, meta: requestMeta(c) }, 'login', 'allowed', { type: 'session', id: null, orgId: connection.orgId });
  // A page, not a redirect: the IdP sent the browser here cross-site, and a redirect would
  // keep that navigation cross-site, so the SameSite=Strict session cookie would not be sent
  // to /ui. A refresh from this (same-site) page is a same-site navigation.
  return continuePage(c, '/ui', 'Signed in', `Signed in as ${user.email}.`);
}
