/**
 * `npm run bench:events [-- --rows 10000000]`: how the usage queries of the admin API behave over a
 * large, month-partitioned audit_events table on a real PostgreSQL server (issue 12). Creates the
 * database `routero_bench_events` on BENCH_DATABASE_URL (default: the local server,
 * postgres://postgres@127.0.0.1:5432/postgres), applies the migrations, generates the events
 * (12 months, 50 organisations, 2,000 keys), then times the admin Worker's own query code
 * (admin/queries.ts through drizzle) and the retention job. Timings are reported, never asserted.
 * Writes bench-output/events-store.json and the "Audit store at scale" section of BENCHMARKS.md.
 * `--keep` leaves the database for inspection; by default it is dropped.
 */
import fs from 'node:fs';
import path from 'node:path';
import { drizzle } from 'drizzle-orm/node-postgres';
import pg from 'pg';
import * as schema from '../../admin/db/schema';
import type { Database } from '../../admin/db/client';
import { dropExpiredEventPartitions, ensureEventPartitions } from '../../admin/event-partitions';
import { listEvents, usageSummary } from '../../admin/queries';
import { migrateDatabase } from '../migrate';
import { ROOT } from '../paths';
import { replaceSection } from './sections';

const argv = process.argv;
const arg = (name: string, fallback: string) => (argv.includes(name) ? argv[argv.indexOf(name) + 1] ?? fallback : fallback);
const ROWS = Number(arg('--rows', '10000000'));
const CHUNK = 1_000_000;
const ORGS = 50;
const KEYS = 2000;
const DB = 'routero_bench_events';
const adminUrl = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const dbUrl = (() => {
  const u = new URL(adminUrl);
  u.pathname = `/${DB}`;
  return u.toString();
})();

const orgId = (i: number) => `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`;

async function timed<T>(fn: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const t = performance.now();
  const value = await fn();
  return { ms: performance.now() - t, value };
}

async function main() {
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`drop database if exists ${DB} with (force)`);
  await admin.query(`create database ${DB}`);
  await admin.end();
  await migrateDatabase(dbUrl);
  const pool = new pg.Pool({ connectionString: dbUrl, max: 2 });
  const db = drizzle({ client: pool, schema }) as unknown as Database;
  const now = new Date();
  const server = (await pool.query<{ v: string }>('select version() as v')).rows[0]!.v.split(' ').slice(0, 2).join(' ');

  // 12 monthly partitions back, 2 ahead.
  for (let m = -12; m <= 2; m++) await ensureEventPartitions(db, new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + m, 15)), 0);

  console.log(`generating ${ROWS.toLocaleString('en')} events on ${server} …`);
  const load = await timed(async () => {
    for (let done = 0; done < ROWS; done += CHUNK) {
      const n = Math.min(CHUNK, ROWS - done);
      // Spread evenly over the last 365 days; keys belong to organisations (key k → org k % 50).
      await pool.query(
        `insert into audit_events (id, request_id, started_at, finished_at, org_id, key_id, provider, model, endpoint, stream, status, error_type,
                                   input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, cost_usd, latency_ms, ttfb_ms)
         select gen_random_uuid(), 'req-' || g, t, t + interval '800 milliseconds',
                ('00000000-0000-4000-8000-' || lpad(((g % ${KEYS}) % ${ORGS})::text, 12, '0'))::uuid,
                'k' || lpad((g % ${KEYS})::text, 15, '0'),
                case when g % 3 = 0 then 'anthropic' else 'openai' end,
                (array['openai/gpt-4o-mini','openai/gpt-4o','anthropic/claude-sonnet-4','anthropic/claude-haiku-4','openai/o3'])[1 + g % 5],
                '/v1/chat/completions', g % 2 = 0, case when g % 50 = 0 then 429 else 200 end, null,
                100 + g % 900, 20 + g % 400, 0, 0, ((100 + g % 900) * 0.00000015)::numeric(20,10), 300 + g % 2000, 100 + g % 300
         from (select g, $2::timestamptz - (g::double precision / $3) * interval '365 days' as t from generate_series($1::bigint, $1::bigint + $4 - 1) g) s`,
        [done + 1, now.toISOString(), ROWS, n],
      );
      process.stdout.write(`  ${(done + n).toLocaleString('en')}\n`);
    }
  });
  const analyze = await timed(() => pool.query('analyze audit_events'));
  const size = (await pool.query<{ s: string }>("select pg_size_pretty(sum(pg_total_relation_size(inhrelid))) as s from pg_inherits where inhparent = 'audit_events'::regclass")).rows[0]!.s;
  console.log(`loaded in ${(load.ms / 1000).toFixed(0)} s, analyzed in ${(analyze.ms / 1000).toFixed(1)} s, ${size} with indexes`);

  const day = 86_400_000;
  const since = (days: number) => new Date(now.getTime() - days * day).toISOString();
  const org = orgId(7);
  const key = 'k' + String(7).padStart(15, '0');
  const firstPage = await listEvents(db, { org_id: org, limit: 50 } as never, undefined);
  const queries: Array<{ name: string; run: () => Promise<unknown> }> = [
    { name: 'usage by model, one org, 30 days', run: () => usageSummary(db, { org_id: org, from: since(30), group_by: 'model' }, undefined) },
    { name: 'usage by day, one org, 30 days', run: () => usageSummary(db, { org_id: org, from: since(30), group_by: 'day' }, undefined) },
    { name: 'usage by key, one org, 90 days', run: () => usageSummary(db, { org_id: org, from: since(90), group_by: 'key' }, undefined) },
    { name: 'usage by model, one org, 365 days', run: () => usageSummary(db, { org_id: org, from: since(366), group_by: 'model' }, undefined) },
    { name: 'usage by model, all orgs, 30 days', run: () => usageSummary(db, { from: since(30), group_by: 'model' }, undefined) },
    { name: 'events, one org, newest 50', run: () => listEvents(db, { org_id: org, limit: 50 } as never, undefined) },
    { name: 'events, one org, next page (cursor)', run: () => listEvents(db, { org_id: org, limit: 50, cursor: firstPage.next_cursor ?? undefined } as never, undefined) },
    { name: 'events, one key, 30 days, newest 50', run: () => listEvents(db, { key_id: key, from: since(30), limit: 50 } as never, undefined) },
    {
      name: 'evidence: last use of each key, one org',
      run: () => pool.query('select key_id, max(started_at) from audit_events where org_id = $1 group by key_id', [org]),
    },
  ];
  const results: Array<{ name: string; median_ms: number; min_ms: number; max_ms: number }> = [];
  for (const q of queries) {
    await q.run(); // warm the cache once, as a live admin Worker would be
    const times: number[] = [];
    for (let i = 0; i < 5; i++) times.push((await timed(q.run)).ms);
    times.sort((a, b) => a - b);
    results.push({ name: q.name, median_ms: times[2]!, min_ms: times[0]!, max_ms: times[4]! });
    console.log(`${q.name.padEnd(44)} median ${times[2]!.toFixed(1)} ms (min ${times[0]!.toFixed(1)}, max ${times[4]!.toFixed(1)})`);
  }
  const plan = (await pool.query<{ 'QUERY PLAN': string }>(`explain select count(*) from audit_events where org_id = $1 and started_at >= $2`, [org, since(30)])).rows.map((r) => r['QUERY PLAN']);
  const scanned = plan.filter((l) => /audit_events_p\d{6}|audit_events_default/.test(l)).map((l) => /(audit_events_(p\d{6}|default))/.exec(l)![1]);
  console.log(`a 30-day query reads partitions: ${[...new Set(scanned)].join(', ')}`);

  // Retention: drop the oldest month (about 1/12 of the rows) as the daily job would.
  const oldest = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() - 11, 1));
  const rowsDropped = Number((await pool.query<{ n: string }>('select count(*) as n from audit_events where started_at < $1', [oldest.toISOString()])).rows[0]!.n);
  const retention = await timed(() => dropExpiredEventPartitions(db, 11, now));
  console.log(`retention: dropped ${retention.value.join(', ')} (${rowsDropped.toLocaleString('en')} rows) in ${retention.ms.toFixed(0)} ms`);

  const report = {
    at: now.toISOString(),
    server,
    rows: ROWS,
    orgs: ORGS,
    keys: KEYS,
    load_seconds: Math.round(load.ms / 1000),
    table_size: size,
    partitions_read_by_30_day_query: [...new Set(scanned)],
    queries: results,
    retention: { dropped: retention.value, rows: rowsDropped, ms: Math.round(retention.ms) },
  };
  fs.mkdirSync(path.join(ROOT, 'bench-output'), { recursive: true });
  fs.writeFileSync(path.join(ROOT, 'bench-output', 'events-store.json'), JSON.stringify(report, null, 2));
  const md = [
    '## Audit store at scale (usage queries over 10 million events)',
    '',
    `\`npm run bench:events\` on ${report.at.slice(0, 10)}: ${ROWS.toLocaleString('en')} generated events over 12 months (${ORGS} organisations, ${KEYS} keys) in the month-partitioned \`audit_events\` table (migration 0012) on ${server}, ${size} with indexes, on this machine (2 shared cores). Each figure is the median of 5 runs of the admin Worker's own query code (admin/queries.ts) after one warm-up. A 30-day query reads only the partitions it needs: ${report.partitions_read_by_30_day_query.join(', ')}.`,
    '',
    '| query | median | min | max |',
    '|---|---:|---:|---:|',
    ...results.map((r) => `| ${r.name} | ${r.median_ms.toFixed(1)} ms | ${r.min_ms.toFixed(1)} ms | ${r.max_ms.toFixed(1)} ms |`),
    '',
    `Retention: dropping the oldest month (${report.retention.dropped.join(', ')}, ${rowsDropped.toLocaleString('en')} rows) took ${report.retention.ms} ms — a DROP TABLE, not a DELETE. Generating the rows took ${report.load_seconds} s.`,
    '',
  ].join('\n');
  const file = path.join(ROOT, 'BENCHMARKS.md');
  if (ROWS >= 10_000_000) fs.writeFileSync(file, replaceSection(fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '', 'events-store', md));
  else console.log('(fewer than 10 million rows: BENCHMARKS.md left as it is)');
  await pool.end();
  if (!argv.includes('--keep')) {
    const c = new pg.Client({ connectionString: adminUrl });
    await c.connect();
    await c.query(`drop database if exists ${DB} with (force)`);
    await c.end();
  }
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? e.stack : e);
  process.exit(1);
});
