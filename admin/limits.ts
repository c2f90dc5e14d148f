/**
 * The admin Worker's side of limits and budgets (DESIGN §8, decision 0016): setting limits on keys,
 * users and organisations (each change audited, then every affected key's KV record rewritten),
 * revoking a limited key in its counters at once, publishing the price table the gateway estimates
 * costs with, and settling the consumer's priced events into the counters.
 */
import { calcPrice } from '@pydantic/genai-prices';
import { eq } from 'drizzle-orm';
import type { z } from 'zod';
import { GatewayError } from '../lib/errors';
import { virtualKeyRecordSchema, kvKeys } from '../lib/kv/records';
import {
  DEFAULT_ALERT_THRESHOLDS,
  PRICES_KV_KEY,
  priceTableSchema,
  subjectName,
  type AlertCrossing,
  type LimitCounterRpc,
  type LimitedSubject,
  type Limits,
  type PriceTable,
} from '../lib/limits';
import { log } from '../lib/log';
import { parseModelName } from '../lib/models';
import type { Queryable } from './db/client';
import { orgs, users, virtualKeys } from './db/schema';
import { change, publishToEdge, type ActionContext } from './domain/change';
import type { AdminEnv } from './env';
import { syncKeysOf, syncVirtualKey } from './kv-sync';
import type { limitsField } from './schemas';

type LimitsInput = z.infer<typeof limitsField>;

/** Stored form: only the fields set; `null` when none is. */
export function storedLimits(input: LimitsInput | undefined): Limits | null {
  if (!input) return null;
  const out: Limits = {};
  if (input.rpm !== undefined) out.rpm = input.rpm;
  if (input.tpm !== undefined) out.tpm = input.tpm;
  if (input.concurrency !== undefined) out.concurrency = input.concurrency;
  if (input.budget_usd !== undefined) {
    out.budget_usd = input.budget_usd;
    out.budget_period = input.budget_period ?? 'month';
  }
  return Object.keys(out).length > 0 ? out : null;
}

function counter(env: AdminEnv, kind: LimitedSubject['kind'], id: string): LimitCounterRpc | null {
  if (!env.LIMITS) return null;
  return env.LIMITS.get(env.LIMITS.idFromName(subjectName(kind, id))) as unknown as LimitCounterRpc;
}

/**
 * Marks a revoked key in every counter its requests go through, so the revocation takes effect on
 * the next request (a limited key is checked there on every request; KV and the gateway's key cache
 * take up to 30 s more). Returns false when a counter could not be reached (logged).
 */
export async function revokeInCounters(env: AdminEnv, keyId: string, requestId: string): Promise<boolean> {
  const record = virtualKeyRecordSchema.safeParse(await env.ROUTERO_KV.get(kvKeys.virtualKey(keyId), 'json'));
  const subjects = record.success ? (record.data.limits ?? []) : [];
  let ok = true;
  for (const s of subjects) {
    try {
      await counter(env, s.kind, s.id)?.revokeKey(keyId);
    } catch (e) {
      ok = false;
      log('error', 'revocation not recorded in a limit counter; the key stops within the key cache TTL', {
        request_id: requestId,
        key_id: keyId,
        subject: `${s.kind}:${s.id}`,
        reason: e instanceof Error ? e.message : String(e),
      });
    }
  }
  return ok;
}

const keyNotFound = (id: string) => new GatewayError('not_found', `Virtual key ${id} does not exist.`);

/** PATCH /keys/:id — the key's own limits. */
export async function updateKeyLimits(ctx: ActionContext, id: string, input: LimitsInput) {
  const [existing] = await ctx.db.select().from(virtualKeys).where(eq(virtualKeys.id, id)).limit(1);
  if (!existing) throw keyNotFound(id);
  const row = await change(
    ctx,
    {
      action: 'virtual_key.set_limits',
      cerbosAction: 'set_limits',
      resource: { kind: 'virtual_key', id, orgId: existing.org_id, ownerUserId: existing.owner_user_id },
      hideAs: keyNotFound(id),
    },
    async (tx) => {
      const [updated] = await tx.update(virtualKeys).set({ limits: storedLimits(input) }).where(eq(virtualKeys.id, id)).returning();
      return { result: updated! };
    },
  );
  await publishLimitsToEdge(ctx, () => syncVirtualKey(ctx.env.ROUTERO_KV, row, ctx.db), `vk:${id}`);
  return row;
}

/** PATCH /users/:id — limits on all of a person's keys together. */
export async function updateUserLimits(ctx: ActionContext, userId: string, input: LimitsInput, orgIds: string[]) {
  const notFound = new GatewayError('not_found', `User ${userId} does not exist.`);
  const row = await change(
    ctx,
    { action: 'user.set_limits', cerbosAction: 'set_limits', resource: { kind: 'user', id: userId, attr: { org_ids: orgIds } }, hideAs: notFound },
    async (tx) => {
      const [updated] = await tx.update(users).set({ limits: storedLimits(input) }).where(eq(users.id, userId)).returning();
      if (!updated) throw notFound;
      return { result: updated };
    },
  );
  await publishLimitsToEdge(ctx, () => syncKeysOf(ctx.env.ROUTERO_KV, ctx.db, { userId }).then(() => undefined), `keys of user ${userId}`);
  return row;
}

/** After an organisation's limits change: every key of it gets the new subjects. */
export async function syncOrgKeys(ctx: ActionContext, orgId: string): Promise<void> {
  await publishLimitsToEdge(ctx, () => syncKeysOf(ctx.env.ROUTERO_KV, ctx.db, { orgId }).then(() => undefined), `keys of org ${orgId}`);
}

async function publishLimitsToEdge(ctx: ActionContext, write: () => Promise<void>, what: string): Promise<void> {
  if (!(await publishToEdge(what, ctx.meta.requestId, write))) {
    throw new GatewayError('unavailable', 'The limits are saved, but the edge was not updated yet; run kv:rebuild.', { reason: 'KV write failed after retries' });
  }
}

// ── prices ──

/** USD per token of one model from @pydantic/genai-prices (decision 0004), or null when unknown. */
export function perTokenPrice(model: string): { input: number; output: number } | null {
  const ref = parseModelName(model);
  if (!ref || ref.provider === 'mock') return null;
  try {
    const inOnly = calcPrice({ input_tokens: 1_000_000, output_tokens: 0 }, ref.model, { providerId: ref.provider });
    const outOnly = calcPrice({ input_tokens: 0, output_tokens: 1_000_000 }, ref.model, { providerId: ref.provider });
    if (!inOnly || !outOnly) return null;
    return { input: Number(inOnly.total_price) / 1_000_000, output: Number(outOnly.total_price) / 1_000_000 };
  } catch {
    return null;
  }
}

let publishedModels: { at: number; names: Set<string> } | null = null;
/** How often an isolate re-reads the published table before adding models to it. */
const PRICE_REFRESH_MS = 60_000;

/**
 * Adds the prices of these models to the KV table the gateway estimates costs with (`prices:v1`),
 * when missing. Called by the consumer for the models its events name ("the models in use") and
 * when limits are set. Models without a known price are skipped (the gateway then estimates with
 * the dearest known price and the consumer's event settles the real one).
 */
export async function publishPrices(kv: KVNamespace, models: string[]): Promise<number> {
  const now = Date.now();
  if (publishedModels && now - publishedModels.at < PRICE_REFRESH_MS && models.every((m) => publishedModels!.names.has(m))) return 0;
  const current = priceTableSchema.safeParse(await kv.get(PRICES_KV_KEY, 'json'));
  const table: PriceTable = current.success ? current.data : { updated_at: new Date(now).toISOString(), models: {} };
  let added = 0;
  for (const m of new Set(models)) {
    if (Object.hasOwn(table.models, m)) continue;
    const price = perTokenPrice(m);
    if (!price) continue;
    // eslint-disable-next-line security/detect-object-injection -- a record keyed by model name, written as JSON
    table.models[m] = price;
    added++;
  }
  if (added > 0) {
    table.updated_at = new Date(now).toISOString();
    await kv.put(PRICES_KV_KEY, JSON.stringify(table));
  }
  publishedModels = { at: now, names: new Set(Object.keys(table.models)) };
  return added;
}

// ── the consumer's priced events ──

export interface PricedEvent {
  id: string;
  key_id: string | null;
  org_id: string | null;
  started_at: string;
  cost: number;
}

export interface CrossedAlert extends AlertCrossing {
  orgId: string;
  subject: LimitedSubject;
}

/**
 * Settles each priced event's real cost into the budget counters of its key's subjects and returns
 * the alert thresholds those settlements crossed (each one once per period). Throws when a counter
 * cannot be reached, so the Queue retries the batch (settling is idempotent per request id).
 */
export async function settleCosts(env: AdminEnv, db: Queryable, events: PricedEvent[]): Promise<CrossedAlert[]> {
  if (!env.LIMITS) return [];
  const crossed: CrossedAlert[] = [];
  const thresholdsByOrg = new Map<string, number[]>();
  for (const ev of events) {
    if (!ev.key_id || !ev.org_id || !(ev.cost > 0)) continue;
    const record = virtualKeyRecordSchema.safeParse(await env.ROUTERO_KV.get(kvKeys.virtualKey(ev.key_id), 'json'));
    const subjects = (record.success ? (record.data.limits ?? []) : []).filter((s) => s.limits.budget_usd !== undefined);
    if (subjects.length === 0) continue;
    let thresholds = thresholdsByOrg.get(ev.org_id);
    if (!thresholds) {
      const [o] = await db.select({ t: orgs.budget_alert_thresholds }).from(orgs).where(eq(orgs.id, ev.org_id)).limit(1);
      thresholds = o?.t ?? DEFAULT_ALERT_THRESHOLDS;
      thresholdsByOrg.set(ev.org_id, thresholds);
    }
    for (const s of subjects) {
      const got = await counter(env, s.kind, s.id)!.settleCost({ rid: ev.id, cost: ev.cost, at: Date.parse(ev.started_at), limits: s.limits, thresholds });
      for (const c of got) crossed.push({ ...c, orgId: ev.org_id, subject: s });
    }
  }
  return crossed;
}
