/**
 * An IdP signing certificate → the RSA public key inside it, in pure code: workerd's
 * `X509Certificate` and `createPublicKey` do not read certificates (measured: both refuse a valid
 * RSA certificate, PEM or DER), so xml-crypto could not verify with one. We take the certificate's
 * SubjectPublicKeyInfo (RFC 5280 §4.1) with a minimal DER reader and hand xml-crypto that key as
 * `PUBLIC KEY` PEM, which workerd reads. The certificate's other fields (validity, issuer) are not
 * used: as in SAML metadata practice, the IdP's certificate is a container for its key, trusted
 * because the administrator entered it.
 */
const RSA_ENCRYPTION_OID = Uint8Array.from([0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01]);

interface Tlv {
  tag: number;
  /** Offset of the whole element and of its content; end of its content. */
  at: number;
  start: number;
  end: number;
}

function tlv(buf: Uint8Array, at: number, limit: number): Tlv {
  if (at + 2 > limit) throw new Error('truncated');
  const tag = buf.at(at)!;
  const first = buf.at(at + 1)!;
  let length = first;
  let start = at + 2;
  if (first & 0x80) {
    const n = first & 0x7f;
    if (n < 1 || n > 3 || start + n > limit) throw new Error('bad length');
    length = 0;
    for (let i = 0; i < n; i++) length = length * 256 + buf.at(start + i)!;
    start += n;
  }
  const end = start + length;
  if (end > limit) throw new Error('truncated');
  return { tag, at, start, end };
}

function childrenOf(buf: Uint8Array, parent: Tlv): Tlv[] {
  const out: Tlv[] = [];
  for (let p = parent.start; p < parent.end; ) {
    const t = tlv(buf, p, parent.end);
    out.push(t);
    p = t.end;
  }
  return out;
}

const SEQUENCE = 0x30;
const sameBytes = (a: Uint8Array, b: Uint8Array) => a.length === b.length && a.every((v, i) => v === b.at(i));

/** The certificate's RSA public key (SPKI DER) and its size in bits; throws on anything else. */
export function rsaKeyOfCertificate(der: Uint8Array): { spki: Uint8Array; bits: number } {
  const cert = tlv(der, 0, der.length);
  if (cert.tag !== SEQUENCE || cert.end !== der.length) throw new Error('not a DER certificate');
  const [tbs] = childrenOf(der, cert);
  if (tbs?.tag !== SEQUENCE) throw new Error('no tbsCertificate');
  const fields = childrenOf(der, tbs);
  const offset = fields[0]?.tag === 0xa0 ? 1 : 0; // [0] EXPLICIT version
  const spki = fields[offset + 5];
  if (spki?.tag !== SEQUENCE) throw new Error('no subjectPublicKeyInfo');
  const [algorithm, bitString] = childrenOf(der, spki);
  if (algorithm?.tag !== SEQUENCE || bitString?.tag !== 0x03) throw new Error('bad subjectPublicKeyInfo');
  const [oid] = childrenOf(der, algorithm);
  if (oid?.tag !== 0x06 || !sameBytes(der.subarray(oid.start, oid.end), RSA_ENCRYPTION_OID)) throw new Error('not an RSA key');
  // BIT STRING: one byte of unused bits, then RSAPublicKey ::= SEQUENCE { modulus INTEGER, publicExponent INTEGER }
  const rsa = tlv(der, bitString.start + 1, bitString.end);
  const [modulus] = childrenOf(der, rsa);
  if (rsa.tag !== SEQUENCE || modulus?.tag !== 0x02) throw new Error('bad RSA public key');
  let first = modulus.start;
  while (first < modulus.end && der.at(first) === 0) first++;
  const bits = (modulus.end - first) * 8 - Math.clz32(der.at(first) ?? 0) + 24;
  return { spki: der.slice(spki.at, spki.end), bits };
}

const b64 = (bytes: Uint8Array) => btoa(String.fromCharCode(...bytes));
const fromB64 = (s: string) => Uint8Array.from(atob(s), (ch) => ch.charCodeAt(0));

/** A certificate PEM → the `PUBLIC KEY` PEM of its RSA key. */
export function publicKeyPemOfCertificate(certPem: string): string {
  const der = fromB64(certPem.replace(/-----(BEGIN|END) CERTIFICATE-----|\s/g, ''));
  const { spki } = rsaKeyOfCertificate(der);
  return `-----BEGIN PUBLIC KEY-----\n${b64(spki).match(/.{1,64}/g)!.join('\n')}\n-----END PUBLIC KEY-----\n`;
}

export { fromB64 as certificateDer };
