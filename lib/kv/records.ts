/**
 * The edge read model in Workers KV. Postgres is the source of truth; the admin Worker writes these
 * after every change and `npm run kv:rebuild` rewrites them all. Layout (see migrations/README.md):
 *
 *   vk:<virtual key id>             VirtualKeyRecord
 *   pk:<org id>:<provider>          ProviderKeyList (newest first; the gateway uses the first)
 *   rt:<org id>:<route name>        RouteRecord (a virtual model `route/<name>`)
 *   prices:v1                       PriceTable (USD per token per model, for cost estimates; lib/limits.ts)
 */
// zod/mini: the gateway bundle must stay small (full zod adds ~100 KB gzip).
import * as z from 'zod/mini';
import { limitedSubjectSchema } from '../limits';
import { PROVIDERS, type ProviderName } from '../providers/catalog';

export { PROVIDERS, type ProviderName };
export const providerNameSchema = z.enum(PROVIDERS);

export const virtualKeyRecordSchema = z.object({
  id: z.string(),
  org_id: z.string(),
  name: z.string(),
  /** bcrypt hash of the secret part only. */
  secret_hash: z.string(),
  /** Allowed model patterns, e.g. ["openai/*", "anthropic/claude-sonnet-4-5"]. Empty means none. */
  models: z.array(z.string()),
  /** CIDR allowlist; empty means any address. */
  cidrs: z.array(z.string()),
  expires_at: z.nullable(z.string()),
  revoked_at: z.nullable(z.string()),
  /** Bumped on every change; part of the Cerbos decision-cache key. */
  version: z.int(),
  /**
   * After a rotation: bcrypt hash of the secret it replaced, accepted until
   * `previous_secret_expires_at` (ISO 8601), then refused. Absent (records written before
   * rotation existed) or null: no previous secret.
   */
  previous_secret_hash: z.optional(z.nullable(z.string())),
  previous_secret_expires_at: z.optional(z.nullable(z.string())),
  /**
   * The limited subjects this key's requests count against — the key itself, its owner, its
   * organisation — each with its limits. Absent or empty: the key never touches a Durable Object.
   */
  limits: z.optional(z.array(limitedSubjectSchema)),
});
export type VirtualKeyRecord = z.infer<typeof virtualKeyRecordSchema>;

export const providerKeyEntrySchema = z.object({
  id: z.string(),
  org_id: z.string(),
  provider: providerNameSchema,
  base_url: z.nullable(z.string()),
  kek_version: z.int(),
  iv: z.string(),
  ciphertext: z.string(),
});
export type ProviderKeyEntry = z.infer<typeof providerKeyEntrySchema>;
export const providerKeyListSchema = z.array(providerKeyEntrySchema);

/** Route strategies: `fallback` tries the targets in order; `weighted` orders them by a weighted draw. */
export const ROUTE_STRATEGIES = ['fallback', 'weighted'] as const;

/** A route target: a model of a provider, optionally pinned to one of the org's provider keys. */
export const routeTargetSchema = z.object({
  model: z.string(),
  provider_key_id: z.nullable(z.string()),
  weight: z.number(),
});

export const routeRecordSchema = z.object({
  id: z.string(),
  org_id: z.string(),
  name: z.string(),
  strategy: z.enum(ROUTE_STRATEGIES),
  targets: z.array(routeTargetSchema),
  /** Upstream calls at most, retries and fallbacks included. */
  max_attempts: z.int(),
  /** Per attempt, until the response headers arrive; null: the gateway's header timeout. */
  timeout_ms: z.nullable(z.int()),
});
export type RouteRecord = z.infer<typeof routeRecordSchema>;

/** Route names: what follows `route/` in a model name. */
export const ROUTE_NAME_RE = /^[a-z0-9][a-z0-9._-]{0,62}$/;

export const kvKeys = {
  virtualKey: (id: string) => `vk:${id}`,
  providerKeys: (orgId: string, provider: string) => `pk:${orgId}:${provider}`,
  route: (orgId: string, name: string) => `rt:${orgId}:${name}`,
};
