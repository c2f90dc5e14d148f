/**
 * SCIM's error funnel (RFC 7644 §3.12): every failure under /scim/v2 leaves as
 * `{"schemas":["urn:ietf:params:scim:api:messages:2.0:Error"],"status":"409","scimType":"uniqueness","detail":"…"}`
 * with the HTTP status repeated as a string, `application/scim+json`, and no internal reason.
 * Failures are GatewayErrors like everywhere else in the admin Worker (admin/errors.ts maps database
 * errors); the SCIM `scimType` travels as the error's `code`.
 */
import { GatewayError } from '../../lib/errors';
import { adminError } from '../errors';

export const SCIM_ERROR_SCHEMA = 'urn:ietf:params:scim:api:messages:2.0:Error';
export const SCIM_CONTENT_TYPE = 'application/scim+json; charset=utf-8';

/** RFC 7644 Table 9: the detail error keywords a 400 (or 409/413) may carry. */
const SCIM_TYPES = new Set(['invalidFilter', 'tooMany', 'uniqueness', 'mutability', 'invalidSyntax', 'invalidPath', 'noTarget', 'invalidValue', 'invalidVers', 'sensitive']);

export type ScimType = 'invalidFilter' | 'tooMany' | 'uniqueness' | 'mutability' | 'invalidSyntax' | 'invalidPath' | 'noTarget' | 'invalidValue' | 'sensitive';

export function scimBadRequest(scimType: ScimType, detail: string, reason?: string): GatewayError {
  return new GatewayError('invalid_request', detail, { code: scimType, reason: reason ?? detail, status: scimType === 'uniqueness' ? 409 : 400 });
}

export function scimNotFound(what: string): GatewayError {
  return new GatewayError('not_found', `${what} not found.`);
}

export function scimErrorBody(err: GatewayError) {
  const scimType = err.code && SCIM_TYPES.has(err.code) ? err.code : err.status === 409 ? 'uniqueness' : undefined;
  // A uniform detail for authentication failures (DESIGN §4.5): which check failed is only logged.
  const detail = err.status === 401 ? 'Invalid or revoked SCIM bearer token.' : err.message;
  return { schemas: [SCIM_ERROR_SCHEMA], status: String(err.status), ...(scimType ? { scimType } : {}), detail };
}

export function scimErrorResponse(e: unknown, requestId?: string): { err: GatewayError; res: Response } {
  const err = adminError(e);
  const headers = new Headers({ 'content-type': SCIM_CONTENT_TYPE, 'cache-control': 'no-store' });
  if (requestId) headers.set('x-request-id', requestId);
  if (err.status === 401) headers.set('www-authenticate', 'Bearer realm="scim"');
  return { err, res: new Response(JSON.stringify(scimErrorBody(err)), { status: err.status, headers }) };
}
