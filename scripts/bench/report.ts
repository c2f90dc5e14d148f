/** Turns benchmark figures into the stdout table, BENCHMARKS.md and an SVG latency chart. */
import { stageTable, type StageProfiles } from './profile';
import type { StreamCpuFigure } from './stream-cpu';
import type { PathName } from './targets';

interface Summary {
  median: number;
  min: number;
  max: number;
  rounds: number[];
}

export interface BenchResult {
  mode: string;
  started_at: string;
  machine: { cpus: number; cpu_model: string; memory_gb: number; node: string; platform: string };
  config: Record<string, number>;
  command: string;
  metrics: Record<string, Record<PathName, Summary>>;
  raw: unknown[];
  cold_path: { first_request_ms: number; first_request_auth: string; warm_p50_ms: number; warm_bcrypt_calls: number; warm_requests: number };
  memory: { rps: number; start_mb: number; peak_mb: number; end_mb: number; growth_pct: number; seconds: number };
  bundles: { gateway: { raw_kb: number; gzip_kb: number }; admin: { raw_kb: number; gzip_kb: number } };
  audit_pipeline: Array<Record<string, unknown>>;
  insert_capacity?: Array<{ database: string; events: number; events_per_s: number }>;
  stream_cpu?: StreamCpuFigure[];
  /** CPU per request by pipeline stage, from profiles under load (profile.ts). */
  stages?: StageProfiles;
  /** Limited key vs unlimited key on the same gateway (issue 11). */
  limits?: {
    unlimited: { lat_p50_ms: number; lat_p99_ms: number; rps_c8: number; rps_c32: number };
    limited: { lat_p50_ms: number; lat_p99_ms: number; rps_c8: number; rps_c32: number };
    added_p50_ms: number;
    added_p99_ms: number;
    rps_c32_ratio: number;
  };
}

const PATHS: PathName[] = ['direct', 'passthrough', 'routero', 'routero_stub', 'portkey'];
const LABEL: Record<PathName, string> = { direct: 'direct', passthrough: 'pass-through Worker', routero: 'Routero', routero_stub: 'Routero (audit send stubbed)', portkey: 'Portkey' };
/** The two gateway figures: with the local Queue broker (on the gateway's thread) and with the send stubbed. */
const GATEWAYS = ['routero', 'routero_stub'] as const;
type Gateway = (typeof GATEWAYS)[number];

const f = (n: number, d = 2) => (Number.isFinite(n) ? n.toFixed(d) : '—');
const range = (s: Summary, d = 2) => (s.rounds.length > 1 ? `${f(s.median, d)} (${f(s.min, d)}–${f(s.max, d)})` : f(s.median, d));

/** Per-round difference to the direct path, summarised like the other figures. */
function added(metric: Record<PathName, Summary>, p: PathName): Summary {
  const rounds = metric[p].rounds.map((v, i) => v - metric.direct.rounds[i]!);
  const s = [...rounds].filter(Number.isFinite).sort((a, b) => a - b);
  const median = s.length === 0 ? NaN : s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
  return { median, min: s[0] ?? NaN, max: s.at(-1) ?? NaN, rounds };
}

function rows(r: BenchResult): string[][] {
  const m = r.metrics;
  const out: string[][] = [['figure', ...PATHS.map((p) => LABEL[p])]];
  const line = (name: string, fn: (p: PathName) => string) => out.push([name, ...PATHS.map(fn)]);
  line('latency p50, 1 conn (ms)', (p) => range(m.lat_p50![p], 3));
  line('added p50 over direct (ms)', (p) => (p === 'direct' ? '—' : range(added(m.lat_p50!, p), 3)));
  line('latency p99, 1 conn (ms)', (p) => range(m.lat_p99![p], 3));
  line('added p99 over direct (ms)', (p) => (p === 'direct' ? '—' : range(added(m.lat_p99!, p), 3)));
  line(`p50 / p99 at ${r.config.rate} req/s (ms)`, (p) => `${f(m.rate_p50![p].median, 2)} / ${f(m.rate_p99![p].median, 2)}`);
  for (const c of [1, 8, 32]) line(`throughput, ${c} conn (req/s)`, (p) => `${range(m[`rps_c${c}`]![p], 0)}${m[`rps_c${c}_errors`]![p].median ? ` (${m[`rps_c${c}_errors`]![p].median} err)` : ''}`);
  line(`stream TTFB p50 (ms, ${r.config.ttfbStreams ?? r.config.streams} one-event streams)`, (p) => (m.stream_errors![p].median > 0 && !Number.isFinite(m.stream_ttfb_p50![p].median) ? 'failed' : range(m.stream_ttfb_p50![p], 2)));
  line('stream TTFB added (ms)', (p) => (p === 'direct' ? '—' : f(added(m.stream_ttfb_p50!, p).median, 2)));
  line('stream total p50 (ms)', (p) => range(m.stream_total_p50![p], 1));
  line(`gap between reads p50 / p90 (upstream ${r.config.gapMs} ms)`, (p) => `${f(m.stream_gap_p50![p].median, 1)} / ${f(m.stream_gap_p90![p].median, 1)}`);
  line('coalesced reads / stream errors', (p) => `${f(m.stream_coalesced![p].median, 0)} / ${f(m.stream_errors![p].median, 0)}`);
  return out;
}

function textTable(t: string[][]): string {
  const widths = t[0]!.map((_, i) => Math.max(...t.map((r) => r[i]!.length)));
  return t.map((r, k) => r.map((c, i) => c.padEnd(widths[i]!)).join('  ') + (k === 0 ? `\n${widths.map((w) => '-'.repeat(w)).join('  ')}` : '')).join('\n');
}

function mdTable(t: string[][]): string {
  return [`| ${t[0]!.join(' | ')} |`, `|${t[0]!.map(() => '---').join('|')}|`, ...t.slice(1).map((r) => `| ${r.join(' | ')} |`)].join('\n');
}

function ratios(r: BenchResult, g: Gateway = 'routero') {
  const m = r.metrics;
  const addRoutero = added(m.lat_p50!, g).median;
  const addPass = added(m.lat_p50!, 'passthrough').median;
  const addPortkey = added(m.lat_p50!, 'portkey').median;
  return {
    added_p50_routero_over_passthrough: addRoutero / addPass,
    added_p50_routero_over_portkey: addRoutero / addPortkey,
    latency_p50_routero_over_direct: m.lat_p50![g].median / m.lat_p50!.direct.median,
    rps32_routero_over_passthrough: m.rps_c32![g].median / m.rps_c32!.passthrough.median,
    rps32_routero_over_portkey: m.rps_c32![g].median / m.rps_c32!.portkey.median,
    rps32_routero_over_direct: m.rps_c32![g].median / m.rps_c32!.direct.median,
    ttfb_added_routero_over_passthrough: added(m.stream_ttfb_p50!, g).median / added(m.stream_ttfb_p50!, 'passthrough').median,
    stream_total_routero_minus_direct_ms: m.stream_total_p50![g].median - m.stream_total_p50!.direct.median,
    added_p99_routero_ms: added(m.lat_p99!, g).median,
  };
}

function targets(r: BenchResult) {
  const [q, qs] = GATEWAYS.map((g) => ratios(r, g)) as [ReturnType<typeof ratios>, ReturnType<typeof ratios>];
  const audit = r.audit_pipeline.filter((a) => typeof a.events_per_s === 'number');
  const ok = (b: boolean) => (b ? 'met' : 'missed');
  /** A gateway target, judged for both figures: "local Queue / audit send stubbed". */
  const both = (name: string, fmt: (x: ReturnType<typeof ratios>) => string, pass: (x: ReturnType<typeof ratios>) => boolean) => [
    name,
    `${fmt(q)} / ${fmt(qs)}`,
    pass(q) === pass(qs) ? ok(pass(q)) : `${ok(pass(q))} / ${ok(pass(qs))}`,
  ];
  return [
    both('added latency p50 ≤ 1.4× pass-through', (x) => f(x.added_p50_routero_over_passthrough), (x) => x.added_p50_routero_over_passthrough <= 1.4),
    both('added latency p99 ≤ 1.5 ms', (x) => `${f(x.added_p99_routero_ms, 3)} ms`, (x) => x.added_p99_routero_ms <= 1.5),
    both('throughput @32 ≥ 0.8× pass-through', (x) => f(x.rps32_routero_over_passthrough), (x) => x.rps32_routero_over_passthrough >= 0.8),
    both('stream TTFB added ≤ 1.3× pass-through', (x) => f(x.ttfb_added_routero_over_passthrough), (x) => x.ttfb_added_routero_over_passthrough <= 1.3),
    both('stream total within 2 ms of direct', (x) => `${f(x.stream_total_routero_minus_direct_ms)} ms`, (x) => Math.abs(x.stream_total_routero_minus_direct_ms) <= 2),
    ['no coalescing', f(r.metrics.stream_coalesced!.routero.median, 0), ok(r.metrics.stream_coalesced!.routero.median === 0)],
    ['0 bcrypt calls on the warm path', String(r.cold_path.warm_bcrypt_calls), ok(r.cold_path.warm_bcrypt_calls === 0)],
    ['gateway bundle ≤ 100 KB gzip', `${f(r.bundles.gateway.gzip_kb, 1)} KB`, ok(r.bundles.gateway.gzip_kb <= 100)],
    ['audit consumer ≥ 5,000 events/s (end to end)', audit.map((a) => `${f(a.events_per_s as number, 0)} (${a.database})`).join(', '), ok(audit.every((a) => (a.events_per_s as number) >= 5000))],
    ['consumer insert path ≥ 5,000 events/s', (r.insert_capacity ?? []).map((a) => `${f(a.events_per_s, 0)} (${a.database})`).join(', '), ok((r.insert_capacity ?? []).length > 0 && (r.insert_capacity ?? []).every((a) => a.events_per_s >= 5000))],
    ['audit lag p99 ≤ 5 s', audit.map((a) => `${f(a.lag_p99_s as number, 2)} s`).join(', '), ok(audit.every((a) => (a.lag_p99_s as number) <= 5))],
    ['memory growth ≤ 10 %', `${f(r.memory.growth_pct, 1)} %`, ok(r.memory.growth_pct <= 10)],
    ...(r.stream_cpu?.length
      ? [[
          'stream taps linear (2× event: ≤ 1.5× ms/MB)',
          r.stream_cpu.map((s) => `${f(s.huge2x_ms_per_mb / s.huge_ms_per_mb)}× (${s.tap})`).join(', '),
          ok(r.stream_cpu.every((s) => s.huge2x_ms_per_mb <= 1.5 * s.huge_ms_per_mb)),
        ]]
      : []),
  ];
}

/** The stage table and what it rests on, for BENCHMARKS.md. */
function stagesSection(st: StageProfiles): string {
  const top = st.variants.slice(0, 2).map((v) => `- heaviest self time, ${v.name}: ${v.breakdown.top_self.slice(0, 8).map((t) => `${t.name} ${t.pct.toFixed(1)} %`).join('; ')}`);
  return `## Where the time goes: CPU per request, by stage

From V8 CPU profiles of each Worker's isolate (workerd inspector, 100 µs sampling) during ${st.seconds} s of
load at ${st.connections} connections, on an unminified build of the same gateway
(\`scripts/bench/profile.ts\`, \`scripts/bench/stages.ts\`; \`npm run bench:profile\` prints it alone). Each
sample is charged to the stage whose code is on its stack (shared helpers go to their caller);
\`runtime (outside JS)\` is workerd's own work on that thread (HTTP, streams, timers and, locally, the
Queue broker), which no stage can claim. The profiler slows the isolate, so the rates here are lower
than the table above: compare stages, not rates. The upstream's own time is not CPU here: it is the
direct path's latency.

${stageTable(st, true)}

${top.join('\n')}
`;
}

/** The path table and the gateway ratios alone (`npm run bench -- --paths-only`). */
export function pathsTable(metrics: BenchResult['metrics'], config: Record<string, number>): string {
  const r = { metrics, config } as unknown as BenchResult;
  const lines = GATEWAYS.map((g) => {
    const q = ratios(r, g);
    return `${LABEL[g]}: added p50 ${f(q.added_p50_routero_over_passthrough)}× pass-through, added p99 ${f(q.added_p99_routero_ms, 3)} ms, throughput@32 ${f(q.rps32_routero_over_passthrough)}×, stream TTFB added ${f(q.ttfb_added_routero_over_passthrough)}×`;
  });
  return `${textTable(rows(r))}\n\n${lines.join('\n')}`;
}

export function renderSvg(r: BenchResult): string {
  const m = r.metrics;
  const keys = ['lat_p50', 'lat_p90', 'lat_p99'] as const;
  const colors = ['#4c78a8', '#f58518', '#e45756'];
  const max = Math.max(...PATHS.flatMap((p) => keys.map((k) => m[k]![p].median)).filter(Number.isFinite)) * 1.15;
  const W = 640;
  const H = 320;
  const left = 50;
  const bottom = 260;
  const plotH = 220;
  const group = (W - left - 20) / PATHS.length;
  const bar = group / 4.5;
  const y = (v: number) => bottom - (v / max) * plotH;
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="11">`,
    `<rect width="${W}" height="${H}" fill="#fff"/>`,
    `<text x="${W / 2}" y="18" text-anchor="middle" font-size="13">Latency at 1 connection, ~1 KB request (ms, median of ${r.config.rounds} rounds)</text>`,
  ];
  for (let i = 0; i <= 4; i++) {
    const v = (max / 4) * i;
    parts.push(`<line x1="${left}" x2="${W - 20}" y1="${y(v)}" y2="${y(v)}" stroke="#ddd"/>`, `<text x="${left - 6}" y="${y(v) + 4}" text-anchor="end">${v.toFixed(1)}</text>`);
  }
  PATHS.forEach((p, gi) => {
    const x0 = left + gi * group + group / 8;
    keys.forEach((k, ki) => {
      const v = m[k]![p].median;
      if (!Number.isFinite(v)) return;
      const x = x0 + ki * bar * 1.1;
      parts.push(`<rect x="${x.toFixed(1)}" y="${y(v).toFixed(1)}" width="${bar.toFixed(1)}" height="${(bottom - y(v)).toFixed(1)}" fill="${colors[ki]}"/>`);
      parts.push(`<text x="${(x + bar / 2).toFixed(1)}" y="${(y(v) - 3).toFixed(1)}" text-anchor="middle" font-size="9">${v.toFixed(2)}</text>`);
    });
    parts.push(`<text x="${(x0 + bar * 1.6).toFixed(1)}" y="${bottom + 16}" text-anchor="middle">${LABEL[p]}</text>`);
  });
  keys.forEach((k, ki) => {
    parts.push(`<rect x="${left + ki * 70}" y="${H - 24}" width="10" height="10" fill="${colors[ki]}"/>`, `<text x="${left + ki * 70 + 14}" y="${H - 15}">${k.replace('lat_', '')}</text>`);
  });
  parts.push('</svg>');
  return parts.join('\n');
}

export function renderReport(r: BenchResult): { table: string; markdown: string; svg: string } {
  const t = rows(r);
  const q = ratios(r);
  const tg = targets(r);
  const extras = [
    `cold path: first request with a new key ${f(r.cold_path.first_request_ms)} ms (${r.cold_path.first_request_auth}), warm p50 ${f(r.cold_path.warm_p50_ms)} ms, bcrypt calls on ${r.cold_path.warm_requests} warm requests: ${r.cold_path.warm_bcrypt_calls}`,
    ...(r.limits
      ? [
          `limits (issue 11): a key limited by rpm/tpm/concurrency (one LimitCounter round trip per request) vs an unlimited key: latency p50 ${f(r.limits.limited.lat_p50_ms)} vs ${f(r.limits.unlimited.lat_p50_ms)} ms (added ${f(r.limits.added_p50_ms)} ms; p99 added ${f(r.limits.added_p99_ms)} ms), throughput@32 ${f(r.limits.limited.rps_c32, 0)} vs ${f(r.limits.unlimited.rps_c32, 0)} req/s (${f(r.limits.rps_c32_ratio)}×)`,
        ]
      : []),
    `bundles: gateway ${f(r.bundles.gateway.raw_kb, 1)} KB raw / ${f(r.bundles.gateway.gzip_kb, 1)} KB gzip; admin ${f(r.bundles.admin.raw_kb, 1)} KB raw / ${f(r.bundles.admin.gzip_kb, 1)} KB gzip`,
    `memory (workerd RSS, ${r.memory.seconds} s at a fixed ${f(r.memory.rps, 0)} req/s): start ${f(r.memory.start_mb, 1)} MB, peak ${f(r.memory.peak_mb, 1)} MB, end ${f(r.memory.end_mb, 1)} MB (${f(r.memory.growth_pct, 1)} %)`,
    ...r.audit_pipeline.map((a) =>
      a.error ? `audit pipeline (${a.database}): failed: ${a.error}` : `audit pipeline (${a.database}): ${a.events}/${a.expected} events stored, ${f(a.events_per_s as number, 0)} events/s, lag p50 ${f(a.lag_p50_s as number, 2)} s, p99 ${f(a.lag_p99_s as number, 2)} s`,
    ),
    ...(r.insert_capacity ?? []).map((a) => `consumer insert path (${a.database}): ${a.events} events in batches of 100, ${f(a.events_per_s, 0)} events/s`),
    ...(r.stream_cpu ?? []).map(
      (s) =>
        `stream tap CPU (${s.tap}, in-process): ${f(s.normal_ms_per_mb, 1)} ms/MB for a normal stream; one ${s.huge_mb} MB event ${f(s.huge_ms_per_mb, 1)} ms/MB, one ${s.huge_mb * 2} MB event ${f(s.huge2x_ms_per_mb, 1)} ms/MB (linear)`,
    ),
    `ratios, audit send stubbed: added p50 Routero/pass-through ${f(ratios(r, 'routero_stub').added_p50_routero_over_passthrough)}; throughput@32 Routero/pass-through ${f(ratios(r, 'routero_stub').rps32_routero_over_passthrough)}; stream TTFB added Routero/pass-through ${f(ratios(r, 'routero_stub').ttfb_added_routero_over_passthrough)}`,
    `ratios: added p50 Routero/pass-through ${f(q.added_p50_routero_over_passthrough)}, Routero/Portkey ${f(q.added_p50_routero_over_portkey)}; latency p50 Routero/direct ${f(q.latency_p50_routero_over_direct)}; throughput@32 Routero/pass-through ${f(q.rps32_routero_over_passthrough)}, Routero/Portkey ${f(q.rps32_routero_over_portkey)}, Routero/direct ${f(q.rps32_routero_over_direct)}`,
  ];
  const stages = r.stages ? `\n\n${stageTable(r.stages)}` : '';
  const table = `${textTable(t)}\n\n${extras.join('\n')}${stages}\n\ntargets:\n${textTable([['target', 'measured', ''], ...tg])}`;
  const markdown = `# Benchmarks

Latest full run of \`${r.command}\` (${r.started_at}), on ${r.machine.cpus} × ${r.machine.cpu_model}, ${f(r.machine.memory_gb, 0)} GiB, Node ${r.machine.node}, ${r.machine.platform}.
Rounds: ${r.config.rounds}, interleaved (the order of the five paths rotates each round); each figure is the
median of the rounds with (min–max). Absolute times drift on shared machines: read the ratios.

- **direct**: the fake OpenAI upstream (\`scripts/bench/upstream.ts\`, its own process).
- **pass-through Worker**: a few lines that \`fetch\` the upstream, on the same workerd (Miniflare, no wrangler dev proxy).
- **Routero**: the gateway bundle \`wrangler deploy --dry-run\` builds, on Miniflare with real KV, the real Cerbos server and a real Queue; warm virtual key.
- **Routero (audit send stubbed)**: the same bundle whose \`AUDIT_QUEUE\` binding accepts and drops what it is sent (benchmark only). Locally the Queue broker runs on the gateway's own workerd thread, so the first figure includes the harness's broker; on Cloudflare the send is a call to another service. Targets show both: local Queue / stubbed.
- **Portkey**: \`@portkey-ai/gateway\` ${'1.15.2'} on Node, \`--headless\`, pointed at the same upstream.

Load: \`scripts/bench/client.ts\` (sequential latency, fixed-rate and streaming clients) and autocannon, each in its own process, loopback only.

${mdTable(t)}

![latency percentiles](docs/bench/latency.svg)

${extras.map((e) => `- ${e}`).join('\n')}

${r.stages ? stagesSection(r.stages) : ''}
## Targets

${mdTable([['target', 'measured (local Queue / audit send stubbed)', ''], ...tg])}

Raw figures of this run: \`bench-output/latest.json\` (regenerated by every run; not committed).
`;
  return { table, markdown, svg: renderSvg(r) };
}
