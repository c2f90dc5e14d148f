/**
 * CPU profile of the gateway under load, through workerd's inspector (Chrome DevTools protocol),
 * charged to pipeline stages (stages.ts). `npm run bench` runs `stageBreakdowns` for its per-stage
 * table; `npm run bench:profile [-- seconds]` prints the same, writes the breakdown to
 * bench-output/stages.json and each variant's profile to bench-output/gateway-<n>.cpuprofile
 * (open them in Chrome DevTools).
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';
import { freePort, ROOT, WRANGLER_BIN } from '../paths';
import { attributeProfile, type CpuProfile, type StageBreakdown } from './stages';
import { autocannon, startTargets, type Target, type Targets } from './targets';

const OUT = path.join(ROOT, 'bench-output');
const BUNDLE = path.join(OUT, 'gateway-profile', 'index.js');

/** The gateway built as `npm run bench` builds it, without minifying, so frames keep their names and modules. */
function buildUnminified(): string {
  execFileSync(process.execPath, [WRANGLER_BIN, 'deploy', '--dry-run', '--no-minify', '--outdir', path.dirname(BUNDLE)], {
    cwd: ROOT,
    stdio: 'ignore',
    env: { ...process.env, WRANGLER_SEND_METRICS: 'false', WRANGLER_HIDE_BANNER: 'true' },
  });
  return fs.readFileSync(BUNDLE, 'utf8');
}

/** Records a CPU profile of one Worker's isolate while `seconds` of load run against `target`. */
async function profileWorker(inspectorPort: number, worker: string, target: Target, seconds: number, connections: number) {
  const list = (await (await fetch(`http://127.0.0.1:${inspectorPort}/json`)).json()) as Array<{ id: string; webSocketDebuggerUrl: string }>;
  const entry = list.find((l) => l.id.endsWith(`:${worker}`) || l.id === worker);
  if (!entry) throw new Error(`no inspector target for ${worker}: ${list.map((l) => l.id).join(', ')}`);
  const ws = new WebSocket(entry.webSocketDebuggerUrl);
  await new Promise((r) => ws.once('open', r));
  let id = 0;
  const pending = new Map<number, (v: unknown) => void>();
  ws.on('message', (d: Buffer) => {
    const msg = JSON.parse(d.toString()) as { id?: number; result?: unknown };
    if (msg.id && pending.has(msg.id)) pending.get(msg.id)!(msg.result);
  });
  const send = (method: string, params: unknown = {}) =>
    new Promise<unknown>((resolve) => {
      const n = ++id;
      pending.set(n, resolve);
      ws.send(JSON.stringify({ id: n, method, params }));
    });
  try {
    await autocannon(target, connections, 2); // warm up (JIT, caches)
    await send('Profiler.enable');
    await send('Profiler.setSamplingInterval', { interval: 100 });
    await send('Profiler.start');
    const figures = await autocannon(target, connections, seconds);
    const { profile } = (await send('Profiler.stop')) as { profile: CpuProfile };
    return { profile, rps: figures.rps, requests: figures.requests, errors: figures.errors + figures.non2xx };
  } finally {
    ws.close();
  }
}

export interface StageProfiles {
  /** Load while profiling (the profiler's own cost included: compare stages, not these rates). */
  connections: number;
  seconds: number;
  variants: Array<{ name: string; rps: number; errors: number; breakdown: StageBreakdown }>;
}

/**
 * Per-stage CPU of the gateway in three variants — the real local Queue, the Queue binding
 * stubbed, and a key with limits — and of the bare pass-through Worker for the floor.
 */
export async function stageBreakdowns(opts: { seconds: number; connections?: number }): Promise<{ result: StageProfiles; profiles: CpuProfile[] }> {
  const bundle = buildUnminified();
  const connections = opts.connections ?? 32;
  const inspectorPort = await freePort();
  const t: Targets = await startTargets({ gatewayBundle: BUNDLE, chunks: 5, gapMs: 5, inspectorPort });
  try {
    const limitedKey = await t.newRouteroKey({ rpm: 100_000_000, tpm: 10_000_000_000, concurrency: 100_000 });
    const runs: Array<{ name: string; worker: string; target: Target }> = [
      { name: 'Routero (local Queue)', worker: 'routero-gateway', target: t.targets.routero },
      { name: 'Routero (audit send stubbed)', worker: 'routero-gateway-stub', target: t.targets.routero_stub },
      { name: 'Routero, limited key (stubbed)', worker: 'routero-gateway-stub', target: { ...t.targets.routero_stub, headers: { ...t.targets.routero_stub.headers, authorization: `Bearer ${limitedKey}` } } },
      { name: 'pass-through Worker', worker: 'passthrough', target: t.targets.passthrough },
    ];
    const variants: StageProfiles['variants'] = [];
    const profiles: CpuProfile[] = [];
    for (const r of runs) {
      const p = await profileWorker(inspectorPort, r.worker, r.target, opts.seconds, connections);
      profiles.push(p.profile);
      variants.push({ name: r.name, rps: p.rps, errors: p.errors, breakdown: attributeProfile(p.profile, bundle, p.requests) });
    }
    return { result: { connections, seconds: opts.seconds, variants }, profiles };
  } finally {
    await t.stop();
  }
}

/** The breakdown as a text table: one column per variant. */
export function stageTable(s: StageProfiles, markdown = false): string {
  const names = s.variants.map((v) => v.name);
  const stages = s.variants[0]!.breakdown.rows.map((r) => r.stage);
  const rows: string[][] = [['stage (CPU µs per request)', ...names]];
  for (const stage of stages) {
    rows.push([stage, ...s.variants.map((v) => {
      const row = v.breakdown.rows.find((r) => r.stage === stage)!;
      return row.us_per_request < 0.05 ? '—' : `${row.us_per_request.toFixed(1)} (${row.pct.toFixed(0)} %)`;
    })]);
  }
  rows.push(['busy CPU per request', ...s.variants.map((v) => `${v.breakdown.busy_us_per_request.toFixed(0)} µs`)]);
  rows.push([`req/s while profiled (${s.connections} conn)`, ...s.variants.map((v) => `${v.rps.toFixed(0)}${v.errors ? ` (${v.errors} err)` : ''}`)]);
  if (markdown) return [`| ${rows[0]!.join(' | ')} |`, `|${rows[0]!.map(() => '---').join('|')}|`, ...rows.slice(1).map((r) => `| ${r.join(' | ')} |`)].join('\n');
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((c, i) => c.padEnd(widths[i]!)).join('  ')).join('\n');
}

async function main() {
  const seconds = Number(process.argv[2] ?? 5);
  const { result, profiles } = await stageBreakdowns({ seconds });
  // One file per variant, in the table's order (open them in Chrome DevTools).
  profiles.forEach((p, i) => fs.writeFileSync(path.join(OUT, `gateway-${i + 1}.cpuprofile`), JSON.stringify(p)));
  fs.writeFileSync(path.join(OUT, 'stages.json'), JSON.stringify(result, null, 2));
  console.log(stageTable(result));
  for (const v of result.variants.slice(0, 2)) {
    console.log(`\nheaviest self time, ${v.name}:`);
    for (const t of v.breakdown.top_self) console.log(`${t.pct.toFixed(1).padStart(5)} %  ${t.name}`);
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().then(
    () => process.exit(0),
    (e: unknown) => {
      console.error(e);
      process.exit(1);
    },
  );
}
