/**
 * Every admin input, as zod schemas: the API and the UI validate with these, and the OpenAPI
 * description (/api/openapi.json) is generated from them.
 */
import { z } from 'zod';
import { MODEL_PATTERN_RE } from '../lib/models';
import { isPrivateHost, isValidCidr } from '../lib/net/cidr';

export const uuidField = (name: string) => z.string({ error: 'is required' }).uuid(`must be a ${name} id (UUID)`);
const nameField = z.string({ error: 'is required' }).trim().min(1, 'must not be empty').max(200, 'must be at most 200 characters');

const ROLE_ENUM = z.enum(['org_admin', 'developer', 'auditor'], { error: 'must be one of: org_admin, developer, auditor' });

export const addMemberSchema = z.strictObject({
  email: z.string({ error: 'is required' }).trim().max(320, 'is too long').pipe(z.email('must be an email address')),
  role: ROLE_ENUM,
  display_name: nameField.nullish(),
});

export const changeRoleSchema = z.strictObject({ role: ROLE_ENUM });

export const createOrgSchema = z.strictObject({ name: nameField });

export function createProviderKeySchema(allowPrivate: boolean) {
  const baseUrl = z
    .string()
    .url('must be an absolute URL')
    .refine((u) => {
      const url = new URL(u);
      return url.protocol === 'https:' || (allowPrivate && url.protocol === 'http:');
    }, 'must use https')
    .refine((u) => !new URL(u).username && !new URL(u).password, 'must not carry credentials')
    .refine((u) => allowPrivate || !isPrivateHost(new URL(u).hostname), 'must not point at a private or loopback address');
  return z.strictObject({
    org_id: uuidField('organisation'),
    provider: z.enum(['openai', 'anthropic'], { error: 'must be one of: openai, anthropic' }),
    name: nameField,
    secret: z.string({ error: 'is required' }).min(8, 'is too short to be an API key').max(4096, 'is too long'),
    base_url: baseUrl.nullish(),
  });
}

export const createKeySchema = z.strictObject({
  org_id: uuidField('organisation'),
  name: nameField,
  models: z
    .array(z.string().regex(MODEL_PATTERN_RE, 'must be a model pattern like "openai/*" or "anthropic/claude-sonnet-4-5"'))
    .max(100)
    .optional(),
  expires_at: z.iso
    .datetime({ offset: true, error: 'must be an ISO 8601 date-time, e.g. 2027-01-01T00:00:00Z' })
    .refine((v) => Date.parse(v) > Date.now(), 'must be in the future')
    .nullish(),
  cidrs: z.array(z.string().refine(isValidCidr, 'must be a CIDR range such as 203.0.113.0/24 or 2001:db8::/32')).max(100).optional(),
});

const isoDate = z.iso.datetime({ offset: true, error: 'must be an ISO 8601 date-time' }).or(z.iso.date({ error: 'must be an ISO 8601 date' }));

export const rangeQuery = {
  org_id: uuidField('organisation').optional(),
  from: isoDate.optional(),
  to: isoDate.optional(),
};

export const listQuerySchema = z.object({ org_id: uuidField('organisation').optional() });

export const usageQuerySchema = z.object({
  ...rangeQuery,
  group_by: z.enum(['model', 'key', 'day'], { error: 'must be one of: model, key, day' }).default('model'),
});

export const eventsQuerySchema = z.object({
  ...rangeQuery,
  key_id: z.string().max(64).optional(),
  model: z.string().max(200).optional(),
  status: z.coerce.number({ error: 'must be an HTTP status code' }).int().min(100).max(599).optional(),
  limit: z.coerce.number({ error: 'must be a number' }).int().min(1, 'must be at least 1').max(500, 'must be at most 500').default(50),
  cursor: z.string().max(200).optional(),
});

export const auditLogQuerySchema = z.object({
  actor: z.string().max(200).optional(),
  action: z.string().max(100).optional(),
  outcome: z.enum(['allowed', 'denied', 'failed']).optional(),
  from: isoDate.optional(),
  to: isoDate.optional(),
  limit: z.coerce.number({ error: 'must be a number' }).int().min(1).max(500).default(50),
  cursor: z.coerce.number().int().positive().optional(),
});
