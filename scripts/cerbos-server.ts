/**
 * Starts the real Cerbos server (the npm package's binary) on loopback: policies from policies/,
 * telemetry off, gRPC and the debug listener on loopback ports too.
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { CERBOS_BIN, freePort, OFFLINE_ENV, ROOT } from './paths';

export async function startCerbos(httpPort: number, onLog?: (line: string) => void): Promise<{ url: string; stop(): Promise<void> }> {
  const child = spawn(
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
    { cwd: ROOT, env: { ...process.env, ...OFFLINE_ENV }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  for (const stream of [child.stdout, child.stderr]) {
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => {
      for (const line of chunk.split('\n')) if (line) onLog?.(line);
    });
  }
  const url = `http://127.0.0.1:${httpPort}`;
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`cerbos exited with ${child.exitCode}`);
    if (await fetch(`${url}/_cerbos/health`).then((r) => r.ok, () => false)) break;
    if (Date.now() > deadline) throw new Error('cerbos did not start within 30 s');
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    url,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        const kill = setTimeout(() => child.kill('SIGKILL'), 3000);
        child.once('exit', () => {
          clearTimeout(kill);
          resolve();
        });
        child.kill('SIGTERM');
      }),
  };
}
