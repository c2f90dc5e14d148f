/** Starts the real Cerbos server (npm package binary) on loopback for tests, telemetry off. */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { CERBOS_BIN, freePort, OFFLINE_ENV, ROOT } from './stack';

export async function startCerbos(httpPort: number): Promise<{ url: string; stop(): Promise<void> }> {
  const child: ChildProcess = spawn(
    CERBOS_BIN,
    [
      'server',
      `--config=${path.join(ROOT, 'scripts', 'cerbos.yaml')}`,
      `--set=server.httpListenAddr=127.0.0.1:${httpPort}`,
      `--set=server.grpcListenAddr=127.0.0.1:${await freePort()}`,
      `--set=storage.disk.directory=${path.join(ROOT, 'policies')}`,
      `--debug-listen-addr=127.0.0.1:${await freePort()}`,
      '--log-level=error',
    ],
    { env: { ...process.env, ...OFFLINE_ENV }, stdio: 'ignore' },
  );
  const url = `http://127.0.0.1:${httpPort}`;
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`cerbos exited with ${child.exitCode}`);
    const ok = await fetch(`${url}/_cerbos/health`).then((r) => r.ok, () => false);
    if (ok) break;
    if (Date.now() > deadline) throw new Error('cerbos did not start');
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    url,
    stop: () =>
      new Promise((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}
