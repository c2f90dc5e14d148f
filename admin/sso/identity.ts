/**
 * The person an SSO login (OIDC or SAML) names, once the IdP's answer was verified, and the role
 * their IdP groups give them. Shared by both protocols.
 */
import { ROLE_PRECEDENCE, type SsoRole } from './oidc/config';
import { LoginRefused } from './refusal';

export interface SsoIdentity {
  /** The IdP's stable subject identifier: OIDC `sub`, SAML NameID. Unique per connection. */
  subject: string;
  email: string;
  displayName: string | null;
  /** The role the groups map to, or the default role; null only when the connection has neither. */
  role: SsoRole | null;
  mfa: boolean;
}

export interface RoleRules {
  roleMapping: Record<string, SsoRole>;
  defaultRole: SsoRole | null;
}

export function roleFor(connection: RoleRules, groups: readonly string[]): SsoRole | null {
  // Own properties only: a group named like an Object.prototype member must map to nothing.
  // eslint-disable-next-line security/detect-object-injection -- guarded by Object.hasOwn
  const mapped = new Set(groups.map((g) => (Object.hasOwn(connection.roleMapping, g) ? connection.roleMapping[g] : undefined)).filter((r): r is SsoRole => r !== undefined));
  return ROLE_PRECEDENCE.find((r) => mapped.has(r)) ?? connection.defaultRole;
}

/** Lower-cases the email and refuses one outside the connection's allowed domains. */
export function allowedEmail(raw: string, allowedDomains: readonly string[]): string {
  const email = raw.trim().toLowerCase();
  const domain = email.slice(email.lastIndexOf('@') + 1);
  if (!allowedDomains.includes(domain)) throw new LoginRefused('domain_not_allowed', `domain ${domain} not in ${allowedDomains.join(',')}`);
  return email;
}
