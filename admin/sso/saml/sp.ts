/**
 * The SAML 2.0 service provider: AuthnRequests (HTTP-Redirect binding), SP metadata, and the
 * verification of a Response posted to the ACS (HTTP-POST binding), using @node-saml/node-saml
 * for the protocol and XML Signature, plus our own checks on the assertion it verified.
 *
 * What a Response must pass, in order (any failure refuses the login):
 * 1. at most 256 KiB, well-formed XML without a DOCTYPE;
 * 2. every XML Signature in the document uses RSA-SHA256 or stronger with SHA-256+ digests (no
 *    SHA-1, no HMAC) — checked on the whole document, before node-saml looks at it;
 * 3. the Response's Destination, if present, is our ACS URL;
 * 4. node-saml: the Response's InResponseTo names an AuthnRequest this browser started (within 10
 *    minutes), exactly one Assertion, signed (itself, or by a signed Response around it) by one of
 *    the connection's certificates; NotBefore/NotOnOrAfter of the Conditions and of the
 *    SubjectConfirmationData within ±60 s; the Audience is our entity id; the status is Success;
 * 5. on the assertion node-saml returns — the bytes the signature covered (xml-crypto's signed
 *    references), never the rest of the document — the Issuer is the IdP's entity id, a bearer
 *    SubjectConfirmationData names our ACS URL as Recipient and this request as InResponseTo, and
 *    the assertion has an ID and an expiry (for the replay cache, admin/sso/saml/requests.ts).
 *
 * Assertion attributes and the AuthnContextClassRef are read from that same verified assertion.
 */
import { SAML, ValidateInResponseTo, type CacheProvider } from '@node-saml/node-saml';
import { DOMParser } from '@xmldom/xmldom';
import { LoginRefused } from '../refusal';
import { CLOCK_SKEW_MS, DIGEST_ALGORITHMS, REQUEST_TTL_MS, SIGNATURE_ALGORITHMS, type SamlConnection } from './config';

const SAMLP = 'urn:oasis:names:tc:SAML:2.0:protocol';
const SAML_NS = 'urn:oasis:names:tc:SAML:2.0:assertion';
const DS = 'http://www.w3.org/2000/09/xmldsig#';
const BEARER = 'urn:oasis:names:tc:SAML:2.0:cm:bearer';
const MAX_RESPONSE_BYTES = 256 * 1024;

/** Where AuthnRequest ids are remembered (admin/sso/saml/requests.ts). */
export interface RequestStore {
  /** Remembers an AuthnRequest id for this browser. */
  save(id: string): Promise<void>;
  /** When the request was issued, if this browser has it pending for this connection; null otherwise. */
  issuedAt(id: string): Promise<string | null>;
}

/** What the ACS needs from a verified Response. */
export interface VerifiedAssertion {
  inResponseTo: string;
  assertionId: string;
  /** Until when the assertion could be presented: kept that long in the replay cache. */
  expiresAt: Date;
  nameId: string | null;
  nameIdFormat: string | null;
  authnContextClassRefs: string[];
  /** Attribute name → values (strings only), from the verified assertion. */
  attributes: Map<string, string[]>;
}

function samlFor(connection: SamlConnection, store: RequestStore | null, forMetadata = false): SAML {
  const cacheProvider: CacheProvider = {
    saveAsync: async (key, value) => {
      if (!store) throw new Error('no request store');
      await store.save(key);
      return { createdAt: Date.now(), value };
    },
    getAsync: async (key) => (store ? store.issuedAt(key) : null),
    // Consumed by the ACS itself after the verification (one request, one attempt): node-saml's own
    // removal would let a second, concurrent post of the same Response pass its lookup first.
    removeAsync: async () => null,
  };
  return new SAML({
    issuer: connection.spEntityId,
    callbackUrl: connection.acsUrl,
    entryPoint: connection.idpSsoUrl,
    idpCert: connection.idpKeys,
    idpIssuer: connection.idpEntityId,
    audience: connection.spEntityId,
    // A signed Response containing the assertion, or a signed assertion: either is accepted
    // (node-saml then requires the assertion's own signature when the Response's is absent).
    // In the metadata we ask for signed assertions (what Okta and Entra ID do by default).
    wantAssertionsSigned: forMetadata,
    wantAuthnResponseSigned: false,
    // IdP-initiated logins (no InResponseTo) are refused.
    validateInResponseTo: ValidateInResponseTo.always,
    requestIdExpirationPeriodMs: REQUEST_TTL_MS,
    acceptedClockSkewMs: CLOCK_SKEW_MS,
    cacheProvider,
    // Let the IdP use the NameID format it is configured with; we read email from attributes too.
    identifierFormat: null,
    // We check the AuthnContextClassRef the IdP reports rather than asking for one: an IdP that
    // cannot satisfy a requested context answers with an error instead of signing the person in.
    disableRequestedAuthnContext: true,
    signatureAlgorithm: 'sha256',
    digestAlgorithm: 'sha256',
  });
}

/** The IdP URL (HTTP-Redirect binding) carrying a fresh AuthnRequest; its id is saved in `store`. */
export async function authorizeUrl(connection: SamlConnection, store: RequestStore): Promise<string> {
  return samlFor(connection, store).getAuthorizeUrlAsync('', undefined, {});
}

/** Our SP metadata: entity id, ACS (HTTP-POST), assertions must be signed. */
export function spMetadata(connection: SamlConnection): string {
  return samlFor(connection, null, true).generateServiceProviderMetadata(null, null);
}

function elements(root: Document | Element, ns: string, name: string): Element[] {
  return Array.from(root.getElementsByTagNameNS(ns, name) as unknown as ArrayLike<Element>);
}

function childElements(el: Element, ns: string, name: string): Element[] {
  const out: Element[] = [];
  for (let n = el.firstChild; n; n = n.nextSibling) if (n.nodeType === 1 && (n as Element).namespaceURI === ns && (n as Element).localName === name) out.push(n as Element);
  return out;
}

function parseXml(xml: string, what: string): Document {
  if (/<!DOCTYPE/i.test(xml)) throw new LoginRefused('token_invalid', `${what} carries a DOCTYPE`);
  const errors: string[] = [];
  const doc = new DOMParser({ errorHandler: { warning: () => undefined, error: (msg: string) => errors.push(msg), fatalError: (msg: string) => errors.push(msg) } }).parseFromString(xml, 'text/xml');
  if (errors.length || !doc?.documentElement) throw new LoginRefused('token_invalid', `${what} is not well-formed XML: ${errors[0] ?? 'empty'}`);
  return doc as unknown as Document;
}

const latest = (dates: (string | null)[]) => {
  const ms = dates.filter((d): d is string => !!d).map((d) => Date.parse(d)).filter((n) => Number.isFinite(n));
  return ms.length ? Math.min(...ms) : NaN;
};

/** node-saml's messages about InResponseTo: an unknown, expired, foreign or missing request. */
const REQUEST_ERRORS = /InResponseTo/;

export async function verifyResponse(connection: SamlConnection, samlResponse: string, store: RequestStore): Promise<VerifiedAssertion> {
  if (samlResponse.length > (MAX_RESPONSE_BYTES * 4) / 3 + 4) throw new LoginRefused('token_invalid', 'SAMLResponse too large');
  const xml = Buffer.from(samlResponse, 'base64').toString('utf8');
  const doc = parseXml(xml, 'SAMLResponse');
  const root = doc.documentElement;
  if (root.namespaceURI !== SAMLP || root.localName !== 'Response') throw new LoginRefused('token_invalid', `not a samlp:Response but ${root.localName}`);

  for (const m of elements(doc, DS, 'SignatureMethod')) {
    const alg = m.getAttribute('Algorithm') ?? '';
    if (!SIGNATURE_ALGORITHMS.has(alg)) throw new LoginRefused('token_invalid', `signature algorithm refused: ${alg}`);
  }
  for (const m of elements(doc, DS, 'DigestMethod')) {
    const alg = m.getAttribute('Algorithm') ?? '';
    if (!DIGEST_ALGORITHMS.has(alg)) throw new LoginRefused('token_invalid', `digest algorithm refused: ${alg}`);
  }
  const destination = root.getAttribute('Destination');
  if (destination && destination !== connection.acsUrl) throw new LoginRefused('token_invalid', `Destination ${destination} is not ${connection.acsUrl}`);

  let profile;
  try {
    ({ profile } = await samlFor(connection, store).validatePostResponseAsync({ SAMLResponse: samlResponse }));
  } catch (e) {
    const message = e instanceof Error ? e.message : String(e);
    if (/SAML provider returned/.test(message)) throw new LoginRefused('idp_error', message);
    throw new LoginRefused(REQUEST_ERRORS.test(message) ? 'state_invalid' : 'token_invalid', `node-saml: ${message}`);
  }
  if (!profile) throw new LoginRefused('token_invalid', 'Response carries no assertion');
  const inResponseTo = root.getAttribute('InResponseTo') ?? '';

  // Everything below is read from the assertion bytes the signature covered.
  const assertionDoc = parseXml(profile.getAssertionXml?.() ?? '', 'signed assertion');
  const assertion = assertionDoc.documentElement;
  if (assertion.namespaceURI !== SAML_NS || assertion.localName !== 'Assertion') throw new LoginRefused('token_invalid', 'signed element is not an Assertion');
  const issuer = childElements(assertion, SAML_NS, 'Issuer')[0]?.textContent?.trim();
  if (issuer !== connection.idpEntityId) throw new LoginRefused('token_invalid', `assertion Issuer ${issuer ?? '(none)'} is not ${connection.idpEntityId}`);
  const assertionId = assertion.getAttribute('ID') ?? '';
  if (!assertionId) throw new LoginRefused('token_invalid', 'assertion without ID');

  const subject = childElements(assertion, SAML_NS, 'Subject')[0];
  const now = Date.now();
  const bearer = (subject ? childElements(subject, SAML_NS, 'SubjectConfirmation') : [])
    .filter((sc) => sc.getAttribute('Method') === BEARER)
    .flatMap((sc) => childElements(sc, SAML_NS, 'SubjectConfirmationData'))
    .find((d) => {
      const notOnOrAfter = Date.parse(d.getAttribute('NotOnOrAfter') ?? '');
      const notBefore = d.getAttribute('NotBefore');
      return (
        d.getAttribute('Recipient') === connection.acsUrl &&
        d.getAttribute('InResponseTo') === inResponseTo &&
        Number.isFinite(notOnOrAfter) &&
        now < notOnOrAfter + CLOCK_SKEW_MS &&
        (!notBefore || now + CLOCK_SKEW_MS >= Date.parse(notBefore))
      );
    });
  if (!bearer) throw new LoginRefused('token_invalid', `no bearer SubjectConfirmation for Recipient ${connection.acsUrl} and InResponseTo ${inResponseTo} that is valid now`);

  const conditions = childElements(assertion, SAML_NS, 'Conditions')[0];
  const expires = latest([bearer.getAttribute('NotOnOrAfter'), conditions?.getAttribute('NotOnOrAfter') ?? null]);

  const nameIdEl = subject ? childElements(subject, SAML_NS, 'NameID')[0] : undefined;
  const authnContextClassRefs = childElements(assertion, SAML_NS, 'AuthnStatement')
    .flatMap((s) => childElements(s, SAML_NS, 'AuthnContext'))
    .flatMap((c) => childElements(c, SAML_NS, 'AuthnContextClassRef'))
    .map((r) => (r.textContent ?? '').trim())
    .filter(Boolean);

  const attributes = new Map<string, string[]>();
  for (const statement of childElements(assertion, SAML_NS, 'AttributeStatement')) {
    for (const attr of childElements(statement, SAML_NS, 'Attribute')) {
      const name = attr.getAttribute('Name') ?? '';
      const values = childElements(attr, SAML_NS, 'AttributeValue').map((v) => (v.textContent ?? '').trim()).filter(Boolean);
      if (name) attributes.set(name, [...(attributes.get(name) ?? []), ...values]);
    }
  }

  return {
    inResponseTo,
    assertionId,
    expiresAt: new Date(expires + CLOCK_SKEW_MS),
    nameId: nameIdEl?.textContent?.trim() || null,
    nameIdFormat: nameIdEl?.getAttribute('Format') ?? null,
    authnContextClassRefs,
    attributes,
  };
}
