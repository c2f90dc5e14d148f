/**
 * Writes the edge read model (KV) from Postgres rows. Postgres is written first; these run after.
 * `rebuildKv` rewrites everything, so KV can always be recovered from Postgres.
 */
import { and, desc, eq, isNull } from 'drizzle-orm';
import type { Queryable } from './db/client';
import { orgs, providerKeys, routes, users, virtualKeys } from './db/schema';
import { toRouteRecord } from './domain/routes';
import { kvKeys, virtualKeyRecordSchema, type ProviderKeyEntry, type VirtualKeyRecord } from '../lib/kv/records';
import { hasLimits, type LimitedSubject } from '../lib/limits';

type VirtualKeyRow = typeof virtualKeys.$inferSelect;
type ProviderKeyRow = typeof providerKeys.$inferSelect;

/** The limited subjects a key's requests count against: the key, its owner, its organisation. */
export async function limitedSubjectsOf(db: Queryable, row: VirtualKeyRow): Promise<LimitedSubject[]> {
  const subjects: LimitedSubject[] = [];
  if (hasLimits(row.limits)) subjects.push({ kind: 'key', id: row.id, limits: row.limits });
  if (row.owner_user_id) {
    const [u] = await db.select({ limits: users.limits }).from(users).where(eq(users.id, row.owner_user_id)).limit(1);
    if (hasLimits(u?.limits)) subjects.push({ kind: 'user', id: row.owner_user_id, limits: u.limits });
  }
  const [o] = await db.select({ limits: orgs.limits }).from(orgs).where(eq(orgs.id, row.org_id)).limit(1);
  if (hasLimits(o?.limits)) subjects.push({ kind: 'org', id: row.org_id, limits: o.limits });
  return subjects;
}

export function toVirtualKeyRecord(row: VirtualKeyRow, subjects: LimitedSubject[] = []): VirtualKeyRecord {
  return {
    id: row.id,
    org_id: row.org_id,
    name: row.name,
    secret_hash: row.secret_hash,
    models: row.models,
    cidrs: row.cidrs,
    expires_at: row.expires_at?.toISOString() ?? null,
    revoked_at: row.revoked_at?.toISOString() ?? null,
    version: row.version,
    // Only while a rotation's grace period lasts; afterwards the hash leaves the edge too.
    ...(row.previous_secret_hash && row.previous_secret_expires_at && row.previous_secret_expires_at.getTime() > Date.now()
      ? { previous_secret_hash: row.previous_secret_hash, previous_secret_expires_at: row.previous_secret_expires_at.toISOString() }
      : {}),
    ...(subjects.length > 0 ? { limits: subjects } : {}),
  };
}

function toProviderKeyEntry(row: ProviderKeyRow): ProviderKeyEntry {
  return {
    id: row.id,
    org_id: row.org_id,
    provider: row.provider as ProviderKeyEntry['provider'],
    base_url: row.base_url,
    kek_version: row.kek_version,
    iv: row.iv,
    ciphertext: row.ciphertext,
  };
}

/**
 * Writes a key's KV record. With `db` its limited subjects are read from Postgres; without, the
 * subjects already in KV are kept (for changes that cannot alter them, such as a revocation).
 */
export async function syncVirtualKey(kv: KVNamespace, row: VirtualKeyRow, db?: Queryable): Promise<void> {
  let subjects: LimitedSubject[];
  if (db) subjects = await limitedSubjectsOf(db, row);
  else {
    const current = virtualKeyRecordSchema.safeParse(await kv.get(kvKeys.virtualKey(row.id), 'json'));
    subjects = current.success ? (current.data.limits ?? []) : [];
  }
  await kv.put(kvKeys.virtualKey(row.id), JSON.stringify(toVirtualKeyRecord(row, subjects)));
}

/** Rewrites the KV records of every key whose limits depend on this user or organisation. */
export async function syncKeysOf(kv: KVNamespace, db: Queryable, by: { userId: string } | { orgId: string }): Promise<number> {
  const rows = await db
    .select()
    .from(virtualKeys)
    .where('userId' in by ? eq(virtualKeys.owner_user_id, by.userId) : eq(virtualKeys.org_id, by.orgId));
  for (const row of rows) await syncVirtualKey(kv, row, db);
  return rows.length;
}

export async function syncProviderKeys(kv: KVNamespace, db: Queryable, orgId: string, provider: string): Promise<void> {
  const rows = await db
    .select()
    .from(providerKeys)
    .where(and(eq(providerKeys.org_id, orgId), eq(providerKeys.provider, provider), isNull(providerKeys.deleted_at)))
    .orderBy(desc(providerKeys.created_at));
  const key = kvKeys.providerKeys(orgId, provider);
  if (rows.length === 0) await kv.delete(key);
  else await kv.put(key, JSON.stringify(rows.map(toProviderKeyEntry)));
}

async function listAllKeys(kv: KVNamespace, prefix: string): Promise<string[]> {
  const names: string[] = [];
  let cursor: string | undefined;
  do {
    const page = await kv.list({ prefix, cursor });
    names.push(...page.keys.map((k) => k.name));
    cursor = page.list_complete ? undefined : page.cursor;
  } while (cursor);
  return names;
}

/** Rewrites every KV record from Postgres and removes KV records Postgres no longer has. */
export async function rebuildKv(
  kv: KVNamespace,
  db: Queryable,
): Promise<{ virtual_keys: number; provider_key_lists: number; routes: number; removed: number }> {
  const vkRows = await db.select().from(virtualKeys);
  const routeRows = await db.select().from(routes);
  const pkRows = await db.select().from(providerKeys).where(isNull(providerKeys.deleted_at)).orderBy(desc(providerKeys.created_at));
  const lists = new Map<string, ProviderKeyEntry[]>();
  for (const row of pkRows) {
    const key = kvKeys.providerKeys(row.org_id, row.provider);
    lists.set(key, [...(lists.get(key) ?? []), toProviderKeyEntry(row)]);
  }
  const wanted = new Set<string>();
  for (const row of vkRows) {
    wanted.add(kvKeys.virtualKey(row.id));
    await syncVirtualKey(kv, row, db);
  }
  for (const [key, entries] of lists) {
    wanted.add(key);
    await kv.put(key, JSON.stringify(entries));
  }
  for (const row of routeRows) {
    const key = kvKeys.route(row.org_id, row.name);
    wanted.add(key);
    await kv.put(key, JSON.stringify(toRouteRecord(row)));
  }
  let removed = 0;
  for (const prefix of ['vk:', 'pk:', 'rt:']) {
    for (const name of await listAllKeys(kv, prefix)) {
      if (!wanted.has(name)) {
        await kv.delete(name);
        removed++;
      }
    }
  }
  return { virtual_keys: vkRows.length, provider_key_lists: lists.size, routes: routeRows.length, removed };
}
