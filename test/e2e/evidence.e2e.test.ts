/**
 * Trust evidence on the real stack (issue 12): the admin audit chain anchored outside Postgres, and
 * the signed evidence export.
 */
import { execFile } from 'node:child_process';
import { createPrivateKey, createPublicKey, generateKeyPairSync, verify as cryptoVerify } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rowHash } from '../../admin/audit-log';
import { VERIFY_COMMAND } from '../../admin/evidence';
import { ROOT } from '../../scripts/paths';
import { claim } from '../support/claims';
import { eventually, startE2E, type E2E } from './stack-fixture';

const run = promisify(execFile);

let e2e: E2E;
let orgA: string;

beforeAll(async () => {
  e2e = await startE2E({ testLogin: true });
  orgA = (await e2e.admin('POST', '/orgs', { name: 'Evidence Org' })).json.id;
}, 180_000);

afterAll(async () => {
  await e2e?.close();
});

/** `npm run audit:verify` against this stack: exit code and output. */
async function auditVerifyCli(): Promise<{ code: number; stdout: string }> {
  return run(process.execPath, ['--import', 'tsx', 'scripts/admin-command.ts', 'audit-verify'], {
    cwd: ROOT,
    env: { ...process.env, ROUTERO_ADMIN_URL: e2e.stack.adminUrl, MASTER_KEY: e2e.stack.masterKey },
  }).then(
    (r) => ({ code: 0, stdout: r.stdout }),
    (e: { code: number; stdout: string }) => ({ code: e.code, stdout: e.stdout }),
  );
}

describe('the admin audit chain anchored outside Postgres', () => {
  it(claim('admin-audit-log', 'reports a wholesale rewrite (trigger disabled, hashes recomputed) with the first anchor that no longer matches'), async () => {
    // Some history, anchored twice.
    await e2e.admin('POST', '/keys', { org_id: orgA, name: 'anchor-1', models: ['mock/*'] });
    const first = await e2e.admin('POST', '/audit-log/anchor');
    expect(first.status).toBe(200);
    expect(first.json.written).toBe(true);
    // Nothing new: no second anchor for the same head.
    expect((await e2e.admin('POST', '/audit-log/anchor')).json.written).toBe(false);
    await e2e.admin('POST', '/keys', { org_id: orgA, name: 'anchor-2', models: ['mock/*'] });
    const second = await e2e.admin('POST', '/audit-log/anchor');
    expect(second.json.anchor.seq).toBeGreaterThan(first.json.anchor.seq);

    const clean = (await e2e.admin('GET', '/audit-log/verify')).json;
    expect(clean.ok).toBe(true);
    expect(clean.anchors.checked).toBeGreaterThanOrEqual(2);
    expect(clean.anchors.first_mismatch).toBeNull();
    expect((await auditVerifyCli()).code).toBe(0);

    // The attacker: table-owner rights in Postgres, none in KV. Changes row 2 and recomputes every
    // hash from there on, so the chain on its own verifies again.
    await e2e.query('alter table admin_audit_log disable trigger admin_audit_log_no_update_delete');
    try {
      const rows = await e2e.query<Record<string, unknown> & { seq: number; hash: string }>('select * from admin_audit_log order by seq');
      let prev = rows[0]!.hash;
      for (const row of rows.slice(1)) {
        const { hash: _old, ...rest } = row;
        const content = { ...rest, prev_hash: prev, ...(row.seq === 2 ? { outcome: 'denied' } : {}) } as unknown as Parameters<typeof rowHash>[0];
        const hash = await rowHash(content);
        await e2e.query('update admin_audit_log set outcome = $1, prev_hash = $2, hash = $3 where seq = $4', [content.outcome, prev, hash, row.seq]);
        prev = hash;
      }
      const rewritten = (await e2e.admin('GET', '/audit-log/verify')).json;
      // The chain alone sees nothing: only the anchors tell.
      expect(rewritten.problems.filter((p: { problem: string }) => !p.problem.includes('rewritten'))).toEqual([]);
      expect(rewritten.ok).toBe(false);
      expect(rewritten.anchors.first_mismatch).toMatchObject({ seq: first.json.anchor.seq, hash: first.json.anchor.hash });
      expect(rewritten.anchors.first_mismatch.chain_hash).not.toBe(first.json.anchor.hash);
      expect(rewritten.problems).toEqual([expect.objectContaining({ seq: first.json.anchor.seq, problem: expect.stringContaining('rewritten') })]);

      const cli = await auditVerifyCli();
      expect(cli.code).toBe(1);
      expect(cli.stdout).toContain('rewritten');
    } finally {
      await e2e.query('alter table admin_audit_log enable trigger admin_audit_log_no_update_delete');
    }
  });
});

describe('the signed evidence export', () => {
  const CANARY_PROVIDER_SECRET = 'sk-canary-evidence-provider-7f3a9c1e5b';
  const CANARY_PROMPT = 'canary prompt evidence 5d2e8b71 never stored';
  let keySecret: string;
  let tokenSecret: string;
  let dir: string;

  async function download(query: string, cookie?: string): Promise<Response> {
    return fetch(`${e2e.stack.adminUrl}/api/v1/evidence?${query}`, { headers: cookie ? { cookie } : { authorization: `Bearer ${e2e.stack.masterKey}` } });
  }

  beforeAll(async () => {
    await e2e.admin('POST', '/provider-keys', { org_id: orgA, provider: 'openai', name: 'evidence openai', secret: CANARY_PROVIDER_SECRET, base_url: `${e2e.openai.url}/v1` });
    const key = await e2e.admin('POST', '/keys', { org_id: orgA, name: 'evidence key', models: ['mock/*'], cidrs: ['0.0.0.0/0', '::/0'] });
    keySecret = key.json.key;
    tokenSecret = (await e2e.admin('POST', '/api-tokens', { org_id: orgA, name: 'evidence token', role: 'auditor' })).json.token;
    for (const role of ['org_admin', 'auditor', 'developer'] as const) {
      expect((await e2e.admin('POST', `/orgs/${orgA}/members`, { email: `${role}@evidence.example`, role })).status).toBe(201);
    }
    const chat = await new OpenAI({ baseURL: `${e2e.stack.gatewayUrl}/v1`, apiKey: keySecret, maxRetries: 0 }).chat.completions.create({ model: 'mock/echo', messages: [{ role: 'user', content: CANARY_PROMPT }] });
    expect(chat.choices[0]!.message.content).toBeTruthy();
    await eventually('the request stored as an event', async () => (await e2e.query("select 1 from audit_events where key_id = $1", [key.json.id])).length > 0);
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'routero-evidence-e2e-'));
  });

  afterAll(() => {
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it(claim('evidence-export', 'exports one tar whose signature verifies with the README command (openssl, sha256sum), and tampering fails it'), async () => {
    const res = await download(`org_id=${orgA}`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/x-tar');
    expect(res.headers.get('content-disposition')).toMatch(/^attachment; filename="routero-evidence-[0-9a-f-]+-\d{4}-\d\d-\d\d-\d{4}-\d\d-\d\d\.tar"$/);
    fs.writeFileSync(path.join(dir, 'routero-evidence.tar'), Buffer.from(await res.arrayBuffer()));

    // The public key, derived independently from the operator's private key (not the archive's copy).
    const publicPem = createPublicKey(createPrivateKey({ key: Buffer.from(e2e.stack.evidenceSigningKey, 'base64'), format: 'der', type: 'pkcs8' })).export({ format: 'pem', type: 'spki' }).toString();
    const verify = () => run('sh', ['-c', VERIFY_COMMAND], { cwd: dir }).then(() => true, () => false);
    expect(await verify()).toBe(true);
    expect(fs.readFileSync(path.join(dir, 'evidence-signing-key.pem'), 'utf8')).toBe(publicPem);
    expect(fs.readFileSync(path.join(dir, 'README.txt'), 'utf8')).toContain(VERIFY_COMMAND);

    // Node's crypto agrees, with the independent key.
    const sums = fs.readFileSync(path.join(dir, 'SHA256SUMS'));
    const sig = fs.readFileSync(path.join(dir, 'SHA256SUMS.sig'));
    expect(cryptoVerify(null, sums, createPublicKey(publicPem), sig)).toBe(true);

    // Another key does not verify it.
    const other = generateKeyPairSync('ed25519').publicKey;
    expect(cryptoVerify(null, sums, other, sig)).toBe(false);

    // A changed audit row fails the checksum; a changed checksum list fails the signature. (The
    // command re-extracts the archive first, so the tampered files go back into a new archive.)
    const retar = async (file: string, edit: (s: string) => string) => {
      const work = fs.mkdtempSync(path.join(dir, 'tamper-'));
      await run('tar', ['xf', path.join(dir, 'routero-evidence.tar'), '-C', work]);
      fs.writeFileSync(path.join(work, file), edit(fs.readFileSync(path.join(work, file), 'utf8')));
      await run('tar', ['cf', 'routero-evidence.tar', 'evidence.json', 'admin-audit-log.jsonl', 'admin-audit-log.csv', 'SHA256SUMS', 'SHA256SUMS.sig', 'evidence-signing-key.pem', 'README.txt'], { cwd: work });
      return run('sh', ['-c', VERIFY_COMMAND], { cwd: work }).then(() => true, () => false);
    };
    expect(await retar('admin-audit-log.csv', (s) => s.replace('allowed', 'denied'))).toBe(false);
    expect(await retar('SHA256SUMS', (s) => s.replace(/^[0-9a-f]/, (c) => (c === '0' ? '1' : '0')))).toBe(false);
  });

  it(claim('evidence-export', 'holds the inventories, access review, audit log with chain result, policy version and configuration — and no secret, hash or content (canary scan)'), async () => {
    const res = await download(`org_id=${orgA}&from=${new Date(Date.now() - 30 * 86_400_000).toISOString()}`);
    expect(res.status).toBe(200);
    const bytes = Buffer.from(await res.arrayBuffer());
    fs.writeFileSync(path.join(dir, 'scan.tar'), bytes);
    const scan = path.join(dir, 'scan');
    fs.mkdirSync(scan);
    await run('tar', ['xf', path.join(dir, 'scan.tar'), '-C', scan]);
    const doc = JSON.parse(fs.readFileSync(path.join(scan, 'evidence.json'), 'utf8'));

    expect(doc.format).toBe('routero-evidence/1');
    const key = doc.virtual_keys.find((k: { name: string }) => k.name === 'evidence key');
    expect(key).toMatchObject({ scopes: { models: ['mock/*'] }, cidrs: ['0.0.0.0/0', '::/0'], status: 'active', secret_age_days: 0 });
    expect(key.last_used_at).toEqual(expect.any(String));
    expect(doc.provider_keys.find((p: { name: string }) => p.name === 'evidence openai')).toMatchObject({ provider: 'openai', kek_version: 1, age_days: 0, deleted_at: null });
    const members = doc.access_review.members;
    expect(members.map((m: { email: string; role: string }) => `${m.email}:${m.role}`).sort()).toEqual(['auditor@evidence.example:auditor', 'developer@evidence.example:developer', 'org_admin@evidence.example:org_admin']);
    expect(members[0]).toMatchObject({ suspended: false, last_login_at: null, mfa_at_last_login: null, sso_connection_ids: [] });
    expect(doc.access_review.api_tokens.map((t: { name: string; role: string }) => [t.name, t.role])).toEqual([['evidence token', 'auditor']]);
    // The chain verification is the one the API gives (the anchor test above rewrote this history,
    // so the export must report the broken chain and the first anchor that no longer matches).
    const verified = (await e2e.admin('GET', '/audit-log/verify')).json;
    expect(verified.anchors.first_mismatch).not.toBeNull();
    expect(doc.admin_audit.chain_verification).toMatchObject({ ok: false, anchors: { first_mismatch: verified.anchors.first_mismatch }, head: { seq: expect.any(Number), hash: expect.stringMatching(/^[0-9a-f]{64}$/) } });
    expect(res.headers.get('x-routero-audit-head')).toBe(doc.admin_audit.chain_verification.head.hash);
    expect(doc.policy_version.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(doc.security_configuration.gateway).toMatchObject({ key_cache_ttl_seconds: expect.any(Number), policy_cache_ttl_seconds: expect.any(Number) });

    // The audit files hold this organisation's rows of the period, the same in both formats.
    const jsonl = fs.readFileSync(path.join(scan, 'admin-audit-log.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    const csv = fs.readFileSync(path.join(scan, 'admin-audit-log.csv'), 'utf8').trim().split('\r\n');
    expect(jsonl.length).toBe(doc.admin_audit.rows_in_period);
    expect(csv.length).toBe(jsonl.length + 1);
    expect(jsonl.map((r: { action: string }) => r.action)).toEqual(expect.arrayContaining(['provider_key.create', 'virtual_key.create', 'api_token.create']));
    // Every row up to the head the export saw (its own evidence.export row is written after it).
    const inDb = await e2e.query<{ n: number }>('select count(*)::int as n from admin_audit_log where org_id = $1 and seq <= $2', [orgA, doc.admin_audit.chain_verification.head.seq]);
    expect(jsonl.length).toBe(inDb[0]!.n);

    // Canary scan over every byte of the archive: no secret, no stored hash or ciphertext, no content.
    const stored = await e2e.query<{ v: string }>(
      `select secret_hash as v from virtual_keys where org_id = $1
       union all select ciphertext from provider_keys where org_id = $1
       union all select iv from provider_keys where org_id = $1
       union all select secret_sha256 from api_tokens where org_id = $1`,
      [orgA],
    );
    expect(stored.length).toBeGreaterThanOrEqual(4);
    const text = bytes.toString('latin1');
    for (const canary of [CANARY_PROVIDER_SECRET, keySecret, keySecret.split('_').at(-1)!, tokenSecret, CANARY_PROMPT, e2e.stack.masterKey, e2e.stack.evidenceSigningKey, ...stored.map((s) => s.v)]) {
      expect(canary.length).toBeGreaterThan(8);
      expect(text.includes(canary), `found ${canary.slice(0, 12)}… in the export`).toBe(false);
    }
  });

  it(claim(['evidence-export', 'policy-every-action'], 'is allowed to org_admin and auditor of the organisation (audited), refused to a developer and to another organisation'), async () => {
    const login = async (email: string) => {
      const r = await fetch(`${e2e.stack.adminUrl}/ui/test-login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email }) });
      return r.headers.getSetCookie().find((c) => c.startsWith('routero_session='))!.split(';')[0]!;
    };
    const orgB = (await e2e.admin('POST', '/orgs', { name: 'Other Org' })).json.id;
    for (const role of ['org_admin', 'auditor']) {
      const cookie = await login(`${role}@evidence.example`);
      expect((await download(`org_id=${orgA}`, cookie)).status).toBe(200);
      expect((await download(`org_id=${orgB}`, cookie)).status).toBe(403);
      // The UI offers the download on the organisations page.
      const page = await (await fetch(`${e2e.stack.adminUrl}/ui/orgs`, { headers: { cookie } })).text();
      expect(page).toContain(`href="/api/v1/evidence?org_id=${orgA}"`);
    }
    const developer = await login('developer@evidence.example');
    expect((await download(`org_id=${orgA}`, developer)).status).toBe(403);
    expect(await (await fetch(`${e2e.stack.adminUrl}/ui/orgs`, { headers: { cookie: developer } })).text()).not.toContain('/api/v1/evidence');
    const rows = await e2e.query<{ actor_email: string; outcome: string }>("select actor_email, outcome from admin_audit_log where action = 'evidence.export' and actor_email is not null order by seq");
    expect(rows).toEqual(expect.arrayContaining([{ actor_email: 'auditor@evidence.example', outcome: 'allowed' }, { actor_email: 'developer@evidence.example', outcome: 'denied' }]));
  });

  it('answers bad input with a clear 400 naming the field', async () => {
    const missing = await download('');
    expect(missing.status).toBe(400);
    expect(JSON.stringify(await missing.json())).toContain('org_id');
    const reversed = await download(`org_id=${orgA}&from=2026-02-01&to=2026-01-01`);
    expect(reversed.status).toBe(400);
    expect((await download(`org_id=${orgA}&from=not-a-date`)).status).toBe(400);
  });
});
