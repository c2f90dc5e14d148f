/**
 * Every admin input, as zod schemas: the API and the UI validate with these, and the OpenAPI
 * description (/api/openapi.json) is generated from them.
 */
import { z } from 'zod';
import { MODEL_PATTERN_RE } from '../lib/models';
import { isValidCidr } from '../lib/net/cidr';
import { checkUpstreamBaseUrl } from '../lib/net/host';
import { MAX_ATTEMPTS } from '../lib/audit/event';
import { ROUTE_NAME_RE, ROUTE_STRATEGIES } from '../lib/kv/records';
import { bedrockCredentialsProblem } from '../lib/providers/bedrock-credentials';
import { KEYED_PROVIDERS, PROVIDERS, providerInfo } from '../lib/providers/catalog';

export const uuidField = (name: string) => z.string({ error: 'is required' }).uuid(`must be a ${name} id (UUID)`);

/** Postgres text cannot hold NUL (U+0000); it is never meaningful in a name, so every text input refuses it. */
const NO_NUL = (v: string) => !v.includes('\u0000');
export const textField = (max: number) =>
  z.string({ error: 'is required' }).max(max, `must be at most ${max} characters`).refine(NO_NUL, 'must not contain NUL characters');
const nameField = textField(200).transform((v) => v.trim()).pipe(z.string().min(1, 'must not be empty'));

/** Longest grace period of a rotation: the old secret keeps working at most this long (7 days). */
export const MAX_ROTATION_GRACE_SECONDS = 7 * 24 * 3600;

/** POST /keys/:id/rotate — how long the replaced secret keeps working (0 = refused at once). */
export const rotateKeySchema = z.strictObject({
  grace_seconds: z
    .number({ error: 'is required: seconds the old secret keeps working (0 to 604800)' })
    .int('must be a whole number of seconds')
    .min(0, 'must be at least 0')
    .max(MAX_ROTATION_GRACE_SECONDS, `must be at most ${MAX_ROTATION_GRACE_SECONDS} (7 days)`),
});

/** A virtual key id (the `<id>` in `rto_<id>_<secret>`). */
export const virtualKeyIdField = z.string().regex(/^[a-z2-7]{16}$/, 'must be a virtual key id (16 characters a–z, 2–7)');

/** Dates the database can hold and a person means: years 1970–9999 (year 0 does not exist in Postgres). */
const inRange = (v: string) => {
  const t = Date.parse(v);
  return Number.isFinite(t) && t >= Date.UTC(1970, 0, 1) && t < Date.UTC(10000, 0, 1);
};

const ROLE_ENUM = z.enum(['org_admin', 'developer', 'auditor'], { error: 'must be one of: org_admin, developer, auditor' });

export const addMemberSchema = z.strictObject({
  email: z.string({ error: 'is required' }).trim().max(320, 'is too long').pipe(z.email('must be an email address')),
  role: ROLE_ENUM,
  display_name: nameField.nullish(),
});

export const changeRoleSchema = z.strictObject({ role: ROLE_ENUM });

export const createApiTokenSchema = z.strictObject({
  org_id: uuidField('organisation'),
  name: nameField,
  role: ROLE_ENUM,
  expires_at: z.iso
    .datetime({ offset: true, error: 'must be an ISO 8601 date-time, e.g. 2027-01-01T00:00:00Z' })
    .refine((v) => Date.parse(v) > Date.now(), 'must be in the future')
    .refine(inRange, 'must be before 9999-12-31')
    .nullish(),
});

/** An API token id (the `<id>` in `rtat_<id>_<secret>`). */
export const apiTokenIdField = z.string().regex(/^[a-z2-7]{16}$/, 'must be an API token id (16 characters a–z, 2–7)');

const modelPatternList = z
  .array(z.string().max(200).regex(MODEL_PATTERN_RE, 'must be a model pattern like "openai/*" or "anthropic/claude-sonnet-4-5"'))
  .max(100);

/**
 * Limits on a key, a user or an organisation (lib/limits.ts): every field optional; `null` for the
 * whole object removes them. A budget period without a budget limits nothing and is refused.
 */
export const limitsField = z
  .strictObject({
    rpm: z.number({ error: 'must be a whole number' }).int('must be a whole number').min(1, 'must be at least 1').max(10_000_000, 'must be at most 10000000').optional(),
    tpm: z.number({ error: 'must be a whole number' }).int('must be a whole number').min(1, 'must be at least 1').max(10_000_000_000, 'must be at most 10000000000').optional(),
    concurrency: z.number({ error: 'must be a whole number' }).int('must be a whole number').min(1, 'must be at least 1').max(100_000, 'must be at most 100000').optional(),
    budget_usd: z.number({ error: 'must be a number of US dollars' }).positive('must be more than 0').max(1_000_000_000, 'must be at most 1000000000').optional(),
    budget_period: z.enum(['day', 'week', 'month'], { error: 'must be one of: day, week, month' }).optional(),
  })
  .refine((l) => l.budget_period === undefined || l.budget_usd !== undefined, { message: 'budget_period needs budget_usd', path: ['budget_period'] })
  .nullable();

/** Budget alert thresholds in percent of the budget (default 50, 80, 100). */
export const alertThresholdsField = z
  .array(z.number({ error: 'must be a whole percent' }).int('must be a whole percent').min(1, 'must be at least 1').max(1000, 'must be at most 1000'))
  .min(1, 'must name at least one threshold')
  .max(10, 'must name at most 10 thresholds')
  .nullable();

export const createOrgSchema = z.strictObject({ name: nameField, allowed_models: modelPatternList.min(1, 'must name at least one pattern').optional() });

/** PATCH /orgs/:org_id — rename, or change the models the organisation's keys may be scoped to. */
export const updateOrgSchema = z
  .strictObject({
    name: nameField.optional(),
    allowed_models: modelPatternList.min(1, 'must name at least one pattern').optional(),
    limits: limitsField.optional(),
    budget_alert_thresholds: alertThresholdsField.optional(),
    /** Where budget alerts go; null removes it. The secret is `whsec_` + base64 (Standard Webhooks). */
    alert_webhook: z
      .strictObject({
        url: textField(2048).pipe(z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' })),
        secret: textField(200).regex(/^whsec_[A-Za-z0-9+/]{32,}={0,2}$/, 'must be a Standard Webhooks secret: whsec_ followed by base64 of at least 24 bytes'),
      })
      .nullable()
      .optional(),
  })
  .refine(
    (v) => v.name !== undefined || v.allowed_models !== undefined || v.limits !== undefined || v.budget_alert_thresholds !== undefined || v.alert_webhook !== undefined,
    'must change name, allowed_models, limits, budget_alert_thresholds or alert_webhook',
  );

/** PATCH /keys/:id and PATCH /users/:id: the limits (null removes them). */
export const updateLimitsSchema = z.strictObject({ limits: limitsField });

export function createProviderKeySchema(allowPrivate: boolean) {
  // The gateway's own rule (lib/net/host.ts), so the API refuses exactly the URLs the gateway would;
  // it parses without throwing, and NUL is refused like in every text input.
  const baseUrl = textField(2048).superRefine((u, ctx) => {
    const checked = checkUpstreamBaseUrl(u, allowPrivate);
    if (!checked.ok) ctx.addIssue({ code: 'custom', message: checked.reason });
  });
  return z
    .strictObject({
      org_id: uuidField('organisation'),
      provider: z.enum(KEYED_PROVIDERS, { error: `must be one of: ${KEYED_PROVIDERS.join(', ')}` }),
      name: nameField,
      secret: textField(4096).pipe(z.string().min(8, 'is too short to be an API key')),
      base_url: baseUrl.nullish(),
    })
    .superRefine((v, ctx) => {
      // Self-hosted servers (vLLM, Ollama) have no public address to default to.
      if (providerInfo(v.provider)?.baseUrlRequired && !v.base_url) {
        ctx.addIssue({ code: 'custom', path: ['base_url'], message: `is required for ${v.provider}` });
      }
      // Bedrock's secret is JSON credentials: a malformed one is refused now, not at the first call.
      if (v.provider === 'bedrock') {
        const problem = bedrockCredentialsProblem(v.secret);
        if (problem) ctx.addIssue({ code: 'custom', path: ['secret'], message: problem });
      }
    });
}

export const createKeySchema = z.strictObject({
  org_id: uuidField('organisation'),
  name: nameField,
  models: z
    .array(z.string().max(200).regex(MODEL_PATTERN_RE, 'must be a model pattern like "openai/*" or "anthropic/claude-sonnet-4-5"'))
    .max(100)
    .optional(),
  expires_at: z.iso
    .datetime({ offset: true, error: 'must be an ISO 8601 date-time, e.g. 2027-01-01T00:00:00Z' })
    .refine((v) => Date.parse(v) > Date.now(), 'must be in the future')
    .refine(inRange, 'must be before 9999-12-31')
    .nullish(),
  cidrs: z.array(z.string().refine(isValidCidr, 'must be a CIDR range such as 203.0.113.0/24 or 2001:db8::/32')).max(100).optional(),
  limits: limitsField.optional(),
});

const isoDate = z.iso
  .datetime({ offset: true, error: 'must be an ISO 8601 date-time' })
  .or(z.iso.date({ error: 'must be an ISO 8601 date' }))
  .refine(inRange, 'must be between 1970-01-01 and 9999-12-31');

export const rangeQuery = {
  org_id: uuidField('organisation').optional(),
  from: isoDate.optional(),
  to: isoDate.optional(),
};

export const evidenceQuerySchema = z.object({
  org_id: uuidField('organisation'),
  from: isoDate.optional(),
  to: isoDate.optional(),
});

export const listQuerySchema = z.object({ org_id: uuidField('organisation').optional() });

export const usageQuerySchema = z.object({
  ...rangeQuery,
  group_by: z.enum(['model', 'key', 'day'], { error: 'must be one of: model, key, day' }).default('model'),
});

export const eventsQuerySchema = z.object({
  ...rangeQuery,
  key_id: virtualKeyIdField.optional(),
  model: textField(200).optional(),
  status: z.coerce.number({ error: 'must be an HTTP status code' }).int().min(100).max(599).optional(),
  limit: z.coerce.number({ error: 'must be a number' }).int().min(1, 'must be at least 1').max(500, 'must be at most 500').default(50),
  cursor: z.string().max(200).regex(/^[A-Za-z0-9_-]+$/, 'is not a cursor from a previous page').optional(),
});

export const auditLogQuerySchema = z.object({
  actor: textField(200).optional(),
  action: textField(100).optional(),
  outcome: z.enum(['allowed', 'denied', 'failed']).optional(),
  from: isoDate.optional(),
  to: isoDate.optional(),
  limit: z.coerce.number({ error: 'must be a number' }).int().min(1).max(500).default(50),
  cursor: z.coerce.number({ error: 'is not a cursor from a previous page' }).int().positive().max(Number.MAX_SAFE_INTEGER).optional(),
});

/** TEST ONLY: body of POST /ui/test-login (see admin/ui/pages/login.tsx). */
export const testLoginSchema = z.strictObject({ email: z.string().max(320).pipe(z.email()) });

// ── routes ──

/** A route target's model: `provider/model` of a provider in the catalog (a route never names a route). */
const routeTargetModel = z
  .string({ error: 'is required' })
  .max(256, 'must be at most 256 characters')
  .regex(/^[A-Za-z0-9._:-]+\/[A-Za-z0-9._:/@-]+$/, 'must be a model like "openai/gpt-4o-mini"')
  .refine((m) => providerInfo(m.slice(0, m.indexOf('/'))) !== null, `must name a known provider (${PROVIDERS.join(', ')})`);

const routeTargetSchema = z.strictObject({
  model: routeTargetModel,
  provider_key_id: uuidField('provider key').nullish(),
  weight: z.number({ error: 'must be a number' }).positive('must be greater than 0').max(1000, 'must be at most 1000').optional(),
});

export const routeNameField = z
  .string({ error: 'is required' })
  .regex(ROUTE_NAME_RE, 'must be 1–63 characters: lower-case letters, digits, ".", "_" or "-", starting with a letter or digit');

const routeFields = {
  strategy: z.enum(ROUTE_STRATEGIES, { error: `must be one of: ${ROUTE_STRATEGIES.join(', ')}` }),
  targets: z.array(routeTargetSchema, { error: 'must be an array of targets' }).min(1, 'must name at least one target').max(MAX_ATTEMPTS, `must name at most ${MAX_ATTEMPTS} targets`),
  max_attempts: z.number({ error: 'must be an integer' }).int('must be an integer').min(1, 'must be at least 1').max(MAX_ATTEMPTS, `must be at most ${MAX_ATTEMPTS}`).optional(),
  timeout_ms: z.number({ error: 'must be an integer' }).int('must be an integer').min(100, 'must be at least 100').max(600_000, 'must be at most 600000').nullish(),
};

export const createRouteSchema = z.strictObject({ org_id: uuidField('organisation'), name: routeNameField, ...routeFields });

/** PATCH /routes/:id — any of strategy, targets, max_attempts, timeout_ms (the name and organisation stay). */
export const updateRouteSchema = z
  .strictObject({
    strategy: routeFields.strategy.optional(),
    targets: routeFields.targets.optional(),
    max_attempts: routeFields.max_attempts,
    timeout_ms: routeFields.timeout_ms,
  })
  .refine((v) => Object.values(v).some((x) => x !== undefined), 'must change strategy, targets, max_attempts or timeout_ms');
