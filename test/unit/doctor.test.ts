/**
 * `npm run doctor` on a production-ready configuration and on configurations with each mistake it
 * must catch, through the real command (wrangler's TOML parser, the generated Env types).
 */
import { execFile } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { diagnose, secretNamesFromTypes, type WorkerConfig } from '../../scripts/doctor/checks';
import { ROOT } from '../../scripts/paths';

const run = promisify(execFile);
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'routero-doctor-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const KV_ID = '3f1c9a7e5b2d4c6e8f0a1b2c3d4e5f60';
const keks = `1:${randomBytes(32).toString('base64')}`;
// The internal service-token pair (README "Internal service tokens"): private JWK on the admin Worker, public JWK Set on the gateway.
const serviceKeys = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const serviceKid = 'doctor-test';
const goodSecrets = {
  gateway: {
    ROUTERO_KEKS: keks,
    INTERNAL_TOKEN_PUBLIC_KEYS: JSON.stringify({ keys: [{ ...serviceKeys.publicKey.export({ format: 'jwk' }), kid: serviceKid, alg: 'ES256', use: 'sig' }] }),
    CERBOS_ACCESS_CLIENT_ID: 'abc.access',
    CERBOS_ACCESS_CLIENT_SECRET: randomBytes(24).toString('hex'),
  },
  admin: {
    MASTER_KEY: `rto_master_${randomBytes(30).toString('base64url')}`,
    ROUTERO_KEKS: keks,
    DATABASE_URL: 'postgres://u:p@ep-example.neon.tech/routero',
    SESSION_SIGNING_KEY: randomBytes(36).toString('base64'),
    EVIDENCE_SIGNING_KEY: generateKeyPairSync('ed25519').privateKey.export({ format: 'der', type: 'pkcs8' }).toString('base64'),
    INTERNAL_TOKEN_SIGNING_KEY: JSON.stringify({ ...serviceKeys.privateKey.export({ format: 'jwk' }), kid: serviceKid, alg: 'ES256' }),
    CERBOS_ACCESS_CLIENT_ID: 'abc.access',
    CERBOS_ACCESS_CLIENT_SECRET: randomBytes(24).toString('hex'),
  },
};

/** The repo's real wrangler.toml files, with the production edits applied, then `edit`. */
function productionConfigs(edit: (gateway: string, admin: string) => [string, string] = (g, a) => [g, a]) {
  const fix = (s: string) => s.replace(/id = "0{32}"/, `id = "${KV_ID}"`).replace(/CERBOS_URL = "[^"]+"/, 'CERBOS_URL = "https://cerbos.example.com"');
  const [g, a] = edit(fix(fs.readFileSync(path.join(ROOT, 'wrangler.toml'), 'utf8')), fix(fs.readFileSync(path.join(ROOT, 'admin', 'wrangler.toml'), 'utf8')));
  const sub = fs.mkdtempSync(path.join(dir, 'case-'));
  // `main` stays relative to the Worker's folder, as in the repository.
  fs.mkdirSync(path.join(sub, 'admin'));
  fs.writeFileSync(path.join(sub, 'wrangler.toml'), g);
  fs.writeFileSync(path.join(sub, 'admin', 'wrangler.toml'), a);
  return sub;
}

function dotenv(file: string, values: Record<string, string>) {
  fs.writeFileSync(file, Object.entries(values).map(([k, v]) => `${k}="${v}"`).join('\n'));
}

async function doctor(sub: string, secrets = goodSecrets): Promise<{ code: number; out: string }> {
  dotenv(path.join(sub, 'gateway.env'), secrets.gateway);
  dotenv(path.join(sub, 'admin.env'), secrets.admin);
  const args = ['--import', 'tsx', 'scripts/doctor/index.ts', '--config', path.join(sub, 'wrangler.toml'), '--admin-config', path.join(sub, 'admin', 'wrangler.toml'), '--gateway-secrets', path.join(sub, 'gateway.env'), '--admin-secrets', path.join(sub, 'admin.env')];
  return run(process.execPath, args, { cwd: ROOT, env: { PATH: process.env.PATH, WRANGLER_SEND_METRICS: 'false' } }).then(
    (r) => ({ code: 0, out: r.stdout }),
    (e: { code: number; stdout: string }) => ({ code: e.code, out: e.stdout }),
  );
}

describe('npm run doctor', () => {
  it('passes a production-ready configuration', async () => {
    const r = await doctor(productionConfigs());
    expect(r.out).toContain('No errors');
    expect(r.out).not.toContain('✗');
    expect(r.code).toBe(0);
  }, 60_000);

  it('fails the repository’s local-development configuration: placeholder KV ids, Cerbos on loopback, no secrets', async () => {
    const sub = fs.mkdtempSync(path.join(dir, 'repo-'));
    dotenv(path.join(sub, 'gateway.env'), {});
    dotenv(path.join(sub, 'admin.env'), {});
    const args = ['--import', 'tsx', 'scripts/doctor/index.ts', '--gateway-secrets', path.join(sub, 'gateway.env'), '--admin-secrets', path.join(sub, 'admin.env')];
    const res = await run(process.execPath, args, { cwd: ROOT }).then(() => ({ code: 0, out: '' }), (e: { code: number; stdout: string }) => ({ code: e.code, out: e.stdout }));
    expect(res.code).toBe(1);
    expect(res.out).toContain('KV namespace ROUTERO_KV has the placeholder id');
    expect(res.out).toMatch(/CERBOS_URL http:\/\/127\.0\.0\.1:3592 is a loopback/);
    for (const name of ['ROUTERO_KEKS', 'MASTER_KEY', 'DATABASE_URL', 'SESSION_SIGNING_KEY', 'EVIDENCE_SIGNING_KEY']) expect(res.out).toContain(`secret ${name} is not set`);
    expect(res.out).toContain('fix: wrangler secret put SESSION_SIGNING_KEY -c admin/wrangler.toml');
  }, 60_000);

  it.each([
    ['ALLOW_PRIVATE_UPSTREAMS=true', (g: string, a: string) => [g.replace('ALLOW_PRIVATE_UPSTREAMS = "false"', 'ALLOW_PRIVATE_UPSTREAMS = "true"'), a], /ALLOW_PRIVATE_UPSTREAMS is "true" \(wrangler\.toml\)/],
    ['Cerbos on a private address', (g: string, a: string) => [g, a.replace('https://cerbos.example.com', 'http://10.0.0.5:3592')], /CERBOS_URL http:\/\/10\.0\.0\.5:3592 is a loopback or private address \(admin\/wrangler\.toml\)/],
    ['Cerbos over plain http', (g: string, a: string) => [g.replace('https://cerbos.example.com', 'http://cerbos.example.com'), a], /is not https/],
    ['a development gateway', (g: string, a: string) => [g.replace('ROUTERO_ENV = "production"', 'ROUTERO_ENV = "development"'), a], /ROUTERO_ENV is "development"/],
  ] as const)('fails on %s', async (_name, edit, expected) => {
    const r = await doctor(productionConfigs((g, a) => edit(g, a) as [string, string]));
    expect(r.code).toBe(1);
    expect(r.out).toMatch(expected);
  }, 60_000);

  // The secret checks read no file beyond the two configs: run them in-process on configs parsed
  // once by wrangler's own reader (the command above already proved the wiring).
  const parsed = async () => {
    const { experimental_readRawConfig } = await import('wrangler');
    const sub = productionConfigs();
    const read = (f: string) => experimental_readRawConfig({ config: f }).rawConfig as unknown as WorkerConfig;
    const types = (n: string) => secretNamesFromTypes(fs.readFileSync(path.join(ROOT, 'types', `${n}.d.ts`), 'utf8'));
    return { gateway: read(path.join(sub, 'wrangler.toml')), admin: read(path.join(sub, 'admin', 'wrangler.toml')), secretNames: { gateway: types('gateway'), admin: types('admin') } };
  };
  let configs: Awaited<ReturnType<typeof parsed>>;
  const diagnoseWith = async (secrets: { gateway: Record<string, string>; admin: Record<string, string> }) => {
    configs ??= await parsed();
    return diagnose({ ...configs, secrets });
  };

  it('finds nothing wrong with the production secrets in-process either', async () => {
    expect(await diagnoseWith(goodSecrets)).toEqual([]);
  }, 60_000);

  it.each([
    ['a weak master key', { admin: { MASTER_KEY: 'password123' } }, /MASTER_KEY is weak/],
    ['a long but repetitive master key', { admin: { MASTER_KEY: 'a'.repeat(64) } }, /MASTER_KEY is weak/],
    ['a missing secret', { admin: { EVIDENCE_SIGNING_KEY: '' } }, /secret EVIDENCE_SIGNING_KEY is not set/],
    ['KEKs that differ between Workers', { gateway: { ROUTERO_KEKS: `1:${randomBytes(32).toString('base64')}` } }, /ROUTERO_KEKS differs/],
    ['a malformed KEK', { gateway: { ROUTERO_KEKS: '1:c2hvcnQ=' }, admin: { ROUTERO_KEKS: '1:c2hvcnQ=' } }, /ROUTERO_KEKS version 1 is not 32 bytes/],
    ['half an Access token', { admin: { CERBOS_ACCESS_CLIENT_SECRET: '' } }, /only one of CERBOS_ACCESS_CLIENT_ID and CERBOS_ACCESS_CLIENT_SECRET/],
    ['an evidence key that is not Ed25519', { admin: { EVIDENCE_SIGNING_KEY: randomBytes(48).toString('base64') } }, /EVIDENCE_SIGNING_KEY is not a base64 PKCS #8 Ed25519/],
  ] as const)('fails on %s', async (_name, change, expected) => {
    const secrets = { gateway: { ...goodSecrets.gateway, ...('gateway' in change ? change.gateway : {}) }, admin: { ...goodSecrets.admin, ...('admin' in change ? change.admin : {}) } };
    const errors = (await diagnoseWith(secrets)).filter((f) => f.level === 'error');
    expect(errors.map((f) => f.problem).join('\n')).toMatch(expected);
    expect(errors.every((f) => f.fix.length > 0)).toBe(true);
  }, 60_000);

  it('warns (exit 0) when Cerbos is public without an Access token', async () => {
    const r = await doctor(productionConfigs(), {
      gateway: { ROUTERO_KEKS: keks, INTERNAL_TOKEN_PUBLIC_KEYS: goodSecrets.gateway.INTERNAL_TOKEN_PUBLIC_KEYS } as typeof goodSecrets.gateway,
      admin: { ...goodSecrets.admin, CERBOS_ACCESS_CLIENT_ID: '', CERBOS_ACCESS_CLIENT_SECRET: '' },
    });
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/! warning \[gateway\] Cerbos is on a public URL but no Cloudflare Access service token is set/);
  }, 60_000);
});
