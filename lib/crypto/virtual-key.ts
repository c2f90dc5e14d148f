/**
 * Routero virtual keys: `rto_<id>_<secret>`.
 * - `rto_` is a fixed prefix so secret scanners (GitHub push protection, trufflehog) can match leaks.
 * - `<id>`: 16 lowercase base32 characters (80 bits), public: it names the KV record.
 * - `<secret>`: 43 alphanumeric characters (≈256 bits). Only the secret is bcrypt-hashed: bcrypt
 *   reads at most 72 bytes, so hashing the whole key would be fine today but silently truncates if
 *   the format ever grows; hashing the secret alone keeps every secret byte significant.
 */
import { randomString } from './encoding';

export const VIRTUAL_KEY_PREFIX = 'rto_';
const ID_ALPHABET = 'abcdefghijklmnopqrstuvwxyz234567';
const ID_LENGTH = 16;
const SECRET_LENGTH = 43;
const KEY_PATTERN = /^rto_([a-z2-7]{16})_([A-Za-z0-9]{43})$/;

/** bcrypt cost of virtual-key hashes (the admin Worker hashes with this; ~64 ms in workerd). */
export const VIRTUAL_KEY_BCRYPT_COST = 10;

/**
 * A bcrypt hash of the same cost as real key hashes, of a random value nobody kept. The gateway
 * compares a presented secret against it when the key id is unknown, so an unknown id costs the
 * same bcrypt work as a known id with a wrong secret: answer time tells nothing about which ids
 * exist. The comparison's result is never used.
 */
export const DUMMY_SECRET_HASH = '$2b$10$Puz/znyCTVfKsethpD3pKOwwaljRzRkoIeat.JN6vQfRE3I16NtPC';

/** Longest string worth parsing as a key (a Routero key is 64 characters). */
export const MAX_PRESENTED_KEY_LENGTH = 256;

export interface ParsedVirtualKey {
  id: string;
  secret: string;
}

export function newVirtualKey(): { id: string; secret: string; key: string } {
  const id = randomString(ID_LENGTH, ID_ALPHABET);
  const secret = randomString(SECRET_LENGTH);
  return { id, secret, key: `${VIRTUAL_KEY_PREFIX}${id}_${secret}` };
}

export function parseVirtualKey(presented: string): ParsedVirtualKey | null {
  if (presented.length > MAX_PRESENTED_KEY_LENGTH) return null;
  const m = KEY_PATTERN.exec(presented);
  if (!m) return null;
  return { id: m[1]!, secret: m[2]! };
}
