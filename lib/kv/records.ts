/**
 * The edge read model in Workers KV. Postgres is the source of truth; the admin Worker writes these
 * after every change and `npm run kv:rebuild` rewrites them all. Layout (see migrations/README.md):
 *
 *   vk:<virtual key id>             VirtualKeyRecord
 *   pk:<org id>:<provider>          ProviderKeyList (newest first; the gateway uses the first)
 *   prices:v1                       PriceTable (USD per token per model, for cost estimates; lib/limits.ts)
 */
// zod/mini: the gateway bundle must stay small (full zod adds ~100 KB gzip).
import * as z from 'zod/mini';
import { limitedSubjectSchema } from '../limits';

export const PROVIDERS = ['openai', 'anthropic', 'mock'] as const;
export type ProviderName = (typeof PROVIDERS)[number];
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

export const kvKeys = {
  virtualKey: (id: string) => `vk:${id}`,
  providerKeys: (orgId: string, provider: string) => `pk:${orgId}:${provider}`,
};
