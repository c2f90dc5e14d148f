/**
 * Routes: virtual models `route/<name>` with ordered (`fallback`) or weighted targets (issue 10).
 * An org admin manages them; each change is one Cerbos decision and one audit row in the same
 * transaction, then the route is published to KV (`rt:<org id>:<name>`) for the gateway.
 */
import { and, asc, eq, isNull } from 'drizzle-orm';
import type { z } from 'zod';
import { GatewayError } from '../../lib/errors';
import { kvKeys, type RouteRecord } from '../../lib/kv/records';
import { modelAllowed } from '../../lib/models';
import type { DbTransaction } from '../db/client';
import { orgs, providerKeys, routes } from '../db/schema';
import { planFilter } from '../auth/plan';
import { authorizeOrHide, change, publishToEdge, type ActionContext } from './change';
import type { createRouteSchema, updateRouteSchema } from '../schemas';

type RouteRow = typeof routes.$inferSelect;
type TargetInput = z.infer<typeof createRouteSchema>['targets'][number];

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const routeNotFound = (id: string) => new GatewayError('not_found', `Route ${id} does not exist.`);

export function publicRoute(row: RouteRow) {
  return {
    id: row.id,
    org_id: row.org_id,
    name: row.name,
    /** What clients send as `model`. */
    model: `route/${row.name}`,
    strategy: row.strategy,
    targets: row.targets,
    max_attempts: row.max_attempts,
    timeout_ms: row.timeout_ms,
    created_at: row.created_at,
    updated_at: row.updated_at,
  };
}

export function toRouteRecord(row: RouteRow): RouteRecord {
  return {
    id: row.id,
    org_id: row.org_id,
    name: row.name,
    strategy: row.strategy,
    targets: row.targets,
    max_attempts: row.max_attempts,
    timeout_ms: row.timeout_ms,
  };
}

export async function syncRoute(kv: KVNamespace, row: RouteRow, deleted = false): Promise<void> {
  const key = kvKeys.route(row.org_id, row.name);
  if (deleted) await kv.delete(key);
  else await kv.put(key, JSON.stringify(toRouteRecord(row)));
}

/**
 * Targets as stored: weights default to 1, and each pinned provider key must be a live key of the
 * route's organisation for the target's provider (checked in the change's transaction).
 */
async function checkedTargets(tx: DbTransaction, orgId: string, targets: TargetInput[]) {
  const out: RouteRow['targets'] = [];
  // A route reaches only models the organisation allows (keys are scoped within that list too).
  const [org] = await tx.select({ allowed: orgs.allowed_models }).from(orgs).where(eq(orgs.id, orgId)).limit(1);
  if (!org) throw new GatewayError('not_found', `Organisation ${orgId} does not exist.`, { param: 'org_id' });
  for (const [i, t] of targets.entries()) {
    if (!modelAllowed(t.model, org.allowed)) {
      throw new GatewayError('invalid_request', `targets.${i}.model: "${t.model}" is outside what the organisation allows (${org.allowed.join(', ')}).`, {
        param: `targets.${i}.model`,
      });
    }
    const provider = t.model.slice(0, t.model.indexOf('/'));
    const keyId = t.provider_key_id ?? null;
    if (keyId !== null) {
      const [pk] = await tx
        .select({ provider: providerKeys.provider })
        .from(providerKeys)
        .where(and(eq(providerKeys.id, keyId), eq(providerKeys.org_id, orgId), isNull(providerKeys.deleted_at)))
        .limit(1);
      if (!pk || pk.provider !== provider) {
        throw new GatewayError('invalid_request', `targets.${i}.provider_key_id: must be a ${provider} provider key of this organisation.`, {
          param: `targets.${i}.provider_key_id`,
        });
      }
    }
    out.push({ model: t.model, provider_key_id: keyId, weight: t.weight ?? 1 });
  }
  return out;
}

function publish(ctx: ActionContext, row: RouteRow, deleted = false): Promise<boolean> {
  return publishToEdge(kvKeys.route(row.org_id, row.name), ctx.meta.requestId, () => syncRoute(ctx.env.ROUTERO_KV, row, deleted));
}

const kvFailure = (message: string) => new GatewayError('unavailable', message, { reason: 'KV write failed after retries' });

export async function createRoute(ctx: ActionContext, input: z.infer<typeof createRouteSchema>) {
  const row = await change(ctx, { action: 'route.create', cerbosAction: 'create', resource: { kind: 'route', orgId: input.org_id } }, async (tx) => {
    const targets = await checkedTargets(tx, input.org_id, input.targets);
    const [existing] = await tx.select({ id: routes.id }).from(routes).where(and(eq(routes.org_id, input.org_id), eq(routes.name, input.name))).limit(1);
    if (existing) throw new GatewayError('invalid_request', `A route named '${input.name}' already exists in this organisation.`, { param: 'name', status: 409 });
    const id = crypto.randomUUID();
    const [created] = await tx
      .insert(routes)
      .values({
        id,
        org_id: input.org_id,
        name: input.name,
        strategy: input.strategy,
        targets,
        max_attempts: input.max_attempts ?? targets.length,
        timeout_ms: input.timeout_ms ?? null,
      })
      .returning();
    return { result: created!, targetId: id };
  });
  await publish(ctx, row);
  return publicRoute(row);
}

export async function listRoutes(ctx: ActionContext, orgId?: string) {
  const allowed = await planFilter(ctx, 'route', 'list', { org_id: routes.org_id });
  const rows = await ctx.db.select().from(routes).where(and(allowed, orgId ? eq(routes.org_id, orgId) : undefined)).orderBy(asc(routes.name));
  return rows.map(publicRoute);
}

async function findRow(ctx: ActionContext, id: string): Promise<RouteRow> {
  const [row] = UUID_RE.test(id) ? await ctx.db.select().from(routes).where(eq(routes.id, id)).limit(1) : [];
  if (!row) throw routeNotFound(id);
  return row;
}

export async function findRoute(ctx: ActionContext, id: string) {
  const row = await findRow(ctx, id);
  await authorizeOrHide(ctx, { kind: 'route', id: row.id, orgId: row.org_id }, 'read', routeNotFound(id));
  return publicRoute(row);
}

export async function updateRoute(ctx: ActionContext, id: string, input: z.infer<typeof updateRouteSchema>) {
  const existing = await findRow(ctx, id);
  const row = await change(
    ctx,
    { action: 'route.update', cerbosAction: 'update', resource: { kind: 'route', id, orgId: existing.org_id }, hideAs: routeNotFound(id) },
    async (tx) => {
      const targets = input.targets ? await checkedTargets(tx, existing.org_id, input.targets) : undefined;
      const [updated] = await tx
        .update(routes)
        .set({
          ...(input.strategy ? { strategy: input.strategy } : {}),
          ...(targets ? { targets } : {}),
          ...(input.max_attempts !== undefined ? { max_attempts: input.max_attempts } : {}),
          ...(input.timeout_ms !== undefined ? { timeout_ms: input.timeout_ms } : {}),
          updated_at: new Date(),
        })
        .where(eq(routes.id, id))
        .returning();
      return { result: updated! };
    },
  );
  if (!(await publish(ctx, row))) throw kvFailure('Updated in the database, but the edge was not updated yet; retry or run kv:rebuild.');
  return publicRoute(row);
}

export async function deleteRoute(ctx: ActionContext, id: string) {
  const existing = await findRow(ctx, id);
  await change(ctx, { action: 'route.delete', cerbosAction: 'delete', resource: { kind: 'route', id, orgId: existing.org_id }, hideAs: routeNotFound(id) }, async (tx) => {
    await tx.delete(routes).where(eq(routes.id, id));
    return { result: null };
  });
  if (!(await publish(ctx, existing, true))) throw kvFailure('Deleted in the database, but the edge was not updated yet; retry or run kv:rebuild.');
  return { ...publicRoute(existing), deleted: true };
}
