/**
 * What an OIDC connection is, as the sign-in flow needs it, and the URL policy for everything we
 * fetch from an IdP (issuer, and the endpoints its discovery document names).
 */
import { isPrivateHost } from '../../../lib/net/cidr';
import type { OrgRole } from '../../db/schema';

/**
 * Roles an organisation's IdP can grant: organisation roles only. `platform_admin` spans every
 * organisation, so no one organisation's IdP may hand it out.
 */
export type SsoRole = OrgRole;

/** When a person is in several mapped groups, the strongest role wins. */
export const ROLE_PRECEDENCE: readonly SsoRole[] = ['org_admin', 'developer', 'auditor'];

/** Scopes requested when a connection names none: the three every OIDC IdP supports. */
export const DEFAULT_SCOPES = ['openid', 'email', 'profile'];

export interface OidcConnection {
  id: string;
  orgId: string;
  issuer: string;
  clientId: string;
  allowedDomains: string[];
  roleMapping: Record<string, SsoRole>;
  defaultRole: SsoRole | null;
  groupsClaim: string;
  scopes: string[];
  requireMfa: boolean;
  acrValues: string[];
  jit: boolean;
}

/**
 * Production accepts only `https` IdP URLs on public hosts. With ALLOW_PRIVATE_UPSTREAMS=true
 * (local stack, tests) `http` and loopback/private hosts are allowed too — the same switch that
 * allows private provider base URLs. Applied to the issuer and to every discovered endpoint, so a
 * discovery document cannot point the Worker at an internal address.
 */
export function idpUrlProblem(raw: string, allowPrivate: boolean): string | null {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return 'must be an absolute URL';
  }
  if (url.protocol !== 'https:' && !(allowPrivate && url.protocol === 'http:')) return 'must use https';
  if (url.username || url.password) return 'must not carry credentials';
  if (!allowPrivate && isPrivateHost(url.hostname)) return 'must not point at a private or loopback address';
  return null;
}
