/**
 * Benchmark client, run as its own process so its work never shares an event loop with the
 * servers it measures. Reads one JSON job from argv, prints one JSON result.
 *   latency: n sequential requests on one keep-alive connection (µs precision)
 *   rate:    open-loop requests at a fixed rate for a duration
 *   stream:  n sequential streams: time to first byte, total time, gaps between reads
 */
import http from 'node:http';

interface Job {
  mode: 'latency' | 'rate' | 'stream';
  url: string;
  headers: Record<string, string>;
  body: string;
  n?: number;
  warmup?: number;
  rate?: number;
  seconds?: number;
}

const job = JSON.parse(process.argv[2]!) as Job;
const target = new URL(job.url);

function once(agent: http.Agent, onChunk?: (at: number, chunk: Buffer) => void): Promise<{ ms: number; status: number; ttfbMs: number }> {
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    let ttfb = 0;
    const req = http.request(
      { host: target.hostname, port: target.port, path: target.pathname, method: 'POST', agent, headers: { ...job.headers, 'content-length': Buffer.byteLength(job.body) } },
      (res) => {
        res.on('data', (chunk: Buffer) => {
          const at = Number(process.hrtime.bigint() - t0) / 1e6;
          if (!ttfb) ttfb = at;
          onChunk?.(at, chunk);
        });
        res.on('end', () => resolve({ ms: Number(process.hrtime.bigint() - t0) / 1e6, status: res.statusCode ?? 0, ttfbMs: ttfb }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(job.body);
  });
}

function stats(xs: number[]) {
  const s = [...xs].sort((a, b) => a - b);
  const at = (p: number) => s[Math.min(s.length - 1, Math.floor(p * s.length))] ?? NaN;
  return { n: s.length, min: s[0] ?? NaN, p50: at(0.5), p90: at(0.9), p99: at(0.99), max: s.at(-1) ?? NaN, mean: s.reduce((a, b) => a + b, 0) / (s.length || 1) };
}

async function latency() {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  let errors = 0;
  for (let i = 0; i < (job.warmup ?? 100); i++) await once(agent);
  const samples: number[] = [];
  for (let i = 0; i < (job.n ?? 1000); i++) {
    const r = await once(agent);
    if (r.status !== 200) errors++;
    samples.push(r.ms);
  }
  agent.destroy();
  return { ...stats(samples), errors };
}

async function rate() {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
  const total = Math.round((job.rate ?? 200) * (job.seconds ?? 3));
  const interval = 1000 / (job.rate ?? 200);
  const samples: number[] = [];
  let errors = 0;
  const start = performance.now();
  const inflight: Promise<void>[] = [];
  for (let i = 0; i < total; i++) {
    const due = start + i * interval;
    const wait = due - performance.now();
    if (wait > 1) await new Promise((r) => setTimeout(r, wait));
    inflight.push(
      once(agent).then(
        (r) => {
          if (r.status !== 200) errors++;
          samples.push(r.ms);
        },
        () => {
          errors++;
        },
      ),
    );
  }
  await Promise.all(inflight);
  agent.destroy();
  return { ...stats(samples), errors, target_rate: job.rate, achieved_rate: total / ((performance.now() - start) / 1000) };
}

async function stream() {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const ttfb: number[] = [];
  const totals: number[] = [];
  const gaps: number[] = [];
  let reads = 0;
  let coalescedReads = 0;
  let errors = 0;
  for (let i = 0; i < (job.n ?? 10); i++) {
    const arrivals: number[] = [];
    try {
      const r = await once(agent, (at, chunk) => {
        arrivals.push(at);
        reads++;
        // More than one SSE event in one read means bytes were held back and merged.
        if ((chunk.toString('utf8').match(/\n\n/g) ?? []).length > 1) coalescedReads++;
      });
      if (r.status !== 200 || arrivals.length === 0) errors++;
      ttfb.push(r.ttfbMs);
      totals.push(r.ms);
      for (let k = 1; k < arrivals.length; k++) gaps.push(arrivals[k]! - arrivals[k - 1]!);
    } catch {
      errors++;
    }
  }
  agent.destroy();
  return { ttfb: stats(ttfb), total: stats(totals), gap: stats(gaps), reads, coalesced_reads: coalescedReads, errors };
}

const run = job.mode === 'latency' ? latency : job.mode === 'rate' ? rate : stream;
run().then(
  (r) => {
    console.log(JSON.stringify(r));
    process.exit(0);
  },
  (e: unknown) => {
    console.log(JSON.stringify({ failed: e instanceof Error ? e.message : String(e) }));
    process.exit(0);
  },
);
