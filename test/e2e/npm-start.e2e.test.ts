/**
 * `npm start` itself, as a user runs it: it prints the URLs, the master key and a demo key; the
 * curl command it prints and the README's `openai` snippet work exactly as printed; Ctrl-C stops
 * every process within a few seconds.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, ROOT } from '../../scripts/paths';

const run = promisify(execFile);
let child: ChildProcess;
let output = '';
let stateDir: string;
let gatewayPort: number;
let adminPort: number;

function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

beforeAll(async () => {
  stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'routero-start-'));
  gatewayPort = await freePort();
  adminPort = await freePort();
  child = spawn(process.execPath, [path.join(ROOT, 'node_modules', 'tsx', 'dist', 'cli.mjs'), 'scripts/dev.ts'], {
    cwd: ROOT,
    env: { ...process.env, GATEWAY_PORT: String(gatewayPort), ADMIN_PORT: String(adminPort), PGLITE_PORT: String(await freePort()), ROUTERO_STATE_DIR: stateDir, DATABASE_URL: '', MASTER_KEY: '' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  const deadline = Date.now() + 150_000;
  while (!output.includes('Press Ctrl-C to stop.')) {
    if (child.exitCode !== null) throw new Error(`npm start exited early:\n${output}`);
    if (Date.now() > deadline) throw new Error(`npm start did not come up:\n${output}`);
    await new Promise((r) => setTimeout(r, 250));
  }
});

afterAll(async () => {
  if (child.exitCode === null) child.kill('SIGKILL');
  fs.rmSync(stateDir, { recursive: true, force: true });
});

async function descendantsOf(root: number): Promise<number[]> {
  const { stdout } = await run('ps', ['-eo', 'pid=,ppid=']);
  const children = new Map<number, number[]>();
  for (const line of stdout.trim().split('\n')) {
    const [pid, ppid] = line.trim().split(/\s+/).map(Number) as [number, number];
    children.set(ppid, [...(children.get(ppid) ?? []), pid]);
  }
  const out: number[] = [];
  const walk = (pid: number) => {
    for (const c of children.get(pid) ?? []) {
      out.push(c);
      walk(c);
    }
  };
  walk(root);
  return out;
}

const printed = (label: string) => new RegExp(`${label}:\\s+(\\S+)`).exec(output)?.[1] ?? '';

describe('npm start', () => {
  it('prints the gateway URL, the admin URL, the master key and a demo key', () => {
    expect(printed('Gateway')).toBe(`http://127.0.0.1:${gatewayPort}`);
    expect(printed('Admin API')).toBe(`http://127.0.0.1:${adminPort}/api/v1`);
    expect(printed('Master key')).toMatch(/^rto_master_/);
    expect(printed('Demo key')).toMatch(/^rto_[a-z2-7]{16}_[A-Za-z0-9]{43}$/);
  });

  it('keeps its secrets in .dev.vars, never in the output of anything but the launcher banner', () => {
    const devVars = fs.readFileSync(path.join(stateDir, '.dev.vars'), 'utf8');
    expect(devVars).toContain(printed('Master key'));
    expect(devVars).toMatch(/ROUTERO_KEKS="1:/);
  });

  it('the curl command it prints works as printed', async () => {
    const start = output.indexOf('  curl ');
    const end = output.indexOf('\n\nPress Ctrl-C');
    const command = output.slice(start, end).trim();
    const { stdout } = await run('sh', ['-c', command]);
    expect(JSON.parse(stdout)).toMatchObject({ object: 'chat.completion', choices: [{ message: { content: 'Hello from the Routero mock provider.' } }] });
  });

  it('the README’s openai snippet works as written', async () => {
    const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
    const snippet = /With the official `openai` SDK[^`]*```js\n([\s\S]*?)```/.exec(readme)![1]!.replace('127.0.0.1:8787', `127.0.0.1:${gatewayPort}`);
    const file = path.join(ROOT, 'test-output', `readme-snippet-${process.pid}.mjs`);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, snippet);
    try {
      const { stdout } = await run(process.execPath, [file], { env: { ...process.env, ROUTERO_KEY: printed('Demo key') } });
      expect(stdout.trim()).toBe('Hello from the Routero mock provider.');
    } finally {
      fs.rmSync(file);
    }
  });

  it('stops every process within a few seconds on Ctrl-C', async () => {
    const descendants = await descendantsOf(child.pid!);
    expect(descendants.length).toBeGreaterThanOrEqual(3); // tsx's node, cerbos, wrangler, workerd…
    const stopped = Date.now();
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    child.kill('SIGINT');
    expect(await exited).toBe(0);
    expect(Date.now() - stopped).toBeLessThan(8000);
    expect(await portOpen(gatewayPort)).toBe(false);
    expect(await portOpen(adminPort)).toBe(false);
    const alive = () =>
      descendants.filter((pid) => {
        try {
          process.kill(pid, 0);
          return true;
        } catch {
          return false;
        }
      });
    // "Within a few seconds": everything it started is gone 8 s after Ctrl-C at the latest
    // (typically under 2 s; CI machines run other work meanwhile).
    while (alive().length > 0 && Date.now() - stopped < 8000) await new Promise((r) => setTimeout(r, 100));
    const left = alive().map((pid) => {
      try {
        return `${pid} ${fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ').slice(0, 200)}`;
      } catch {
        return String(pid);
      }
    });
    expect(left).toEqual([]);
  });
});
