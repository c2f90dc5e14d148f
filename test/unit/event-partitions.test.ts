/**
 * Monthly partitions of audit_events (migration 0012) with an injected clock: rollover creates the
 * coming months, rows that arrived before their partition move into it, retention drops whole
 * months. Embedded Postgres (PGlite) by default; DATABASE_URL runs it on a real server.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { drizzle } from 'drizzle-orm/node-postgres';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Database } from '../../admin/db/client';
import * as schema from '../../admin/db/schema';
import { dropExpiredEventPartitions, ensureEventPartitions, parseRetention, retentionCutoff } from '../../admin/event-partitions';
import { migrateDatabase } from '../../scripts/migrate';
import { freePort } from '../../scripts/paths';
import { startEmbeddedPostgres } from '../../scripts/stack';

let pool: pg.Pool;
let db: Database;
let cleanup: () => Promise<void>;

beforeAll(async () => {
  let url: string;
  if (process.env.DATABASE_URL) {
    const name = `routero_partitions_${process.pid}`;
    const admin = new pg.Client({ connectionString: process.env.DATABASE_URL });
    await admin.connect();
    await admin.query(`drop database if exists ${name}`);
    await admin.query(`create database ${name}`);
    await admin.end();
    const u = new URL(process.env.DATABASE_URL);
    u.pathname = `/${name}`;
    url = u.toString();
    cleanup = async () => {
      const c = new pg.Client({ connectionString: process.env.DATABASE_URL });
      await c.connect();
      await c.query(`drop database if exists ${name} with (force)`);
      await c.end();
    };
  } else {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'routero-partitions-'));
    const embedded = await startEmbeddedPostgres(dir, await freePort());
    url = embedded.url;
    cleanup = async () => {
      await embedded.close();
      fs.rmSync(dir, { recursive: true, force: true });
    };
  }
  await migrateDatabase(url);
  pool = new pg.Pool({ connectionString: url, max: 1 });
  db = drizzle({ client: pool, schema }) as unknown as Database;
}, 60_000);

afterAll(async () => {
  await pool?.end();
  await cleanup?.();
});

const event = (id: string, startedAt: string) => ({
  id,
  request_id: `req-${id.slice(-4)}`,
  started_at: new Date(startedAt),
  finished_at: new Date(startedAt),
  org_id: '00000000-0000-4000-8000-000000000001',
  key_id: 'k1',
  provider: 'openai',
  model: 'openai/gpt-4o-mini',
  endpoint: '/v1/chat/completions',
  stream: false,
  status: 200,
  latency_ms: 10,
});
const uuid = (n: number) => `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`;

async function partitionOf(id: string): Promise<string> {
  return (await pool.query<{ p: string }>('select tableoid::regclass::text as p from audit_events where id = $1', [id])).rows[0]!.p;
}
async function partitions(): Promise<string[]> {
  return (await pool.query<{ n: string }>("select c.relname as n from pg_inherits i join pg_class c on c.oid = i.inhrelid where i.inhparent = 'audit_events'::regclass order by 1")).rows.map((r) => r.n);
}

describe('audit_events partitioned by month', () => {
  it('stores an event with no monthly partition yet in the default one, then moves it into its month when that is created', async () => {
    await db.insert(schema.auditEvents).values(event(uuid(1), '2031-01-20T10:00:00Z'));
    expect(await partitionOf(uuid(1))).toBe('audit_events_default');
    expect(await ensureEventPartitions(db, new Date('2031-01-05T00:00:00Z'))).toEqual(['audit_events_p203101', 'audit_events_p203102', 'audit_events_p203103']);
    expect(await partitionOf(uuid(1))).toBe('audit_events_p203101');
    // Running again creates nothing.
    expect(await ensureEventPartitions(db, new Date('2031-01-31T23:59:59Z'))).toEqual([]);
  });

  it('rolls over: on the last day of a month the next months exist, and an event at the first instant of a month lands in it', async () => {
    expect(await ensureEventPartitions(db, new Date('2031-03-31T23:00:00Z'))).toEqual(['audit_events_p203104', 'audit_events_p203105']);
    await db.insert(schema.auditEvents).values([event(uuid(2), '2031-03-31T23:59:59.999Z'), event(uuid(3), '2031-04-01T00:00:00Z')]);
    expect(await partitionOf(uuid(2))).toBe('audit_events_p203103');
    expect(await partitionOf(uuid(3))).toBe('audit_events_p203104');
  });

  it('stores a resent event once (the consumer’s conflict target is the partitioned primary key)', async () => {
    const again = event(uuid(3), '2031-04-01T00:00:00Z');
    await db.insert(schema.auditEvents).values(again).onConflictDoNothing({ target: [schema.auditEvents.started_at, schema.auditEvents.id] });
    expect((await pool.query('select 1 from audit_events where id = $1', [uuid(3)])).rowCount).toBe(1);
  });

  it('drops whole months past the retention, and old rows in the default partition, keeping the rest', async () => {
    await db.insert(schema.auditEvents).values(event(uuid(4), '2030-06-01T00:00:00Z'));
    expect(await partitionOf(uuid(4))).toBe('audit_events_default');
    // 2 months at 2031-05-20: the cutoff is 2031-03-01; January and February go, March stays.
    expect(retentionCutoff(2, new Date('2031-05-20T12:00:00Z')).toISOString()).toBe('2031-03-01T00:00:00.000Z');
    const dropped = await dropExpiredEventPartitions(db, 2, new Date('2031-05-20T12:00:00Z'));
    expect(dropped).toEqual(expect.arrayContaining(['audit_events_p203101', 'audit_events_p203102']));
    expect(dropped).not.toContain('audit_events_p203103');
    const left = await partitions();
    expect(left).toEqual(expect.arrayContaining(['audit_events_default', 'audit_events_p203103', 'audit_events_p203104', 'audit_events_p203105']));
    expect(left).not.toContain('audit_events_p203101');
    const ids = (await pool.query<{ id: string }>('select id from audit_events order by started_at')).rows.map((r) => r.id);
    expect(ids).toEqual([uuid(2), uuid(3)]);
    // A day later nothing more is due.
    expect(await dropExpiredEventPartitions(db, 2, new Date('2031-05-21T12:00:00Z'))).toEqual([]);
  });

  it('refuses a retention that is not a whole number of months', async () => {
    expect(parseRetention(undefined)).toBeNull();
    expect(parseRetention('13')).toBe(13);
    for (const bad of ['0', '-1', '1.5', 'twelve']) expect(() => parseRetention(bad)).toThrow(/AUDIT_RETENTION_MONTHS/);
    await expect(dropExpiredEventPartitions(db, 0, new Date())).rejects.toThrow(/at least 1/);
  });
});
