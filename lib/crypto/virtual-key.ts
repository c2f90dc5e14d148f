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
  const m = KEY_PATTERN.exec(presented);
  if (!m) return null;
  return { id: m[1]!, secret: m[2]! };
}
