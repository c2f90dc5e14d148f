/**
 * Names instead of bare ids in the UI's tables (requests, top keys, audit-log targets). Each
 * lookup is one `IN (…)` query over the ids already on the page; the rows those ids come from were
 * filtered by the policy, so a name is shown only where its id already was.
 */
import { inArray } from 'drizzle-orm';
import type { Queryable } from '../db/client';
import { apiTokens, orgs, providerKeys, ssoConnections, users, virtualKeys } from '../db/schema';

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const uniq = (ids: Array<string | null | undefined>) => [...new Set(ids.filter((v): v is string => typeof v === 'string' && v !== ''))];
const uuids = (ids: Array<string | null | undefined>) => uniq(ids).filter((v) => UUID_RE.test(v));

export async function orgNames(db: Queryable, ids: Array<string | null | undefined>): Promise<Map<string, string>> {
  const wanted = uuids(ids);
  if (!wanted.length) return new Map();
  const rows = await db.select({ id: orgs.id, name: orgs.name }).from(orgs).where(inArray(orgs.id, wanted));
  return new Map(rows.map((r) => [r.id, r.name]));
}

export async function keyNames(db: Queryable, ids: Array<string | null | undefined>): Promise<Map<string, string>> {
  const wanted = uniq(ids);
  if (!wanted.length) return new Map();
  const rows = await db.select({ id: virtualKeys.id, name: virtualKeys.name }).from(virtualKeys).where(inArray(virtualKeys.id, wanted));
  return new Map(rows.map((r) => [r.id, r.name]));
}

export async function userEmails(db: Queryable, ids: Array<string | null | undefined>): Promise<Map<string, string>> {
  const wanted = uuids(ids);
  if (!wanted.length) return new Map();
  const rows = await db.select({ id: users.id, email: users.email }).from(users).where(inArray(users.id, wanted));
  return new Map(rows.map((r) => [r.id, r.email]));
}

/** Audit-log targets (`target_type`, `target_id`) → a readable name, where the kind has one. */
export async function auditTargetNames(db: Queryable, targets: Array<{ target_type: string | null; target_id: string | null }>): Promise<Map<string, string>> {
  const idsOf = (...types: string[]) => targets.filter((t) => t.target_type !== null && types.includes(t.target_type)).map((t) => t.target_id);
  const providerKeyIds = uuids(idsOf('provider_key'));
  const tokenIds = uniq(idsOf('api_token'));
  const ssoIds = uuids(idsOf('sso_connection'));
  const [orgMap, keyMap, userMap, pkRows, tokenRows, ssoRows] = await Promise.all([
    orgNames(db, idsOf('org')),
    keyNames(db, idsOf('virtual_key')),
    userEmails(db, idsOf('member', 'user')),
    providerKeyIds.length ? db.select({ id: providerKeys.id, name: providerKeys.name }).from(providerKeys).where(inArray(providerKeys.id, providerKeyIds)) : [],
    tokenIds.length ? db.select({ id: apiTokens.id, name: apiTokens.name }).from(apiTokens).where(inArray(apiTokens.id, tokenIds)) : [],
    ssoIds.length ? db.select({ id: ssoConnections.id, name: ssoConnections.issuer }).from(ssoConnections).where(inArray(ssoConnections.id, ssoIds)) : [],
  ]);
  const out = new Map<string, string>();
  const put = (type: string, m: Map<string, string> | Array<{ id: string; name: string }>) => {
    for (const [id, name] of Array.isArray(m) ? m.map((r) => [r.id, r.name] as const) : m) out.set(`${type}:${id}`, name);
  };
  put('org', orgMap);
  put('virtual_key', keyMap);
  put('member', userMap);
  put('user', userMap);
  put('provider_key', pkRows);
  put('api_token', tokenRows);
  put('sso_connection', ssoRows);
  return out;
}

/** The owner (user id, or null for keys made with the master key or an API token) of each key. */
export async function keyOwners(db: Queryable, ids: string[]): Promise<Map<string, string | null>> {
  const wanted = uniq(ids);
  if (!wanted.length) return new Map();
  const rows = await db.select({ id: virtualKeys.id, owner: virtualKeys.owner_user_id }).from(virtualKeys).where(inArray(virtualKeys.id, wanted));
  return new Map(rows.map((r) => [r.id, r.owner]));
}
