/**
 * A real signing SAML 2.0 identity provider for the tests, on loopback only: it takes an
 * AuthnRequest over the HTTP-Redirect binding, shows a login form (username, no password), and
 * answers with a Response over the HTTP-POST binding whose assertion is signed with xml-crypto
 * (RSA-SHA256, exclusive C14N, enveloped) by a key and self-signed X.509 certificate generated when
 * the IdP starts (no key material is stored in the repository).
 *
 * - The IdP is `http://localhost:<port>`, the admin Worker `http://127.0.0.1:<port>`: different
 *   sites, so the ACS post is cross-site exactly as with a real IdP.
 * - `tamper` makes the next Responses hostile, to prove the service provider refuses them:
 *   altered after signing, signed by another certificate, expired, for another audience, unsigned,
 *   signed with SHA-1, or an XML signature wrapping payload.
 * - `buildResponse` is exported for HTTP-level tests that play the browser themselves.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { inflateRawSync } from 'node:zlib';
import 'reflect-metadata'; // @peculiar/x509's dependency injection needs it
import * as x509 from '@peculiar/x509';
import { SignedXml } from 'xml-crypto';

export interface SamlAccount {
  email: string;
  name: string;
  groups: string[];
  /** The AuthnContextClassRef the IdP reports for this person's login. */
  authnContext: string;
  /** Put the email in the NameID only (no email attribute), as Entra's default NameID does. */
  nameIdOnly?: boolean;
}

export type SamlTamper = null | 'modified-after-signing' | 'other-certificate' | 'expired' | 'wrong-audience' | 'unsigned' | 'sha1' | 'wrapping';

export const MFA_CONTEXT = 'urn:oasis:names:tc:SAML:2.0:ac:classes:MultiFactor';
export const PASSWORD_CONTEXT = 'urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport';

export const DEFAULT_SAML_ACCOUNTS: Record<string, SamlAccount> = {
  sara: { email: 'sara@saml.test', name: 'Sara Saml', groups: ['routero-admins', 'staff'], authnContext: MFA_CONTEXT },
  eve: { email: 'eve@saml.test', name: 'Eve Entra', groups: ['engineering'], authnContext: 'http://schemas.microsoft.com/claims/multipleauthn', nameIdOnly: true },
  pete: { email: 'pete@saml.test', name: 'Pete Password', groups: ['routero-admins'], authnContext: PASSWORD_CONTEXT },
  mallory: { email: 'mallory@saml.test', name: 'Mallory', groups: [], authnContext: MFA_CONTEXT },
};

const RSA_SHA256 = 'http://www.w3.org/2001/04/xmldsig-more#rsa-sha256';
const RSA_SHA1 = 'http://www.w3.org/2000/09/xmldsig#rsa-sha1';
const SHA256 = 'http://www.w3.org/2001/04/xmlenc#sha256';
const SHA1 = 'http://www.w3.org/2000/09/xmldsig#sha1';
const EXC_C14N = 'http://www.w3.org/2001/10/xml-exc-c14n#';
const ENVELOPED = 'http://www.w3.org/2000/09/xmldsig#enveloped-signature';

interface KeyPair {
  certPem: string;
  keyPem: string;
}

const pem = (label: string, der: ArrayBuffer) => `-----BEGIN ${label}-----\n${Buffer.from(der).toString('base64').match(/.{1,64}/g)!.join('\n')}\n-----END ${label}-----\n`;

/** A fresh RSA-2048 key and a self-signed certificate for it (valid from an hour ago for a day). */
export async function generateSigningKey(cn: string): Promise<KeyPair> {
  x509.cryptoProvider.set(globalThis.crypto);
  const alg = { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256', publicExponent: new Uint8Array([1, 0, 1]), modulusLength: 2048 };
  const keys = (await globalThis.crypto.subtle.generateKey(alg, true, ['sign', 'verify'])) as CryptoKeyPair;
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: Buffer.from(globalThis.crypto.getRandomValues(new Uint8Array(8))).toString('hex'),
    name: `CN=${cn}`,
    notBefore: new Date(Date.now() - 3_600_000),
    notAfter: new Date(Date.now() + 86_400_000),
    signingAlgorithm: alg,
    keys,
  });
  return { certPem: cert.toString('pem'), keyPem: pem('PRIVATE KEY', await globalThis.crypto.subtle.exportKey('pkcs8', keys.privateKey)) };
}

const esc = (s: string) => s.replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);
const iso = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
const newId = () => `_${crypto.randomUUID().replace(/-/g, '')}`;

export interface ResponseInput {
  entityId: string;
  requestId: string;
  acsUrl: string;
  audience: string;
  account: SamlAccount;
  tamper?: SamlTamper;
  /** Use this assertion ID (the replay-cache test). */
  assertionId?: string;
}

function assertionXml(input: ResponseInput & { id: string; notBefore: number; notOnOrAfter: number; email?: string }): string {
  const a = input.account;
  const email = input.email ?? a.email;
  const attr = (name: string, values: string[]) => `<saml:Attribute Name="${esc(name)}">${values.map((v) => `<saml:AttributeValue>${esc(v)}</saml:AttributeValue>`).join('')}</saml:Attribute>`;
  return (
    `<saml:Assertion xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="${input.id}" Version="2.0" IssueInstant="${iso(input.notBefore + 60_000)}">` +
    `<saml:Issuer>${esc(input.entityId)}</saml:Issuer>` +
    `<saml:Subject><saml:NameID Format="urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress">${esc(email)}</saml:NameID>` +
    `<saml:SubjectConfirmation Method="urn:oasis:names:tc:SAML:2.0:cm:bearer"><saml:SubjectConfirmationData InResponseTo="${esc(input.requestId)}" NotOnOrAfter="${iso(input.notOnOrAfter)}" Recipient="${esc(input.acsUrl)}"/></saml:SubjectConfirmation></saml:Subject>` +
    `<saml:Conditions NotBefore="${iso(input.notBefore)}" NotOnOrAfter="${iso(input.notOnOrAfter)}"><saml:AudienceRestriction><saml:Audience>${esc(input.audience)}</saml:Audience></saml:AudienceRestriction></saml:Conditions>` +
    `<saml:AuthnStatement AuthnInstant="${iso(input.notBefore + 60_000)}" SessionIndex="${newId()}"><saml:AuthnContext><saml:AuthnContextClassRef>${esc(a.authnContext)}</saml:AuthnContextClassRef></saml:AuthnContext></saml:AuthnStatement>` +
    `<saml:AttributeStatement>${a.nameIdOnly ? '' : attr('email', [email])}${attr('displayName', [a.name])}${a.groups.length ? attr('groups', a.groups) : ''}</saml:AttributeStatement>` +
    `</saml:Assertion>`
  );
}

function sign(xml: string, key: KeyPair, sha1: boolean): string {
  const sig = new SignedXml({ privateKey: key.keyPem, publicCert: key.certPem, signatureAlgorithm: sha1 ? RSA_SHA1 : RSA_SHA256, canonicalizationAlgorithm: EXC_C14N });
  sig.addReference({ xpath: "/*[local-name(.)='Assertion']", transforms: [ENVELOPED, EXC_C14N], digestAlgorithm: sha1 ? SHA1 : SHA256 });
  sig.computeSignature(xml, { prefix: 'ds', location: { reference: "/*[local-name(.)='Assertion']/*[local-name(.)='Issuer']", action: 'after' } });
  return sig.getSignedXml();
}

/** A base64 SAMLResponse for the input, signed with `key` (or, per `tamper`, made hostile). */
export function buildResponse(input: ResponseInput, keys: { idp: KeyPair; rogue: KeyPair }): string {
  const now = Date.now();
  const expired = input.tamper === 'expired';
  const times = expired ? { notBefore: now - 30 * 60_000, notOnOrAfter: now - 20 * 60_000 } : { notBefore: now - 60_000, notOnOrAfter: now + 5 * 60_000 };
  const id = input.assertionId ?? newId();
  const audience = input.tamper === 'wrong-audience' ? 'https://another-service.example/saml' : input.audience;
  const plain = assertionXml({ ...input, audience, id, ...times });
  let assertion: string;
  switch (input.tamper) {
    case 'unsigned':
      assertion = plain;
      break;
    case 'other-certificate':
      assertion = sign(plain, keys.rogue, false);
      break;
    case 'sha1':
      assertion = sign(plain, keys.idp, true);
      break;
    case 'modified-after-signing':
      // Signed for the account, then the email changed to someone else's.
      assertion = sign(plain, keys.idp, false)
        .split(esc(input.account.email))
        .join(input.account.email === 'sara@saml.test' ? 'victim@saml.test' : 'sara@saml.test');
      break;
    case 'wrapping': {
      // The IdP's genuine signed assertion (for the attacker's own account) wrapped inside a second,
      // unsigned assertion that names the victim: a verifier that checks "some signature is valid"
      // but reads the outer assertion would sign the attacker in as the victim.
      const signed = sign(plain, keys.idp, false);
      const evil = assertionXml({ ...input, account: { ...input.account, groups: ['routero-admins'] }, email: 'sara@saml.test', id: newId(), ...times });
      assertion = evil.replace('</saml:Subject>', `</saml:Subject>${signed}`);
      break;
    }
    default:
      assertion = sign(plain, keys.idp, false);
  }
  const response =
    `<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="${newId()}" Version="2.0" IssueInstant="${iso(now)}" Destination="${esc(input.acsUrl)}" InResponseTo="${esc(input.requestId)}">` +
    `<saml:Issuer>${esc(input.entityId)}</saml:Issuer><samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/></samlp:Status>` +
    assertion +
    `</samlp:Response>`;
  return Buffer.from(response, 'utf8').toString('base64');
}

/** The AuthnRequest in an HTTP-Redirect URL: its ID and ACS URL. */
export function readAuthnRequest(url: URL): { id: string; acsUrl: string; issuer: string; xml: string } {
  const xml = inflateRawSync(Buffer.from(url.searchParams.get('SAMLRequest') ?? '', 'base64')).toString('utf8');
  const id = /\bID="([^"]+)"/.exec(xml)?.[1];
  const acsUrl = /\bAssertionConsumerServiceURL="([^"]+)"/.exec(xml)?.[1];
  const issuer = /<saml:Issuer[^>]*>([^<]+)<\/saml:Issuer>/.exec(xml)?.[1];
  if (!id || !acsUrl || !issuer) throw new Error(`not an AuthnRequest: ${xml.slice(0, 300)}`);
  return { id, acsUrl, issuer, xml };
}

export interface TestSamlIdp {
  entityId: string;
  ssoUrl: string;
  certPem: string;
  keys: { idp: KeyPair; rogue: KeyPair };
  accounts: Map<string, SamlAccount>;
  tamper: SamlTamper;
  metadataXml(): string;
  /** The IdP's Response for an AuthnRequest URL (what its login form would post), as base64. */
  respond(authnRequestUrl: string, username: string, opts?: { tamper?: SamlTamper; assertionId?: string }): { samlResponse: string; acsUrl: string; requestId: string };
  close(): Promise<void>;
}

export async function startSamlIdp(opts: { accounts?: Record<string, SamlAccount> } = {}): Promise<TestSamlIdp> {
  const accounts = new Map(Object.entries(opts.accounts ?? DEFAULT_SAML_ACCOUNTS));
  const [idpKey, rogue] = await Promise.all([generateSigningKey('Routero test SAML IdP'), generateSigningKey('Someone else')]);
  const server = http.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  const base = `http://localhost:${port}`;
  const server6 = http.createServer();
  await new Promise<void>((resolve) => {
    server6.once('error', () => resolve());
    server6.listen(port, '::1', resolve);
  });
  const certBody = idpKey.certPem.replace(/-----[A-Z ]+-----|\s/g, '');

  const idp: TestSamlIdp = {
    entityId: `${base}/metadata`,
    ssoUrl: `${base}/sso`,
    certPem: idpKey.certPem,
    keys: { idp: idpKey, rogue },
    accounts,
    tamper: null,
    metadataXml: () =>
      `<?xml version="1.0"?><md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="${base}/metadata">` +
      `<md:IDPSSODescriptor WantAuthnRequestsSigned="false" protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">` +
      `<md:KeyDescriptor use="signing"><ds:KeyInfo xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:X509Data><ds:X509Certificate>${certBody}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>` +
      `<md:NameIDFormat>urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress</md:NameIDFormat>` +
      `<md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="${base}/sso"/>` +
      `<md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="${base}/sso"/>` +
      `</md:IDPSSODescriptor></md:EntityDescriptor>`,
    respond(authnRequestUrl, username, o = {}) {
      const request = readAuthnRequest(new URL(authnRequestUrl));
      const account = accounts.get(username);
      if (!account) throw new Error(`unknown test user ${username}`);
      const samlResponse = buildResponse(
        { entityId: idp.entityId, requestId: request.id, acsUrl: request.acsUrl, audience: request.issuer, account, tamper: o.tamper ?? idp.tamper, ...(o.assertionId ? { assertionId: o.assertionId } : {}) },
        idp.keys,
      );
      return { samlResponse, acsUrl: request.acsUrl, requestId: request.id };
    },
    async close() {
      server.closeAllConnections();
      server6.closeAllConnections();
      await Promise.all([new Promise((r) => server.close(r)), new Promise((r) => server6.close(r))]);
    },
  };

  const page = (res: http.ServerResponse, status: number, body: string, extra = '') => {
    res.writeHead(status, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
    res.end(`<!doctype html><html><head><title>Test SAML IdP</title></head><body${extra}>${body}</body></html>`);
  };
  const handle = async (req: http.IncomingMessage, res: http.ServerResponse) => {
    const url = new URL(req.url ?? '/', base);
    try {
      if (req.method === 'GET' && url.pathname === '/metadata') {
        res.writeHead(200, { 'content-type': 'application/samlmetadata+xml' });
        return res.end(idp.metadataXml());
      }
      if (req.method === 'GET' && url.pathname === '/sso') {
        readAuthnRequest(url); // refuse anything that is not an AuthnRequest
        return page(res, 200, `<h1>Test SAML IdP sign-in</h1><form method="post" action="/login"><input type="hidden" name="request" value="${esc(url.toString())}"><label for="username">Username</label><input id="username" name="username" autofocus><button type="submit">Sign in</button></form>`);
      }
      if (req.method === 'POST' && url.pathname === '/login') {
        let body = '';
        for await (const chunk of req) body += String(chunk);
        const form = new URLSearchParams(body);
        const out = idp.respond(form.get('request') ?? '', form.get('username') ?? '');
        // The HTTP-POST binding: an auto-submitting form to the SP's ACS.
        return page(res, 200, `<form method="post" action="${esc(out.acsUrl)}"><input type="hidden" name="SAMLResponse" value="${esc(out.samlResponse)}"><noscript><button type="submit">Continue</button></noscript></form><script>document.forms[0].submit()</script>`);
      }
      page(res, 404, 'not found');
    } catch (e) {
      page(res, 400, `<p class="error">${esc(e instanceof Error ? e.message : String(e))}</p>`);
    }
  };
  server.on('request', (req, res) => void handle(req, res));
  server6.on('request', (req, res) => void handle(req, res));
  return idp;
}
