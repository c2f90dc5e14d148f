import { eq } from 'drizzle-orm';
import { z } from 'zod';
import type { Database } from '../../lib/db/client';
import { orgs } from '../../lib/db/schema';
import { GatewayError } from '../../lib/errors';

export const uuidField = (name: string) => z.string({ error: 'is required' }).uuid(`must be a ${name} id (UUID)`);

/** A 404 naming the field when the org does not exist. */
export async function requireOrg(db: Database, orgId: string): Promise<void> {
  const [row] = await db.select({ id: orgs.id }).from(orgs).where(eq(orgs.id, orgId)).limit(1);
  if (!row) throw new GatewayError('not_found', `Organisation ${orgId} does not exist.`, { param: 'org_id' });
}
