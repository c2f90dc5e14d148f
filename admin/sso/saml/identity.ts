/**
 * From a verified SAML assertion to the person who signs in: email (an email attribute, else the
 * NameID when it is an email address), display name, groups → role, and MFA from the
 * AuthnContextClassRef (or Entra ID's authnmethodsreferences attribute) against `mfa_contexts`.
 */
import { allowedEmail, roleFor, type SsoIdentity } from '../identity';
import { LoginRefused } from '../refusal';
import { ENTRA_AUTHN_METHODS_ATTRIBUTE, type SamlConnection } from './config';
import type { VerifiedAssertion } from './sp';

/** Where the common IdPs put the email address: Okta (`email`), Entra ID (claim URIs), LDAP OIDs. */
const EMAIL_ATTRIBUTES = [
  'email',
  'mail',
  'emailAddress',
  'http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress',
  'urn:oid:0.9.2342.19200300.100.1.3',
];
const NAME_ATTRIBUTES = ['displayName', 'name', 'http://schemas.microsoft.com/identity/claims/displayname', 'urn:oid:2.16.840.1.113730.3.1.241'];
const GIVEN_NAME = ['firstName', 'givenName', 'http://schemas.xmlsoap.org/ws/2005/05/identity/claims/givenname', 'urn:oid:2.5.4.42'];
const SURNAME = ['lastName', 'surname', 'sn', 'http://schemas.xmlsoap.org/ws/2005/05/identity/claims/surname', 'urn:oid:2.5.4.4'];
const EMAIL_FORMAT = 'urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress';
const TRANSIENT_FORMAT = 'urn:oasis:names:tc:SAML:2.0:nameid-format:transient';

const first = (a: VerifiedAssertion, names: readonly string[]) => names.map((n) => a.attributes.get(n)?.[0]).find((v) => !!v);
const looksLikeEmail = (v: string | null | undefined): v is string => !!v && /^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(v) && v.length <= 320;

export function mfaShown(connection: SamlConnection, a: VerifiedAssertion): { mfa: boolean; detail: string } {
  const methods = a.attributes.get(ENTRA_AUTHN_METHODS_ATTRIBUTE) ?? [];
  const shown = [...a.authnContextClassRefs, ...methods];
  return { mfa: shown.some((v) => connection.mfaContexts.includes(v)), detail: `AuthnContextClassRef=${a.authnContextClassRefs.join(',') || '(none)'} authnmethods=${methods.join(',') || '(none)'}` };
}

/** The email the assertion names: an email attribute, else an email-shaped NameID; null if neither. */
export function emailOf(a: VerifiedAssertion): string | null {
  const fromAttribute = first(a, EMAIL_ATTRIBUTES);
  if (looksLikeEmail(fromAttribute)) return fromAttribute;
  return looksLikeEmail(a.nameId) && (a.nameIdFormat === EMAIL_FORMAT || !a.nameIdFormat || a.nameIdFormat.endsWith(':unspecified')) ? a.nameId : null;
}

export function identityFromAssertion(connection: SamlConnection, a: VerifiedAssertion): SsoIdentity {
  const rawEmail = emailOf(a);
  if (!rawEmail) throw new LoginRefused('email_missing', `no email attribute and NameID ${a.nameIdFormat ?? ''} is not an email address`);
  const email = allowedEmail(rawEmail, connection.allowedDomains);
  const evidence = mfaShown(connection, a);
  if (connection.requireMfa && !evidence.mfa) throw new LoginRefused('mfa_required', `no MFA shown: ${evidence.detail}`);
  const given = first(a, GIVEN_NAME);
  const surname = first(a, SURNAME);
  const name = first(a, NAME_ATTRIBUTES) ?? ([given, surname].filter(Boolean).join(' ') || null);
  // A transient NameID changes at every login: the email is the stable subject then.
  const subject = a.nameId && a.nameIdFormat !== TRANSIENT_FORMAT ? a.nameId : email;
  return {
    subject: subject.slice(0, 500),
    email,
    displayName: name ? name.slice(0, 200) : null,
    role: roleFor(connection, a.attributes.get(connection.groupsAttribute) ?? []),
    mfa: evidence.mfa,
  };
}
