/**
 * The one place admin principals are built (DESIGN §7). A principal is what Cerbos decides on and
 * what the admin audit log records: who (user id and email, `master`, `api_token:<id>`), how they
 * signed in, whether that login showed MFA, and their organisation memberships.
 *
 * Memberships travel as one list of organisation ids per role (`org_admin_of`, `developer_of`,
 * `auditor_of`) rather than a map: the derived roles in policies/derived_roles.yaml test
 * `R.attr.org_id in P.attr.org_admin_of`, which Cerbos's query planner turns into a plain
 * `org_id IN (…)` filter for list endpoints (admin/auth/plan.ts).
 */
import type { Principal } from '../../lib/authz/cerbos';
import type { OrgRole } from '../db/schema';

/** How a principal proved who they are. `test_login` exists only on a local test stack (README). */
export type LoginMethod = 'master_key' | 'oidc' | 'saml' | 'api_token' | 'scim_token' | 'test_login';

export interface Membership {
  orgId: string;
  role: OrgRole;
}

export interface PrincipalUser {
  id: string;
  email: string;
  status: 'active' | 'suspended';
  platform_admin: boolean;
  version: number;
}

export interface LoginFacts {
  loginMethod: LoginMethod;
  mfa: boolean;
}

/** The audit log's view of a principal (admin_audit_log columns). */
export interface AuditActor {
  actor: string;
  actorUserId: string | null;
  actorEmail: string | null;
  loginMethod: string;
  mfa: boolean | null;
}

function membershipAttrs(memberships: Membership[]) {
  const of = (role: OrgRole) => memberships.filter((m) => m.role === role).map((m) => m.orgId);
  return {
    org_admin_of: of('org_admin'),
    developer_of: of('developer'),
    auditor_of: of('auditor'),
    member_of: memberships.map((m) => m.orgId),
    scim_of: [] as string[],
  };
}

/**
 * The master key: break-glass, `platform_admin` across every organisation. It has no MFA of its
 * own; the audit log records every use with `login_method = master_key`.
 */
export function masterPrincipal(loginMethod: LoginMethod = 'master_key'): Principal {
  return {
    id: 'master',
    roles: ['platform_admin'],
    version: '1',
    attr: { login_method: loginMethod, mfa: false, email: '', ...membershipAttrs([]) },
  };
}

/** A signed-in person with their memberships. Suspended users never get a principal. */
export function userPrincipal(user: PrincipalUser, memberships: Membership[], login: LoginFacts): Principal {
  if (user.status !== 'active') throw new Error('a suspended user has no principal');
  return {
    id: user.id,
    roles: user.platform_admin ? ['user', 'platform_admin'] : ['user'],
    version: String(user.version),
    attr: { login_method: login.loginMethod, mfa: login.mfa, email: user.email, user_id: user.id, ...membershipAttrs(memberships) },
  };
}

/**
 * An admin API token: acts with its one role in its one organisation. Its id in decisions and in the
 * audit log is `api_token:<id>`; `user_id` is the person who created it (their keys are the token's
 * "own" keys), or empty for a token the master key made.
 */
export function apiTokenPrincipal(
  token: { id: string; org_id: string; role: OrgRole; created_at: Date },
  creator: { id: string; email: string } | null,
): Principal {
  return {
    id: `api_token:${token.id}`,
    roles: ['user'],
    version: `t${token.created_at.getTime()}`,
    attr: {
      login_method: 'api_token',
      mfa: false,
      email: creator?.email ?? '',
      user_id: creator?.id ?? '',
      ...membershipAttrs([{ orgId: token.org_id, role: token.role }]),
    },
  };
}

/**
 * A SCIM bearer token (admin/scim/tokens.ts): the identity provider provisioning one organisation.
 * Its only role is the derived role `scim_client` of that organisation (`scim_of`), which reaches
 * SCIM users and groups there and nothing else; it is `scim:<token id>` in the audit log.
 */
export function scimTokenPrincipal(token: { id: string; org_id: string; created_at: Date }): Principal {
  return {
    id: `scim:${token.id}`,
    roles: ['user'],
    version: `s${token.created_at.getTime()}`,
    attr: { login_method: 'scim_token', mfa: false, email: '', user_id: '', ...membershipAttrs([]), scim_of: [token.org_id] },
  };
}

/** The anonymous caller of a failed login (recorded as `unknown`). */
export function anonymousPrincipal(loginMethod: LoginMethod): Principal {
  return { id: 'unknown', roles: [], version: '0', attr: { login_method: loginMethod, mfa: false, email: '', ...membershipAttrs([]) } };
}

/** What the admin audit log writes for this principal. */
export function auditActor(p: Principal): AuditActor {
  const userId = typeof p.attr.user_id === 'string' && p.attr.user_id ? p.attr.user_id : null;
  const email = typeof p.attr.email === 'string' && p.attr.email ? p.attr.email : null;
  return {
    actor: p.id,
    actorUserId: userId,
    actorEmail: email,
    loginMethod: typeof p.attr.login_method === 'string' ? p.attr.login_method : 'unknown',
    mfa: typeof p.attr.mfa === 'boolean' ? p.attr.mfa : null,
  };
}
