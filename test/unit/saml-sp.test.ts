/**
 * The SAML service provider (admin/sso/saml/) in Node against Responses signed by the test IdP
 * (xml-crypto, key and certificate generated here): what is accepted, and every hostile Response
 * refused for the right reason — including signature wrapping variants that a verifier reading
 * the document instead of the signed bytes would accept. The same code runs in workerd in
 * test/e2e/saml.e2e.test.ts.
 */
import 'reflect-metadata';
import { X509Certificate } from 'node:crypto';
import * as x509 from '@peculiar/x509';
import { beforeAll, describe, expect, it } from 'vitest';
import { publicKeyPemOfCertificate } from '../../admin/sso/saml/certificate';
import { DEFAULT_MFA_CONTEXTS, type SamlConnection } from '../../admin/sso/saml/config';
import { identityFromAssertion } from '../../admin/sso/saml/identity';
import { normalizeCertificate, parseIdpMetadata } from '../../admin/sso/saml/metadata';
import { verifyResponse, type RequestStore } from '../../admin/sso/saml/sp';
import { LoginRefused, type RefusalReason } from '../../admin/sso/refusal';
import { buildResponse, DEFAULT_SAML_ACCOUNTS, generateSigningKey, PASSWORD_CONTEXT, type SamlTamper } from '../support/saml-idp';

const ACS = 'https://admin.example/sso/saml/c1/acs';
const SP = 'https://admin.example/sso/saml/c1/metadata';
const IDP = 'https://idp.example/metadata';

let keys: Awaited<ReturnType<typeof generateSigningKey>>;
let rogue: Awaited<ReturnType<typeof generateSigningKey>>;
let connection: SamlConnection;

/** An in-memory request store: the ids this "browser" started. */
function store(ids: string[]): RequestStore {
  return { save: async () => undefined, issuedAt: async (id) => (ids.includes(id) ? new Date().toISOString() : null) };
}

function response(tamper: SamlTamper = null, account = DEFAULT_SAML_ACCOUNTS.sara!, requestId = '_req1') {
  return buildResponse({ entityId: IDP, requestId, acsUrl: ACS, audience: SP, account, tamper }, { idp: keys, rogue });
}

async function refusal(samlResponse: string, ids = ['_req1']): Promise<RefusalReason | 'accepted'> {
  try {
    await verifyResponse(connection, samlResponse, store(ids));
    return 'accepted';
  } catch (e) {
    if (e instanceof LoginRefused) return e.reason;
    throw e;
  }
}

const b64 = (xml: string) => Buffer.from(xml, 'utf8').toString('base64');
const xmlOf = (r: string) => Buffer.from(r, 'base64').toString('utf8');

beforeAll(async () => {
  [keys, rogue] = await Promise.all([generateSigningKey('Unit IdP'), generateSigningKey('Rogue')]);
  connection = {
    id: 'c1',
    orgId: 'o1',
    idpEntityId: IDP,
    idpSsoUrl: 'https://idp.example/sso',
    idpKeys: [publicKeyPemOfCertificate(keys.certPem)],
    spEntityId: SP,
    acsUrl: ACS,
    allowedDomains: ['saml.test'],
    roleMapping: { 'routero-admins': 'org_admin' },
    defaultRole: 'developer',
    groupsAttribute: 'groups',
    requireMfa: true,
    mfaContexts: [...DEFAULT_MFA_CONTEXTS],
    jit: true,
  };
});

describe('certificates and IdP metadata', () => {
  it('takes the RSA key out of a certificate exactly as Node reads it', () => {
    expect(publicKeyPemOfCertificate(keys.certPem)).toBe(new X509Certificate(keys.certPem).publicKey.export({ type: 'spki', format: 'pem' }));
  });

  it('refuses non-certificates, EC keys and RSA keys under 2048 bits', async () => {
    expect(normalizeCertificate('hello')).toEqual({ problem: 'must be a PEM or base64 X.509 certificate' });
    expect(normalizeCertificate('A'.repeat(200))).toEqual({ problem: 'is not a readable X.509 certificate' });
    const ec = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
    const ecKeys = (await crypto.subtle.generateKey(ec, true, ['sign', 'verify'])) as CryptoKeyPair;
    const ecCert = await x509.X509CertificateGenerator.createSelfSigned({ serialNumber: '01', name: 'CN=ec', notBefore: new Date(), notAfter: new Date(Date.now() + 86_400_000), signingAlgorithm: ec, keys: ecKeys });
    expect(normalizeCertificate(ecCert.toString('pem'))).toMatchObject({ problem: expect.stringContaining('RSA') });
    const small = { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256', publicExponent: new Uint8Array([1, 0, 1]), modulusLength: 1024 };
    const smallKeys = (await crypto.subtle.generateKey(small, true, ['sign', 'verify'])) as CryptoKeyPair;
    const smallCert = await x509.X509CertificateGenerator.createSelfSigned({ serialNumber: '02', name: 'CN=small', notBefore: new Date(), notAfter: new Date(Date.now() + 86_400_000), signingAlgorithm: small, keys: smallKeys });
    expect(normalizeCertificate(smallCert.toString('pem'))).toEqual({ problem: 'holds a 1024-bit RSA key; at least 2048 bits are required' });
  });

  it('reads entity id, HTTP-Redirect SSO URL and signing certificates; refuses DOCTYPEs and incomplete metadata', () => {
    const body = keys.certPem.replace(/-----[A-Z ]+-----|\s/g, '');
    const xml = `<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="${IDP}"><md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol"><md:KeyDescriptor use="encryption"><ds:KeyInfo xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:X509Data><ds:X509Certificate>${rogue.certPem.replace(/-----[A-Z ]+-----|\s/g, '')}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor><md:KeyDescriptor use="signing"><ds:KeyInfo xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:X509Data><ds:X509Certificate>${body}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor><md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="https://idp.example/sso"/></md:IDPSSODescriptor></md:EntityDescriptor>`;
    const parsed = parseIdpMetadata(xml);
    expect(parsed.entityId).toBe(IDP);
    expect(parsed.ssoUrl).toBe('https://idp.example/sso');
    // The encryption certificate is not a signing certificate.
    expect(parsed.certificates.map(publicKeyPemOfCertificate)).toEqual([publicKeyPemOfCertificate(keys.certPem)]);
    expect(() => parseIdpMetadata(`<!DOCTYPE x [<!ENTITY a "b">]>${xml}`)).toThrow('DOCTYPE');
    expect(() => parseIdpMetadata(xml.replace('HTTP-Redirect', 'HTTP-POST'))).toThrow('HTTP-Redirect');
    expect(() => parseIdpMetadata(xml.replace(/<md:KeyDescriptor use="signing">.*?<\/md:KeyDescriptor>/, ''))).toThrow('no signing certificate');
  });
});

describe('verifying Responses', () => {
  it('accepts a signed assertion for a request this browser made, and reads the person from it', async () => {
    const verified = await verifyResponse(connection, response(), store(['_req1']));
    expect(verified).toMatchObject({ inResponseTo: '_req1', nameId: 'sara@saml.test', authnContextClassRefs: ['urn:oasis:names:tc:SAML:2.0:ac:classes:MultiFactor'] });
    expect(verified.expiresAt.getTime()).toBeGreaterThan(Date.now() + 5 * 60_000);
    expect(identityFromAssertion(connection, verified)).toEqual({ subject: 'sara@saml.test', email: 'sara@saml.test', displayName: 'Sara Saml', role: 'org_admin', mfa: true });
  });

  it('takes the email from the NameID when there is no email attribute, and Entra multipleauthn as MFA', async () => {
    const verified = await verifyResponse(connection, response(null, DEFAULT_SAML_ACCOUNTS.eve!), store(['_req1']));
    expect(identityFromAssertion(connection, verified)).toMatchObject({ email: 'eve@saml.test', role: 'developer', mfa: true });
  });

  it('refuses a login without an MFA context when MFA is required, and records it when not', async () => {
    const verified = await verifyResponse(connection, response(null, DEFAULT_SAML_ACCOUNTS.pete!), store(['_req1']));
    expect(() => identityFromAssertion(connection, verified)).toThrow(expect.objectContaining({ reason: 'mfa_required' }));
    expect(identityFromAssertion({ ...connection, requireMfa: false }, verified)).toMatchObject({ mfa: false });
    expect(DEFAULT_MFA_CONTEXTS).not.toContain(PASSWORD_CONTEXT);
  });

  it('refuses a Response to a request this browser did not make (or IdP-initiated, without InResponseTo)', async () => {
    expect(await refusal(response(), ['_other'])).toBe('state_invalid');
    const unsolicited = b64(xmlOf(response()).replace(/ InResponseTo="_req1"/g, ''));
    expect(await refusal(unsolicited)).not.toBe('accepted');
  });

  for (const tamper of ['modified-after-signing', 'other-certificate', 'expired', 'wrong-audience', 'unsigned', 'sha1', 'wrapping'] as const) {
    it(`refuses: ${tamper}`, async () => {
      expect(await refusal(response(tamper))).toBe('token_invalid');
    });
  }

  it('refuses wrapping variants: signed assertion moved into Extensions / Advice with an unsigned one in its place', async () => {
    const xml = xmlOf(response(null, DEFAULT_SAML_ACCOUNTS.mallory!));
    const signed = /<saml:Assertion[\s\S]*<\/saml:Assertion>/.exec(xml)![0];
    const evil = signed
      .replace(/<ds:Signature[\s\S]*<\/ds:Signature>/, '')
      .replace(/ID="[^"]+"/, 'ID="_evil"')
      .split('mallory@saml.test')
      .join('sara@saml.test');
    // 1. The signed assertion hidden in samlp:Extensions, the evil one where the assertion belongs.
    const inExtensions = xml.replace(signed, `<samlp:Extensions>${signed}</samlp:Extensions>${evil}`);
    expect(await refusal(b64(inExtensions))).toBe('token_invalid');
    // 2. Both as siblings: more than one assertion.
    expect(await refusal(b64(xml.replace(signed, `${evil}${signed}`)))).toBe('token_invalid');
    // 3. The signed one inside the evil one's Advice.
    expect(await refusal(b64(xml.replace(signed, evil.replace('</saml:Subject>', `</saml:Subject><saml:Advice>${signed}</saml:Advice>`))))).toBe('token_invalid');
    // 4. The evil one with the genuine signature copied in (same ID as the signed one, different content).
    const sameId = signed.split('mallory@saml.test').join('sara@saml.test');
    expect(await refusal(b64(xml.replace(signed, sameId)))).toBe('token_invalid');
  });

  it('refuses a wrong Destination, a wrong Recipient and a wrong Issuer even when signed', async () => {
    expect(await refusal(b64(xmlOf(response()).replace(`Destination="${ACS}"`, 'Destination="https://elsewhere.example/acs"')))).toBe('token_invalid');
    const otherAcs = buildResponse({ entityId: IDP, requestId: '_req1', acsUrl: 'https://elsewhere.example/acs', audience: SP, account: DEFAULT_SAML_ACCOUNTS.sara! }, { idp: keys, rogue });
    const withOurDestination = b64(xmlOf(otherAcs).replace('Destination="https://elsewhere.example/acs"', `Destination="${ACS}"`));
    expect(await refusal(withOurDestination)).toBe('token_invalid');
    const otherIssuer = buildResponse({ entityId: 'https://another-idp.example', requestId: '_req1', acsUrl: ACS, audience: SP, account: DEFAULT_SAML_ACCOUNTS.sara! }, { idp: keys, rogue });
    expect(await refusal(otherIssuer)).toBe('token_invalid');
  });

  it('refuses a DOCTYPE (entity expansion) and non-Response documents', async () => {
    expect(await refusal(b64(`<!DOCTYPE r [<!ENTITY x "y">]>${xmlOf(response())}`))).toBe('token_invalid');
    expect(await refusal(b64('<samlp:LogoutResponse xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol"/>'))).toBe('token_invalid');
    expect(await refusal('!!!')).toBe('token_invalid');
  });
});
