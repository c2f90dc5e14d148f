/**
 * Starts the real Cerbos server (the npm package's binary) on loopback: policies from policies/,
 * telemetry off, gRPC and the debug listener on loopback ports too.
 */
import path from 'node:path';
import { CERBOS_BIN, freePort, OFFLINE_ENV, ROOT } from './paths';
import { spawnTied, stopTied } from './process-tree';

export async function startCerbos(httpPort: number, onLog?: (line: string) => void): Promise<{ url: string; stop(): Promise<void> }> {
  // Tied to this process: Cerbos dies with whoever started it, even after a SIGKILL (finding 13).
  const child = spawnTied(
    CERBOS_BIN,
    [
      'server',
      `--config=${path.join(ROOT, 'scripts', 'cerbos.yaml')}`,
      `--set=server.httpListenAddr=127.0.0.1:${httpPort}`,
      `--set=server.grpcListenAddr=127.0.0.1:${await freePort()}`,
      `--set=storage.disk.directory=${path.join(ROOT, 'policies')}`,
      `--debug-listen-addr=127.0.0.1:${await freePort()}`,
      '--log-level=warn',
    ],
    { cwd: ROOT, env: { ...process.env, ...OFFLINE_ENV }, graceMs: 1000 },
  );
  for (const stream of [child.stdout, child.stderr]) {
    stream?.setEncoding('utf8');
    stream?.on('data', (chunk: string) => {
      for (const line of chunk.split('\n')) if (line) onLog?.(line);
    });
  }
  const url = `http://127.0.0.1:${httpPort}`;
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`cerbos exited with ${child.exitCode}`);
    if (await fetch(`${url}/_cerbos/health`).then((r) => r.ok, () => false)) break;
    if (Date.now() > deadline) {
      await stopTied(child);
      throw new Error('cerbos did not start within 30 s');
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    url,
    stop: () => stopTied(child),
  };
}
