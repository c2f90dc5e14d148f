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

/**
 * The conditions an operator must hear about, as log lines with a stable `alert` field that Workers
 * Logs / Logpush filters can route (README "Alerts"). The names are part of the interface: rename
 * none, add new ones here.
 */
export type AlertName =
  | 'audit_dlq_growth'
  | 'audit_events_dropped'
  | 'cerbos_unreachable'
  | 'error_rate_spike'
  | 'audit_anchor_mismatch'
  | 'audit_anchor_failed';

export function alert(name: AlertName, msg: string, fields: Record<string, unknown> = {}): void {
  log('error', msg, { ...fields, alert: name });
}
