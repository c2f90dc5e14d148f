/**
 * The four ways to reach the benchmark upstream: direct, a bare pass-through Worker and Routero's
 * gateway (both directly on Miniflare/workerd, without wrangler dev's proxy), and Portkey.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import bcrypt from 'bcryptjs';
import { Miniflare } from 'miniflare';
import { generateKek, loadKeyRing, sealSecret } from '../../lib/crypto/aes-gcm';
import { newVirtualKey } from '../../lib/crypto/virtual-key';
import { kvKeys } from '../../lib/kv/records';
import type { Limits } from '../../lib/limits';
import { startCerbos } from '../cerbos-server';
import { freePort, OFFLINE_ENV, ROOT } from '../paths';

/**
 * `routero_stub`: the same gateway bundle whose AUDIT_QUEUE binding is a stub that accepts and drops
 * `send`/`sendBatch` (benchmark only). Locally the Queue broker runs on the gateway's own workerd
 * thread, so `routero` pays for the harness's broker too; the pair shows both figures.
 */
export type PathName = 'direct' | 'passthrough' | 'routero' | 'routero_stub' | 'portkey';
export const PATHS: PathName[] = ['direct', 'passthrough', 'routero', 'routero_stub', 'portkey'];

/**
 * A ~1 KB chat request, as the targets compare. `benchChunks`: a stream of that many events (the
 * upstream reads `bench_chunks`; the gateways pass the member on like any other).
 */
export function benchBody(model: string, stream = false, benchChunks?: number): string {
  const content = 'The quick brown fox jumps over the lazy dog. '.repeat(21);
  return JSON.stringify({ model, messages: [{ role: 'user', content }], ...(stream ? { stream: true } : {}), ...(benchChunks ? { bench_chunks: benchChunks } : {}) });
}

/** `seconds` of autocannon at `connections` against a target, in its own process, with the benchmark body. */
export async function autocannon(t: Target, connections: number, seconds: number): Promise<{ rps: number; requests: number; errors: number; non2xx: number }> {
  const args = [path.join(ROOT, 'node_modules', 'autocannon', 'autocannon.js'), '-j', '-c', String(connections), '-d', String(seconds), '-m', 'POST', '-b', benchBody(t.model)];
  for (const [k, v] of Object.entries(t.headers)) args.push('-H', `${k}=${v}`);
  args.push(t.url);
  const { stdout } = await promisify(execFile)(process.execPath, args, { cwd: ROOT, maxBuffer: 16 << 20 });
  const r = JSON.parse(stdout) as { requests: { average: number; total: number }; errors: number; timeouts: number; non2xx: number };
  return { rps: r.requests.average, requests: r.requests.total, errors: r.errors + r.timeouts, non2xx: r.non2xx };
}

export interface Target {
  url: string;
  headers: Record<string, string>;
  model: string;
}

export interface Targets {
  targets: Record<PathName, Target>;
  upstreamUrl: string;
  miniflare: Miniflare;
  /** A new virtual key; with `limits`, one limited subject (the key itself) — its requests go through a LimitCounter. */
  newRouteroKey(limits?: Limits): Promise<string>;
  workerdPids(): Promise<number[]>;
  stop(): Promise<void>;
}

const ORG = '00000000-0000-4000-8000-0000000000be';

/** "fetch the upstream and return the response": the floor any gateway on Workers pays. */
const PASSTHROUGH = `export default {
  fetch(request, env) {
    const url = new URL(request.url);
    return fetch(env.UPSTREAM + url.pathname, { method: request.method, headers: request.headers, body: request.body });
  },
};`;

/** Stands in for the admin Worker's consumer here: acknowledges and counts audit events. */
const AUDIT_SINK = `export default { async queue(batch) { batch.ackAll(); } };`;

/** The Queue binding of the `routero_stub` gateway: a wrapped binding that drops what it is sent. */
const AUDIT_STUB = `export default function () {
  return { async send() {}, async sendBatch() {} };
}`;

async function startChild(cmd: string, args: string[], ready: RegExp, env: NodeJS.ProcessEnv = {}): Promise<{ child: ChildProcess; match: RegExpExecArray }> {
  // Its own process group, so stopping it also stops what it started (tsx runs a child node).
  const child = spawn(cmd, args, { cwd: ROOT, env: { ...process.env, ...OFFLINE_ENV, ...env }, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let out = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${path.basename(args[0] ?? cmd)} did not start: ${out.slice(-500)}`)), 60_000);
    const onData = (d: Buffer) => {
      out += d.toString();
      const m = ready.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve({ child, match: m });
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`exited ${code}: ${out.slice(-500)}`));
    });
  });
}

export async function startTargets(opts: { gatewayBundle: string; chunks: number; gapMs: number; inspectorPort?: number }): Promise<Targets> {
  const tsx = path.join(ROOT, 'node_modules', 'tsx', 'dist', 'cli.mjs');
  const upstream = await startChild(process.execPath, [tsx, 'scripts/bench/upstream.ts', '0', String(opts.chunks), String(opts.gapMs)], /ready (\d+)/);
  const upstreamUrl = `http://127.0.0.1:${upstream.match[1]}`;

  const cerbos = await startCerbos(await freePort());
  const kek = `1:${generateKek()}`;
  const passthroughPort = await freePort();
  const gatewayPort = await freePort();
  const stubPort = await freePort();
  const gatewayWorker = (name: string, port: number, audit: Record<string, unknown>) => ({
    name,
    modules: true,
    scriptPath: opts.gatewayBundle,
    compatibilityDate: '2026-05-01',
    compatibilityFlags: ['enable_request_signal'],
    kvNamespaces: { ROUTERO_KV: 'routero-kv' },
    ...audit,
    durableObjects: { LIMITS: { className: 'LimitCounter', useSQLite: true } },
    bindings: {
      ROUTERO_KEKS: kek,
      CERBOS_URL: cerbos.url,
      ALLOW_PRIVATE_UPSTREAMS: 'true',
      ROUTERO_ENV: 'development',
      // The benchmark reports which authentication path each request took.
      EXPOSE_SERVER_TIMING: 'true',
      KEY_CACHE_TTL_SECONDS: '30',
      POLICY_CACHE_TTL_SECONDS: '10',
    },
    unsafeDirectSockets: [{ host: '127.0.0.1', port }],
  });
  const miniflare = new Miniflare({
    host: '127.0.0.1',
    port: await freePort(),
    ...(opts.inspectorPort ? { inspectorPort: opts.inspectorPort } : {}),
    workers: [
      {
        name: 'passthrough',
        modules: true,
        script: PASSTHROUGH,
        compatibilityDate: '2026-05-01',
        bindings: { UPSTREAM: upstreamUrl },
        unsafeDirectSockets: [{ host: '127.0.0.1', port: passthroughPort }],
      },
      gatewayWorker('routero-gateway', gatewayPort, { queueProducers: { AUDIT_QUEUE: 'routero-audit' } }),
      gatewayWorker('routero-gateway-stub', stubPort, { wrappedBindings: { AUDIT_QUEUE: { scriptName: 'audit-stub' } } }),
      { name: 'audit-stub', modules: true, script: AUDIT_STUB },
      {
        name: 'audit-sink',
        modules: true,
        script: AUDIT_SINK,
        compatibilityDate: '2026-05-01',
        queueConsumers: { 'routero-audit': { maxBatchSize: 100, maxBatchTimeout: 1 } },
      },
    ],
  });
  await miniflare.ready;
  const kv = await miniflare.getKVNamespace('ROUTERO_KV', 'routero-gateway');
  // Both gateways bind the same namespace id, so they read the same records.
  const put = (k: string, v: string) => kv.put(k, v);
  const ring = await loadKeyRing(kek);
  const pkId = crypto.randomUUID();
  const sealed = await sealSecret(ring, { recordId: pkId, orgId: ORG, provider: 'openai' }, 'sk-bench-provider-key');
  await put(kvKeys.providerKeys(ORG, 'openai'), JSON.stringify([{ id: pkId, org_id: ORG, provider: 'openai', base_url: `${upstreamUrl}/v1`, ...sealed }]));

  const newRouteroKey = async (limits?: Limits) => {
    const { id, secret, key } = newVirtualKey();
    const record = {
      id,
      org_id: ORG,
      name: 'bench',
      secret_hash: await bcrypt.hash(secret, 10),
      models: ['openai/*'],
      cidrs: [],
      expires_at: null,
      revoked_at: null,
      version: 1,
      ...(limits ? { limits: [{ kind: 'key', id, limits }] } : {}),
    };
    await put(kvKeys.virtualKey(id), JSON.stringify(record));
    return key;
  };
  const routeroKey = await newRouteroKey();

  const portkeyPort = await freePort();
  const portkey = await startChild(process.execPath, [path.join(ROOT, 'node_modules', '@portkey-ai', 'gateway', 'build', 'start-server.js'), '--headless', `--port=${portkeyPort}`], /Ready for connections|running at/);

  const json = { 'content-type': 'application/json' };
  return {
    upstreamUrl,
    miniflare,
    targets: {
      direct: { url: `${upstreamUrl}/v1/chat/completions`, headers: { ...json, authorization: 'Bearer sk-bench-provider-key' }, model: 'gpt-4o-mini' },
      passthrough: { url: `http://127.0.0.1:${passthroughPort}/v1/chat/completions`, headers: { ...json, authorization: 'Bearer sk-bench-provider-key' }, model: 'gpt-4o-mini' },
      routero: { url: `http://127.0.0.1:${gatewayPort}/v1/chat/completions`, headers: { ...json, authorization: `Bearer ${routeroKey}` }, model: 'openai/gpt-4o-mini' },
      routero_stub: { url: `http://127.0.0.1:${stubPort}/v1/chat/completions`, headers: { ...json, authorization: `Bearer ${routeroKey}` }, model: 'openai/gpt-4o-mini' },
      portkey: {
        url: `http://127.0.0.1:${portkeyPort}/v1/chat/completions`,
        headers: { ...json, authorization: 'Bearer sk-bench-provider-key', 'x-portkey-provider': 'openai', 'x-portkey-custom-host': `${upstreamUrl}/v1` },
        model: 'gpt-4o-mini',
      },
    },
    newRouteroKey,
    async workerdPids() {
      const { execFileSync } = await import('node:child_process');
      const out = execFileSync('ps', ['-eo', 'pid=,ppid=,comm=']).toString();
      const rows = out.trim().split('\n').map((l) => l.trim().split(/\s+/));
      return rows.filter((r) => r[2] === 'workerd' && Number(r[1]) === process.pid).map((r) => Number(r[0]));
    },
    async stop() {
      await miniflare.dispose();
      for (const c of [portkey.child, upstream.child]) {
        try {
          process.kill(-c.pid!, 'SIGKILL');
        } catch {
          c.kill('SIGKILL');
        }
      }
      await cerbos.stop();
    },
  };
}
