/**
 * The master key is break-glass (issue 7): with MASTER_KEY_UI_LOGIN=false its UI login is off —
 * refused and audited — while the API keeps it for bootstrapping and every API use is audited.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startE2E, type E2E } from './stack-fixture';

let e2e: E2E;

beforeAll(async () => {
  e2e = await startE2E({ adminVars: { MASTER_KEY_UI_LOGIN: 'false' } });
}, 180_000);

afterAll(async () => {
  await e2e?.close();
});

/** The login form as a browser submits it: its CSRF token and the cookie it is bound to. */
async function submitLogin(masterKey: string): Promise<{ status: number; text: string; setCookie: string[] }> {
  const page = await fetch(`${e2e.stack.adminUrl}/ui/login`);
  const html = await page.text();
  const csrf = /name="_csrf" value="([^"]+)"/.exec(html)?.[1];
  expect(csrf, 'the login page carries a CSRF token').toBeTruthy();
  const cookie = page.headers.getSetCookie().map((c) => c.split(';')[0]).join('; ');
  const res = await fetch(`${e2e.stack.adminUrl}/ui/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', cookie },
    body: new URLSearchParams({ _csrf: csrf!, master_key: masterKey }).toString(),
    redirect: 'manual',
  });
  return { status: res.status, text: await res.text(), setCookie: res.headers.getSetCookie() };
}

describe('MASTER_KEY_UI_LOGIN=false', () => {
  it('refuses the master key at the UI login, with no session, and audits the refusal', async () => {
    const res = await submitLogin(e2e.stack.masterKey);
    expect(res.status).toBe(403);
    expect(res.text).toContain('switched off');
    expect(res.setCookie.some((c) => c.startsWith('routero_session=') && !/max-age=0/i.test(c))).toBe(false);
    const rows = await e2e.query<{ outcome: string; login_method: string }>("select outcome, login_method from admin_audit_log where action = 'login' order by seq desc limit 1");
    expect(rows[0]).toEqual({ outcome: 'denied', login_method: 'master_key' });
  });

  it('keeps the master key on the API for bootstrapping, and audits its use', async () => {
    const org = await e2e.admin('POST', '/orgs', { name: 'bootstrap' });
    expect(org.status).toBe(201);
    const rows = await e2e.query<{ actor: string; login_method: string; outcome: string }>(
      "select actor, login_method, outcome from admin_audit_log where action = 'org.create' order by seq desc limit 1",
    );
    expect(rows[0]).toEqual({ actor: 'master', login_method: 'master_key', outcome: 'allowed' });
  });
});
