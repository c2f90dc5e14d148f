/**
 * The end-to-end fixture: the same stack `npm start` runs (scripts/stack.ts), in temporary
 * folders and on free ports, plus local fake providers. Every log line of every child process is
 * captured so tests can assert what never appears in logs.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { freePort } from '../../scripts/paths';
import { startStack, type Stack } from '../../scripts/stack';
import { startFakeAnthropic, startFakeOpenAI, type FakeProvider } from '../support/fake-providers';

/** Admin API responses in tests: free-form JSON, asserted field by field. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Json = any;

export interface E2E {
  stack: Stack;
  openai: FakeProvider;
  anthropic: FakeProvider;
  logs: string[];
  persistDir: string;
  keyCacheTtlSeconds: number;
  admin(method: string, p: string, body?: unknown): Promise<{ status: number; json: Json }>;
  query<T = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<T[]>;
  /** Stops every process and starts them again on the same ports and state (Postgres, KV, Durable Objects). */
  restart(): Promise<void>;
  close(): Promise<void>;
}

export async function startE2E(
  opts: {
    testLogin?: boolean;
    testClock?: boolean;
    gatewayVars?: Record<string, string>;
    adminVars?: Record<string, string>;
    /** default 2 s; the product default is 30 s */
    keyCacheTtlSeconds?: number;
  } = {},
): Promise<E2E> {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'routero-e2e-'));
  const persistDir = path.join(tmp, 'wrangler-state');
  const logs: string[] = [];
  const keyCacheTtlSeconds = opts.keyCacheTtlSeconds ?? 2;
  const openai = await startFakeOpenAI({ gapMs: 5 });
  const anthropic = await startFakeAnthropic({ gapMs: 5 });
  // Against an external Postgres each run gets a database of its own, dropped at the end, so runs
  // never see each other's rows (the audit chain, login failures, usage totals).
  let databaseUrl: string | undefined;
  let dropDatabase = async () => undefined as void;
  if (process.env.DATABASE_URL) {
    const admin = new URL(process.env.DATABASE_URL);
    const name = `routero_e2e_${process.pid}_${Date.now()}`;
    const client = new pg.Client({ connectionString: admin.toString() });
    await client.connect();
    await client.query(`create database ${name}`);
    await client.end();
    const own = new URL(admin.toString());
    own.pathname = `/${name}`;
    databaseUrl = own.toString();
    dropDatabase = async () => {
      const c = new pg.Client({ connectionString: admin.toString() });
      await c.connect();
      await c.query(`drop database if exists ${name} with (force)`);
      await c.end();
    };
  }
  const stackOptions: Parameters<typeof startStack>[0] = {
    gatewayPort: await freePort(),
    adminPort: await freePort(),
    databaseUrl,
    pgliteDir: path.join(tmp, 'pglite'),
    persistDir,
    devVarsFile: path.join(tmp, '.dev.vars'),
    keyCacheTtlSeconds,
    policyCacheTtlSeconds: 1,
    testLogin: opts.testLogin,
    testClock: opts.testClock,
    gatewayVars: opts.gatewayVars,
    adminVars: opts.adminVars,
    onLog: (source, line) => logs.push(`[${source}] ${line}`),
  };
  const stack = await startStack(stackOptions);
  // bigint columns (token counts and latencies since migration 0003, the audit-log seq) hold
  // values far below 2^53 in tests: read them as numbers, as the admin Worker's drizzle does.
  const types = {
    getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
      oid === pg.types.builtins.INT8 && format !== 'binary' ? Number : pg.types.getTypeParser(oid, format)) as typeof pg.types.getTypeParser,
  };
  let pool = new pg.Pool({ connectionString: stack.databaseUrl, max: 2, types });
  pool.on('error', () => undefined);
  const e2e: E2E = {
    stack,
    openai,
    anthropic,
    logs,
    persistDir,
    keyCacheTtlSeconds,
    async admin(method, p, body) {
      const res = await fetch(`${e2e.stack.adminUrl}/api/v1${p}`, {
        method,
        headers: { authorization: `Bearer ${e2e.stack.masterKey}`, 'content-type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      const text = await res.text();
      return { status: res.status, json: text ? JSON.parse(text) : null };
    },
    async query(sql, params) {
      const res = await pool.query(sql, params as unknown[]);
      return res.rows;
    },
    async restart() {
      await pool.end().catch(() => undefined);
      await e2e.stack.stop();
      e2e.stack = await startStack(stackOptions);
      pool = new pg.Pool({ connectionString: e2e.stack.databaseUrl, max: 2, types });
      pool.on('error', () => undefined);
    },
    async close() {
      // Kept for reading after a failed run (test-output/ is git-ignored).
      fs.mkdirSync(path.join(process.cwd(), 'test-output'), { recursive: true });
      fs.writeFileSync(path.join(process.cwd(), 'test-output', 'e2e-stack.log'), logs.join('\n'));
      await pool.end().catch(() => undefined);
      await e2e.stack.stop();
      await dropDatabase().catch(() => undefined);
      await openai.close();
      await anthropic.close();
      fs.rmSync(tmp, { recursive: true, force: true });
    },
  };
  return e2e;
}

export async function eventually<T>(what: string, fn: () => Promise<T | undefined | false>, timeoutMs = 30_000, intervalMs = 250): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/** Every file under a folder, as raw bytes (KV values, queue state, sqlite pages, blobs). */
export function filesUnder(dir: string): Array<{ file: string; bytes: Buffer }> {
  const out: Array<{ file: string; bytes: Buffer }> = [];
  if (!fs.existsSync(dir)) return out;
  for (const entry of fs.readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (!entry.isFile()) continue;
    const file = path.join(entry.parentPath, entry.name);
    out.push({ file, bytes: fs.readFileSync(file) });
  }
  return out;
}
