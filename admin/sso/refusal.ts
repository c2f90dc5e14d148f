/**
 * Why an SSO login (OIDC or SAML) was refused. The code goes into the audit log; the message is what the person
 * sees (it names what to do, never internal detail); `detail` is logged only.
 */
export const REFUSALS = {
  state_invalid: 'This sign-in attempt is unknown, expired or was already used. Start again from the login page.',
  idp_error: 'Your identity provider did not complete the sign-in.',
  code_rejected: 'Your identity provider refused to complete this sign-in (the code was already used or has expired). Start again from the login page.',
  token_invalid: 'The answer from your identity provider could not be verified, so you were not signed in.',
  replayed: 'This sign-in answer from your identity provider was already used. Start again from the login page.',
  no_sso_for_domain: "No single sign-on is set up for that email address's domain. Check the address, or ask your administrator.",
  connection_unavailable: 'This single sign-on connection is not available (unknown, misconfigured or unreachable). Ask your administrator.',
  email_missing: 'Your identity provider did not send a verified email address.',
  domain_not_allowed: 'Your email address is not in a domain this organisation allows to sign in.',
  mfa_required: 'Your organisation requires multi-factor authentication. Sign in again at your identity provider with a second factor (for example a one-time code or a security key).',
  no_role: 'None of your groups gives you a role in this organisation. Ask your administrator for access.',
  not_provisioned: 'You do not have an account here yet. Ask your administrator to add you.',
  user_suspended: 'Your account is suspended.',
  busy: 'Too many sign-ins are starting right now. Try again in a minute.',
  deprovisioned: "Your identity provider's provisioning (SCIM) removed your access to this organisation. Ask your administrator.",
  identity_conflict: 'An account with this email already exists here outside this organisation, or is linked to another identity. Ask your administrator.',
} as const;

export type RefusalReason = keyof typeof REFUSALS;

export class LoginRefused extends Error {
  constructor(
    readonly reason: RefusalReason,
    /** Logged, never shown. */
    readonly detail: string,
  ) {
    // eslint-disable-next-line security/detect-object-injection -- reason is typed as a key of the constant REFUSALS
    super(REFUSALS[reason]);
  }
}
