/**
 * The management actions, shared by the JSON API and the UI. Each change is authorized by Cerbos
 * and written to the admin audit log with its outcome: allowed, denied (Cerbos said no) or failed.
 */
import bcrypt from 'bcryptjs';
import { and, desc, eq, isNull, sql } from 'drizzle-orm';
import type { z } from 'zod';
import { CerbosClient, PolicyUnavailableError, type Principal } from '../lib/authz/cerbos';
import { loadKeyRing, openSecret, sealSecret } from '../lib/crypto/aes-gcm';
import { newVirtualKey } from '../lib/crypto/virtual-key';
import type { Database } from './db/client';
import { orgs, providerKeys, virtualKeys } from './db/schema';
import { GatewayError } from '../lib/errors';
import { appendAdminAction, type Outcome } from './audit-log';
import type { AdminEnv } from './env';
import { rebuildKv, syncProviderKeys, syncVirtualKey } from './kv-sync';
import type { createKeySchema, createOrgSchema, createProviderKeySchema } from './schemas';

/** bcrypt cost: ~60–100 ms per hash; the gateway pays it once per key per isolate per TTL. */
export const BCRYPT_COST = 10;

export interface RequestMeta {
  requestId: string;
  clientIp: string | null;
  userAgent: string | null;
}

export interface ActionContext {
  db: Database;
  env: AdminEnv;
  principal: Principal;
  cerbos: CerbosClient;
  meta: RequestMeta;
}

type ProviderKeyRow = typeof providerKeys.$inferSelect;
type VirtualKeyRow = typeof virtualKeys.$inferSelect;

export function keyStatus(row: VirtualKeyRow, now = Date.now()): 'active' | 'revoked' | 'expired' {
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
    created_at: row.created_at,
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

export async function recordAction(
  ctx: ActionContext,
  action: string,
  outcome: Outcome,
  target: { type: string | null; id: string | null },
): Promise<void> {
  await appendAdminAction(ctx.db, {
    actor: ctx.principal.id,
    login_method: String(ctx.principal.attr.login_method ?? 'unknown'),
    action,
    target_type: target.type,
    target_id: target.id,
    outcome,
    client_ip: ctx.meta.clientIp,
    user_agent: ctx.meta.userAgent,
    request_id: ctx.meta.requestId,
  });
}

/** A Cerbos check; Cerbos down is a 503, never an allow. */
export async function authorize(
  ctx: Pick<ActionContext, 'cerbos' | 'principal'>,
  kind: string,
  action: string,
  resource: { id?: string; attr?: Record<string, string> } = {},
): Promise<void> {
  let allowed: boolean;
  try {
    allowed = await ctx.cerbos.isAllowed(ctx.principal, { kind, id: resource.id ?? '*', attr: resource.attr ?? {} }, action);
  } catch (e) {
    if (e instanceof PolicyUnavailableError) {
      throw new GatewayError('unavailable', 'The policy service is unavailable; try again shortly.', { reason: e.message });
    }
    throw e;
  }
  if (!allowed) {
    throw new GatewayError('permission', `You may not ${action} ${kind} resources.`, {
      reason: `cerbos denied ${action} on ${kind} for ${ctx.principal.id}`,
    });
  }
}

/**
 * Runs one change: authorize, do it, record the outcome. `targetId` may come from the result
 * (a created record's id).
 */
async function change<T extends { id: string }>(
  ctx: ActionContext,
  spec: { action: string; kind: string; cerbosAction: string; targetId?: string; attr?: Record<string, string> },
  fn: () => Promise<T>,
): Promise<T> {
  const target = { type: spec.kind, id: spec.targetId ?? null };
  try {
    await authorize(ctx, spec.kind, spec.cerbosAction, { id: spec.targetId, attr: spec.attr });
  } catch (e) {
    await recordAction(ctx, spec.action, e instanceof GatewayError && e.kind === 'permission' ? 'denied' : 'failed', target);
    throw e;
  }
  let result: T;
  try {
    result = await fn();
  } catch (e) {
    await recordAction(ctx, spec.action, 'failed', target).catch(() => undefined);
    throw e;
  }
  await recordAction(ctx, spec.action, 'allowed', { type: spec.kind, id: spec.targetId ?? result.id });
  return result;
}

async function requireOrg(db: Database, orgId: string): Promise<void> {
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

function kvFailure(message: string, e: unknown): GatewayError {
  return new GatewayError('unavailable', message, { reason: e instanceof Error ? e.message : 'KV write failed' });
}

// ── organisations ──

export function createOrg(ctx: ActionContext, input: z.infer<typeof createOrgSchema>) {
  return change(ctx, { action: 'org.create', kind: 'org', cerbosAction: 'create' }, async () => {
    const [row] = await ctx.db.insert(orgs).values({ id: crypto.randomUUID(), name: input.name }).returning();
    return row!;
  });
}

export async function listOrgs(ctx: ActionContext) {
  await authorize(ctx, 'org', 'list');
  return ctx.db.select().from(orgs).orderBy(orgs.created_at);
}

// ── provider keys ──

export function createProviderKey(ctx: ActionContext, input: z.infer<ReturnType<typeof createProviderKeySchema>>) {
  return change(ctx, { action: 'provider_key.create', kind: 'provider_key', cerbosAction: 'create', attr: { org_id: input.org_id } }, async () => {
    await requireOrg(ctx.db, input.org_id);
    const ring = await activeKeyRing(ctx.env);
    const id = crypto.randomUUID();
    const sealed = await sealSecret(ring, { recordId: id, orgId: input.org_id, provider: input.provider }, input.secret);
    const [row] = await ctx.db
      .insert(providerKeys)
      .values({ id, org_id: input.org_id, provider: input.provider, name: input.name, base_url: input.base_url ?? null, ...sealed, last4: input.secret.slice(-4) })
      .returning();
    try {
      await syncProviderKeys(ctx.env.ROUTERO_KV, ctx.db, input.org_id, input.provider);
    } catch (e) {
      // Nothing half-written: without its KV entry the key would be stored but unusable.
      await ctx.db.delete(providerKeys).where(eq(providerKeys.id, id));
      throw kvFailure('The provider key could not be published to the edge; nothing was saved.', e);
    }
    return publicProviderKey(row!);
  });
}

export async function listProviderKeys(ctx: ActionContext, orgId?: string) {
  await authorize(ctx, 'provider_key', 'list', { attr: orgId ? { org_id: orgId } : {} });
  const where = orgId ? and(eq(providerKeys.org_id, orgId), isNull(providerKeys.deleted_at)) : isNull(providerKeys.deleted_at);
  const rows = await ctx.db.select().from(providerKeys).where(where).orderBy(desc(providerKeys.created_at));
  return rows.map(publicProviderKey);
}

export async function deleteProviderKey(ctx: ActionContext, id: string) {
  const valid = /^[0-9a-f-]{36}$/i.test(id);
  const [row] = valid ? await ctx.db.select().from(providerKeys).where(and(eq(providerKeys.id, id), isNull(providerKeys.deleted_at))) : [];
  if (!row) throw new GatewayError('not_found', `Provider key ${id} does not exist.`);
  return change(ctx, { action: 'provider_key.delete', kind: 'provider_key', cerbosAction: 'delete', targetId: id, attr: { org_id: row.org_id } }, async () => {
    await ctx.db.update(providerKeys).set({ deleted_at: new Date() }).where(eq(providerKeys.id, id));
    try {
      await syncProviderKeys(ctx.env.ROUTERO_KV, ctx.db, row.org_id, row.provider);
    } catch (e) {
      throw kvFailure('Deleted in the database, but the edge was not updated yet; run kv:rebuild.', e);
    }
    return { ...publicProviderKey(row), deleted: true };
  });
}

// ── virtual keys ──

export function createVirtualKey(ctx: ActionContext, input: z.infer<typeof createKeySchema>) {
  return change(ctx, { action: 'virtual_key.create', kind: 'virtual_key', cerbosAction: 'create', attr: { org_id: input.org_id } }, async () => {
    await requireOrg(ctx.db, input.org_id);
    const { id, secret, key } = newVirtualKey();
    const [row] = await ctx.db
      .insert(virtualKeys)
      .values({
        id,
        org_id: input.org_id,
        name: input.name,
        secret_hash: await bcrypt.hash(secret, BCRYPT_COST),
        models: input.models ?? ['*'],
        cidrs: input.cidrs ?? [],
        expires_at: input.expires_at ? new Date(input.expires_at) : null,
      })
      .returning();
    try {
      await syncVirtualKey(ctx.env.ROUTERO_KV, row!);
    } catch (e) {
      await ctx.db.delete(virtualKeys).where(eq(virtualKeys.id, id));
      throw kvFailure('The key could not be published to the edge; nothing was saved.', e);
    }
    return { ...publicVirtualKey(row!), key };
  });
}

export async function findVirtualKey(ctx: ActionContext, id: string) {
  const [row] = await ctx.db.select().from(virtualKeys).where(eq(virtualKeys.id, id)).limit(1);
  if (!row) throw new GatewayError('not_found', `Virtual key ${id} does not exist.`);
  await authorize(ctx, 'virtual_key', 'read', { id: row.id, attr: { org_id: row.org_id } });
  return publicVirtualKey(row);
}

export async function listVirtualKeys(ctx: ActionContext, orgId?: string) {
  await authorize(ctx, 'virtual_key', 'list', { attr: orgId ? { org_id: orgId } : {} });
  const query = ctx.db.select().from(virtualKeys);
  const rows = await (orgId ? query.where(eq(virtualKeys.org_id, orgId)) : query).orderBy(desc(virtualKeys.created_at));
  return rows.map(publicVirtualKey);
}

export async function revokeVirtualKey(ctx: ActionContext, id: string) {
  const [existing] = await ctx.db.select().from(virtualKeys).where(eq(virtualKeys.id, id)).limit(1);
  if (!existing) throw new GatewayError('not_found', `Virtual key ${id} does not exist.`);
  return change(ctx, { action: 'virtual_key.revoke', kind: 'virtual_key', cerbosAction: 'revoke', targetId: id, attr: { org_id: existing.org_id } }, async () => {
    // Idempotent: revoking again keeps the first revocation time but republishes to KV.
    const [row] = await ctx.db
      .update(virtualKeys)
      .set({ revoked_at: sql`coalesce(${virtualKeys.revoked_at}, now())`, version: sql`${virtualKeys.version} + 1` })
      .where(eq(virtualKeys.id, id))
      .returning();
    try {
      await syncVirtualKey(ctx.env.ROUTERO_KV, row!);
    } catch (e) {
      throw kvFailure('Revoked in the database, but the edge was not updated yet; retry the revoke.', e);
    }
    return publicVirtualKey(row!);
  });
}

// ── maintenance ──

export function rebuildKvAction(ctx: ActionContext) {
  return change(ctx, { action: 'system.rebuild_kv', kind: 'system', cerbosAction: 'rebuild_kv', targetId: 'kv' }, async () => ({
    id: 'kv',
    ...(await rebuildKv(ctx.env.ROUTERO_KV, ctx.db)),
  }));
}

/**
 * Re-encrypts every provider key under the active (highest) KEK. Add the new KEK to ROUTERO_KEKS
 * on both Workers, run this, then remove the old KEK.
 */
export function reencryptProviderKeys(ctx: ActionContext) {
  return change(ctx, { action: 'system.reencrypt_provider_keys', kind: 'system', cerbosAction: 'reencrypt', targetId: 'provider_keys' }, async () => {
    const ring = await activeKeyRing(ctx.env);
    const rows = await ctx.db.select().from(providerKeys).where(isNull(providerKeys.deleted_at));
    let reencrypted = 0;
    for (const row of rows) {
      if (row.kek_version === ring.active) continue;
      const binding = { recordId: row.id, orgId: row.org_id, provider: row.provider };
      const sealed = await sealSecret(ring, binding, await openSecret(ring, binding, row));
      await ctx.db.update(providerKeys).set(sealed).where(eq(providerKeys.id, row.id));
      reencrypted++;
    }
    const kv = await rebuildKv(ctx.env.ROUTERO_KV, ctx.db);
    return { id: 'provider_keys', active_kek_version: ring.active, reencrypted, total: rows.length, kv };
  });
}
