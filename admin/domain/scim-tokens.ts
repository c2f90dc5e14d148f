/**
 * SCIM bearer tokens (issue 9): an org_admin creates one per identity provider (the token is shown
 * once), lists them with when each was last used, and revokes them. Each change is one Cerbos
 * decision and commits with its audit row (./change.ts).
 */
import { and, desc, eq, sql } from 'drizzle-orm';
import { z } from 'zod';
import { sha256Hex } from '../../lib/crypto/encoding';
import { GatewayError } from '../../lib/errors';
import { planFilter } from '../auth/plan';
import { orgs, scimTokens } from '../db/schema';
import { newScimToken, type ScimTokenRow } from '../scim/tokens';
import { authorize, change, type ActionContext } from './change';

export const createScimTokenSchema = z.strictObject({
  name: z
    .string({ error: 'is required' })
    .max(200, 'must be at most 200 characters')
    .transform((v) => v.trim())
    .pipe(z.string().min(1, 'must not be empty')),
});

export const scimTokenIdField = z.string().regex(/^[a-z2-7]{16}$/, 'must be a SCIM token id (16 characters a–z, 2–7)');

export function publicScimToken(row: ScimTokenRow) {
  return {
    id: row.id,
    org_id: row.org_id,
    name: row.name,
    created_by: row.created_by,
    created_by_user_id: row.created_by_user_id,
    revoked_at: row.revoked_at,
    last_used_at: row.last_used_at,
    status: row.revoked_at ? 'revoked' : 'active',
    created_at: row.created_at,
  };
}

const tokenNotFound = (id: string) => new GatewayError('not_found', `SCIM token ${id} does not exist.`);

export async function createScimToken(ctx: ActionContext, orgId: string, input: z.infer<typeof createScimTokenSchema>) {
  const userId = typeof ctx.principal.attr.user_id === 'string' && ctx.principal.attr.user_id ? ctx.principal.attr.user_id : null;
  const { id, secret, token } = newScimToken();
  const secretHash = await sha256Hex(secret);
  const row = await change(ctx, { action: 'scim_token.create', cerbosAction: 'create', resource: { kind: 'scim_token', orgId } }, async (tx) => {
    const [org] = await tx.select({ id: orgs.id }).from(orgs).where(eq(orgs.id, orgId)).limit(1);
    if (!org) throw new GatewayError('not_found', `Organisation ${orgId} does not exist.`, { param: 'org_id' });
    const [created] = await tx
      .insert(scimTokens)
      .values({ id, org_id: orgId, name: input.name, secret_sha256: secretHash, created_by_user_id: userId, created_by: ctx.principal.id })
      .returning();
    return { result: created!, targetId: id };
  });
  return { ...publicScimToken(row), token };
}

/** One organisation's tokens (a 403 if the caller may not list there), or every token the caller may see. */
export async function listScimTokens(ctx: ActionContext, orgId?: string) {
  if (orgId) await authorize(ctx, { kind: 'scim_token', orgId }, 'list');
  const allowed = await planFilter(ctx, 'scim_token', 'list', { org_id: scimTokens.org_id });
  const rows = await ctx.db
    .select()
    .from(scimTokens)
    .where(and(allowed, orgId ? eq(scimTokens.org_id, orgId) : undefined))
    .orderBy(desc(scimTokens.created_at));
  return rows.map(publicScimToken);
}

export async function revokeScimToken(ctx: ActionContext, orgId: string, id: string) {
  const [existing] = await ctx.db
    .select()
    .from(scimTokens)
    .where(and(eq(scimTokens.id, id), eq(scimTokens.org_id, orgId)))
    .limit(1);
  const row = await change(
    ctx,
    { action: 'scim_token.revoke', cerbosAction: 'revoke', resource: { kind: 'scim_token', id, orgId }, hideAs: tokenNotFound(id) },
    async (tx) => {
      if (!existing) throw tokenNotFound(id);
      const [updated] = await tx
        .update(scimTokens)
        .set({ revoked_at: sql`coalesce(${scimTokens.revoked_at}, now())` })
        .where(eq(scimTokens.id, id))
        .returning();
      return { result: updated! };
    },
  );
  return publicScimToken(row);
}
