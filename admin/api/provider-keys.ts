/**
 * Provider keys: the org's upstream API keys. The secret is sealed with AES-256-GCM before it is
 * stored and is never returned — not even in a validation error; lists show its last four
 * characters at most.
 */
import { Hono } from 'hono';
import { and, desc, eq, isNull } from 'drizzle-orm';
import { z } from 'zod';
import { loadKeyRing, sealSecret } from '../../lib/crypto/aes-gcm';
import { providerKeys } from '../../lib/db/schema';
import { GatewayError } from '../../lib/errors';
import { isPrivateHost } from '../../lib/net/cidr';
import type { AdminEnv } from '../env';
import { authorize, type AdminVariables } from '../middleware';
import { parseBody, parseQuery } from '../validation';
import { syncProviderKeys } from '../kv-sync';
import { requireOrg, uuidField } from './lookups';

type ProviderKeyRow = typeof providerKeys.$inferSelect;

export function publicProviderKey(row: ProviderKeyRow) {
  return {
    id: row.id,
    org_id: row.org_id,
    provider: row.provider,
    name: row.name,
    base_url: row.base_url,
    last4: row.last4,
    kek_version: row.kek_version,
    created_at: row.created_at,
  };
}

function baseUrlSchema(allowPrivate: boolean) {
  return z
    .string()
    .url('must be an absolute URL')
    .refine((u) => {
      const url = new URL(u);
      return url.protocol === 'https:' || (allowPrivate && url.protocol === 'http:');
    }, 'must use https')
    .refine((u) => !new URL(u).username && !new URL(u).password, 'must not carry credentials')
    .refine((u) => allowPrivate || !isPrivateHost(new URL(u).hostname), 'must not point at a private or loopback address');
}

export async function activeKeyRing(env: AdminEnv) {
  try {
    return await loadKeyRing(env.ROUTERO_KEKS);
  } catch (e) {
    throw new GatewayError('unavailable', 'The admin service is not configured to store secrets.', {
      reason: e instanceof Error ? e.message : 'KEK load failed',
    });
  }
}

export function providerKeyRoutes() {
  const app = new Hono<{ Bindings: AdminEnv; Variables: AdminVariables }>();

  app.post('/', async (c) => {
    const schema = z.strictObject({
      org_id: uuidField('organisation'),
      provider: z.enum(['openai', 'anthropic'], { error: 'must be one of: openai, anthropic' }),
      name: z.string({ error: 'is required' }).trim().min(1, 'must not be empty').max(200, 'must be at most 200 characters'),
      secret: z.string({ error: 'is required' }).min(8, 'is too short to be an API key').max(4096, 'is too long'),
      base_url: baseUrlSchema(c.env.ALLOW_PRIVATE_UPSTREAMS === 'true').nullish(),
    });
    const input = await parseBody(c, schema);
    await authorize(c, 'provider_key', 'create', { attr: { org_id: input.org_id } });
    await requireOrg(c.var.db, input.org_id);
    const ring = await activeKeyRing(c.env);
    const id = crypto.randomUUID();
    const sealed = await sealSecret(ring, { recordId: id, orgId: input.org_id, provider: input.provider }, input.secret);
    const [row] = await c.var.db
      .insert(providerKeys)
      .values({
        id,
        org_id: input.org_id,
        provider: input.provider,
        name: input.name,
        base_url: input.base_url ?? null,
        ...sealed,
        last4: input.secret.slice(-4),
      })
      .returning();
    try {
      await syncProviderKeys(c.env.ROUTERO_KV, c.var.db, input.org_id, input.provider);
    } catch (e) {
      // Nothing half-written: without its KV entry the key would be stored but unusable.
      await c.var.db.delete(providerKeys).where(eq(providerKeys.id, id));
      throw new GatewayError('unavailable', 'The provider key could not be published to the edge; nothing was saved.', {
        reason: e instanceof Error ? e.message : 'KV write failed',
      });
    }
    return c.json(publicProviderKey(row!), 201);
  });

  app.get('/', async (c) => {
    const q = parseQuery(c, z.object({ org_id: uuidField('organisation').optional() }));
    await authorize(c, 'provider_key', 'list', { attr: q.org_id ? { org_id: q.org_id } : {} });
    const where = q.org_id
      ? and(eq(providerKeys.org_id, q.org_id), isNull(providerKeys.deleted_at))
      : isNull(providerKeys.deleted_at);
    const rows = await c.var.db.select().from(providerKeys).where(where).orderBy(desc(providerKeys.created_at));
    return c.json({ data: rows.map(publicProviderKey) });
  });

  app.delete('/:id', async (c) => {
    const id = c.req.param('id');
    const [row] = z.string().uuid().safeParse(id).success
      ? await c.var.db.select().from(providerKeys).where(and(eq(providerKeys.id, id), isNull(providerKeys.deleted_at)))
      : [];
    if (!row) throw new GatewayError('not_found', `Provider key ${id} does not exist.`);
    await authorize(c, 'provider_key', 'delete', { id, attr: { org_id: row.org_id } });
    await c.var.db.update(providerKeys).set({ deleted_at: new Date() }).where(eq(providerKeys.id, id));
    try {
      await syncProviderKeys(c.env.ROUTERO_KV, c.var.db, row.org_id, row.provider);
    } catch (e) {
      throw new GatewayError('unavailable', 'Deleted in the database, but the edge was not updated yet; run kv:rebuild.', {
        reason: e instanceof Error ? e.message : 'KV write failed',
      });
    }
    return c.json({ ...publicProviderKey(row), deleted: true });
  });

  return app;
}
