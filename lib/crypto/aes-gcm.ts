/**
 * Provider-key envelope encryption with WebCrypto AES-256-GCM.
 *
 * - Key-encryption keys (KEKs) are versioned: `ROUTERO_KEKS="1:<base64 32 bytes>,2:<…>"`. The highest
 *   version encrypts; any listed version decrypts, so a new KEK can be added, records re-encrypted,
 *   and the old one removed afterwards.
 * - The additional authenticated data (AAD) binds a ciphertext to its record (purpose, record id,
 *   org, provider, KEK version): a ciphertext copied into another record fails authentication.
 *   SSO client secrets use the same ring with purpose `sso-client-secret`.
 * - A 96-bit random IV per encryption (NIST SP 800-38D §8.2.2).
 */
import { base64ToBytes, bytesToBase64 } from './encoding';

export interface KeyRing {
  active: number;
  keys: Map<number, CryptoKey>;
}

export interface SealedSecret {
  kek_version: number;
  iv: string;
  ciphertext: string;
}

export interface SecretBinding {
  recordId: string;
  orgId: string;
  provider: string;
  /**
   * What the secret is for; part of the AAD so a ciphertext of one kind never opens as another.
   * Default `provider-key` (and provider-key AADs keep their original form).
   */
  purpose?: 'provider-key' | 'sso-client-secret' | 'alert-webhook-secret';
}

export class KeyRingError extends Error {}

/** Parses `ROUTERO_KEKS`. Throws KeyRingError on anything malformed: a bad KEK must stop start-up. */
export async function loadKeyRing(spec: string | undefined): Promise<KeyRing> {
  if (!spec || !spec.trim()) throw new KeyRingError('ROUTERO_KEKS is not set');
  const keys = new Map<number, CryptoKey>();
  for (const part of spec.split(',')) {
    const m = /^\s*(\d+):([A-Za-z0-9+/=]+)\s*$/.exec(part);
    if (!m) throw new KeyRingError('ROUTERO_KEKS entry is not "<version>:<base64>"');
    const raw = base64ToBytes(m[2]!);
    if (raw.length !== 32) throw new KeyRingError(`KEK version ${m[1]} is not 32 bytes`);
    const version = Number(m[1]);
    if (keys.has(version)) throw new KeyRingError(`KEK version ${version} appears twice`);
    keys.set(version, await crypto.subtle.importKey('raw', raw, 'AES-GCM', false, ['encrypt', 'decrypt']));
  }
  return { active: Math.max(...keys.keys()), keys };
}

function aad(binding: SecretBinding, version: number): Uint8Array<ArrayBuffer> {
  const text = `routero/${binding.purpose ?? 'provider-key'}/v1|${binding.recordId}|${binding.orgId}|${binding.provider}|${version}`;
  return new Uint8Array(new TextEncoder().encode(text));
}

export async function sealSecret(ring: KeyRing, binding: SecretBinding, plaintext: string): Promise<SealedSecret> {
  const key = ring.keys.get(ring.active)!;
  const iv = crypto.getRandomValues(new Uint8Array(12));
  const ct = await crypto.subtle.encrypt(
    { name: 'AES-GCM', iv, additionalData: aad(binding, ring.active) },
    key,
    new TextEncoder().encode(plaintext),
  );
  return { kek_version: ring.active, iv: bytesToBase64(iv), ciphertext: bytesToBase64(new Uint8Array(ct)) };
}

/** A sealed secret with its bytes decoded and its AAD built, ready to open (cacheable: no plaintext). */
export interface PreparedSecret {
  kekVersion: number;
  iv: Uint8Array<ArrayBuffer>;
  ciphertext: Uint8Array<ArrayBuffer>;
  aad: Uint8Array<ArrayBuffer>;
}

export function prepareSecret(binding: SecretBinding, sealed: SealedSecret): PreparedSecret {
  return {
    kekVersion: sealed.kek_version,
    iv: base64ToBytes(sealed.iv),
    ciphertext: base64ToBytes(sealed.ciphertext),
    aad: aad(binding, sealed.kek_version),
  };
}

const utf8 = new TextDecoder();

/** Throws KeyRingError when the KEK is unknown or the ciphertext/AAD do not authenticate. */
export async function openPrepared(ring: KeyRing, p: PreparedSecret): Promise<string> {
  const key = ring.keys.get(p.kekVersion);
  if (!key) throw new KeyRingError(`KEK version ${p.kekVersion} is not loaded`);
  try {
    const pt = await crypto.subtle.decrypt({ name: 'AES-GCM', iv: p.iv, additionalData: p.aad }, key, p.ciphertext);
    return utf8.decode(pt);
  } catch {
    throw new KeyRingError('secret ciphertext failed authentication');
  }
}

export function openSecret(ring: KeyRing, binding: SecretBinding, sealed: SealedSecret): Promise<string> {
  return openPrepared(ring, prepareSecret(binding, sealed));
}

export function generateKek(): string {
  return bytesToBase64(crypto.getRandomValues(new Uint8Array(32)));
}
