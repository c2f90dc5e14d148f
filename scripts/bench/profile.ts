/**
 * CPU profile of the gateway under load, through workerd's inspector (Chrome DevTools protocol).
 * Usage: tsx scripts/bench/profile.ts [seconds]   → bench-output/gateway.cpuprofile and a
 * self-time summary by function on stdout.
 */
import { execFile, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import WebSocket from 'ws';
import { freePort, ROOT, WRANGLER_BIN } from '../paths';
import { startTargets } from './targets';

const run = promisify(execFile);
const seconds = Number(process.argv[2] ?? 5);
const OUT = path.join(ROOT, 'bench-output');

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
}

async function main() {
  execFileSync(process.execPath, [WRANGLER_BIN, 'deploy', '--dry-run', '--no-minify', '--outdir', path.join(OUT, 'gateway-profile')], {
    cwd: ROOT,
    stdio: 'ignore',
    env: { ...process.env, WRANGLER_SEND_METRICS: 'false', WRANGLER_HIDE_BANNER: 'true' },
  });
  const inspectorPort = await freePort();
  const t = await startTargets({ gatewayBundle: path.join(OUT, 'gateway-profile', 'index.js'), chunks: 5, gapMs: 5, inspectorPort });
  try {
    const list = (await (await fetch(`http://127.0.0.1:${inspectorPort}/json`)).json()) as Array<{ id: string; webSocketDebuggerUrl: string }>;
    const target = list.find((l) => l.id.includes('routero-gateway')) ?? list[0]!;
    const ws = new WebSocket(target.webSocketDebuggerUrl);
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
    const tg = t.targets.routero;
    const body = JSON.stringify({ model: tg.model, messages: [{ role: 'user', content: 'The quick brown fox jumps over the lazy dog. '.repeat(21) }] });
    const load = (d: number) => {
      const args = [path.join(ROOT, 'node_modules', 'autocannon', 'autocannon.js'), '-j', '-c', '32', '-d', String(d), '-m', 'POST', '-b', body];
      for (const [k, v] of Object.entries(tg.headers)) args.push('-H', `${k}=${v}`);
      args.push(tg.url);
      return run(process.execPath, args, { maxBuffer: 1 << 24 });
    };
    await load(2); // warm up
    await send('Profiler.enable');
    await send('Profiler.setSamplingInterval', { interval: 100 });
    await send('Profiler.start');
    const { stdout } = await load(seconds);
    const { profile } = (await send('Profiler.stop')) as { profile: { nodes: ProfileNode[] } };
    ws.close();
    fs.writeFileSync(path.join(OUT, 'gateway.cpuprofile'), JSON.stringify(profile));
    const bySelf = new Map<string, number>();
    let total = 0;
    for (const n of profile.nodes) {
      const hits = n.hitCount ?? 0;
      total += hits;
      const name = `${n.callFrame.functionName || '(anonymous)'} ${path.basename(n.callFrame.url)}:${n.callFrame.lineNumber}`;
      bySelf.set(name, (bySelf.get(name) ?? 0) + hits);
    }
    console.log(`load: ${Math.round((JSON.parse(stdout) as { requests: { average: number } }).requests.average)} req/s; samples: ${total}`);
    for (const [name, hits] of [...bySelf].sort((a, b) => b[1] - a[1]).slice(0, 30)) console.log(`${((hits / total) * 100).toFixed(1).padStart(5)} %  ${name}`);
  } finally {
    await t.stop();
  }
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    console.error(e);
    process.exit(1);
  },
);
