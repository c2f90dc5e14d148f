/**
 * Admin API tokens (issue "Identity I"): create (the token is shown once), list (never a hash),
 * revoke. Each change is one Cerbos decision and commits with its audit row (./change.ts).
 */
import { and, desc, eq, sql } from 'drizzle-orm';
import type { z } from 'zod';
import { sha256Hex } from '../../lib/crypto/encoding';
import { GatewayError } from '../../lib/errors';
import { newApiToken, roleCovers, type ApiTokenRow } from '../auth/api-tokens';
import { planFilter } from '../auth/plan';
import { apiTokens, orgMemberships, orgs } from '../db/schema';
import type { createApiTokenSchema } from '../schemas';
import { keyStatus } from '../actions';
import { change, type ActionContext } from './change';

export function publicApiToken(row: ApiTokenRow) {
  return {
    id: row.id,
    org_id: row.org_id,
    name: row.name,
    role: row.role,
    created_by: row.created_by,
    created_by_user_id: row.created_by_user_id,
    expires_at: row.expires_at,
    revoked_at: row.revoked_at,
    last_used_at: row.last_used_at,
    status: keyStatus(row),
    created_at: row.created_at,
  };
}

const tokenNotFound = (id: string) => new GatewayError('not_found', `API token ${id} does not exist.`);

/** Who the creator is, from the principal: a person (user id) or the master key / another token. */
function creatorOf(ctx: ActionContext): { userId: string | null; actor: string } {
  const userId = typeof ctx.principal.attr.user_id === 'string' && ctx.principal.attr.user_id ? ctx.principal.attr.user_id : null;
  return { userId, actor: ctx.principal.id };
}

export async function createApiToken(ctx: ActionContext, input: z.infer<typeof createApiTokenSchema>) {
  const creator = creatorOf(ctx);
  const { id, secret, token } = newApiToken();
  const secretHash = await sha256Hex(secret);
  const row = await change(ctx, { action: 'api_token.create', cerbosAction: 'create', resource: { kind: 'api_token', orgId: input.org_id } }, async (tx) => {
    const [org] = await tx.select({ id: orgs.id }).from(orgs).where(eq(orgs.id, input.org_id)).limit(1);
    if (!org) throw new GatewayError('not_found', `Organisation ${input.org_id} does not exist.`, { param: 'org_id' });
    // A token never holds more than its creator: the policy let them create tokens in this org;
    // their own role there must also cover the role they hand out (platform admins cover all).
    if (creator.userId && ctx.principal.roles.includes('platform_admin') === false) {
      const [m] = await tx
        .select({ role: orgMemberships.role })
        .from(orgMemberships)
        .where(and(eq(orgMemberships.user_id, creator.userId), eq(orgMemberships.org_id, input.org_id)))
        .limit(1);
      if (!m || !roleCovers(m.role, input.role)) {
        throw new GatewayError('permission', `You may not create a token with the role ${input.role}: it would hold more than you do.`, { param: 'role' });
      }
    }
    // A token creating a token: the new one may not outrank the one that made it.
    if (ctx.principal.attr.login_method === 'api_token') {
      const held = (['org_admin', 'developer', 'auditor'] as const).find((r) => {
        const list = ctx.principal.attr[`${r}_of`];
        return Array.isArray(list) && list.includes(input.org_id);
      });
      if (!held || !roleCovers(held, input.role)) {
        throw new GatewayError('permission', `You may not create a token with the role ${input.role}: it would hold more than you do.`, { param: 'role' });
      }
    }
    const [created] = await tx
      .insert(apiTokens)
      .values({
        id,
        org_id: input.org_id,
        name: input.name,
        role: input.role,
        secret_sha256: secretHash,
        created_by_user_id: creator.userId,
        created_by: creator.actor,
        expires_at: input.expires_at ? new Date(input.expires_at) : null,
      })
      .returning();
    return { result: created!, targetId: id };
  });
  return { ...publicApiToken(row), token };
}

export async function listApiTokens(ctx: ActionContext, orgId?: string) {
  const allowed = await planFilter(ctx, 'api_token', 'list', { org_id: apiTokens.org_id });
  const rows = await ctx.db
    .select()
    .from(apiTokens)
    .where(and(allowed, orgId ? eq(apiTokens.org_id, orgId) : undefined))
    .orderBy(desc(apiTokens.created_at));
  return rows.map(publicApiToken);
}

export async function revokeApiToken(ctx: ActionContext, id: string) {
  const [existing] = await ctx.db.select().from(apiTokens).where(eq(apiTokens.id, id)).limit(1);
  if (!existing) throw tokenNotFound(id);
  const row = await change(
    ctx,
    { action: 'api_token.revoke', cerbosAction: 'revoke', resource: { kind: 'api_token', id, orgId: existing.org_id }, hideAs: tokenNotFound(id) },
    async (tx) => {
      const [updated] = await tx
        .update(apiTokens)
        .set({ revoked_at: sql`coalesce(${apiTokens.revoked_at}, now())` })
        .where(eq(apiTokens.id, id))
        .returning();
      return { result: updated! };
    },
  );
  return publicApiToken(row);
}
