/**
 * Operator commands, run through the API so they work the same locally and in production:
 * `npm run kv:rebuild` and `npm run kek:reencrypt` call these.
 */
import { Hono } from 'hono';
import { eq, isNull } from 'drizzle-orm';
import { openSecret, sealSecret } from '../../lib/crypto/aes-gcm';
import { providerKeys } from '../../lib/db/schema';
import type { AdminEnv } from '../env';
import { rebuildKv } from '../kv-sync';
import { authorize, type AdminVariables } from '../middleware';
import { activeKeyRing } from './provider-keys';

export function maintenanceRoutes() {
  const app = new Hono<{ Bindings: AdminEnv; Variables: AdminVariables }>();

  app.post('/rebuild-kv', async (c) => {
    await authorize(c, 'system', 'rebuild_kv');
    return c.json(await rebuildKv(c.env.ROUTERO_KV, c.var.db));
  });

  /**
   * Re-encrypts every provider key under the active (highest) KEK. Add the new KEK to
   * ROUTERO_KEKS on both Workers, run this, then remove the old KEK.
   */
  app.post('/reencrypt-provider-keys', async (c) => {
    await authorize(c, 'system', 'reencrypt');
    const ring = await activeKeyRing(c.env);
    const rows = await c.var.db.select().from(providerKeys).where(isNull(providerKeys.deleted_at));
    let reencrypted = 0;
    for (const row of rows) {
      if (row.kek_version === ring.active) continue;
      const binding = { recordId: row.id, orgId: row.org_id, provider: row.provider };
      const sealed = await sealSecret(ring, binding, await openSecret(ring, binding, row));
      await c.var.db.update(providerKeys).set(sealed).where(eq(providerKeys.id, row.id));
      reencrypted++;
    }
    const kv = await rebuildKv(c.env.ROUTERO_KV, c.var.db);
    return c.json({ active_kek_version: ring.active, reencrypted, total: rows.length, kv });
  });

  return app;
}
