/** Security headers on every admin UI response (the error page included). */
import type { Context } from 'hono';

/** No inline script or style at all: the pages load /ui/static/app.{css,js} only. */
const CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "form-action 'self'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
  "connect-src 'self'",
].join('; ');

export function securityHeaders(c: Context): void {
  c.header('content-security-policy', CSP);
  c.header('x-frame-options', 'DENY');
  c.header('referrer-policy', 'no-referrer');
  c.header('x-content-type-options', 'nosniff');
  c.header('cross-origin-opener-policy', 'same-origin');
}
