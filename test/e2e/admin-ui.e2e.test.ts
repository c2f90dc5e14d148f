/**
 * The admin UI in a real headless Chromium (Debian's package, driven by playwright-core) against
 * the stack `npm start` runs, plus the UI's security properties over plain HTTP.
 */
import fs from 'node:fs';
import path from 'node:path';
import OpenAI from 'openai';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, startE2E, type E2E } from './stack-fixture';
import { claim } from '../support/claims';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const XSS_NAME = '<img src=x onerror=alert(1)>';
const PROVIDER_SECRET = `sk-ui-canary-${crypto.randomUUID()}`;
const SCREENSHOT = path.join(process.cwd(), 'test-output', 'admin-overview.png');

let e2e: E2E;
let browser: Browser;
let page: Page;
const dialogs: string[] = [];

beforeAll(async () => {
  e2e = await startE2E();
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  page = await browser.newPage({ viewport: { width: 1280, height: 1100 } });
  page.on('dialog', async (d) => {
    dialogs.push(d.message());
    await d.accept();
  });
});

afterAll(async () => {
  await browser?.close();
  await e2e?.close();
});

const ui = (p: string) => `${e2e.stack.adminUrl}/ui${p}`;

async function login(p: Page, key: string) {
  await p.goto(ui('/login'));
  await p.fill('#master_key', key);
  await p.click('button[type=submit]');
}

async function totalRequests(p: Page): Promise<number> {
  await p.goto(ui(''));
  return Number(await p.textContent('[data-testid=total-requests]'));
}

describe('admin UI in Chromium: the whole flow', () => {
  let orgName: string;
  let virtualKey: string;
  let keyId: string;

  it('sends a visitor to the login page, refuses a wrong master key, and logs in with the right one', async () => {
    await page.goto(ui(''));
    expect(page.url()).toContain('/ui/login');
    await login(page, 'not-the-master-key');
    expect(await page.textContent('.error')).toContain('not correct');
    expect(await page.content()).not.toContain('not-the-master-key');
    await login(page, e2e.stack.masterKey);
    await page.waitForURL((u) => u.pathname === '/ui');
    expect(await page.textContent('h1')).toBe('Overview');
  });

  it('creates an organisation', async () => {
    orgName = `UI org ${Date.now()}`;
    await page.goto(ui('/orgs'));
    await page.fill('#org-name', orgName);
    await page.click('button:has-text("Create organisation")');
    await page.locator('td', { hasText: orgName }).first().waitFor();
    expect(await page.locator('td', { hasText: orgName }).count()).toBe(1);
  });

  it(claim('provider-keys-encrypted', 'adds a provider key without ever showing it, and keeps the form (not the secret) on a bad input'), async () => {
    await page.goto(ui('/provider-keys'));
    await page.selectOption('#pk-org', { label: orgName });
    await page.fill('#pk-name', 'fake openai');
    await page.fill('#pk-secret', PROVIDER_SECRET);
    await page.fill('#pk-base', 'ftp://not-allowed');
    await page.click('button:has-text("Add provider key")');
    expect(await page.textContent('.error')).toContain('base_url');
    expect(await page.inputValue('#pk-name')).toBe('fake openai');
    expect(await page.inputValue('#pk-secret')).toBe('');
    expect(await page.content()).not.toContain(PROVIDER_SECRET);

    await page.fill('#pk-secret', PROVIDER_SECRET);
    await page.fill('#pk-base', `${e2e.openai.url}/v1`);
    await page.click('button:has-text("Add provider key")');
    await page.locator('code', { hasText: `…${PROVIDER_SECRET.slice(-4)}` }).waitFor();
    const html = await page.content();
    expect(html).toContain(`…${PROVIDER_SECRET.slice(-4)}`);
    expect(html).not.toContain(PROVIDER_SECRET.slice(0, -4));
  });

  it(claim('virtual-keys-hashed', 'creates a virtual key, shows it once in a copy box, and names the field of a bad input'), async () => {
    await page.goto(ui('/keys/new'));
    await page.selectOption('#k-org', { label: orgName });
    await page.fill('#k-name', XSS_NAME);
    await page.fill('#k-models', 'openai/*');
    await page.fill('#k-cidrs', 'not-a-network');
    await page.click('button:has-text("Create key")');
    expect(await page.textContent('.error')).toContain('cidrs');
    expect(await page.inputValue('#k-name')).toBe(XSS_NAME);

    await page.fill('#k-cidrs', '');
    await page.click('button:has-text("Create key")');
    await page.locator('[data-testid=new-key]').waitFor();
    expect(await page.textContent('.warning')).toContain('You will not see it again');
    virtualKey = (await page.textContent('[data-testid=new-key]'))!.trim();
    expect(virtualKey).toMatch(/^rto_[a-z2-7]{16}_[A-Za-z0-9]{43}$/);
    keyId = virtualKey.split('_')[1]!;
    // Shown once: the key list and the key's page never contain it again.
    await page.goto(ui('/keys'));
    expect(await page.content()).not.toContain(virtualKey);
  });

  it('renders a name with markup as text (no XSS)', async () => {
    await page.goto(ui('/keys'));
    const link = page.locator(`tr[data-key-id="${keyId}"] a`).first();
    expect(await link.textContent()).toBe(XSS_NAME);
    expect(await page.locator('img[src="x"]').count()).toBe(0);
    expect(dialogs).toEqual([]);
  });

  it('shows the request on the overview after the key is used through the gateway with the openai client', async () => {
    const before = await totalRequests(page);
    const client = new OpenAI({ baseURL: `${e2e.stack.gatewayUrl}/v1`, apiKey: virtualKey, maxRetries: 0 });
    for (let i = 0; i < 3; i++) {
      const r = await client.chat.completions.create({ model: 'openai/gpt-4o-mini', messages: [{ role: 'user', content: 'hello from the UI test' }] });
      expect(r.choices[0]!.message.content).toBe('The quick brown fox jumps.');
    }
    const after = await eventually('overview to count the requests', async () => {
      const n = await totalRequests(page);
      return n >= before + 3 ? n : undefined;
    });
    expect(after).toBe(before + 3);
    expect(await page.locator('svg.chart rect').count()).toBeGreaterThan(0);
    expect(await page.textContent('table')).toContain('openai/gpt-4o-mini');
    fs.mkdirSync(path.dirname(SCREENSHOT), { recursive: true });
    await page.screenshot({ path: SCREENSHOT, fullPage: true });
    await page.goto(ui('/requests'));
    expect(await page.textContent('[data-testid=events-table]')).toContain(keyId);
  });

  it(claim('scoped-keys', 'revokes the key after confirmation, and the gateway refuses it'), async () => {
    await page.goto(ui('/keys'));
    await page.click(`tr[data-key-id="${keyId}"] a:has-text("Revoke")`);
    expect(await page.textContent('main')).toContain('cannot be undone');
    await page.click('button:has-text("Revoke key")');
    await page.waitForURL((u) => u.pathname === '/ui/keys');
    expect(await page.textContent(`tr[data-key-id="${keyId}"]`)).toContain('revoked');
    const client = new OpenAI({ baseURL: `${e2e.stack.gatewayUrl}/v1`, apiKey: virtualKey, maxRetries: 0 });
    await eventually('revocation at the gateway', async () => {
      try {
        await client.chat.completions.create({ model: 'openai/gpt-4o-mini', messages: [{ role: 'user', content: 'x' }] });
        return false;
      } catch (e) {
        return e instanceof OpenAI.AuthenticationError;
      }
    }, 10_000, 200);
  });

  it(claim('admin-audit-log', 'shows every step in the admin audit log, and the chain verifies'), async () => {
    await page.goto(ui('/audit'));
    const table = (await page.textContent('[data-testid=audit-table]'))!;
    for (const action of ['login', 'org.create', 'provider_key.create', 'virtual_key.create', 'virtual_key.revoke']) expect(table).toContain(action);
    expect(table).toContain('failed'); // the wrong master key
    expect(table).toContain('master (master_key)');
    await page.click('a:has-text("Verify the hash chain")');
    expect(await page.textContent('.notice')).toContain('Chain verified');
  });

  it('logs out', async () => {
    await page.click('button:has-text("Log out")');
    await page.waitForURL('**/ui/login');
    await page.goto(ui('/keys'));
    expect(new URL(page.url()).pathname).toBe('/ui/login');
  });
});

describe('admin UI security over HTTP', () => {
  async function session(): Promise<{ cookie: string; csrf: string }> {
    const loginPage = await fetch(ui('/login'));
    const nonce = loginPage.headers.getSetCookie().find((c) => c.startsWith('routero_login='))!.split(';')[0]!;
    const csrf = /name="_csrf" value="([0-9a-f]+)"/.exec(await loginPage.text())![1]!;
    const res = await fetch(ui('/login'), {
      method: 'POST',
      redirect: 'manual',
      headers: { cookie: nonce, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ _csrf: csrf, master_key: e2e.stack.masterKey }),
    });
    expect(res.status).toBe(303);
    const cookie = res.headers.getSetCookie().find((c) => c.startsWith('routero_session='))!;
    expect(cookie).toContain('HttpOnly');
    expect(cookie).toContain('SameSite=Strict');
    const sessionCookie = cookie.split(';')[0]!;
    const orgs = await fetch(ui('/orgs'), { headers: { cookie: sessionCookie } });
    expect(orgs.headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
    expect(orgs.headers.get('x-frame-options')).toBe('DENY');
    expect(orgs.headers.get('cache-control')).toBe('no-store');
    return { cookie: sessionCookie, csrf: /name="_csrf" value="([0-9a-f]+)"/.exec(await orgs.text())![1]! };
  }

  const post = (p: string, cookie: string, fields: Record<string, string>) =>
    fetch(ui(p), { method: 'POST', redirect: 'manual', headers: { cookie, 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(fields) });

  it('refuses a state-changing POST without the CSRF token', async () => {
    const s = await session();
    const name = `csrf-${Date.now()}`;
    expect((await post('/orgs', s.cookie, { name })).status).toBe(403);
    expect((await post('/orgs', s.cookie, { name, _csrf: 'f'.repeat(64) })).status).toBe(403);
    expect((await post('/orgs', s.cookie, { name, _csrf: s.csrf })).status).toBe(303);
    const orgs = await e2e.admin('GET', '/orgs');
    expect(orgs.json.data.filter((o: { name: string }) => o.name === name)).toHaveLength(1);
  });

  it('refuses a session cookie after logout', async () => {
    const s = await session();
    expect((await post('/logout', s.cookie, { _csrf: s.csrf })).status).toBe(303);
    const after = await fetch(ui('/orgs'), { headers: { cookie: s.cookie }, redirect: 'manual' });
    expect(after.status).toBe(302);
    expect(after.headers.get('location')).toBe('/ui/login');
    expect((await post('/orgs', s.cookie, { name: 'after logout', _csrf: s.csrf })).status).toBe(401);
  });

  it('serves the OpenAPI description generated from the validation schemas', async () => {
    const doc = (await (await fetch(`${e2e.stack.adminUrl}/api/openapi.json`)).json()) as { openapi: string; paths: Record<string, Record<string, { requestBody?: { content: { 'application/json': { schema: { properties: Record<string, unknown>; required: string[] } } } } }>> };
    expect(doc.openapi).toBe('3.1.0');
    const keyBody = doc.paths['/api/v1/keys']!.post!.requestBody!.content['application/json'].schema;
    expect(Object.keys(keyBody.properties)).toEqual(expect.arrayContaining(['org_id', 'name', 'models', 'expires_at', 'cidrs']));
    expect(keyBody.required).toEqual(expect.arrayContaining(['org_id', 'name']));
    const log = await e2e.admin('GET', '/audit-log?limit=5');
    expect(log.status).toBe(200);
    expect(log.json.data.length).toBe(5);
  });

  it('rate limits failed logins (5 in 15 minutes from one address)', async () => {
    const attempt = async () => {
      const loginPage = await fetch(ui('/login'));
      const nonce = loginPage.headers.getSetCookie().find((c) => c.startsWith('routero_login='))!.split(';')[0]!;
      const csrf = /name="_csrf" value="([0-9a-f]+)"/.exec(await loginPage.text())![1]!;
      return post('/login', nonce, { _csrf: csrf, master_key: 'wrong-key-attempt' });
    };
    const statuses: number[] = [];
    for (let i = 0; i < 7; i++) statuses.push((await attempt()).status);
    expect(statuses.at(-1)).toBe(429);
    expect(statuses.filter((s) => s === 401).length).toBeLessThanOrEqual(5);
    const log = await e2e.admin('GET', '/audit-log?action=login&outcome=denied&limit=5');
    expect(log.json.data.length).toBeGreaterThan(0);
    expect(JSON.stringify(log.json)).not.toContain('wrong-key-attempt');
  });

  it(claim('admin-audit-log', 'detects a modified and a deleted audit row'), async () => {
    expect((await e2e.admin('GET', '/audit-log/verify')).json.ok).toBe(true);
    // An attacker with table-owner rights can switch the append-only trigger off; the chain still tells.
    await expect(e2e.query("update admin_audit_log set action = 'tampered' where seq = 2")).rejects.toThrow(/append-only/);
    await e2e.query('alter table admin_audit_log disable trigger admin_audit_log_no_update_delete');
    try {
      await e2e.query("update admin_audit_log set outcome = 'allowed' where seq = 1");
      const modified = (await e2e.admin('GET', '/audit-log/verify')).json;
      expect(modified.ok).toBe(false);
      expect(modified.problems).toEqual(expect.arrayContaining([expect.objectContaining({ seq: 1, problem: expect.stringContaining('modified') })]));
      await e2e.query('delete from admin_audit_log where seq = 3');
      const deleted = (await e2e.admin('GET', '/audit-log/verify')).json;
      expect(deleted.problems).toEqual(expect.arrayContaining([expect.objectContaining({ seq: 4, problem: expect.stringContaining('missing') })]));
    } finally {
      await e2e.query('alter table admin_audit_log enable trigger admin_audit_log_no_update_delete');
    }
  });
});
