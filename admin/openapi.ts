/**
 * The management API described with OpenAPI 3.1, generated from the same zod schemas the handlers
 * validate with (zod's JSON Schema output), so the description cannot drift from the validation.
 */
import { z } from 'zod';
import { quarantineQuerySchema } from './api/quarantine';
import { createScimTokenSchema } from './domain/scim-tokens';
import { createSamlConnectionSchema } from './domain/saml-connections';
import { createOidcConnectionSchema } from './domain/sso-connections';
import {
  auditLogQuerySchema,
  createApiTokenSchema,
  evidenceQuerySchema,
  createKeySchema,
  createOrgSchema,
  createProviderKeySchema,
  eventsQuerySchema,
  listQuerySchema,
  rotateKeySchema,
  updateLimitsSchema,
  updateOrgSchema,
  usageQuerySchema,
} from './schemas';

interface Operation {
  summary: string;
  parameters?: Array<{ name: string; in: 'query' | 'path'; required: boolean; schema: unknown }>;
  requestBody?: { required: true; content: { 'application/json': { schema: unknown } } };
  responses: Record<string, { description: string }>;
  security: Array<Record<string, string[]>>;
}

const jsonSchema = (s: z.ZodType) => z.toJSONSchema(s, { io: 'input', unrepresentable: 'any' });

function queryParams(s: z.ZodObject): Operation['parameters'] {
  const schema = jsonSchema(s) as { properties?: Record<string, unknown>; required?: string[] };
  return Object.entries(schema.properties ?? {}).map(([name, sch]) => ({ name, in: 'query' as const, required: schema.required?.includes(name) ?? false, schema: sch }));
}

const idParam = (name: string) => [{ name, in: 'path' as const, required: true, schema: { type: 'string' } }];

function op(summary: string, extra: Partial<Operation> = {}, ok = '200'): Operation {
  return {
    summary,
    ...extra,
    responses: {
      [ok]: { description: 'Success' },
      '400': { description: 'Invalid input; error.param names the field' },
      '401': { description: 'Missing or wrong master key' },
      '403': { description: 'Denied by policy' },
      '503': { description: 'Policy service or configuration unavailable' },
    },
    security: [{ masterKey: [] }],
  };
}

const body = (s: z.ZodType): Operation['requestBody'] => ({ required: true, content: { 'application/json': { schema: jsonSchema(s) } } });

export function buildOpenApi() {
  return {
    openapi: '3.1.0',
    info: { title: 'Routero management API', version: '1', description: 'Organisations, provider keys, virtual keys, usage, metadata events and the admin audit log.' },
    servers: [{ url: '/' }],
    components: { securitySchemes: { masterKey: { type: 'http', scheme: 'bearer', description: 'The MASTER_KEY secret, or an admin API token (rtat_…)' } } },
    paths: {
      '/api/v1/orgs': {
        post: op('Create an organisation', { requestBody: body(createOrgSchema) }, '201'),
        get: op('List organisations'),
      },
      '/api/v1/orgs/{org_id}': {
        patch: op('Rename an organisation, change its allowed models, or set its limits, budget alert thresholds and alert webhook', {
          parameters: idParam('org_id'),
          requestBody: body(updateOrgSchema),
        }),
      },
      '/api/v1/orgs/{org_id}/webhook-deliveries': { get: op('Budget alert deliveries of an organisation, newest first', { parameters: idParam('org_id') }) },
      '/api/v1/users/{user_id}': { patch: op("Set a person's limits (all the keys they own together)", { parameters: idParam('user_id'), requestBody: body(updateLimitsSchema) }) },
      '/api/v1/provider-keys': {
        post: op('Add a provider key (the secret is encrypted and never returned)', { requestBody: body(createProviderKeySchema(false)) }, '201'),
        get: op('List provider keys (last four characters only)', { parameters: queryParams(listQuerySchema) }),
      },
      '/api/v1/provider-keys/{id}': { delete: op('Delete a provider key', { parameters: idParam('id') }) },
      '/api/v1/provider-keys/{id}/test': {
        post: op('Test connection: a minimal authenticated call to the provider through the gateway (ok, upstream status, latency, redacted error; never the key)', { parameters: idParam('id') }),
      },
      '/api/v1/keys': {
        post: op('Create a virtual key; the plaintext key is in the response, this once', { requestBody: body(createKeySchema) }, '201'),
        get: op('List virtual keys', { parameters: queryParams(listQuerySchema) }),
      },
      '/api/v1/keys/{id}': {
        get: op('Get a virtual key (never its hash)', { parameters: idParam('id') }),
        patch: op("Set a virtual key's limits (null removes them)", { parameters: idParam('id'), requestBody: body(updateLimitsSchema) }),
      },
      '/api/v1/keys/{id}/revoke': { post: op('Revoke a virtual key', { parameters: idParam('id') }) },
      '/api/v1/keys/{id}/rotate': {
        post: op('Rotate a virtual key: a new secret for the same key, in the response this once; the old secret works for grace_seconds more', { parameters: idParam('id'), requestBody: body(rotateKeySchema) }),
      },
      '/api/v1/health/deep': { get: op("The gateway's deep health check through the service binding: KV, Cerbos, KEKs, each provider key's reachability") },
      '/api/v1/usage': { get: op('Requests, tokens and cost, grouped by model, key or day', { parameters: queryParams(usageQuerySchema) }) },
      '/api/v1/events': { get: op('Metadata events, newest first, with a cursor', { parameters: queryParams(eventsQuerySchema) }) },
      '/api/v1/audit-log': { get: op('The admin audit log, newest first, with a cursor', { parameters: queryParams(auditLogQuerySchema) }) },
      '/api/v1/audit-log/verify': { get: op('Verify the admin audit log hash chain and compare it with the anchors kept in KV') },
      '/api/v1/audit-log/anchor': { post: op('Anchor the admin audit chain head in KV now (the cron does it every 5 minutes)') },
      '/api/v1/evidence': {
        get: op('Signed evidence export of an organisation (application/x-tar): inventories, access review, audit log, policy version, configuration', { parameters: queryParams(evidenceQuerySchema) }),
      },
      '/api/v1/api-tokens': {
        post: op('Create an admin API token; the plaintext token is in the response, this once', { requestBody: body(createApiTokenSchema) }, '201'),
        get: op('List admin API tokens (never a hash)', { parameters: queryParams(listQuerySchema) }),
      },
      '/api/v1/api-tokens/{id}/revoke': { post: op('Revoke an admin API token', { parameters: idParam('id') }) },
      '/api/v1/audit-quarantine': {
        get: op('Audit events the consumer could not store and set aside, newest first, with a cursor', { parameters: queryParams(quarantineQuerySchema) }),
      },
      '/api/v1/admin/rebuild-kv': { post: op('Rewrite the KV read model from Postgres') },
      '/api/v1/admin/reencrypt-provider-keys': { post: op('Re-encrypt provider keys and SSO client secrets under the newest key-encryption key') },
      '/api/v1/orgs/{org_id}/sso/oidc': {
        post: op('Add an OIDC single sign-on connection; the answer names the redirect URI to register (never the client secret)', { parameters: idParam('org_id'), requestBody: body(createOidcConnectionSchema(false)) }, '201'),
      },
      '/api/v1/orgs/{org_id}/sso/saml': {
        post: op('Add a SAML 2.0 single sign-on connection from IdP metadata XML or entity id + SSO URL + certificate; the answer names the SP entity id, ACS URL and metadata URL to configure at the IdP', { parameters: idParam('org_id'), requestBody: body(createSamlConnectionSchema(false)) }, '201'),
        get: op("List an organisation's SAML connections", { parameters: idParam('org_id') }),
      },
      '/api/v1/orgs/{org_id}/sso': { get: op("List an organisation's SSO connections (OIDC and SAML)", { parameters: idParam('org_id') }) },
      '/api/v1/sso/{connection_id}': {
        get: op('Read one SSO connection', { parameters: idParam('connection_id') }),
        delete: op('Delete an SSO connection', { parameters: idParam('connection_id') }),
      },
      '/api/v1/orgs/{org_id}/scim-tokens': {
        post: op('Create a SCIM bearer token for the organisation; the plaintext token and the SCIM base URL are in the response, this once', { parameters: idParam('org_id'), requestBody: body(createScimTokenSchema) }, '201'),
        get: op("List an organisation's SCIM tokens with when each was last used (never a hash)", { parameters: idParam('org_id') }),
      },
      '/api/v1/orgs/{org_id}/scim-tokens/{id}': { delete: op('Revoke a SCIM token', { parameters: [...idParam('org_id')!, ...idParam('id')!] }) },
    } as Record<string, Record<string, Operation>>,
  };
}
