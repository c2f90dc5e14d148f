import bcrypt from 'bcryptjs';
import { describe, expect, it } from 'vitest';
import { generateKek, KeyRingError, loadKeyRing, openSecret, sealSecret } from '../../lib/crypto/aes-gcm';
import { timingSafeEqualText, uuidv7 } from '../../lib/crypto/encoding';
import { newVirtualKey, parseVirtualKey } from '../../lib/crypto/virtual-key';
import { claim } from '../support/claims';

const binding = { recordId: 'pk-1', orgId: 'org-1', provider: 'openai' };

describe('virtual key format', () => {
  it(claim('virtual-keys-hashed', 'has a scannable prefix, a public id and a secret of at least 128 bits'), () => {
    const { id, secret, key } = newVirtualKey();
    expect(key).toMatch(/^rto_[a-z2-7]{16}_[A-Za-z0-9]{43}$/);
    expect(key).toBe(`rto_${id}_${secret}`);
    // 43 characters from a 62-letter alphabet: log2(62) * 43 ≈ 256 bits.
    expect(Math.log2(62) * secret.length).toBeGreaterThanOrEqual(128);
    expect(Buffer.byteLength(secret)).toBeLessThanOrEqual(72); // bcrypt reads at most 72 bytes
  });

  it('parses its own keys and refuses anything else', () => {
    const { id, secret, key } = newVirtualKey();
    expect(parseVirtualKey(key)).toEqual({ id, secret });
    for (const bad of ['', 'sk-123', `${key}x`, key.replace('rto_', 'rtx_'), `rto_${id}`, key.toUpperCase()]) {
      expect(parseVirtualKey(bad)).toBeNull();
    }
  });

  it('generates distinct keys', () => {
    const keys = new Set(Array.from({ length: 200 }, () => newVirtualKey().key));
    expect(keys.size).toBe(200);
  });

  it(claim('virtual-keys-hashed', 'verifies with bcrypt only against its own secret'), async () => {
    const a = newVirtualKey();
    const b = newVirtualKey();
    const hash = await bcrypt.hash(a.secret, 4);
    expect(await bcrypt.compare(a.secret, hash)).toBe(true);
    expect(await bcrypt.compare(b.secret, hash)).toBe(false);
  });
});

describe('AES-256-GCM provider-key envelope', () => {
  it('round-trips', async () => {
    const ring = await loadKeyRing(`1:${generateKek()}`);
    const sealed = await sealSecret(ring, binding, 'sk-live-secret-123');
    expect(sealed.ciphertext).not.toContain('secret');
    expect(await openSecret(ring, binding, sealed)).toBe('sk-live-secret-123');
  });

  it(claim('provider-keys-encrypted', 'refuses a ciphertext moved to another record (AAD binding)'), async () => {
    const ring = await loadKeyRing(`1:${generateKek()}`);
    const sealed = await sealSecret(ring, binding, 'sk-live-secret-123');
    for (const other of [{ ...binding, recordId: 'pk-2' }, { ...binding, orgId: 'org-2' }, { ...binding, provider: 'anthropic' }]) {
      await expect(openSecret(ring, other, sealed)).rejects.toBeInstanceOf(KeyRingError);
    }
  });

  it(claim('provider-keys-encrypted', 'detects tampering with the ciphertext or IV'), async () => {
    const ring = await loadKeyRing(`1:${generateKek()}`);
    const sealed = await sealSecret(ring, binding, 'sk-live-secret-123');
    const flip = (b64: string) => {
      const bytes = Buffer.from(b64, 'base64');
      bytes[0] = bytes[0]! ^ 1;
      return bytes.toString('base64');
    };
    await expect(openSecret(ring, binding, { ...sealed, ciphertext: flip(sealed.ciphertext) })).rejects.toThrow(KeyRingError);
    await expect(openSecret(ring, binding, { ...sealed, iv: flip(sealed.iv) })).rejects.toThrow(KeyRingError);
  });

  it('encrypts with the newest KEK and still opens older versions (rotation)', async () => {
    const k1 = generateKek();
    const old = await loadKeyRing(`1:${k1}`);
    const sealedOld = await sealSecret(old, binding, 'sk-old');
    const k2 = generateKek();
    const rotated = await loadKeyRing(`1:${k1},2:${k2}`);
    expect(rotated.active).toBe(2);
    expect(await openSecret(rotated, binding, sealedOld)).toBe('sk-old');
    const sealedNew = await sealSecret(rotated, binding, 'sk-old');
    expect(sealedNew.kek_version).toBe(2);
    // After the old KEK is removed, only re-encrypted records open.
    const onlyNew = await loadKeyRing(`2:${k2}`);
    expect(await openSecret(onlyNew, binding, sealedNew)).toBe('sk-old');
    await expect(openSecret(onlyNew, binding, sealedOld)).rejects.toThrow('not loaded');
  });

  it('refuses malformed key rings', async () => {
    for (const bad of [undefined, '', 'nope', '1:abc', `1:${generateKek()},1:${generateKek()}`]) {
      await expect(loadKeyRing(bad)).rejects.toBeInstanceOf(KeyRingError);
    }
  });
});

describe('encoding helpers', () => {
  it('makes time-ordered UUIDv7 ids', () => {
    const a = uuidv7(1_700_000_000_000);
    const b = uuidv7(1_700_000_000_001);
    expect(a).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(a < b).toBe(true);
  });

  it('compares secrets without regard to length', async () => {
    expect(await timingSafeEqualText('abc', 'abc')).toBe(true);
    expect(await timingSafeEqualText('abc', 'abcd')).toBe(false);
  });
});
