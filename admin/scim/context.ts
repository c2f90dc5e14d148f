/** What every SCIM operation needs: the action context (principal `scim:<token id>`), its organisation, and the base URL for `meta.location`. */
import { z } from 'zod';
import type { ActionContext } from '../domain/change';
import { scimNotFound } from './errors';

export interface ScimContext {
  ctx: ActionContext;
  orgId: string;
  /** `https://<admin host>/scim/v2` */
  base: string;
}

const uuid = z.uuid();

/** A resource id from the path: anything that is not one of our ids simply does not exist (404). */
export function resourceId(raw: string | undefined, what: 'User' | 'Group'): string {
  const parsed = uuid.safeParse(raw);
  if (!parsed.success) throw scimNotFound(`${what} ${String(raw).slice(0, 100)}`);
  return parsed.data.toLowerCase();
}

export interface Page {
  startIndex: number;
  count: number;
}

/** RFC 7644 §3.4.2.4: startIndex is 1-based (values below 1 mean 1); count below 0 means 0. */
export function pageOf(query: Record<string, string>, max: number, fallback: number): Page {
  const int = (v: string | undefined, d: number) => {
    if (v === undefined || v === '') return d;
    const n = Number(v);
    return Number.isFinite(n) ? Math.trunc(n) : d;
  };
  return { startIndex: Math.max(1, int(query.startIndex, 1)), count: Math.min(max, Math.max(0, int(query.count, fallback))) };
}
