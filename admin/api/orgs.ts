import { Hono } from 'hono';
import { asc } from 'drizzle-orm';
import { z } from 'zod';
import { orgs } from '../../lib/db/schema';
import type { AdminEnv } from '../env';
import { authorize, type AdminVariables } from '../middleware';
import { parseBody } from '../validation';

const createOrgSchema = z.strictObject({
  name: z.string({ error: 'is required' }).trim().min(1, 'must not be empty').max(200, 'must be at most 200 characters'),
});

export function orgRoutes() {
  const app = new Hono<{ Bindings: AdminEnv; Variables: AdminVariables }>();

  app.post('/', async (c) => {
    const input = await parseBody(c, createOrgSchema);
    await authorize(c, 'org', 'create');
    const [row] = await c.var.db.insert(orgs).values({ id: crypto.randomUUID(), name: input.name }).returning();
    return c.json(row, 201);
  });

  app.get('/', async (c) => {
    await authorize(c, 'org', 'list');
    const rows = await c.var.db.select().from(orgs).orderBy(asc(orgs.created_at));
    return c.json({ data: rows });
  });

  return app;
}
