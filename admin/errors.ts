/**
 * The admin error funnel: the JSON API, the UI and (next) SCIM turn every failure into a
 * GatewayError here, keeping its real status. A client mistake never becomes a 500: Postgres data
 * errors (SQLSTATE class 22: bad number, date out of range, NUL in text, malformed uuid…) that slip
 * past validation are answered 400 as a last line of defence, and a unique violation (23505) 409.
 */
import { asGatewayError, GatewayError } from '../lib/errors';

/** The SQLSTATE of a Postgres error, through drizzle's wrapper (`cause`) if there is one. */
function sqlState(e: unknown, depth = 0): string | null {
  if (depth > 3 || typeof e !== 'object' || e === null) return null;
  const code = (e as { code?: unknown }).code;
  if (typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code)) return code;
  return sqlState((e as { cause?: unknown }).cause, depth + 1);
}

export function adminError(e: unknown): GatewayError {
  if (e instanceof GatewayError) return e;
  const state = sqlState(e);
  const reason = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
  if (state?.startsWith('22')) return new GatewayError('invalid_request', 'Invalid request: a value is malformed or out of range.', { reason: `SQLSTATE ${state}: ${reason}` });
  if (state === '23505') return new GatewayError('invalid_request', 'That already exists.', { reason: `SQLSTATE ${state}: ${reason}`, status: 409 });
  return asGatewayError(e);
}
