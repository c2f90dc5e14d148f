/**
 * The management actions, shared by the JSON API and the UI. Each change is authorized by Cerbos
 * and written to the admin audit log with its outcome: allowed, denied (Cerbos said no) or failed.
 */
import bcrypt from 'bcryptjs';
import { and, desc, eq, isNull, sql } from 'drizzle-orm';
import type { z } from 'zod';
import { loadKeyRing, openSecret, sealSecret } from '../lib/crypto/aes-gcm';
import { newVirtualKey, VIRTUAL_KEY_PREFIX } from '../lib/crypto/virtual-key';
import type { Queryable } from './db/client';
import { orgs, orgWebhooks, providerKeys, virtualKeys } from './db/schema';
import { GatewayError } from '../lib/errors';
import { patternWithin } from '../lib/models';
import type { AdminEnv } from './env';
import { authorizeOrHide, change, denied, isAllowed, publishToEdge, recordAction, type ActionContext } from './domain/change';
import { planFilter } from './auth/plan';
import { reencryptSsoSecrets } from './domain/sso-connections';
import { rebuildKv, syncProviderKeys, syncVirtualKey } from './kv-sync';
import { publishPrices, revokeInCounters, storedLimits, syncOrgKeys } from './limits';
import { setAlertWebhook } from './webhooks';
import type { createKeySchema, createOrgSchema, createProviderKeySchema, updateOrgSchema } from './schemas';

/** bcrypt cost: ~60–100 ms per hash; the gateway pays it once per key per isolate per TTL. */
export const BCRYPT_COST = 10;

export type { ActionContext, RequestMeta } from './domain/change';
export { authorize, recordAction } from './domain/change';
export { updateKeyLimits, updateUserLimits } from './limits';

type ProviderKeyRow = typeof providerKeys.$inferSelect;
type VirtualKeyRow = typeof virtualKeys.$inferSelect;

/** A revocable, expiring credential's status (virtual keys, admin API tokens). */
export function keyStatus(row: { revoked_at: Date | null; expires_at: Date | null }, now = Date.now()): 'active' | 'revoked' | 'expired' {
  if (row.revoked_at) return 'revoked';
  if (row.expires_at && row.expires_at.getTime() <= now) return 'expired';
  return 'active';
}

export function publicVirtualKey(row: VirtualKeyRow) {
  return {
    id: row.id,
    org_id: row.org_id,
    name: row.name,
    models: row.models,
    cidrs: row.cidrs,
    expires_at: row.expires_at,
    revoked_at: row.revoked_at,
    status: keyStatus(row),
    limits: row.limits ?? null,
    created_at: row.created_at,
    rotated_at: row.rotated_at,
    /** Until when the secret replaced by the last rotation still works (null: not at all). */
    previous_secret_expires_at:
      row.previous_secret_expires_at && row.previous_secret_expires_at.getTime() > Date.now() ? row.previous_secret_expires_at : null,
  };
}

export function publicProviderKey(row: ProviderKeyRow) {
  return {
    id: row.id,
    org_id: row.org_id,
    provider: row.provider,
    name: row.name,
    base_url: row.base_url,
    last4: row.last4,
    kek_version: row.kek_version,
    created_at: row.created_at,
  };
}

async function requireOrg(db: Queryable, orgId: string): Promise<void> {
  const [row] = await db.select({ id: orgs.id }).from(orgs).where(eq(orgs.id, orgId)).limit(1);
  if (!row) throw new GatewayError('not_found', `Organisation ${orgId} does not exist.`, { param: 'org_id' });
}

export async function activeKeyRing(env: AdminEnv) {
  try {
    return await loadKeyRing(env.ROUTERO_KEKS);
  } catch (e) {
    throw new GatewayError('unavailable', 'The admin service is not configured to store secrets.', {
      reason: e instanceof Error ? e.message : 'KEK load failed',
    });
  }
}

function kvFailure(message: string): GatewayError {
  return new GatewayError('unavailable', message, { reason: 'KV write failed after retries' });
}

// ── organisations ──

export function createOrg(ctx: ActionContext, input: z.infer<typeof createOrgSchema>) {
  return change(ctx, { action: 'org.create', cerbosAction: 'create', resource: { kind: 'org' } }, async (tx) => {
    const [row] = await tx
      .insert(orgs)
      .values({ id: crypto.randomUUID(), name: input.name, ...(input.allowed_models ? { allowed_models: input.allowed_models } : {}) })
      .returning();
    return { result: row!, targetId: row!.id };
  });
}

const orgNotFound = (id: string) => new GatewayError('not_found', `Organisation ${id} does not exist.`);

/**
 * Renames an organisation or changes `allowed_models`, the patterns its virtual keys may be scoped
 * to. Keys that exist keep their scope (revoke and recreate to narrow them); new keys must fit.
 */
export async function updateOrg(ctx: ActionContext, id: string, input: z.infer<typeof updateOrgSchema>) {
  const [existing] = await ctx.db.select({ id: orgs.id }).from(orgs).where(eq(orgs.id, id)).limit(1);
  if (!existing) throw orgNotFound(id);
  // An organisation's limits bound what its own admins may spend: only a platform admin sets them
  // (a second decision, audited as org.set_limits).
  const limitsChange = input.limits !== undefined || input.budget_alert_thresholds !== undefined || input.alert_webhook !== undefined;
  if (limitsChange) {
    const resource = { kind: 'org', id, orgId: id };
    if (!(await isAllowed(ctx, resource, 'set_limits'))) {
      await recordAction(ctx, 'org.set_limits', 'denied', { type: 'org', id, orgId: id });
      throw denied(resource, 'set_limits', ctx.principal);
    }
  }
  const sealedWebhook = input.alert_webhook !== undefined ? await setAlertWebhook(ctx.env, id, input.alert_webhook) : undefined;
  const row = await change(
    ctx,
    { action: limitsChange ? 'org.set_limits' : 'org.update', cerbosAction: 'update', resource: { kind: 'org', id, orgId: id }, hideAs: orgNotFound(id) },
    async (tx) => {
      const [updated] = await tx
        .update(orgs)
        .set({
          ...(input.name !== undefined ? { name: input.name } : {}),
          ...(input.allowed_models ? { allowed_models: input.allowed_models } : {}),
          ...(input.limits !== undefined ? { limits: storedLimits(input.limits ?? undefined) } : {}),
          ...(input.budget_alert_thresholds !== undefined ? { budget_alert_thresholds: input.budget_alert_thresholds } : {}),
        })
        .where(eq(orgs.id, id))
        .returning();
      if (sealedWebhook) await sealedWebhook(tx);
      return { result: updated! };
    },
  );
  if (input.limits !== undefined) await syncOrgKeys(ctx, id);
  return publicOrg(row, await alertWebhookUrl(ctx.db, id));
}

type OrgRow = typeof orgs.$inferSelect;

/** An organisation as the API shows it (the webhook's secret never). */
export function publicOrg(row: OrgRow, alertWebhook: string | null = null) {
  return { ...row, alert_webhook_url: alertWebhook };
}

/** The organisations the principal may see (Cerbos query plan → SQL filter). */
export async function listOrgs(ctx: ActionContext) {
  const allowed = await planFilter(ctx, 'org', 'list', { org_id: orgs.id });
  const rows = await ctx.db.select().from(orgs).where(allowed).orderBy(orgs.created_at);
  const hooks = new Map((await ctx.db.select({ org_id: orgWebhooks.org_id, url: orgWebhooks.url }).from(orgWebhooks)).map((w) => [w.org_id, w.url]));
  return rows.map((r) => publicOrg(r, hooks.get(r.id) ?? null));
}

async function alertWebhookUrl(db: Queryable, orgId: string): Promise<string | null> {
  const [w] = await db.select({ url: orgWebhooks.url }).from(orgWebhooks).where(eq(orgWebhooks.org_id, orgId)).limit(1);
  return w?.url ?? null;
}

// ── provider keys ──

export async function createProviderKey(ctx: ActionContext, input: z.infer<ReturnType<typeof createProviderKeySchema>>) {
  const ring = await activeKeyRing(ctx.env);
  const row = await change(ctx, { action: 'provider_key.create', cerbosAction: 'create', resource: { kind: 'provider_key', orgId: input.org_id } }, async (tx) => {
    await requireOrg(tx, input.org_id);
    const id = crypto.randomUUID();
    const sealed = await sealSecret(ring, { recordId: id, orgId: input.org_id, provider: input.provider }, input.secret);
    const [created] = await tx
      .insert(providerKeys)
      .values({ id, org_id: input.org_id, provider: input.provider, name: input.name, base_url: input.base_url ?? null, ...sealed, last4: input.secret.slice(-4) })
      .returning();
    return { result: created!, targetId: id };
  });
  await publishToEdge(`pk:${row.org_id}:${row.provider}`, ctx.meta.requestId, () => syncProviderKeys(ctx.env.ROUTERO_KV, ctx.db, row.org_id, row.provider));
  return publicProviderKey(row);
}

export async function listProviderKeys(ctx: ActionContext, orgId?: string) {
  const allowed = await planFilter(ctx, 'provider_key', 'list', { org_id: providerKeys.org_id });
  const where = and(allowed, isNull(providerKeys.deleted_at), orgId ? eq(providerKeys.org_id, orgId) : undefined);
  const rows = await ctx.db.select().from(providerKeys).where(where).orderBy(desc(providerKeys.created_at));
  return rows.map(publicProviderKey);
}

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export async function deleteProviderKey(ctx: ActionContext, id: string) {
  const notFound = new GatewayError('not_found', `Provider key ${id} does not exist.`);
  const [row] = UUID_RE.test(id) ? await ctx.db.select().from(providerKeys).where(and(eq(providerKeys.id, id), isNull(providerKeys.deleted_at))) : [];
  if (!row) throw notFound;
  await change(ctx, { action: 'provider_key.delete', cerbosAction: 'delete', resource: { kind: 'provider_key', id, orgId: row.org_id }, hideAs: notFound }, async (tx) => {
    await tx.update(providerKeys).set({ deleted_at: new Date() }).where(eq(providerKeys.id, id));
    return { result: null };
  });
  const ok = await publishToEdge(`pk:${row.org_id}:${row.provider}`, ctx.meta.requestId, () => syncProviderKeys(ctx.env.ROUTERO_KV, ctx.db, row.org_id, row.provider));
  if (!ok) throw kvFailure('Deleted in the database, but the edge was not updated yet; run kv:rebuild.');
  return { ...publicProviderKey(row), deleted: true };
}

// ── virtual keys ──

export async function createVirtualKey(ctx: ActionContext, input: z.infer<typeof createKeySchema>) {
  const ownerUserId = typeof ctx.principal.attr.user_id === 'string' && ctx.principal.attr.user_id ? ctx.principal.attr.user_id : null;
  const { id, secret, key } = newVirtualKey();
  const secretHash = await bcrypt.hash(secret, BCRYPT_COST);
  const limits = storedLimits(input.limits ?? undefined);
  if (limits) {
    // Limits on a new key are a second decision: a developer may create keys, not set their limits.
    const resource = { kind: 'virtual_key', orgId: input.org_id, ownerUserId };
    if (!(await isAllowed(ctx, resource, 'set_limits'))) {
      await recordAction(ctx, 'virtual_key.create', 'denied', { type: 'virtual_key', id: null, orgId: input.org_id });
      throw denied(resource, 'set_limits', ctx.principal);
    }
  }
  const row = await change(
    ctx,
    { action: 'virtual_key.create', cerbosAction: 'create', resource: { kind: 'virtual_key', orgId: input.org_id, ownerUserId } },
    async (tx) => {
      const [org] = await tx.select({ allowed: orgs.allowed_models }).from(orgs).where(eq(orgs.id, input.org_id)).limit(1);
      if (!org) throw new GatewayError('not_found', `Organisation ${input.org_id} does not exist.`, { param: 'org_id' });
      // Keys stay within the models the organisation allows (issue 7): a key without `models` gets
      // the organisation's list; a pattern outside it is refused, naming it.
      const models = input.models ?? org.allowed;
      const outside = models.filter((m) => !patternWithin(m, org.allowed));
      if (outside.length > 0) {
        throw new GatewayError('invalid_request', `models ${outside.map((m) => `"${m}"`).join(', ')} ${outside.length === 1 ? 'is' : 'are'} outside what the organisation allows (${org.allowed.join(', ')}).`, { param: 'models' });
      }
      const [created] = await tx
        .insert(virtualKeys)
        .values({
          id,
          org_id: input.org_id,
          name: input.name,
          secret_hash: secretHash,
          models,
          cidrs: input.cidrs ?? [],
          expires_at: input.expires_at ? new Date(input.expires_at) : null,
          owner_user_id: ownerUserId,
          limits,
        })
        .returning();
      return { result: created!, targetId: id };
    },
  );
  // Until KV has it the key is simply refused at the edge (fail closed); kv:rebuild publishes it.
  await publishToEdge(`vk:${id}`, ctx.meta.requestId, () => syncVirtualKey(ctx.env.ROUTERO_KV, row, ctx.db));
  if (limits?.budget_usd !== undefined) await publishPrices(ctx.env.ROUTERO_KV, row.models.filter((m) => !m.includes('*'))).catch(() => 0);
  return { ...publicVirtualKey(row), key };
}

const keyNotFound = (id: string) => new GatewayError('not_found', `Virtual key ${id} does not exist.`);

/** A key the caller may read; another organisation's key answers exactly like a missing one. */
export async function findVirtualKey(ctx: ActionContext, id: string) {
  const [row] = await ctx.db.select().from(virtualKeys).where(eq(virtualKeys.id, id)).limit(1);
  if (!row) throw keyNotFound(id);
  await authorizeOrHide(ctx, { kind: 'virtual_key', id: row.id, orgId: row.org_id, ownerUserId: row.owner_user_id }, 'read', keyNotFound(id));
  return publicVirtualKey(row);
}

export async function listVirtualKeys(ctx: ActionContext, orgId?: string) {
  const allowed = await planFilter(ctx, 'virtual_key', 'list', { org_id: virtualKeys.org_id, owner_user_id: virtualKeys.owner_user_id });
  const where = and(allowed, orgId ? eq(virtualKeys.org_id, orgId) : undefined);
  const rows = await ctx.db.select().from(virtualKeys).where(where).orderBy(desc(virtualKeys.created_at));
  return rows.map(publicVirtualKey);
}

export async function revokeVirtualKey(ctx: ActionContext, id: string) {
  const [existing] = await ctx.db.select().from(virtualKeys).where(eq(virtualKeys.id, id)).limit(1);
  if (!existing) throw keyNotFound(id);
  const row = await change(
    ctx,
    { action: 'virtual_key.revoke', cerbosAction: 'revoke', resource: { kind: 'virtual_key', id, orgId: existing.org_id, ownerUserId: existing.owner_user_id }, hideAs: keyNotFound(id) },
    async (tx) => {
      // Idempotent: revoking again keeps the first revocation time but republishes to KV.
      const [updated] = await tx
        .update(virtualKeys)
        .set({ revoked_at: sql`coalesce(${virtualKeys.revoked_at}, now())`, version: sql`${virtualKeys.version} + 1` })
        .where(eq(virtualKeys.id, id))
        .returning();
      return { result: updated! };
    },
  );
  // A limited key is checked in its counters on every request: revoked there, it stops at once.
  const countersOk = await revokeInCounters(ctx.env, id, ctx.meta.requestId);
  if (!(await publishToEdge(`vk:${id}`, ctx.meta.requestId, () => syncVirtualKey(ctx.env.ROUTERO_KV, row, ctx.db)))) {
    throw kvFailure('Revoked in the database, but the edge was not updated yet; retry the revoke or run kv:rebuild.');
  }
  if (!countersOk) throw kvFailure('Revoked in the database and KV, but not yet in its limit counters; it stops within 30 s. Retry the revoke to make it immediate.');
  return publicVirtualKey(row);
}

/**
 * Rotation with a grace period: a new secret for the same key (same id, scopes, limits, owner and
 * usage history), returned this once. The replaced secret keeps working for `graceSeconds` (0: it
 * is refused at once), then the gateway refuses it. Rotating again during a grace period replaces
 * the older secret at once: only the secret in use just before the rotation gets the grace.
 * Authorized like revocation (policies/matrix.ts `virtual_key.rotate`), audited as
 * `virtual_key.rotate`.
 */
export async function rotateVirtualKey(ctx: ActionContext, id: string, graceSeconds: number) {
  const [existing] = await ctx.db.select().from(virtualKeys).where(eq(virtualKeys.id, id)).limit(1);
  if (!existing) throw keyNotFound(id);
  // Same id (it names the KV record, the usage history and the audit trail), new secret.
  const { secret } = newVirtualKey();
  const key = `${VIRTUAL_KEY_PREFIX}${id}_${secret}`;
  const secretHash = await bcrypt.hash(secret, BCRYPT_COST);
  const row = await change(
    ctx,
    { action: 'virtual_key.rotate', cerbosAction: 'rotate', resource: { kind: 'virtual_key', id, orgId: existing.org_id, ownerUserId: existing.owner_user_id }, hideAs: keyNotFound(id) },
    async (tx) => {
      // Read again under the row lock: a concurrent rotation or revocation is seen, not overwritten.
      const [current] = await tx.select().from(virtualKeys).where(eq(virtualKeys.id, id)).for('update');
      const status = keyStatus(current!);
      if (status !== 'active') {
        throw new GatewayError('invalid_request', `Virtual key ${id} is ${status}; only an active key can be rotated.`, { code: `key_${status}` });
      }
      const graceUntil = graceSeconds > 0 ? sql`now() + make_interval(secs => ${graceSeconds})` : null;
      const [updated] = await tx
        .update(virtualKeys)
        .set({
          secret_hash: secretHash,
          previous_secret_hash: graceSeconds > 0 ? current!.secret_hash : null,
          previous_secret_expires_at: graceUntil,
          rotated_at: sql`now()`,
          version: sql`${virtualKeys.version} + 1`,
        })
        .where(eq(virtualKeys.id, id))
        .returning();
      return { result: updated! };
    },
  );
  // The new secret is committed: it is returned even if the edge write failed (it is then refused
  // at the edge, fail closed, until kv:rebuild publishes it — as for a new key), because failing
  // here would lose the only copy of it.
  const published = await publishToEdge(`vk:${id}`, ctx.meta.requestId, () => syncVirtualKey(ctx.env.ROUTERO_KV, row));
  return {
    ...publicVirtualKey(row),
    key,
    grace_seconds: graceSeconds,
    ...(published ? {} : { warning: 'The edge was not updated yet: the new key is refused until `npm run kv:rebuild` publishes it.' }),
  };
}

// ── maintenance ──

export function rebuildKvAction(ctx: ActionContext) {
  return change(ctx, { action: 'system.rebuild_kv', cerbosAction: 'rebuild_kv', resource: { kind: 'system', id: 'kv' } }, async (tx) => ({
    result: { id: 'kv', ...(await rebuildKv(ctx.env.ROUTERO_KV, tx)) },
  }));
}

/**
 * Re-encrypts every provider key (and SSO client secret) under the active (highest) KEK. Add the new KEK to ROUTERO_KEKS
 * on both Workers, run this, then remove the old KEK.
 */
export async function reencryptProviderKeys(ctx: ActionContext) {
  const result = await change(ctx, { action: 'system.reencrypt_provider_keys', cerbosAction: 'reencrypt', resource: { kind: 'system', id: 'provider_keys' } }, async (tx) => {
    const ring = await activeKeyRing(ctx.env);
    const rows = await tx.select().from(providerKeys).where(isNull(providerKeys.deleted_at));
    let reencrypted = 0;
    for (const row of rows) {
      if (row.kek_version === ring.active) continue;
      const binding = { recordId: row.id, orgId: row.org_id, provider: row.provider };
      const sealed = await sealSecret(ring, binding, await openSecret(ring, binding, row));
      await tx.update(providerKeys).set(sealed).where(eq(providerKeys.id, row.id));
      reencrypted++;
    }
    // SSO client secrets are sealed with the same KEKs: re-seal them too, or dropping the old KEK would break SSO.
    const sso_client_secrets = await reencryptSsoSecrets(tx, ring);
    return { result: { id: 'provider_keys', active_kek_version: ring.active, reencrypted, total: rows.length, sso_client_secrets } };
  });
  const kv = await rebuildKv(ctx.env.ROUTERO_KV, ctx.db);
  return { ...result, kv };
}
