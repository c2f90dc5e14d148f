/**
 * IdP metadata in (SAML 2.0 Metadata §2.4.3 IDPSSODescriptor): the entity id, the HTTP-Redirect
 * SingleSignOnService and the signing certificates. Certificates are normalised to PEM and must
 * hold RSA keys of 2048 bits or more (we accept RSA-SHA256+ signatures only).
 */
import { DOMParser } from '@xmldom/xmldom';
import { certificateDer, rsaKeyOfCertificate } from './certificate';

const MD = 'urn:oasis:names:tc:SAML:2.0:metadata';
const DS = 'http://www.w3.org/2000/09/xmldsig#';
const REDIRECT_BINDING = 'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect';

export interface IdpMetadata {
  entityId: string;
  ssoUrl: string;
  certificates: string[];
}

/** A certificate as PEM, or a reason it is not a usable IdP signing certificate. */
export function normalizeCertificate(raw: string): { pem: string } | { problem: string } {
  const body = raw
    .replace(/-----(BEGIN|END) CERTIFICATE-----/g, '')
    .replace(/\s+/g, '');
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(body) || body.length < 100) return { problem: 'must be a PEM or base64 X.509 certificate' };
  const pem = `-----BEGIN CERTIFICATE-----\n${body.match(/.{1,64}/g)!.join('\n')}\n-----END CERTIFICATE-----\n`;
  let bits: number;
  try {
    ({ bits } = rsaKeyOfCertificate(certificateDer(body)));
  } catch (e) {
    const why = e instanceof Error ? e.message : '';
    return { problem: why === 'not an RSA key' ? 'must hold an RSA public key (signatures are accepted with RSA-SHA256 or stronger)' : 'is not a readable X.509 certificate' };
  }
  if (bits < 2048) return { problem: `holds a ${bits}-bit RSA key; at least 2048 bits are required` };
  return { pem };
}

function children(el: Element, ns: string, name: string): Element[] {
  const out: Element[] = [];
  for (let n = el.firstChild; n; n = n.nextSibling) {
    if (n.nodeType === 1 && (n as Element).namespaceURI === ns && (n as Element).localName === name) out.push(n as Element);
  }
  return out;
}

/** Parses IdP metadata XML; throws an Error whose message names what is missing or wrong. */
export function parseIdpMetadata(xml: string): IdpMetadata {
  // No DTDs: a metadata document has no reason to carry one (entity expansion).
  if (/<!DOCTYPE/i.test(xml)) throw new Error('must not contain a DOCTYPE');
  const errors: string[] = [];
  const doc = new DOMParser({ errorHandler: { warning: () => undefined, error: (msg: string) => errors.push(msg), fatalError: (msg: string) => errors.push(msg) } }).parseFromString(xml, 'text/xml');
  if (errors.length || !doc?.documentElement) throw new Error('is not well-formed XML');
  let entity = doc.documentElement as unknown as Element;
  if (entity.namespaceURI === MD && entity.localName === 'EntitiesDescriptor') {
    const idps = children(entity, MD, 'EntityDescriptor').filter((e) => children(e, MD, 'IDPSSODescriptor').length);
    if (idps.length !== 1) throw new Error('must describe exactly one identity provider');
    entity = idps[0]!;
  }
  if (entity.namespaceURI !== MD || entity.localName !== 'EntityDescriptor') throw new Error('must be a SAML 2.0 EntityDescriptor');
  const entityId = entity.getAttribute('entityID') ?? '';
  if (!entityId) throw new Error('has no entityID');
  const [idp] = children(entity, MD, 'IDPSSODescriptor');
  if (!idp) throw new Error('has no IDPSSODescriptor');
  const sso = children(idp, MD, 'SingleSignOnService').find((s) => s.getAttribute('Binding') === REDIRECT_BINDING);
  const ssoUrl = sso?.getAttribute('Location') ?? '';
  if (!ssoUrl) throw new Error('has no SingleSignOnService with the HTTP-Redirect binding');
  const certificates: string[] = [];
  for (const kd of children(idp, MD, 'KeyDescriptor')) {
    const use = kd.getAttribute('use');
    if (use && use !== 'signing') continue;
    for (const ki of children(kd, DS, 'KeyInfo'))
      for (const xd of children(ki, DS, 'X509Data'))
        for (const c of children(xd, DS, 'X509Certificate')) {
          const cert = normalizeCertificate(c.textContent ?? '');
          if ('problem' in cert) throw new Error(`signing certificate ${cert.problem}`);
          certificates.push(cert.pem);
        }
  }
  if (!certificates.length) throw new Error('has no signing certificate');
  return { entityId, ssoUrl, certificates: [...new Set(certificates)] };
}
