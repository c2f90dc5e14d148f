/**
 * Virtual keys. The plaintext is returned once, on creation; afterwards only the bcrypt hash of
 * its secret exists, and no response ever contains the hash.
 */
import bcrypt from 'bcryptjs';
import { Hono } from 'hono';
import { desc, eq, sql } from 'drizzle-orm';
import { z } from 'zod';
import { newVirtualKey } from '../../lib/crypto/virtual-key';
import { virtualKeys } from '../../lib/db/schema';
import { GatewayError } from '../../lib/errors';
import { MODEL_PATTERN_RE } from '../../lib/models';
import { isValidCidr } from '../../lib/net/cidr';
import type { AdminEnv } from '../env';
import { syncVirtualKey } from '../kv-sync';
import { authorize, type AdminVariables } from '../middleware';
import { parseBody, parseQuery } from '../validation';
import { requireOrg, uuidField } from './lookups';

/** bcrypt cost: ~60–100 ms per hash; the gateway pays it once per key per isolate per TTL. */
export const BCRYPT_COST = 10;

type VirtualKeyRow = typeof virtualKeys.$inferSelect;

export function keyStatus(row: VirtualKeyRow, now = Date.now()): 'active' | 'revoked' | 'expired' {
  if (row.revoked_at) return 'revoked';
  if (row.expires_at && row.expires_at.getTime() <= now) return 'expired';
  return 'active';
}

export function publicVirtualKey(row: VirtualKeyRow) {
  return {
    id: row.id,
    org_id: row.org_id,
    name: row.name,
    models: row.models,
    cidrs: row.cidrs,
    expires_at: row.expires_at,
    revoked_at: row.revoked_at,
    status: keyStatus(row),
    created_at: row.created_at,
  };
}

const createKeySchema = z.strictObject({
  org_id: uuidField('organisation'),
  name: z.string({ error: 'is required' }).trim().min(1, 'must not be empty').max(200, 'must be at most 200 characters'),
  models: z
    .array(z.string().regex(MODEL_PATTERN_RE, 'must be a model pattern like "openai/*" or "anthropic/claude-sonnet-4-5"'))
    .max(100)
    .optional(),
  expires_at: z.iso
    .datetime({ offset: true, error: 'must be an ISO 8601 date-time, e.g. 2027-01-01T00:00:00Z' })
    .refine((v) => Date.parse(v) > Date.now(), 'must be in the future')
    .nullish(),
  cidrs: z.array(z.string().refine(isValidCidr, 'must be a CIDR range such as 203.0.113.0/24 or 2001:db8::/32')).max(100).optional(),
});

async function findKey(c: { var: AdminVariables }, id: string): Promise<VirtualKeyRow> {
  const [row] = await c.var.db.select().from(virtualKeys).where(eq(virtualKeys.id, id)).limit(1);
  if (!row) throw new GatewayError('not_found', `Virtual key ${id} does not exist.`);
  return row;
}

export function keyRoutes() {
  const app = new Hono<{ Bindings: AdminEnv; Variables: AdminVariables }>();

  app.post('/', async (c) => {
    const input = await parseBody(c, createKeySchema);
    await authorize(c, 'virtual_key', 'create', { attr: { org_id: input.org_id } });
    await requireOrg(c.var.db, input.org_id);
    const { id, secret, key } = newVirtualKey();
    const [row] = await c.var.db
      .insert(virtualKeys)
      .values({
        id,
        org_id: input.org_id,
        name: input.name,
        secret_hash: await bcrypt.hash(secret, BCRYPT_COST),
        models: input.models ?? ['*'],
        cidrs: input.cidrs ?? [],
        expires_at: input.expires_at ? new Date(input.expires_at) : null,
      })
      .returning();
    try {
      await syncVirtualKey(c.env.ROUTERO_KV, row!);
    } catch (e) {
      await c.var.db.delete(virtualKeys).where(eq(virtualKeys.id, id));
      throw new GatewayError('unavailable', 'The key could not be published to the edge; nothing was saved.', {
        reason: e instanceof Error ? e.message : 'KV write failed',
      });
    }
    return c.json({ ...publicVirtualKey(row!), key }, 201, { 'cache-control': 'no-store' });
  });

  app.get('/', async (c) => {
    const q = parseQuery(c, z.object({ org_id: uuidField('organisation').optional() }));
    await authorize(c, 'virtual_key', 'list', { attr: q.org_id ? { org_id: q.org_id } : {} });
    const query = c.var.db.select().from(virtualKeys);
    const rows = await (q.org_id ? query.where(eq(virtualKeys.org_id, q.org_id)) : query).orderBy(desc(virtualKeys.created_at));
    return c.json({ data: rows.map(publicVirtualKey) });
  });

  app.get('/:id', async (c) => {
    const row = await findKey(c, c.req.param('id'));
    await authorize(c, 'virtual_key', 'read', { id: row.id, attr: { org_id: row.org_id } });
    return c.json(publicVirtualKey(row));
  });

  app.post('/:id/revoke', async (c) => {
    const existing = await findKey(c, c.req.param('id'));
    await authorize(c, 'virtual_key', 'revoke', { id: existing.id, attr: { org_id: existing.org_id } });
    // Idempotent: revoking again keeps the first revocation time but republishes to KV.
    const [row] = await c.var.db
      .update(virtualKeys)
      .set({ revoked_at: sql`coalesce(${virtualKeys.revoked_at}, now())`, version: sql`${virtualKeys.version} + 1` })
      .where(eq(virtualKeys.id, existing.id))
      .returning();
    try {
      await syncVirtualKey(c.env.ROUTERO_KV, row!);
    } catch (e) {
      throw new GatewayError('unavailable', 'Revoked in the database, but the edge was not updated yet; retry the revoke.', {
        reason: e instanceof Error ? e.message : 'KV write failed',
      });
    }
    return c.json(publicVirtualKey(row!));
  });

  return app;
}
