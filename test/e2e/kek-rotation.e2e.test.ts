/**
 * Rotating the key-encryption key end to end: add a KEK version, re-encrypt every provider key
 * (and SSO client secret) with `npm run kek:reencrypt`, remove the old version — and the gateway
 * keeps calling the provider with the same decrypted key throughout, and SSO sign-in keeps working.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import OpenAI from 'openai';
import pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { generateKek } from '../../lib/crypto/aes-gcm';
import { freePort, ROOT } from '../../scripts/paths';
import { readDotenv, writeDotenv } from '../../scripts/dev-vars';
import { startStack, type Stack } from '../../scripts/stack';
import { startFakeOpenAI, type FakeProvider } from '../support/fake-providers';
import { startTestIdp, type TestIdp } from '../support/oidc-idp';

const run = promisify(execFile);
const SECRET = `sk-rotation-${crypto.randomUUID()}`;
let tmp: string;
let openai: FakeProvider;
let stack: Stack | null = null;
let pglitePort: number;
/** Fixed across restarts: the redirect URI registered at the IdP names it. */
let adminPort: number;
let idp: TestIdp;

async function start(keks: string): Promise<Stack> {
  const devVarsFile = path.join(tmp, '.dev.vars');
  writeDotenv(devVarsFile, { ...readDotenv(devVarsFile), ROUTERO_KEKS: keks }, 'test');
  stack = await startStack({
    gatewayPort: await freePort(),
    adminPort,
    postgresPort: pglitePort,
    pgliteDir: path.join(tmp, 'pglite'),
    persistDir: path.join(tmp, 'state'),
    devVarsFile,
  });
  return stack;
}

async function stop() {
  await stack?.stop();
  stack = null;
}

beforeAll(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'routero-kek-'));
  openai = await startFakeOpenAI({ gapMs: 0 });
  pglitePort = await freePort();
  adminPort = await freePort();
  idp = await startTestIdp();
});

afterAll(async () => {
  await stop();
  await openai.close();
  await idp?.close();
  fs.rmSync(tmp, { recursive: true, force: true });
});

async function kekVersions(s: Stack): Promise<number[]> {
  const db = new pg.Client({ connectionString: s.databaseUrl });
  await db.connect();
  try {
    return (await db.query('select kek_version from provider_keys where deleted_at is null')).rows.map((r) => Number(r.kek_version));
  } finally {
    await db.end();
  }
}

async function callThrough(s: Stack, key: string) {
  const before = openai.received.length;
  const client = new OpenAI({ baseURL: `${s.gatewayUrl}/v1`, apiKey: key, maxRetries: 0 });
  const r = await client.chat.completions.create({ model: 'openai/gpt-4o-mini', messages: [{ role: 'user', content: 'x' }] });
  expect(r.choices[0]!.message.content).toBe('The quick brown fox jumps.');
  expect(openai.received[before]!.headers.authorization).toBe(`Bearer ${SECRET}`);
}

/** A whole SSO login over HTTP: start, sign in at the IdP with MFA, callback → a session. */
async function ssoLogin(s: Stack, connectionId: string) {
  const start = await fetch(`${s.adminUrl}/sso/oidc/${connectionId}/start`, { redirect: 'manual' });
  expect(start.status).toBe(302);
  const cookie = start.headers.getSetCookie().map((c) => c.split(';')[0]).join('; ');
  const callback = await idp.signIn(start.headers.get('location')!, 'alice');
  const res = await fetch(callback, { redirect: 'manual', headers: { cookie } });
  expect(res.status).toBe(200);
  expect(res.headers.getSetCookie().some((c) => c.startsWith('routero_session='))).toBe(true);
}

it('adds a KEK, re-encrypts every provider key, removes the old KEK, and keeps serving', async () => {
  const k1 = `1:${generateKek()}`;
  const k2 = `2:${generateKek()}`;
  let s = await start(k1);
  const api = async (method: string, p: string, body?: unknown) =>
    (await fetch(`${s.adminUrl}/api/v1${p}`, { method, headers: { authorization: `Bearer ${s.masterKey}`, 'content-type': 'application/json' }, body: body ? JSON.stringify(body) : undefined })).json() as Promise<Record<string, string>>;
  const org = await api('POST', '/orgs', { name: 'rotation' });
  await api('POST', '/provider-keys', { org_id: org.id, provider: 'openai', name: 'p', secret: SECRET, base_url: `${openai.url}/v1` });
  const key = (await api('POST', '/keys', { org_id: org.id, name: 'k', models: ['openai/*'] })).key!;
  await callThrough(s, key);
  expect(await kekVersions(s)).toEqual([1]);
  const client = await idp.registerClient(`${s.adminUrl}/sso/oidc/callback`);
  const sso = await api('POST', `/orgs/${org.id}/sso/oidc`, { issuer: idp.issuer, client_id: client.clientId, client_secret: client.clientSecret, allowed_domains: ['acme.test'], default_role: 'developer' });
  await ssoLogin(s, sso.id!);
  await stop();

  s = await start(`${k1},${k2}`);
  const { stdout } = await run(process.execPath, [path.join(ROOT, 'node_modules', 'tsx', 'dist', 'cli.mjs'), 'scripts/admin-command.ts', 'reencrypt-provider-keys'], {
    cwd: ROOT,
    env: { ...process.env, ROUTERO_ADMIN_URL: s.adminUrl, MASTER_KEY: s.masterKey },
  });
  expect(JSON.parse(stdout)).toMatchObject({ active_kek_version: 2, reencrypted: 1, sso_client_secrets: { reencrypted: 1, total: 1 } });
  expect(await kekVersions(s)).toEqual([2]);
  await callThrough(s, key);
  await stop();

  s = await start(k2);
  await callThrough(s, key);
  // The SSO client secret was re-sealed under KEK 2: without KEK 1 the login still completes.
  await ssoLogin(s, sso.id!);
  const chain = await (await fetch(`${s.adminUrl}/api/v1/audit-log/verify`, { headers: { authorization: `Bearer ${s.masterKey}` } })).json();
  expect(chain).toMatchObject({ ok: true });
}, 180_000);
