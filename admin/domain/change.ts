/**
 * How every management action runs (DESIGN §7):
 *
 * 1. one Cerbos decision (principal, resource kind/id/org/owner, action) — a denial is recorded as
 *    `denied` and answered 403 (or 404 where existence must not be revealed: see `authorizeOrHide`);
 * 2. the state change and its audit row in ONE Postgres transaction: if the audit append fails, the
 *    change rolls back with it (no change without its row, no row for a change that did not happen);
 * 3. after the commit, the edge read model (KV) is written, retried, and on lasting failure logged
 *    so `npm run kv:rebuild` repairs it.
 */
import type { CerbosClient, Principal } from '../../lib/authz/cerbos';
import { PolicyUnavailableError } from '../../lib/authz/cerbos';
import { GatewayError } from '../../lib/errors';
import { alert, log } from '../../lib/log';
import { appendAdminAction, type Outcome } from '../audit-log';
import { auditActor } from '../auth/principal';
import type { Database, DbTransaction, Queryable } from '../db/client';
import type { AdminEnv } from '../env';

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
  /**
   * Every authorization decision this request made (`kind:action`). The route table
   * (admin/routes.ts) refuses to answer a route whose declared decision is not in here.
   */
  decisions?: string[];
}

export function noteDecision(ctx: Pick<ActionContext, 'decisions'>, kind: string, action: string): void {
  ctx.decisions?.push(`${kind}:${action}`);
}

/** The resource of one decision: kind, id, and the attributes the policies read. */
export interface ResourceRef {
  kind: string;
  id?: string;
  orgId?: string | null;
  ownerUserId?: string | null;
  /** Extra attributes for policies that need them (e.g. a user's organisations). */
  attr?: Record<string, string | boolean | string[]>;
}

function resourceAttr(r: ResourceRef): Record<string, string | boolean | string[]> {
  return {
    ...(r.orgId ? { org_id: r.orgId } : {}),
    ...(r.ownerUserId ? { owner_user_id: r.ownerUserId } : {}),
    ...(r.attr ?? {}),
  };
}

export async function recordAction(
  ctx: Pick<ActionContext, 'principal' | 'meta'> & { db: Queryable },
  action: string,
  outcome: Outcome,
  target: { type: string | null; id: string | null; orgId?: string | null },
): Promise<void> {
  const who = auditActor(ctx.principal);
  await appendAdminAction(ctx.db, {
    actor: who.actor,
    login_method: who.loginMethod,
    actor_user_id: who.actorUserId,
    actor_email: who.actorEmail,
    mfa: who.mfa,
    org_id: target.orgId ?? null,
    action,
    target_type: target.type,
    target_id: target.id,
    outcome,
    client_ip: ctx.meta.clientIp,
    user_agent: ctx.meta.userAgent,
    request_id: ctx.meta.requestId,
  });
}

/** One Cerbos decision; Cerbos down is a 503, never an allow. */
export async function isAllowed(ctx: Pick<ActionContext, 'cerbos' | 'principal' | 'decisions'>, resource: ResourceRef, action: string): Promise<boolean> {
  noteDecision(ctx, resource.kind, action);
  try {
    return await ctx.cerbos.isAllowed(ctx.principal, { kind: resource.kind, id: resource.id ?? '*', attr: resourceAttr(resource) }, action);
  } catch (e) {
    if (e instanceof PolicyUnavailableError) {
      alert('cerbos_unreachable', 'Cerbos could not be asked: admin request refused (fail closed)', { reason: e.message });
      throw new GatewayError('unavailable', 'The policy service is unavailable; try again shortly.', { reason: e.message });
    }
    throw e;
  }
}

export function denied(resource: ResourceRef, action: string, principal: Principal): GatewayError {
  return new GatewayError('permission', `You may not ${action} this ${resource.kind.replace(/_/g, ' ')}.`, {
    reason: `cerbos denied ${action} on ${resource.kind}:${resource.id ?? '*'} for ${principal.id}`,
  });
}

/** A read or list decision: 403 when denied. */
export async function authorize(ctx: Pick<ActionContext, 'cerbos' | 'principal' | 'decisions'>, resource: ResourceRef, action: string): Promise<void> {
  if (!(await isAllowed(ctx, resource, action))) throw denied(resource, action, ctx.principal);
}

/**
 * A decision on one named resource that the caller may not even know exists: a denial answers the
 * same 404 as a missing resource, so another organisation's ids cannot be probed.
 */
export async function authorizeOrHide(ctx: Pick<ActionContext, 'cerbos' | 'principal' | 'decisions'>, resource: ResourceRef, action: string, notFound: GatewayError): Promise<void> {
  if (!(await isAllowed(ctx, resource, action))) throw notFound;
}

/** Test-visible failure of the edge write after a committed change. */
export class EdgeWriteError extends Error {}

/** Writes KV after a commit: three attempts, then a logged error naming the repair command. */
export async function publishToEdge(what: string, requestId: string, write: () => Promise<void>): Promise<boolean> {
  let last: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      await write();
      return true;
    } catch (e) {
      last = e;
      await new Promise((r) => setTimeout(r, 50 * 2 ** attempt));
    }
  }
  log('error', 'edge write failed after commit; run npm run kv:rebuild', {
    request_id: requestId,
    what,
    reason: last instanceof Error ? last.message : String(last),
  });
  return false;
}

export interface ChangeSpec {
  /** The audit action name, e.g. `virtual_key.revoke`. */
  action: string;
  /** The Cerbos action, e.g. `revoke`. */
  cerbosAction: string;
  resource: ResourceRef;
  /** Answer a denial with this (a 404) instead of 403, for resources named by id. */
  hideAs?: GatewayError;
}

/**
 * Runs one change: authorize, then the change and its audit row in one transaction. `fn` returns
 * the result and (for creations) the new record's id for the audit row.
 */
export async function change<T>(ctx: ActionContext, spec: ChangeSpec, fn: (tx: DbTransaction) => Promise<{ result: T; targetId?: string }>): Promise<T> {
  const target = { type: spec.resource.kind, id: spec.resource.id ?? null, orgId: spec.resource.orgId ?? null };
  let allowed: boolean;
  try {
    allowed = await isAllowed(ctx, spec.resource, spec.cerbosAction);
  } catch (e) {
    await recordAction(ctx, spec.action, 'failed', target).catch(() => undefined);
    throw e;
  }
  if (!allowed) {
    await recordAction(ctx, spec.action, 'denied', target);
    throw spec.hideAs ?? denied(spec.resource, spec.cerbosAction, ctx.principal);
  }
  try {
    return await ctx.db.transaction(async (tx) => {
      const { result, targetId } = await fn(tx);
      await recordAction({ ...ctx, db: tx }, spec.action, 'allowed', { ...target, id: targetId ?? target.id });
      return result;
    });
  } catch (e) {
    // The transaction rolled back: nothing changed. Record the failure on its own (best effort).
    await recordAction(ctx, spec.action, 'failed', target).catch(() => undefined);
    throw e;
  }
}
