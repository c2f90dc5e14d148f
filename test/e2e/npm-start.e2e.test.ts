/**
 * `npm start` itself, as a user runs it — `npm start` in a process group of its own, like a job in a
 * terminal: it prints the URLs, the master key and a demo key; the curl command it prints and the
 * README's `openai` snippet work exactly as printed; Ctrl-C (SIGINT to the whole job) stops every
 * process within 2 s; and a hard kill (SIGKILL of npm, or of the launcher's node process) still
 * takes every child with it and frees the ports (finding 13). `ALLOW_PRIVATE_UPSTREAMS=false` in the
 * environment reaches both Workers (finding 5: the SSRF guard can be tried on the real stack).
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, ROOT } from '../../scripts/paths';
import { processAlive } from '../../scripts/process-tree';

const run = promisify(execFile);

interface Started {
  npm: ChildProcess;
  output: () => string;
  stateDir: string;
  ports: number[];
  gatewayPort: number;
  adminPort: number;
}

const started: Started[] = [];

/** Runs `npm start` as its own process group and waits until it says it is ready. */
async function npmStart(extraEnv: Record<string, string> = {}): Promise<Started> {
  const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'routero-start-'));
  const [gatewayPort, adminPort, pglitePort] = [await freePort(), await freePort(), await freePort()];
  const npm = spawn('npm', ['start'], {
    cwd: ROOT,
    env: {
      ...process.env,
      GATEWAY_PORT: String(gatewayPort),
      ADMIN_PORT: String(adminPort),
      PGLITE_PORT: String(pglitePort),
      ROUTERO_STATE_DIR: stateDir,
      DATABASE_URL: '',
      MASTER_KEY: '',
      npm_config_update_notifier: 'false',
      ...extraEnv,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  let output = '';
  npm.stdout!.on('data', (d: Buffer) => (output += d.toString()));
  npm.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  const s: Started = { npm, output: () => output, stateDir, ports: [gatewayPort, adminPort, pglitePort], gatewayPort, adminPort };
  started.push(s);
  const deadline = Date.now() + 170_000;
  while (!output.includes('Press Ctrl-C to stop.')) {
    if (npm.exitCode !== null) throw new Error(`npm start exited early:\n${output}`);
    if (Date.now() > deadline) throw new Error(`npm start did not come up:\n${output}`);
    await new Promise((r) => setTimeout(r, 250));
  }
  return s;
}

afterAll(() => {
  for (const s of started) {
    try {
      process.kill(-s.npm.pid!, 'SIGKILL');
    } catch {
      // already gone
    }
    fs.rmSync(s.stateDir, { recursive: true, force: true });
  }
});

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

/** Every process below `root`, with its command line (the tree as it is now). */
async function descendantsOf(root: number): Promise<Array<{ pid: number; cmd: string }>> {
  const { stdout } = await run('ps', ['-eo', 'pid=,ppid=,args=']);
  const children = new Map<number, Array<{ pid: number; cmd: string }>>();
  for (const line of stdout.trim().split('\n')) {
    const m = /^\s*(\d+)\s+(\d+)\s+(.*)$/.exec(line);
    if (!m) continue;
    const ppid = Number(m[2]);
    children.set(ppid, [...(children.get(ppid) ?? []), { pid: Number(m[1]), cmd: m[3]! }]);
  }
  const out: Array<{ pid: number; cmd: string }> = [];
  const walk = (pid: number) => {
    for (const c of children.get(pid) ?? []) {
      out.push(c);
      walk(c.pid);
    }
  };
  walk(root);
  return out;
}

/**
 * Waits until none of `pids` is alive (zombies count as gone: they hold no ports) and none of the
 * ports accepts a connection; returns the milliseconds since `since`, and what was left on timeout.
 */
async function waitAllGone(procs: Array<{ pid: number; cmd: string }>, ports: number[], since: number, limitMs: number) {
  for (;;) {
    const alive = procs.filter((p) => processAlive(p.pid));
    const open: number[] = [];
    for (const port of ports) if (await portOpen(port)) open.push(port);
    const elapsed = Date.now() - since;
    if ((alive.length === 0 && open.length === 0) || elapsed > limitMs) {
      return { elapsed, left: alive.map((p) => `${p.pid} ${p.cmd.slice(0, 160)}`), open };
    }
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** The processes `npm start` must take down with it: wrangler, workerd, Cerbos and the launcher. */
function expectFullTree(procs: Array<{ cmd: string }>) {
  const has = (re: RegExp) => procs.some((p) => re.test(p.cmd));
  expect(has(/wrangler\.js dev/)).toBe(true);
  expect(has(/workerd serve/)).toBe(true);
  expect(has(/cerbos-linux-x64 server/)).toBe(true);
  expect(has(/scripts\/dev\.ts/)).toBe(true);
}

async function createProviderKey(s: Started, baseUrl: string): Promise<{ status: number; body: string }> {
  const master = /Master key:\s+(\S+)/.exec(s.output())![1]!;
  const headers = { authorization: `Bearer ${master}`, 'content-type': 'application/json' };
  const org = (await (await fetch(`http://127.0.0.1:${s.adminPort}/api/v1/orgs`, { method: 'POST', headers, body: JSON.stringify({ name: 'ssrf' }) })).json()) as { id: string };
  const res = await fetch(`http://127.0.0.1:${s.adminPort}/api/v1/provider-keys`, {
    method: 'POST',
    headers,
    body: JSON.stringify({ org_id: org.id, provider: 'openai', name: 'loopback', secret: 'sk-test-loopback-0000', base_url: baseUrl }),
  });
  return { status: res.status, body: await res.text() };
}

describe('npm start', () => {
  let s: Started;
  beforeAll(async () => {
    s = await npmStart();
  });
  // eslint-disable-next-line security/detect-non-literal-regexp -- label is one of the fixed banner labels in this file
  const printed = (label: string) => new RegExp(`${label}:\\s+(\\S+)`).exec(s.output())?.[1] ?? '';

  it('prints the gateway URL, the admin URL, the master key and a demo key', () => {
    expect(printed('Gateway')).toBe(`http://127.0.0.1:${s.gatewayPort}`);
    expect(printed('Admin API')).toBe(`http://127.0.0.1:${s.adminPort}/api/v1`);
    expect(printed('Master key')).toMatch(/^rto_master_/);
    expect(printed('Demo key')).toMatch(/^rto_[a-z2-7]{16}_[A-Za-z0-9]{43}$/);
  });

  it('keeps its secrets in .dev.vars, never in the output of anything but the launcher banner', () => {
    const devVars = fs.readFileSync(path.join(s.stateDir, '.dev.vars'), 'utf8');
    expect(devVars).toContain(printed('Master key'));
    expect(devVars).toMatch(/ROUTERO_KEKS="1:/);
  });

  it('the curl command it prints works as printed', async () => {
    const out = s.output();
    // The launcher's own "Try it:" block (wrangler prints a curl line of its own for cron triggers).
    const block = out.lastIndexOf('Try it:');
    const command = out.slice(out.indexOf('  curl ', block), out.indexOf('\n\nPress Ctrl-C', block)).trim();
    const { stdout } = await run('sh', ['-c', command]);
    expect(JSON.parse(stdout)).toMatchObject({ object: 'chat.completion', choices: [{ message: { content: 'Hello from the Routero mock provider.' } }] });
  });

  it('the README’s openai snippet works as written', async () => {
    const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
    const snippet = /With the official `openai` SDK[^`]*```js\n([\s\S]*?)```/.exec(readme)![1]!.replace('127.0.0.1:8787', `127.0.0.1:${s.gatewayPort}`);
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

  it('allows loopback provider base URLs by default (local fake providers)', async () => {
    expect((await createProviderKey(s, 'https://127.0.0.1:9/v1')).status).toBe(201);
  });

  it('stops every process and frees its ports within 2 s of Ctrl-C', async () => {
    const procs = await descendantsOf(s.npm.pid!);
    expectFullTree(procs);
    const exited = new Promise<void>((r) => s.npm.once('exit', () => r()));
    const t0 = Date.now();
    // A terminal's Ctrl-C is SIGINT to every process of the foreground job.
    process.kill(-s.npm.pid!, 'SIGINT');
    const { elapsed, left, open } = await waitAllGone(procs, s.ports, t0, 8000);
    await exited;
    console.log(`npm start: every process gone and ports free ${elapsed} ms after Ctrl-C`);
    expect(left).toEqual([]);
    expect(open).toEqual([]);
    expect(elapsed).toBeLessThan(2000);
    expect(s.output()).toContain('SIGINT: stopping every process Routero started');
  });
});

describe('npm start after a hard kill', () => {
  let npmKilled: Started;
  let launcherKilled: Started;
  beforeAll(async () => {
    // Two stacks at once to save time; the first also runs with private upstreams refused.
    [npmKilled, launcherKilled] = await Promise.all([npmStart({ ALLOW_PRIVATE_UPSTREAMS: 'false' }), npmStart()]);
  }, 240_000);

  it('honours ALLOW_PRIVATE_UPSTREAMS=false from the environment', async () => {
    expect(npmKilled.output()).toContain('Private upstreams: refused');
    const refused = await createProviderKey(npmKilled, 'https://127.0.0.1:9/v1');
    expect(refused.status).toBe(400);
    expect(refused.body).toMatch(/base_url/);
  });

  it('SIGKILL of npm: the launcher notices and every child is gone within a few seconds, ports free', async () => {
    const procs = await descendantsOf(npmKilled.npm.pid!);
    expectFullTree(procs);
    const t0 = Date.now();
    process.kill(npmKilled.npm.pid!, 'SIGKILL'); // npm alone, not its group: sh, tsx and node stay
    const { elapsed, left, open } = await waitAllGone(procs, npmKilled.ports, t0, 8000);
    console.log(`npm start: every process gone and ports free ${elapsed} ms after SIGKILL of npm`);
    expect(left).toEqual([]);
    expect(open).toEqual([]);
    expect(elapsed).toBeLessThan(5000);
  });

  it('SIGKILL of the launcher’s node process: wrangler, workerd and Cerbos die with it, ports free', async () => {
    const procs = await descendantsOf(launcherKilled.npm.pid!);
    expectFullTree(procs);
    // The node process that runs scripts/dev.ts under tsx's loader (tsx's CLI is its parent).
    const launcher = procs.find((p) => /tsx\/dist\/preflight\.cjs/.test(p.cmd) && /scripts\/dev\.ts/.test(p.cmd));
    expect(launcher).toBeDefined();
    const t0 = Date.now();
    process.kill(launcher!.pid, 'SIGKILL');
    const { elapsed, left, open } = await waitAllGone(
      procs.filter((p) => p.pid !== launcher!.pid && /wrangler|workerd|cerbos|lifeline/.test(p.cmd)),
      launcherKilled.ports,
      t0,
      8000,
    );
    console.log(`npm start: wrangler, workerd and Cerbos gone and ports free ${elapsed} ms after SIGKILL of the launcher`);
    expect(left).toEqual([]);
    expect(open).toEqual([]);
    expect(elapsed).toBeLessThan(5000);
  });
});
