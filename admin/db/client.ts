/**
 * Postgres access for the admin Worker: `@neondatabase/serverless` Pool through drizzle. In
 * production the driver talks to Neon directly. Locally, `NEON_WS_PROXY` names the WebSocket-to-TCP
 * proxy (scripts/neon-proxy.ts) that lets the same driver reach a plain Postgres — Neon's documented
 * recipe: no TLS inside the socket, and no pipelined connect (the server may ask for auth first).
 *
 * A Pool is made per request or queue batch and ended afterwards (Workers must not share sockets
 * across requests).
 */
import { neonConfig, Pool } from '@neondatabase/serverless';
import { drizzle, type NeonDatabase } from 'drizzle-orm/neon-serverless';
import * as schema from './schema';

export type Database = NeonDatabase<typeof schema>;
/** An open transaction; every write helper takes `Queryable` so it can join the caller's transaction. */
export type DbTransaction = Parameters<Parameters<Database['transaction']>[0]>[0];
export type Queryable = Database | DbTransaction;

export interface DbEnv {
  DATABASE_URL?: string;
  NEON_WS_PROXY?: string;
}

export function configureNeon(proxy: string | undefined): void {
  if (!proxy) return;
  neonConfig.wsProxy = (host, port) => `${proxy}/v1?address=${host}:${port}`;
  neonConfig.useSecureWebSocket = false;
  neonConfig.pipelineTLS = false;
  neonConfig.pipelineConnect = false;
}

export function openDatabase(env: DbEnv): { db: Database; pool: Pool } {
  if (!env.DATABASE_URL) throw new Error('DATABASE_URL is not set');
  configureNeon(env.NEON_WS_PROXY);
  const pool = new Pool({ connectionString: env.DATABASE_URL, max: 4, connectionTimeoutMillis: 5_000 });
  // An idle client that errors (server restarted) must not become an unhandled error.
  pool.on('error', () => undefined);
  return { db: drizzle({ client: pool, schema }), pool };
}

/** Ends a pool without letting a hung socket hold the Worker: bounded by a timeout. */
export async function closePool(pool: Pool, timeoutMs = 2_000): Promise<void> {
  await Promise.race([pool.end().catch(() => undefined), new Promise((r) => setTimeout(r, timeoutMs))]);
}
