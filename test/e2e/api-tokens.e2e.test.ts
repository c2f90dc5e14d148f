/**
 * Admin API tokens on the real stack (workerd, Postgres, Cerbos): shown once and hashed at rest,
 * acting with their one role in their one organisation, never more than the person who made them,
 * revocable and expiring, and named in the audit log as `api_token:<id>`.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startE2E, type E2E, type Json } from './stack-fixture';

let e2e: E2E;
let orgA: string;
let orgB: string;
let keyA: string;
let keyB: string;

async function call(credential: { bearer?: string; cookie?: string }, method: string, p: string, body?: unknown): Promise<{ status: number; json: Json; text: string }> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (credential.bearer) headers.authorization = `Bearer ${credential.bearer}`;
  if (credential.cookie) headers.cookie = credential.cookie;
  const res = await fetch(`${e2e.stack.adminUrl}/api/v1${p}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  return { status: res.status, json: text ? JSON.parse(text) : null, text };
}

async function token(orgId: string, role: string, extra: Record<string, unknown> = {}): Promise<{ id: string; token: string }> {
  const res = await e2e.admin('POST', '/api-tokens', { org_id: orgId, name: `${role} automation`, role, ...extra });
  expect(res.status, JSON.stringify(res.json)).toBe(201);
  return { id: res.json.id, token: res.json.token };
}

beforeAll(async () => {
  e2e = await startE2E({ testLogin: true });
  orgA = (await e2e.admin('POST', '/orgs', { name: 'Tokens A' })).json.id;
  orgB = (await e2e.admin('POST', '/orgs', { name: 'Tokens B' })).json.id;
  keyA = (await e2e.admin('POST', '/keys', { org_id: orgA, name: 'a-key', models: ['mock/*'] })).json.id;
  keyB = (await e2e.admin('POST', '/keys', { org_id: orgB, name: 'b-key', models: ['mock/*'] })).json.id;
}, 180_000);

afterAll(async () => {
  await e2e?.close();
});

describe('admin API tokens', () => {
  it('shows the token once, keeps only a hash, and never lists a secret', async () => {
    const created = await token(orgA, 'auditor');
    expect(created.token).toMatch(/^rtat_[a-z2-7]{16}_[A-Za-z0-9]{43}$/);
    const list = await e2e.admin('GET', `/api-tokens?org_id=${orgA}`);
    expect(list.status).toBe(200);
    const text = JSON.stringify(list.json);
    expect(text).toContain(created.id);
    expect(text).not.toContain(created.token.split('_').at(-1));
    expect(text).not.toContain('secret');
    const [row] = await e2e.query<{ secret_sha256: string }>('select secret_sha256 from api_tokens where id = $1', [created.id]);
    expect(row!.secret_sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(row!.secret_sha256).not.toContain(created.token.split('_').at(-1)!);
  });

  it('a developer token behaves as a developer: another org’s key is a missing key, no provider keys', async () => {
    const dev = await token(orgA, 'developer');
    const other = await call({ bearer: dev.token }, 'GET', `/keys/${keyB}`);
    const missing = await call({ bearer: dev.token }, 'GET', '/keys/aaaaaaaaaaaaaaaa');
    expect(other.status).toBe(404);
    expect(missing.status).toBe(404);
    expect(other.json.error.type).toBe(missing.json.error.type);
    expect(other.json.error.message.replace(keyB, 'ID')).toBe(missing.json.error.message.replace('aaaaaaaaaaaaaaaa', 'ID'));
    expect((await call({ bearer: dev.token }, 'GET', `/keys/${keyA}`)).status).toBe(404); // a colleague's key
    const pk = await call({ bearer: dev.token }, 'POST', '/provider-keys', { org_id: orgA, provider: 'openai', name: 'x', secret: 'sk-not-allowed-1234' });
    expect(pk.status).toBe(403);
    // Made by the master key, it acts for nobody: it owns no keys, so it may list and create none.
    expect((await call({ bearer: dev.token }, 'GET', '/keys')).status).toBe(403);
    expect((await call({ bearer: dev.token }, 'POST', '/keys', { org_id: orgA, name: 'mine' })).status).toBe(403);
  });

  it('an auditor token reads its organisation and changes nothing', async () => {
    const aud = await token(orgA, 'auditor');
    const keys = await call({ bearer: aud.token }, 'GET', '/keys');
    expect(keys.status).toBe(200);
    expect(keys.json.data.map((k: Json) => k.id)).toContain(keyA);
    expect(keys.json.data.map((k: Json) => k.id)).not.toContain(keyB);
    expect((await call({ bearer: aud.token }, 'POST', '/keys', { org_id: orgA, name: 'nope' })).status).toBe(403);
    // A refused change on a named resource answers like a missing one (the route hides existence).
    expect((await call({ bearer: aud.token }, 'POST', `/keys/${keyA}/revoke`)).status).toBe(404);
    expect((await e2e.admin('GET', `/keys/${keyA}`)).json.status).toBe('active');
    expect((await call({ bearer: aud.token }, 'POST', '/api-tokens', { org_id: orgA, name: 'escalate', role: 'org_admin' })).status).toBe(403);
  });

  it('an org_admin token acts in its organisation only, and cannot mint a token for another one', async () => {
    const admin = await token(orgA, 'org_admin');
    expect((await call({ bearer: admin.token }, 'POST', '/keys', { org_id: orgA, name: 'by token', models: ['mock/*'] })).status).toBe(201);
    expect((await call({ bearer: admin.token }, 'POST', '/keys', { org_id: orgB, name: 'elsewhere' })).status).toBe(403);
    expect((await call({ bearer: admin.token }, 'POST', '/api-tokens', { org_id: orgB, name: 'elsewhere', role: 'developer' })).status).toBe(403);
    const child = await call({ bearer: admin.token }, 'POST', '/api-tokens', { org_id: orgA, name: 'child', role: 'auditor' });
    expect(child.status).toBe(201);
    const rows = await e2e.query<{ actor: string; login_method: string; outcome: string; org_id: string }>(
      "select actor, login_method, outcome, org_id from admin_audit_log where actor = $1 and action = 'api_token.create' order by seq",
      [`api_token:${admin.id}`],
    );
    expect(rows.map((r) => [r.login_method, r.outcome])).toEqual([
      ['api_token', 'denied'],
      ['api_token', 'allowed'],
    ]);
    const [used] = await e2e.query<{ last_used_at: Date | null }>('select last_used_at from api_tokens where id = $1', [admin.id]);
    expect(used!.last_used_at).not.toBeNull();
  });

  it('never holds more than its creator: a person’s token stops when their role no longer covers it', async () => {
    const added = await e2e.admin('POST', `/orgs/${orgA}/members`, { email: 'lead@example.com', role: 'org_admin' });
    expect(added.status).toBe(201);
    const login = await fetch(`${e2e.stack.adminUrl}/ui/test-login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email: 'lead@example.com' }) });
    expect(login.status).toBe(200);
    const cookie = login.headers.getSetCookie().find((c) => c.startsWith('routero_session='))!.split(';')[0]!;
    const made = await call({ cookie }, 'POST', '/api-tokens', { org_id: orgA, name: 'lead ci', role: 'developer' });
    expect(made.status, made.text).toBe(201);
    const dev = made.json.token as string;
    // Acting for its creator: the keys it makes are theirs, and it sees them.
    const key = await call({ bearer: dev }, 'POST', '/keys', { org_id: orgA, name: 'ci key', models: ['mock/*'] });
    expect(key.status, key.text).toBe(201);
    expect((await call({ bearer: dev }, 'GET', '/keys')).json.data.map((k: Json) => k.id)).toEqual([key.json.id]);

    const demoted = await e2e.admin('PATCH', `/orgs/${orgA}/members/${added.json.id}`, { role: 'auditor' });
    expect(demoted.status, JSON.stringify(demoted.json)).toBe(200);
    const refused = await call({ bearer: dev }, 'GET', '/keys');
    expect(refused.status).toBe(401);
    // An auditor cannot hand out a token that outranks them either.
    const again = await call({ cookie }, 'POST', '/api-tokens', { org_id: orgA, name: 'more', role: 'developer' });
    expect(again.status).toBe(403);
  });

  it('a revoked or expired token gets the one uniform 401', async () => {
    const t = await token(orgA, 'auditor');
    expect((await call({ bearer: t.token }, 'GET', '/keys')).status).toBe(200);
    const revoked = await e2e.admin('POST', `/api-tokens/${t.id}/revoke`);
    expect(revoked.status).toBe(200);
    expect(revoked.json.status).toBe('revoked');
    const afterRevoke = await call({ bearer: t.token }, 'GET', '/keys');
    const unknown = await call({ bearer: `rtat_aaaaaaaaaaaaaaaa_${'A'.repeat(43)}` }, 'GET', '/keys');
    expect(afterRevoke.status).toBe(401);
    expect(afterRevoke.text).toBe(unknown.text.replace(unknown.json.error.request_id ?? '', afterRevoke.json.error.request_id ?? ''));

    const short = await token(orgA, 'auditor', { expires_at: new Date(Date.now() + 2_000).toISOString() });
    expect((await call({ bearer: short.token }, 'GET', '/keys')).status).toBe(200);
    await new Promise((r) => setTimeout(r, 2_500));
    expect((await call({ bearer: short.token }, 'GET', '/keys')).status).toBe(401);
  });
});
