/**
 * What a SAML 2.0 connection is, as the sign-in flow needs it, and the defaults: which
 * AuthnContextClassRef values count as multi-factor, and which signature algorithms we accept.
 */
import type { SsoRole } from '../oidc/config';

export interface SamlConnection {
  id: string;
  orgId: string;
  /** The IdP's entity id: the assertion's Issuer must equal it. */
  idpEntityId: string;
  /** The IdP's SingleSignOnService for the HTTP-Redirect binding. */
  idpSsoUrl: string;
  /** The public keys (`PUBLIC KEY` PEM) of the IdP's signing certificates; a signature by any other key is refused. */
  idpKeys: string[];
  /** Our entity id: the audience the assertion must name. */
  spEntityId: string;
  /** Our AssertionConsumerService URL: the Recipient (and the Response's Destination) must equal it. */
  acsUrl: string;
  allowedDomains: string[];
  roleMapping: Record<string, SsoRole>;
  defaultRole: SsoRole | null;
  groupsAttribute: string;
  requireMfa: boolean;
  mfaContexts: string[];
  jit: boolean;
}

/**
 * AuthnContextClassRef values that mean "more than one factor", as the common IdPs send them:
 * the SAML 2.0 classes for two-factor contracts (SAML Authn Context §3.4: MobileTwoFactor*,
 * SmartcardPKI = card + PIN), the `MultiFactor` forms some IdPs (Okta, PingFederate, Shibboleth
 * plug-ins) use, the REFEDS MFA profile (research and education federations), and Microsoft Entra
 * ID's `multipleauthn` (which Entra also puts in its `authnmethodsreferences` attribute).
 */
export const DEFAULT_MFA_CONTEXTS: readonly string[] = [
  'urn:oasis:names:tc:SAML:2.0:ac:classes:MultiFactor',
  'urn:oasis:names:tc:SAML:2.0:ac:classes:MultiFactorContract',
  'urn:oasis:names:tc:SAML:2.0:ac:classes:MultiFactorUnregistered',
  'urn:oasis:names:tc:SAML:2.0:ac:classes:MobileTwoFactorContract',
  'urn:oasis:names:tc:SAML:2.0:ac:classes:MobileTwoFactorUnregistered',
  'urn:oasis:names:tc:SAML:2.0:ac:classes:SmartcardPKI',
  'https://refeds.org/profile/mfa',
  'http://schemas.microsoft.com/claims/multipleauthn',
];

/** Entra ID's attribute listing how the person authenticated; `multipleauthn` there is MFA too. */
export const ENTRA_AUTHN_METHODS_ATTRIBUTE = 'http://schemas.microsoft.com/claims/authnmethodsreferences';

/** XML Signature algorithms we accept: RSA with SHA-256 or stronger (no SHA-1, no HMAC). */
export const SIGNATURE_ALGORITHMS: ReadonlySet<string> = new Set([
  'http://www.w3.org/2001/04/xmldsig-more#rsa-sha256',
  'http://www.w3.org/2001/04/xmldsig-more#rsa-sha512',
  'http://www.w3.org/2007/05/xmldsig-more#sha256-rsa-MGF1',
]);
export const DIGEST_ALGORITHMS: ReadonlySet<string> = new Set(['http://www.w3.org/2001/04/xmlenc#sha256', 'http://www.w3.org/2001/04/xmlenc#sha512']);

/** Clock difference tolerated between us and the IdP for NotBefore / NotOnOrAfter. */
export const CLOCK_SKEW_MS = 60_000;
/** How long an AuthnRequest waits for its Response. */
export const REQUEST_TTL_MS = 10 * 60_000;
