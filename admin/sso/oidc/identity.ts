/**
 * From verified ID Token claims to the person who signs in: email and its domain, MFA, and the
 * role the IdP's groups give them. Pure: the signature, issuer, audience, expiry and nonce were
 * checked before (client.ts).
 */
import { allowedEmail, roleFor, type SsoIdentity } from '../identity';
import type { OidcConnection } from './config';
import { mfaEvidence } from './mfa';
import { LoginRefused } from '../refusal';

export { roleFor, type SsoIdentity };

/** The groups claim as a list: IdPs send an array of strings, some a single string. */
function groupsOf(claims: Record<string, unknown>, claim: string): string[] {
  // eslint-disable-next-line security/detect-object-injection -- guarded by Object.hasOwn; the claim name is the admin's setting
  const value = Object.hasOwn(claims, claim) ? claims[claim] : undefined;
  if (typeof value === 'string') return [value];
  if (Array.isArray(value)) return value.filter((g): g is string => typeof g === 'string');
  return [];
}

export function identityFromClaims(connection: OidcConnection, claims: Record<string, unknown>): SsoIdentity {
  const subject = claims.sub;
  if (typeof subject !== 'string' || !subject) throw new LoginRefused('token_invalid', 'ID token has no sub');
  // OIDC Core §5.1: `email_verified: false` means the IdP has not verified the address; some IdPs
  // (Microsoft Entra ID) omit the claim for addresses they manage, so only an explicit false refuses.
  if (typeof claims.email !== 'string' || !claims.email.includes('@') || claims.email_verified === false) {
    throw new LoginRefused('email_missing', `email=${String(claims.email)} email_verified=${String(claims.email_verified)}`);
  }
  const email = allowedEmail(claims.email, connection.allowedDomains);
  const evidence = mfaEvidence(claims, connection.acrValues);
  if (connection.requireMfa && !evidence.mfa) throw new LoginRefused('mfa_required', `no MFA shown: ${evidence.detail}`);
  const name = typeof claims.name === 'string' && claims.name.trim() ? claims.name.trim().slice(0, 200) : null;
  return { subject, email, displayName: name, role: roleFor(connection, groupsOf(claims, connection.groupsClaim)), mfa: evidence.mfa };
}
