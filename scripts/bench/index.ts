/**
 * `npm run bench [-- --quick]`: what the gateway costs, measured against calling the provider
 * directly, a bare pass-through Worker on the same workerd, and Portkey — in one run, interleaved
 * round by round so machine drift hits every path equally. Writes a table to stdout, every raw
 * figure to bench-output/latest.json, and BENCHMARKS.md with a latency chart.
 * Timing targets are reported, never asserted.
 */
import { execFile, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { gzipSync } from 'node:zlib';
import { freePort, ROOT, WRANGLER_BIN } from '../paths';
import { startStack } from '../stack';
import { pathsTable, renderReport, type BenchResult } from './report';
import { otherSections } from './sections';
import { stageBreakdowns } from './profile';
import { measureStreamCpu } from './stream-cpu';
import { autocannon, benchBody, PATHS, startTargets, type PathName, type Target, type Targets } from './targets';

const run = promisify(execFile);
const quick = process.argv.includes('--quick');
/** `--limits-only`: just the limited-key vs unlimited-key comparison (issue 11). */
const limitsOnly = process.argv.includes('--limits-only');
/** `--paths-only`: just the path comparison table (latency, throughput, streams), for quick before/after checks. */
const pathsOnly = process.argv.includes('--paths-only');
const TSX = path.join(ROOT, 'node_modules', 'tsx', 'dist', 'cli.mjs');
const OUT = path.join(ROOT, 'bench-output');

const config = quick
  ? { rounds: 1, latencyN: 300, warmup: 50, tpSeconds: 1, rate: 200, rateSeconds: 1, streams: 3, ttfbStreams: 50, chunks: 10, gapMs: 10, sustainSeconds: 3, auditEvents: 200 }
  : { rounds: 3, latencyN: 2000, warmup: 200, tpSeconds: 4, rate: 500, rateSeconds: 4, streams: 10, ttfbStreams: 300, chunks: 20, gapMs: 10, sustainSeconds: 20, auditEvents: 2000 };

async function client(job: Record<string, unknown>): Promise<Record<string, unknown>> {
  const { stdout } = await run(process.execPath, [TSX, 'scripts/bench/client.ts', JSON.stringify(job)], { cwd: ROOT, maxBuffer: 16 << 20 });
  return JSON.parse(stdout.trim().split('\n').pop()!) as Record<string, unknown>;
}

function median(xs: number[]): number {
  const s = xs.filter(Number.isFinite).sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
}

function summarise(values: number[]) {
  const finite = values.filter(Number.isFinite);
  return { median: median(finite), min: Math.min(...finite), max: Math.max(...finite), rounds: values };
}

function rssKb(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : NaN;
  } catch {
    return NaN;
  }
}

async function measurePaths(t: Targets) {
  type RoundFigures = Record<string, Record<PathName, number>>;
  const rounds: RoundFigures[] = [];
  const raw: Record<string, unknown>[] = [];
  for (let round = 0; round < config.rounds; round++) {
    const fig: RoundFigures = {};
    const set = (k: string, p: PathName, v: number) => ((fig[k] ??= {} as Record<PathName, number>)[p] = v);
    // Rotate the order each round so no path always runs first.
    const order = PATHS.map((_, i) => PATHS[(i + round) % PATHS.length]!);
    for (const p of order) {
      const target = t.targets[p];
      const lat = await client({ mode: 'latency', url: target.url, headers: target.headers, body: benchBody(target.model), n: config.latencyN, warmup: config.warmup });
      const rate = await client({ mode: 'rate', url: target.url, headers: target.headers, body: benchBody(target.model), rate: config.rate, seconds: config.rateSeconds });
      const stream = await client({ mode: 'stream', url: target.url, headers: target.headers, body: benchBody(target.model, true), n: config.streams });
      // Time to first byte from many one-event streams: ten 200 ms streams gave a p50 that moved by
      // a third between rounds.
      const ttfb = await client({ mode: 'stream', url: target.url, headers: target.headers, body: benchBody(target.model, true, 1), n: config.ttfbStreams });
      raw.push({ round, path: p, latency: lat, rate, stream, ttfb });
      set('lat_p50', p, lat.p50 as number);
      set('lat_p90', p, lat.p90 as number);
      set('lat_p99', p, lat.p99 as number);
      set('lat_errors', p, lat.errors as number);
      set('rate_p50', p, rate.p50 as number);
      set('rate_p99', p, rate.p99 as number);
      set('rate_errors', p, rate.errors as number);
      const s = stream as { ttfb?: { p50: number }; total?: { p50: number }; gap?: { p50: number; p90: number }; coalesced_reads?: number; errors?: number; failed?: string };
      set('stream_ttfb_p50', p, (ttfb as { ttfb?: { p50: number } }).ttfb?.p50 ?? NaN);
      set('stream_ttfb_p90', p, (ttfb as { ttfb?: { p90: number } }).ttfb?.p90 ?? NaN);
      set('stream_total_p50', p, s.total?.p50 ?? NaN);
      set('stream_gap_p50', p, s.gap?.p50 ?? NaN);
      set('stream_gap_p90', p, s.gap?.p90 ?? NaN);
      set('stream_coalesced', p, s.coalesced_reads ?? NaN);
      set('stream_errors', p, s.errors ?? (s.failed ? config.streams : NaN));
      for (const c of [1, 8, 32]) {
        const tp = await autocannon(target, c, config.tpSeconds);
        raw.push({ round, path: p, throughput: { connections: c, ...tp } });
        set(`rps_c${c}`, p, tp.rps);
        set(`rps_c${c}_errors`, p, tp.errors + tp.non2xx);
      }
      process.stdout.write(`  round ${round + 1}/${config.rounds}: ${p} done\n`);
    }
    rounds.push(fig);
  }
  const metrics: Record<string, Record<PathName, ReturnType<typeof summarise>>> = {};
  for (const key of Object.keys(rounds[0]!)) {
    metrics[key] = {} as Record<PathName, ReturnType<typeof summarise>>;
    for (const p of PATHS) metrics[key]![p] = summarise(rounds.map((r) => r[key]![p]));
  }
  return { metrics, raw };
}

/**
 * What limits cost a request: the same gateway with an unlimited key (never touches a Durable
 * Object) and with a key limited by rpm/tpm/concurrency set far above the load (every request
 * reserves in its LimitCounter before the upstream call and settles after), interleaved.
 */
async function limitsCost(t: Targets) {
  const limitedKey = await t.newRouteroKey({ rpm: 100_000_000, tpm: 10_000_000_000, concurrency: 100_000 });
  const variants = {
    unlimited: t.targets.routero,
    limited: { ...t.targets.routero, headers: { ...t.targets.routero.headers, authorization: `Bearer ${limitedKey}` } },
  };
  const figures: Record<string, Record<string, number[]>> = { unlimited: {}, limited: {} };
  const push = (v: string, k: string, n: number) => ((figures[v]![k] ??= []).push(n));
  for (let round = 0; round < Math.max(2, config.rounds); round++) {
    const order = round % 2 ? (['limited', 'unlimited'] as const) : (['unlimited', 'limited'] as const);
    for (const v of order) {
      const target = variants[v];
      const lat = await client({ mode: 'latency', url: target.url, headers: target.headers, body: benchBody(target.model), n: config.latencyN, warmup: config.warmup });
      push(v, 'lat_p50', lat.p50 as number);
      push(v, 'lat_p99', lat.p99 as number);
      push(v, 'lat_errors', lat.errors as number);
      for (const c of [8, 32]) {
        const tp = await autocannon(target, c, Math.max(3, config.tpSeconds));
        push(v, `rps_c${c}`, tp.rps);
        push(v, `rps_c${c}_errors`, tp.errors + tp.non2xx);
      }
    }
  }
  const med = (v: string, k: string) => median(figures[v]![k]!);
  return {
    unlimited: { lat_p50_ms: med('unlimited', 'lat_p50'), lat_p99_ms: med('unlimited', 'lat_p99'), rps_c8: med('unlimited', 'rps_c8'), rps_c32: med('unlimited', 'rps_c32') },
    limited: { lat_p50_ms: med('limited', 'lat_p50'), lat_p99_ms: med('limited', 'lat_p99'), rps_c8: med('limited', 'rps_c8'), rps_c32: med('limited', 'rps_c32') },
    added_p50_ms: med('limited', 'lat_p50') - med('unlimited', 'lat_p50'),
    added_p99_ms: med('limited', 'lat_p99') - med('unlimited', 'lat_p99'),
    rps_c32_ratio: med('limited', 'rps_c32') / med('unlimited', 'rps_c32'),
    errors: { unlimited: figures.unlimited!, limited: figures.limited! },
  };
}

async function coldPath(t: Targets) {
  const key = await t.newRouteroKey();
  const target = { ...t.targets.routero, headers: { ...t.targets.routero.headers, authorization: `Bearer ${key}` } };
  const timings: Array<{ ms: number; auth: string }> = [];
  for (let i = 0; i < 21; i++) {
    const t0 = performance.now();
    const res = await fetch(target.url, { method: 'POST', headers: target.headers, body: benchBody(target.model) });
    await res.text();
    timings.push({ ms: performance.now() - t0, auth: /desc="(\w+)"/.exec(res.headers.get('server-timing') ?? '')?.[1] ?? '?' });
  }
  const warm = timings.slice(1);
  return {
    first_request_ms: timings[0]!.ms,
    first_request_auth: timings[0]!.auth,
    warm_p50_ms: median(warm.map((w) => w.ms)),
    warm_bcrypt_calls: warm.filter((w) => w.auth === 'bcrypt').length,
    warm_requests: warm.length,
  };
}

/**
 * Memory of the workerd process during a sustained run at a fixed rate. A fixed rate (not the
 * saturating throughput test) because the local Queue broker runs in the same workerd with one
 * consumer: when producers outpace it, its backlog — not the gateway — is what grows.
 */
async function memory(t: Targets) {
  const pids = await t.workerdPids();
  const total = () => pids.reduce((a, p) => a + rssKb(p), 0);
  const target = t.targets.routero;
  const rate = config.rate;
  await client({ mode: 'rate', url: target.url, headers: target.headers, body: benchBody(target.model), rate, seconds: quick ? 1 : 3 }); // warm up
  const samples: number[] = [total()];
  const timer = setInterval(() => samples.push(total()), 250);
  const result = await client({ mode: 'rate', url: target.url, headers: target.headers, body: benchBody(target.model), rate, seconds: config.sustainSeconds });
  clearInterval(timer);
  samples.push(total());
  const start = samples[0]!;
  const end = samples.at(-1)!;
  const peak = Math.max(...samples);
  return { workerd_pids: pids, seconds: config.sustainSeconds, rps: rate, errors: result.errors, start_mb: start / 1024, peak_mb: peak / 1024, end_mb: end / 1024, growth_pct: ((end - start) / start) * 100 };
}

/**
 * The consumer's ceiling: multi-row INSERT … ON CONFLICT DO NOTHING of priced events in batches of
 * 100, as the consumer does, straight from Node (pg driver) so the request rate is not the limit.
 */
async function insertCapacity(databaseUrl: string | undefined, label: string) {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'routero-insert-'));
  const { PGlite } = await import('@electric-sql/pglite');
  const { PGLiteSocketServer } = await import('@electric-sql/pglite-socket');
  const { migrateDatabase } = await import('../migrate');
  const { toAuditRow } = await import('../../admin/consumer/index');
  const { uuidv7 } = await import('../../lib/crypto/encoding');
  let url = databaseUrl;
  let cleanup = async () => undefined as void;
  if (!url) {
    const db = await PGlite.create(path.join(tmp, 'pg'));
    const port = await freePort();
    const server = new PGLiteSocketServer({ db, port, host: '127.0.0.1' });
    await server.start();
    url = `postgres://postgres@127.0.0.1:${port}/postgres`;
    cleanup = async () => {
      await server.stop();
      await db.close();
    };
  }
  const pg = (await import('pg')).default;
  const client = new pg.Client({ connectionString: url });
  try {
    await migrateDatabase(url);
    await client.connect();
    const n = config.auditEvents * 2;
    const now = Date.now();
    const rows = Array.from({ length: n }, (_, i) =>
      toAuditRow({
        id: uuidv7(now + i),
        request_id: `bench-${i}`,
        started_at: new Date(now).toISOString(),
        finished_at: new Date(now + 5).toISOString(),
        org_id: '00000000-0000-4000-8000-0000000000be',
        key_id: 'benchkey',
        provider: 'openai',
        model: 'openai/gpt-4o-mini',
        endpoint: 'chat_completions',
        stream: false,
        status: 200,
        error_type: null,
        input_tokens: 250,
        output_tokens: 20,
        cache_read_tokens: null,
        cache_write_tokens: null,
        latency_ms: 5,
        ttfb_ms: 2,
      }),
    );
    const cols = Object.keys(rows[0]!) as Array<keyof (typeof rows)[number]>;
    const t0 = performance.now();
    for (let i = 0; i < n; i += 100) {
      const batch = rows.slice(i, i + 100);
      const values: unknown[] = [];
      const tuples = batch.map((r, bi) => `(${cols.map((c, ci) => {
        const v = r[c];
        values.push(v instanceof Date ? v.toISOString() : v);
        return `$${bi * cols.length + ci + 1}`;
      }).join(',')})`);
      await client.query(`insert into audit_events (${cols.map((c) => `"${String(c)}"`).join(',')}) values ${tuples.join(',')} on conflict (started_at, id) do nothing`, values);
    }
    const seconds = (performance.now() - t0) / 1000;
    return { database: label, events: n, events_per_s: n / seconds };
  } finally {
    await client.end().catch(() => undefined);
    await cleanup();
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

function bundles() {
  execFileSync(process.execPath, [WRANGLER_BIN, 'deploy', '--dry-run', '--outdir', path.join(OUT, 'gateway')], { cwd: ROOT, stdio: 'ignore', env: { ...process.env, WRANGLER_SEND_METRICS: 'false', WRANGLER_HIDE_BANNER: 'true' } });
  execFileSync(process.execPath, [WRANGLER_BIN, 'deploy', '--dry-run', '-c', 'admin/wrangler.toml', '--outdir', path.join(OUT, 'admin')], { cwd: ROOT, stdio: 'ignore', env: { ...process.env, WRANGLER_SEND_METRICS: 'false', WRANGLER_HIDE_BANNER: 'true' } });
  const size = (f: string) => {
    const b = fs.readFileSync(f);
    return { raw_kb: b.length / 1024, gzip_kb: gzipSync(b).length / 1024 };
  };
  return { gateway: size(path.join(OUT, 'gateway', 'index.js')), admin: size(path.join(OUT, 'admin', 'index.js')) };
}

/**
 * Starting a stack right after the throughput tests can lose a race for a port: freePort() hands
 * out an ephemeral port that the tens of thousands of client connections just made may take before
 * wrangler binds it. One retry with fresh ports, and the first failure is printed.
 */
async function auditPipeline(databaseUrl?: string) {
  try {
    return await auditPipelineOnce(databaseUrl);
  } catch (e) {
    console.log(`audit pipeline: first attempt failed, retrying once: ${e instanceof Error ? e.message : e}`);
    return auditPipelineOnce(databaseUrl);
  }
}

/** Events/s the Queue consumer stores in Postgres, and lag from request to row, on the npm start stack. */
async function auditPipelineOnce(databaseUrl?: string) {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'routero-bench-'));
  const stack = await startStack({
    gatewayPort: await freePort(),
    adminPort: await freePort(),
    databaseUrl,
    pgliteDir: path.join(tmp, 'pglite'),
    persistDir: path.join(tmp, 'state'),
    devVarsFile: path.join(tmp, '.dev.vars'),
  });
  const pg = (await import('pg')).default;
  const db = new pg.Client({ connectionString: stack.databaseUrl });
  try {
    const api = async (p: string, b: unknown) =>
      (await (await fetch(`${stack.adminUrl}/api/v1${p}`, { method: 'POST', headers: { authorization: `Bearer ${stack.masterKey}`, 'content-type': 'application/json' }, body: JSON.stringify(b) })).json()) as Record<string, string>;
    const org = await api('/orgs', { name: 'bench' });
    const key = (await api('/keys', { org_id: org.id, name: 'bench', models: ['mock/*'] })).key!;
    await db.connect();
    const target: Target = { url: `${stack.gatewayUrl}/v1/chat/completions`, headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` }, model: 'mock/echo' };
    const args = [path.join(ROOT, 'node_modules', 'autocannon', 'autocannon.js'), '-j', '-c', '16', '-a', String(config.auditEvents), '-m', 'POST', '-b', benchBody('mock/echo')];
    for (const [k, v] of Object.entries(target.headers)) args.push('-H', `${k}=${v}`);
    args.push(target.url);
    const sent = Date.now();
    await run(process.execPath, args, { cwd: ROOT, maxBuffer: 16 << 20 });
    const deadline = Date.now() + 120_000;
    let stored = 0;
    while (Date.now() < deadline) {
      stored = Number((await db.query('select count(*)::int as n from audit_events where org_id = $1', [org.id])).rows[0].n);
      if (stored >= config.auditEvents) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    const r = (
      await db.query(
        `select count(*)::int as n,
                extract(epoch from max(stored_at) - min(stored_at)) as span_s,
                percentile_cont(0.5) within group (order by extract(epoch from stored_at - finished_at)) as lag_p50,
                percentile_cont(0.99) within group (order by extract(epoch from stored_at - finished_at)) as lag_p99
           from audit_events where org_id = $1`,
        [org.id],
      )
    ).rows[0];
    const span = Math.max(Number(r.span_s), 0.001);
    return {
      database: databaseUrl ? 'postgresql-server' : 'pglite-embedded',
      events: Number(r.n),
      expected: config.auditEvents,
      requests_duration_s: (Date.now() - sent) / 1000,
      events_per_s: Number(r.n) / span,
      lag_p50_s: Number(r.lag_p50),
      lag_p99_s: Number(r.lag_p99),
      note: 'requests through wrangler dev; events/s is bounded by how fast they arrive',
    };
  } finally {
    await db.end().catch(() => undefined);
    await stack.stop();
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

async function main() {
  fs.mkdirSync(OUT, { recursive: true });
  const started = new Date();
  console.log(`Routero benchmark (${quick ? 'quick' : 'full'} mode) on ${os.cpus().length} × ${os.cpus()[0]?.model ?? 'cpu'}, Node ${process.version}`);
  const sizes = bundles();
  const t = await startTargets({ gatewayBundle: path.join(OUT, 'gateway', 'index.js'), chunks: config.chunks, gapMs: config.gapMs });
  if (limitsOnly) {
    try {
      const limits = await limitsCost(t);
      fs.writeFileSync(path.join(OUT, 'limits.json'), JSON.stringify(limits, null, 2));
      console.log(JSON.stringify(limits, null, 2));
    } finally {
      await t.stop();
    }
    return;
  }
  if (pathsOnly) {
    try {
      const paths = await measurePaths(t);
      fs.writeFileSync(path.join(OUT, 'paths.json'), JSON.stringify(paths, null, 2));
      console.log(pathsTable(paths.metrics, config));
    } finally {
      await t.stop();
    }
    return;
  }
  let result: BenchResult;
  try {
    const paths = await measurePaths(t);
    const cold = await coldPath(t);
    const limits = await limitsCost(t);
    const mem = await memory(t);
    const audit = [await auditPipeline()];
    const streamCpu = measureStreamCpu({ rounds: quick ? 3 : 5 });
    const capacity = [await insertCapacity(undefined, 'pglite-embedded')];
    if (!quick && process.env.BENCH_DATABASE_URL !== '') {
      try {
        capacity.push(await insertCapacity(process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test', 'postgresql-server'));
      } catch (e) {
        console.log(`insert capacity on the PostgreSQL server skipped: ${e instanceof Error ? e.message : e}`);
      }
    }
    if (!quick && process.env.BENCH_DATABASE_URL !== '') {
      const url = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
      try {
        audit.push(await auditPipeline(url));
      } catch (e) {
        audit.push({ database: 'postgresql-server', error: e instanceof Error ? e.message : String(e) } as never);
      }
    }
    result = {
      mode: quick ? 'quick' : 'full',
      started_at: started.toISOString(),
      machine: { cpus: os.cpus().length, cpu_model: os.cpus()[0]?.model ?? 'unknown', memory_gb: os.totalmem() / 2 ** 30, node: process.version, platform: `${os.platform()} ${os.release()}` },
      config,
      command: quick ? 'npm run bench -- --quick' : 'npm run bench',
      metrics: paths.metrics,
      raw: paths.raw,
      cold_path: cold,
      limits,
      memory: mem,
      bundles: sizes,
      audit_pipeline: audit,
      insert_capacity: capacity,
      stream_cpu: streamCpu,
    };
  } finally {
    await t.stop();
  }
  // Last, on its own targets: the inspector and the profiler must not touch the figures above.
  result.stages = (await stageBreakdowns({ seconds: quick ? 2 : 6 })).result;
  fs.writeFileSync(path.join(OUT, 'latest.json'), JSON.stringify(result, null, 2));
  const { table, markdown, svg } = renderReport(result);
  console.log(`\n${table}`);
  if (!quick) {
    fs.mkdirSync(path.join(ROOT, 'docs', 'bench'), { recursive: true });
    fs.writeFileSync(path.join(ROOT, 'docs', 'bench', 'latency.svg'), svg);
    // Keep the sections other benchmarks own (npm run bench:events).
    const previous = fs.existsSync(path.join(ROOT, 'BENCHMARKS.md')) ? fs.readFileSync(path.join(ROOT, 'BENCHMARKS.md'), 'utf8') : '';
    fs.writeFileSync(path.join(ROOT, 'BENCHMARKS.md'), markdown.trimEnd() + '\n' + otherSections(previous));
    console.log('\nWrote BENCHMARKS.md, docs/bench/latency.svg and bench-output/latest.json');
  } else {
    fs.writeFileSync(path.join(OUT, 'latency.svg'), svg);
    console.log('\nQuick mode: wrote bench-output/latest.json (BENCHMARKS.md keeps the last full run)');
  }
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    console.error('benchmark failed:', e instanceof Error ? e.stack : e);
    process.exit(1);
  },
);
