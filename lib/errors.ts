/**
 * The one error funnel. Every failure that reaches a client is a `GatewayError`; `toWireError`
 * is the only code that turns one into a response body. The `reason` is for logs only and is
 * never sent: it may name internal state (which check failed, what Cerbos said), while the wire
 * message stays generic where detail would help an attacker (authentication) and specific where
 * it helps a caller fix their request (validation).
 */

export type WireFormat = 'openai' | 'anthropic' | 'admin';

/** Error kinds, each with its HTTP status and its type name in both wire formats. */
const KINDS = {
  invalid_request: { status: 400, openai: 'invalid_request_error', anthropic: 'invalid_request_error' },
  authentication: { status: 401, openai: 'invalid_request_error', anthropic: 'authentication_error' },
  permission: { status: 403, openai: 'invalid_request_error', anthropic: 'permission_error' },
  not_found: { status: 404, openai: 'invalid_request_error', anthropic: 'not_found_error' },
  payload_too_large: { status: 413, openai: 'invalid_request_error', anthropic: 'request_too_large' },
  rate_limit: { status: 429, openai: 'rate_limit_error', anthropic: 'rate_limit_error' },
  upstream_unreachable: { status: 502, openai: 'api_error', anthropic: 'api_error' },
  unavailable: { status: 503, openai: 'api_error', anthropic: 'overloaded_error' },
  internal: { status: 500, openai: 'api_error', anthropic: 'api_error' },
} as const;

export type ErrorKind = keyof typeof KINDS;

export class GatewayError extends Error {
  readonly kind: ErrorKind;
  readonly status: number;
  /** Logged, never sent. */
  readonly reason: string;
  readonly param: string | null;
  readonly code: string | null;
  /** Extra response headers (e.g. Retry-After and x-ratelimit-* on a 429). */
  readonly headers: Record<string, string>;

  constructor(
    kind: ErrorKind,
    message: string,
    opts: { reason?: string; param?: string | null; code?: string | null; status?: number; headers?: Record<string, string> } = {},
  ) {
    super(message);
    this.kind = kind;
    // eslint-disable-next-line security/detect-object-injection -- kind is typed ErrorKind, a key of the constant KINDS
    this.status = opts.status ?? KINDS[kind].status;
    this.reason = opts.reason ?? message;
    this.param = opts.param ?? null;
    this.code = opts.code ?? null;
    this.headers = opts.headers ?? {};
  }
}

/** The single body every authentication failure gets (DESIGN §4.5): no hint which check failed. */
export const AUTH_FAILED_MESSAGE = 'Invalid API key.';

export function authFailed(reason: string): GatewayError {
  return new GatewayError('authentication', AUTH_FAILED_MESSAGE, { reason, code: 'invalid_api_key' });
}

export function errorTypeName(kind: ErrorKind, format: WireFormat): string {
  // eslint-disable-next-line security/detect-object-injection -- kind is typed ErrorKind, a key of the constant KINDS
  return format === 'anthropic' ? KINDS[kind].anthropic : KINDS[kind].openai;
}

/**
 * Builds the wire body. OpenAI's published ErrorResponse requires `message`, `type`, `param` and
 * `code` (the last two nullable); Anthropic's is `{type: "error", error: {type, message}}`.
 */
export function wireErrorBody(err: GatewayError, format: WireFormat): unknown {
  if (format === 'anthropic') {
    return { type: 'error', error: { type: errorTypeName(err.kind, 'anthropic'), message: err.message } };
  }
  return {
    error: { message: err.message, type: errorTypeName(err.kind, 'openai'), param: err.param, code: err.code },
  };
}

export function toWireError(err: GatewayError, format: WireFormat, requestId?: string): Response {
  const headers = new Headers(err.headers);
  headers.set('content-type', 'application/json');
  headers.set('cache-control', 'no-store');
  if (requestId) headers.set('x-request-id', requestId);
  if (err.kind === 'authentication' && format !== 'admin') headers.set('www-authenticate', 'Bearer');
  return new Response(JSON.stringify(wireErrorBody(err, format)), { status: err.status, headers });
}

/** Wraps anything thrown into a GatewayError without ever exposing its message. */
export function asGatewayError(e: unknown): GatewayError {
  if (e instanceof GatewayError) return e;
  const reason = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
  // JSON.parse reads any depth, but walking the value again (serialising it, metering it) runs out
  // of stack at a few thousand levels: that is the body's fault, and a 400 says so.
  if (e instanceof RangeError && /call stack/i.test(e.message)) {
    return new GatewayError('invalid_request', 'The request body is nested too deeply.', { reason });
  }
  return new GatewayError('internal', 'The server had an error while processing your request.', { reason });
}

/** zod issue → a 400 that names the field. */
export function invalidField(path: ReadonlyArray<PropertyKey>, message: string): GatewayError {
  const param = path.map(String).join('.') || null;
  const where = param ? `'${param}': ` : '';
  return new GatewayError('invalid_request', `Invalid request: ${where}${message}`, { param });
}
