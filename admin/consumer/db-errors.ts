/**
 * Telling a refused row from an unreachable database. Postgres names every error with a SQLSTATE
 * (https://www.postgresql.org/docs/current/errcodes-appendix.html); the driver puts it in `code`,
 * and drizzle wraps driver errors, keeping the original as `cause`.
 *
 * A data error will fail the same way on every retry, so the consumer must never retry it as a
 * batch: class 22 (data exception: 22021 bad byte sequence such as NUL in text, 22003 numeric out
 * of range, 22P02 invalid text representation, 22008 datetime out of range), class 23 (integrity
 * constraint violation: a NOT NULL or CHECK the row breaks) and class 54 (program limit exceeded:
 * a value too large for an index row). Anything else — no SQLSTATE at all (connection refused,
 * socket closed, timeout), 08 connection exceptions, 53 insufficient resources, 57 operator
 * intervention, 40 rollbacks, 42 (a table missing until migrations run) — is worth retrying.
 */
const DATA_ERROR_CLASSES = new Set(['22', '23', '54']);

/** The SQLSTATE of a database error, looking through wrappers; null when there is none. */
export function sqlState(e: unknown): string | null {
  for (let cur: unknown = e, depth = 0; cur && typeof cur === 'object' && depth < 5; depth++) {
    const code = (cur as { code?: unknown }).code;
    if (typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code)) return code;
    cur = (cur as { cause?: unknown }).cause;
  }
  return null;
}

export function isDataError(e: unknown): boolean {
  const state = sqlState(e);
  return state !== null && DATA_ERROR_CLASSES.has(state.slice(0, 2));
}

/** A log-safe description: the SQLSTATE and the driver's message, never the query's parameters. */
export function describeDbError(e: unknown): string {
  const state = sqlState(e);
  let cur: unknown = e;
  // drizzle's own message repeats the query with its parameters: use the driver's message.
  while (cur && typeof cur === 'object' && (cur as { cause?: unknown }).cause) cur = (cur as { cause?: unknown }).cause;
  // A failed WebSocket reaches us as an ErrorEvent, not an Error: read its `message` too.
  const m = cur && typeof cur === 'object' ? (cur as { message?: unknown }).message : undefined;
  const message = (typeof m === 'string' && m ? m : String(cur)).slice(0, 300);
  return state ? `SQLSTATE ${state}: ${message}` : message;
}
