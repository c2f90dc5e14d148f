/**
 * Tags a test as proof of a security claim (security/claims.ts): `it(claim('key-cidr', 'refuses …'), …)`.
 * The tag ends up in the test's full name in vitest's JSON results, where `npm run evidence` reads it.
 */
import type { ClaimId } from '../../security/claims';

export function claim(id: ClaimId | ClaimId[], title: string): string {
  const ids = Array.isArray(id) ? id : [id];
  return `${title} ${ids.map((i) => `[claim:${i}]`).join(' ')}`;
}
