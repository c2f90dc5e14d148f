/**
 * Starts the whole local system (DESIGN §5) and returns handles to stop it or parts of it:
 * embedded Postgres (PGlite over a socket) or DATABASE_URL, migrations, the Neon WebSocket proxy,
 * the Cerbos server, and both Workers under one `wrangler dev`. Used by `npm start` and by the
 * end-to-end tests, so the tests run exactly what a user runs.
 */
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { PGLiteSocketServer } from '@electric-sql/pglite-socket';
import { ensureLocalSecrets, saveLocalSecrets, writeDotenv } from './dev-vars';
import { startCerbos } from './cerbos-server';
import { freePort, OFFLINE_ENV, ROOT, WRANGLER_BIN } from './paths';
import { migrateDatabase } from './migrate';
import { startNeonProxy, type NeonProxy } from './neon-proxy';
import { spawnTied, stopTied } from './process-tree';

export interface StackOptions {
  gatewayPort?: number;
  adminPort?: number;
  /** Port for the embedded Postgres socket (ignored with databaseUrl). */
  postgresPort?: number;
  neonProxyPort?: number;
  cerbosHttpPort?: number;
  /** Use this Postgres instead of the embedded one. */
  databaseUrl?: string;
  /** Folder for PGlite data; default .data/pglite (git-ignored). */
  pgliteDir?: string;
  /** Folder for wrangler's local KV/Queue state; default .wrangler/state. */
  persistDir?: string;
  /** File holding local secrets; default .dev.vars. */
  devVarsFile?: string;
  /**
   * ALLOW_PRIVATE_UPSTREAMS for both Workers. Default true, so local fake providers on loopback
   * work; `npm start` passes false when the environment says ALLOW_PRIVATE_UPSTREAMS=false, so the
   * SSRF guard can be tried on the real stack.
   */
  allowPrivateUpstreams?: boolean;
  keyCacheTtlSeconds?: number;
  policyCacheTtlSeconds?: number;
  masterKey?: string;
  /** TEST ONLY: enables the admin Worker's `POST /ui/test-login` (ROUTERO_TEST_LOGIN); never for npm start. */
  testLogin?: boolean;
  /**
   * TEST ONLY: sets the gateway's ROUTERO_TEST_CLOCK, which lets a request name the time virtual-key
   * checks use (`x-routero-test-now`), so tests cross a rotation grace period without sleeping.
   * Honoured only outside production (ROUTERO_ENV=development/test); never for npm start.
   */
  testClock?: boolean;
  /** Extra variables for the gateway Worker only (e.g. short upstream timeouts in tests). */
  gatewayVars?: Record<string, string>;
  /** Extra variables for the admin Worker only (e.g. MASTER_KEY_UI_LOGIN=false in a test). */
  adminVars?: Record<string, string>;
  /** Receives every line the child processes print. */
  onLog?: (source: string, line: string) => void;
}

export interface Component {
  stop(): Promise<void>;
  start(): Promise<void>;
}

export interface Stack {
  gatewayUrl: string;
  adminUrl: string;
  masterKey: string;
  /** The evidence signing key (base64 PKCS #8 Ed25519), for tests that verify exports independently. */
  evidenceSigningKey: string;
  databaseUrl: string;
  postgres: Component;
  cerbos: Component;
  stop(): Promise<void>;
}

async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs: number, child?: ChildProcess, recent?: string[]): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const tail = () => (recent?.length ? `:\n${recent.join('\n')}` : '');
  while (Date.now() < deadline) {
    if (child && child.exitCode !== null) throw new Error(`${what} exited with code ${child.exitCode}${tail()}`);
    if (await check().catch(() => false)) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`${what} did not become ready within ${timeoutMs} ms${tail()}`);
}

const httpOk = (url: string) => async () => (await fetch(url, { signal: AbortSignal.timeout(2000) })).ok;

function pipeLines(child: ChildProcess, source: string, onLog?: StackOptions['onLog']) {
  for (const stream of [child.stdout, child.stderr]) {
    let rest = '';
    stream?.setEncoding('utf8');
    stream?.on('data', (chunk: string) => {
      const lines = (rest + chunk).split('\n');
      rest = lines.pop() ?? '';
      for (const line of lines) onLog?.(source, line);
    });
  }
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T | undefined> {
  return Promise.race([p, new Promise<undefined>((r) => setTimeout(() => r(undefined), ms))]);
}

export async function startEmbeddedPostgres(dir: string, port: number): Promise<{ url: string; component: Component; close(): Promise<void> }> {
  fs.mkdirSync(dir, { recursive: true });
  const db = await PGlite.create(dir);
  let server: PGLiteSocketServer | null = null;
  const start = async () => {
    // PGlite runs one query at a time; the socket server multiplexes several clients onto it.
    server = new PGLiteSocketServer({ db, port, host: '127.0.0.1', maxConnections: 16 });
    await server.start();
  };
  const stop = async () => {
    const s = server;
    server = null;
    if (s) await withTimeout(s.stop(), 3000);
  };
  await start();
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres?sslmode=disable`,
    component: { start, stop },
    async close() {
      await stop();
      await withTimeout(db.close(), 3000);
    },
  };
}

export async function startStack(opts: StackOptions = {}): Promise<Stack> {
  const log = opts.onLog ?? (() => undefined);
  const gatewayPort = opts.gatewayPort ?? 8787;
  const adminPort = opts.adminPort ?? 8788;
  const cerbosHttpPort = opts.cerbosHttpPort ?? (await freePort());
  const cleanups: Array<() => Promise<void>> = [];
  // Every component stops at once, not one after another: Ctrl-C must be done within 2 s
  // (finding 13), and nothing here depends on another part still running while it stops.
  const stopAll = async () => {
    const t0 = Date.now();
    await Promise.all(cleanups.splice(0).map((fn) => fn().catch(() => undefined)));
    log('stack', `stopped in ${Date.now() - t0} ms`);
  };

  try {
    // ── secrets ──
    const devVarsFile = opts.devVarsFile ?? path.join(ROOT, '.dev.vars');
    const secrets = ensureLocalSecrets(devVarsFile, opts.masterKey ? { MASTER_KEY: opts.masterKey } : process.env);

    // ── Postgres ──
    let databaseUrl = opts.databaseUrl ?? '';
    let postgres: Component;
    if (databaseUrl) {
      postgres = { start: async () => undefined, stop: async () => undefined };
    } else {
      const pgPort = opts.postgresPort ?? (await freePort());
      const embedded = await startEmbeddedPostgres(opts.pgliteDir ?? path.join(ROOT, '.data', 'pglite'), pgPort);
      cleanups.push(() => embedded.close());
      databaseUrl = embedded.url;
      postgres = embedded.component;
    }
    await migrateDatabase(databaseUrl);
    log('stack', 'migrations applied');

    // ── Neon WebSocket proxy ──
    const dbUrl = new URL(databaseUrl);
    let proxy: NeonProxy = await startNeonProxy({
      port: opts.neonProxyPort ?? 0,
      target: { host: dbUrl.hostname, port: Number(dbUrl.port || 5432) },
    });
    const proxyPort = proxy.port;
    cleanups.push(() => proxy.close());
    if (opts.databaseUrl) {
      // With an external Postgres, "stopping Postgres" means cutting the workers off from it.
      postgres = {
        stop: () => proxy.close(),
        start: async () => {
          proxy = await startNeonProxy({ port: proxyPort, target: { host: dbUrl.hostname, port: Number(dbUrl.port || 5432) } });
        },
      };
    } else {
      const embedded = postgres;
      postgres = {
        stop: async () => {
          await embedded.stop();
          proxy.dropConnections();
        },
        start: () => embedded.start(),
      };
    }

    // ── Cerbos ──
    const cerbosUrl = `http://127.0.0.1:${cerbosHttpPort}`;
    let running: Awaited<ReturnType<typeof startCerbos>> | null = null;
    const cerbos: Component = {
      start: async () => {
        running = await startCerbos(cerbosHttpPort, (line) => log('cerbos', line));
      },
      stop: async () => {
        await running?.stop();
        running = null;
      },
    };
    await cerbos.start();
    cleanups.push(() => cerbos.stop());
    log('stack', `cerbos ready on ${cerbosUrl}`);

    // ── Workers ──
    // wrangler dev binds `--var` only to the first Worker, so each Worker gets a generated copy of
    // its real config (only `main` made absolute) with a `.dev.vars` beside it holding exactly the
    // secrets and local overrides that Worker may see: the gateway never sees MASTER_KEY or
    // DATABASE_URL.
    const persistDir = opts.persistDir ?? path.join(ROOT, '.wrangler', 'state');
    const devDir = path.join(persistDir, '..', `routero-dev-${gatewayPort}`);
    const common = {
      CERBOS_URL: cerbosUrl,
      // Local upstreams (fake providers, self-hosted models) are allowed unless the caller or the
      // environment says otherwise: ALLOW_PRIVATE_UPSTREAMS=false applies the production SSRF rule.
      ALLOW_PRIVATE_UPSTREAMS: String(opts.allowPrivateUpstreams ?? process.env.ALLOW_PRIVATE_UPSTREAMS !== 'false'),
    };
    const edgeConfig = writeDevConfig(devDir, 'edge', path.join(ROOT, 'scripts', 'dev-edge', 'wrangler.toml'), {
      ADMIN_PORT: String(adminPort),
    });
    // Workers AI: the real `[ai]` binding reaches Cloudflare's network even in `wrangler dev`, so
    // locally `AI` is a service binding to a fake with the same run() (scripts/fake-workers-ai).
    const fakeAiConfig = writeDevConfig(devDir, 'fake-workers-ai', path.join(ROOT, 'scripts', 'fake-workers-ai', 'wrangler.toml'), {});
    const gatewayConfig = writeDevConfig(devDir, 'gateway', path.join(ROOT, 'wrangler.toml'), {
      ...common,
      ROUTERO_KEKS: secrets.ROUTERO_KEKS,
      INTERNAL_TOKEN_PUBLIC_KEYS: secrets.INTERNAL_TOKEN_PUBLIC_KEYS,
      ROUTERO_ENV: 'development',
      ...(opts.testClock ? { ROUTERO_TEST_CLOCK: 'true' } : {}),
      KEY_CACHE_TTL_SECONDS: String(opts.keyCacheTtlSeconds ?? 30),
      POLICY_CACHE_TTL_SECONDS: String(opts.policyCacheTtlSeconds ?? 10),
      ...opts.gatewayVars,
    });
    const adminConfig = writeDevConfig(devDir, 'admin', path.join(ROOT, 'admin', 'wrangler.toml'), {
      ...common,
      MASTER_KEY: secrets.MASTER_KEY,
      ROUTERO_KEKS: secrets.ROUTERO_KEKS,
      SESSION_SIGNING_KEY: secrets.SESSION_SIGNING_KEY,
      INTERNAL_TOKEN_SIGNING_KEY: secrets.INTERNAL_TOKEN_SIGNING_KEY,
      EVIDENCE_SIGNING_KEY: secrets.EVIDENCE_SIGNING_KEY,
      DATABASE_URL: databaseUrl,
      NEON_WS_PROXY: `127.0.0.1:${proxyPort}`,
      ...(opts.testLogin ? { ROUTERO_TEST_LOGIN: 'true' } : {}),
      ...opts.adminVars,
    });
    // Tied to this process (scripts/process-tree.ts): wrangler, workerd and esbuild die with us, even
    // when we are killed with SIGKILL. Their 1 s grace keeps Ctrl-C under 2 s.
    const wrangler = spawnTied(
      process.execPath,
      [
        WRANGLER_BIN,
        'dev',
        '-c', edgeConfig,
        '-c', gatewayConfig,
        '-c', adminConfig,
        '-c', fakeAiConfig,
        '--ip', '127.0.0.1',
        '--port', String(gatewayPort),
        '--inspector-port', String(await freePort()),
        '--persist-to', persistDir,
        '--show-interactive-dev-session=false',
      ],
      { cwd: ROOT, env: { ...process.env, ...OFFLINE_ENV, FORCE_COLOR: '0' }, graceMs: 1000 },
    );
    // The last lines wrangler printed go into the error if it fails to start.
    const recent: string[] = [];
    pipeLines(wrangler, 'wrangler', (source, line) => {
      recent.push(line);
      if (recent.length > 30) recent.shift();
      log(source, line);
    });
    cleanups.push(() => stopTied(wrangler));

    // The admin port reaches the same wrangler listener; the dev-edge Worker routes by port.
    const forwarded = new Set<net.Socket>();
    const forwarder = net.createServer((client) => {
      const upstream = net.connect(gatewayPort, '127.0.0.1');
      forwarded.add(client).add(upstream);
      client.once('close', () => forwarded.delete(client));
      upstream.once('close', () => forwarded.delete(upstream));
      client.pipe(upstream).pipe(client);
      client.on('error', () => upstream.destroy());
      upstream.on('error', () => client.destroy());
    });
    await new Promise<void>((resolve, reject) => {
      forwarder.once('error', reject);
      forwarder.listen(adminPort, '127.0.0.1', () => resolve());
    });
    // close() waits for open connections (idle keep-alive ones too), so drop them.
    cleanups.push(
      () =>
        new Promise((r) => {
          forwarder.close(() => r());
          for (const socket of forwarded) socket.destroy();
        }),
    );

    const gatewayUrl = `http://127.0.0.1:${gatewayPort}`;
    const adminUrl = `http://127.0.0.1:${adminPort}`;
    await waitFor('gateway Worker', httpOk(`${gatewayUrl}/healthz`), 90_000, wrangler, recent);
    await waitFor('admin Worker', httpOk(`${adminUrl}/healthz`), 30_000, wrangler, recent);
    log('stack', 'workers ready');

    return {
      gatewayUrl,
      adminUrl,
      masterKey: secrets.MASTER_KEY,
      evidenceSigningKey: secrets.EVIDENCE_SIGNING_KEY,
      databaseUrl,
      postgres,
      cerbos,
      stop: stopAll,
    };
  } catch (e) {
    await stopAll();
    throw e;
  }
}

/**
 * Copies a Worker's wrangler.toml into `dir/name/` with `main` made absolute, and writes a
 * `.dev.vars` beside it (secrets and local overrides of [vars]). Returns the config path.
 */
/**
 * [secrets] makes wrangler dev load only the listed names from .dev.vars; locally the .dev.vars
 * written here is the whole truth (it also overrides [vars]), so the table is left out.
 */
function withoutSecretsTable(toml: string): string {
  let skipping = false;
  return toml
    .split('\n')
    .filter((line) => {
      if (line.startsWith('[')) skipping = line.trim() === '[secrets]';
      return !skipping;
    })
    .join('\n');
}

function writeDevConfig(dir: string, name: string, source: string, devVars: Record<string, string>): string {
  const target = path.join(dir, name);
  fs.mkdirSync(target, { recursive: true });
  const text = withoutSecretsTable(
    fs
      .readFileSync(source, 'utf8')
      .replace(/^main\s*=\s*"([^"]+)"/m, (_, main: string) => `main = ${JSON.stringify(path.resolve(path.dirname(source), main))}`)
      .replace(/^\[ai\]\s*\nbinding\s*=\s*"AI"\s*$/m, '[[services]]\nbinding = "AI"\nservice = "routero-fake-workers-ai"\nentrypoint = "FakeAi"'),
  );
  fs.writeFileSync(path.join(target, 'wrangler.toml'), text);
  writeDotenv(path.join(target, '.dev.vars'), devVars, `Generated by scripts/stack.ts for local development. Never commit.`);
  return path.join(target, 'wrangler.toml');
}

/** Makes sure a demo org and a demo virtual key bound to the mock provider exist; returns the key. */
export async function ensureDemoKey(stack: Stack, devVarsFile: string = path.join(ROOT, '.dev.vars')): Promise<string> {
  const api = async (method: string, p: string, body?: unknown) => {
    const res = await fetch(`${stack.adminUrl}/api/v1${p}`, {
      method,
      headers: { authorization: `Bearer ${stack.masterKey}`, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: res.status, json: (await res.json()) as Record<string, unknown> };
  };
  const secrets = ensureLocalSecrets(devVarsFile, {});
  const existing = secrets.DEMO_VIRTUAL_KEY;
  if (existing) {
    const id = /^rto_([a-z2-7]{16})_/.exec(existing)?.[1];
    if (id) {
      const found = await api('GET', `/keys/${id}`);
      if (found.status === 200 && found.json.status === 'active') return existing;
    }
  }
  const orgs = await api('GET', '/orgs');
  const list = (orgs.json.data as Array<{ id: string; name: string }> | undefined) ?? [];
  const demo = list.find((o) => o.name === 'Demo') ?? (await api('POST', '/orgs', { name: 'Demo' })).json;
  const created = await api('POST', '/keys', { org_id: demo.id, name: 'demo (mock provider)', models: ['mock/*'] });
  if (created.status !== 201) throw new Error(`could not create the demo key: HTTP ${created.status}`);
  const key = created.json.key as string;
  saveLocalSecrets(devVarsFile, { ...secrets, DEMO_VIRTUAL_KEY: key });
  return key;
}
