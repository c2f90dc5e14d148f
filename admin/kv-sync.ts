/**
 * Writes the edge read model (KV) from Postgres rows. Postgres is written first; these run after.
 * `rebuildKv` rewrites everything, so KV can always be recovered from Postgres.
 */
import { and, desc, eq, isNull } from 'drizzle-orm';
import type { Queryable } from './db/client';
import { providerKeys, routes, virtualKeys } from './db/schema';
import { toRouteRecord } from './domain/routes';
import { kvKeys, type ProviderKeyEntry, type VirtualKeyRecord } from '../lib/kv/records';

type VirtualKeyRow = typeof virtualKeys.$inferSelect;
type ProviderKeyRow = typeof providerKeys.$inferSelect;

export function toVirtualKeyRecord(row: VirtualKeyRow): VirtualKeyRecord {
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

export async function syncVirtualKey(kv: KVNamespace, row: VirtualKeyRow): Promise<void> {
  await kv.put(kvKeys.virtualKey(row.id), JSON.stringify(toVirtualKeyRecord(row)));
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
    await syncVirtualKey(kv, row);
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
