/**
 * Did the IdP report multi-factor authentication? Read from the ID Token's `amr` (RFC 8176,
 * Authentication Method Reference Values) and `acr` (OpenID Connect Core §2) claims.
 *
 * RFC 8176 §2 registers method names, not factor counts: an `amr` of `["otp"]` alone says a
 * one-time code was used, not that two factors were. So a login counts as multi-factor when:
 *
 * 1. `amr` contains `mfa` — "Multiple-factor authentication" (RFC 8176 §2); Okta and Microsoft
 *    Entra ID set it when more than one factor was used; or
 * 2. `amr` names methods from at least two different factor categories — something you know,
 *    something you have, something you are (NIST SP 800-63B §4: "multi-factor" means more than
 *    one of these). `["pwd","otp"]` is two factors; `["pwd","kba"]` or `["otp","sms"]` is not; or
 * 3. `acr` equals one of the connection's configured `acr_values` (the admin has told us which
 *    assurance levels of their IdP imply MFA, and the request asked for them with `acr_values`).
 *
 * Methods that are not a factor in themselves are ignored: `mca` (multiple-channel), `rba`
 * (risk-based), `geo`, `user` (presence test), `wia` (Windows integrated, whose factors are not
 * stated), `sc` is counted as possession, `pin` as knowledge (a smart card with a PIN is two factors).
 */

/** RFC 8176 §2 method → NIST SP 800-63B factor category. */
const FACTOR_OF_METHOD: Readonly<Record<string, 'knowledge' | 'possession' | 'inherence'>> = {
  pwd: 'knowledge', // password
  pin: 'knowledge', // personal identification number
  kba: 'knowledge', // knowledge-based authentication
  otp: 'possession', // one-time password
  hwk: 'possession', // proof of possession of a hardware-secured key
  swk: 'possession', // proof of possession of a software-secured key
  sc: 'possession', // smart card
  sms: 'possession', // confirmation by text message to a registered number
  tel: 'possession', // confirmation by telephone call to a registered number
  fpt: 'inherence', // fingerprint biometric
  face: 'inherence', // facial recognition
  iris: 'inherence', // iris scan
  retina: 'inherence', // retina scan
  vbm: 'inherence', // voiceprint biometric
};

export type MfaEvidence =
  | { mfa: true; via: 'amr:mfa' | 'amr:factors' | 'acr'; detail: string }
  | { mfa: false; detail: string };

export function mfaEvidence(claims: Readonly<Record<string, unknown>>, acceptedAcrValues: readonly string[]): MfaEvidence {
  const amr = Array.isArray(claims.amr) ? claims.amr.filter((v): v is string => typeof v === 'string') : [];
  const acr = typeof claims.acr === 'string' ? claims.acr : null;
  if (amr.includes('mfa')) return { mfa: true, via: 'amr:mfa', detail: `amr=${amr.join(',')}` };
  // Own properties only: an `amr` value such as "constructor" must not count as a factor.
  // eslint-disable-next-line security/detect-object-injection -- guarded by Object.hasOwn
  const categories = new Set(amr.map((m) => (Object.hasOwn(FACTOR_OF_METHOD, m) ? FACTOR_OF_METHOD[m] : undefined)).filter(Boolean));
  if (categories.size >= 2) return { mfa: true, via: 'amr:factors', detail: `amr=${amr.join(',')}` };
  if (acr !== null && acceptedAcrValues.includes(acr)) return { mfa: true, via: 'acr', detail: `acr=${acr}` };
  return { mfa: false, detail: `amr=${amr.join(',') || '(none)'} acr=${acr ?? '(none)'}` };
}
