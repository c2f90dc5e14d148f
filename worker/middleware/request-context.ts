import type { MiddlewareHandler } from 'hono';
import { GatewayError, type WireFormat } from '../../lib/errors';
import { uuidv7 } from '../../lib/crypto/encoding';
import { AuditRecorder } from '../audit';
import { gatewayConfig, type Env, type GatewayConfig } from '../env';

export interface RequestContextVariables {
  requestId: string;
  wireFormat: Exclude<WireFormat, 'admin'>;
  audit: AuditRecorder | null;
  config: GatewayConfig;
}

/** The wire format errors are written in: Anthropic's for its Messages path, OpenAI's elsewhere. */
export function wireFormatFor(path: string): Exclude<WireFormat, 'admin'> {
  return path === '/v1/messages' || path.startsWith('/v1/messages/') ? 'anthropic' : 'openai';
}

const AUDITED: Record<string, string> = {
  '/v1/chat/completions': 'chat_completions',
  '/v1/messages': 'messages',
  '/v1/embeddings': 'embeddings',
  '/v1/responses': 'responses',
};

/**
 * Sets the request id, the error wire format and (for inference endpoints) the audit recorder,
 * then loads the security configuration: without it nothing below runs (503, never open).
 */
export function requestContext(): MiddlewareHandler<{ Bindings: Env; Variables: RequestContextVariables }> {
  return async function requestContext(c, next) {
    const requestId = uuidv7();
    c.set('requestId', requestId);
    c.set('wireFormat', wireFormatFor(c.req.path));
    const endpoint = c.req.method === 'POST' ? AUDITED[c.req.path] : undefined;
    c.set(
      'audit',
      endpoint ? new AuditRecorder(c.env.AUDIT_QUEUE, (p) => c.executionCtx.waitUntil(p), requestId, endpoint) : null,
    );
    const config = await gatewayConfig(c.env);
    // Cloudflare's edge sets `request.cf` and CF-Connecting-IP on every request it forwards, and
    // overwrites any client-sent CF-Connecting-IP. A production Worker that sees no `cf` is not
    // behind that edge, so the client IP (and every CIDR allowlist) would be the client's say-so.
    if (config.production && !c.req.raw.cf) {
      throw new GatewayError('unavailable', 'The gateway is not configured to serve requests.', {
        reason: 'ROUTERO_ENV=production but the request has no request.cf object: CF-Connecting-IP cannot be trusted',
      });
    }
    c.set('config', config);
    await next();
    // On the answer itself: once a response exists, hono's c.header() copies the whole Response
    // to get mutable headers (a second Response per request, ~5 % of the gateway's CPU). The
    // gateway's own answers have mutable headers; anything else is copied as before.
    try {
      c.res.headers.set('x-request-id', requestId);
    } catch {
      c.header('x-request-id', requestId);
    }
  };
}
