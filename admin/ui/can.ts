/**
 * Role-aware pages without roles in the pages: a form or button is shown only when Cerbos says
 * the principal may do that action (DESIGN §7 — the role × action matrix lives in policies/, not in
 * TSX). Each question is one `isAllowed` decision (recorded in the request's decisions, which is
 * how the route table sees that a page asked about the action its form posts to); answers are
 * cached briefly by the Cerbos client, so a page with a button per row stays cheap.
 */
import { isAllowed, type ResourceRef } from '../domain/change';
import { actionContext } from '../middleware';
import type { ActionOf, ResourceKind } from '../../policies/matrix';
import type { UiContext } from './session-middleware';

export function principalUserId(c: UiContext): string | null {
  const id = c.var.principal.attr.user_id;
  return typeof id === 'string' && id ? id : null;
}

/** May the principal do `action` on this resource? */
export function can<K extends ResourceKind>(c: UiContext, resource: ResourceRef & { kind: K }, action: ActionOf<K>): Promise<boolean> {
  return isAllowed(actionContext(c), resource, action);
}

/**
 * The organisations (of those listed) where the principal may create a `kind`. Resources the
 * principal would own carry their user id as owner, as the create action itself does, so a
 * `developer:own` rule answers as it will on the real request.
 */
export async function orgsWhereCreate<O extends { id: string }>(c: UiContext, kind: ResourceKind, orgs: O[]): Promise<O[]> {
  const ownerUserId = principalUserId(c);
  const asked = await withAnswers(orgs, (o) => isAllowed(actionContext(c), { kind, orgId: o.id, ownerUserId }, 'create'));
  return asked.filter((a) => a.may).map((a) => a.item);
}

/** Each item with the answer to one question about it (e.g. may this row be deleted?), asked in parallel. */
export function withAnswers<T, A>(items: T[], ask: (item: T) => Promise<A>): Promise<Array<{ item: T; may: A }>> {
  return Promise.all(items.map(async (item) => ({ item, may: await ask(item) })));
}
