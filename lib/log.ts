/**
 * Structured log lines. Callers pass identifiers and reasons only — never request or response
 * content, never a key (DESIGN §4.1–2).
 */
export function log(level: 'info' | 'warn' | 'error', msg: string, fields: Record<string, unknown> = {}): void {
  const line = JSON.stringify({ level, msg, ...fields });
  if (level === 'error') console.error(line);
  else if (level === 'warn') console.warn(line);
  else console.log(line);
}
