/**
 * Applies the drizzle-kit SQL migrations in migrations/ to DATABASE_URL (never at request time).
 * Usage: DATABASE_URL=postgres://… npm run db:migrate
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { drizzle } from 'drizzle-orm/node-postgres';
import { migrate } from 'drizzle-orm/node-postgres/migrator';
import pg from 'pg';

export const MIGRATIONS_DIR = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'migrations');

export async function migrateDatabase(databaseUrl: string): Promise<void> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    await migrate(drizzle(client), { migrationsFolder: MIGRATIONS_DIR });
  } finally {
    await client.end();
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  const url = process.env.DATABASE_URL;
  if (!url) {
    console.error('DATABASE_URL is not set');
    process.exit(2);
  }
  migrateDatabase(url).then(
    () => console.log('migrations applied'),
    (e: unknown) => {
      console.error('migration failed:', e instanceof Error ? e.message : e);
      process.exit(1);
    },
  );
}
