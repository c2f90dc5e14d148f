/**
 * People in the admin UI, in a real headless Chromium against the stack `npm start` runs: an
 * org_admin manages members and API tokens through the Members and API tokens pages, an auditor
 * sees the data but no form that changes anything, a developer sees only their own keys. Sessions
 * are started with the test-only /ui/test-login (the same `startSession` every login uses; enabled
 * only on this loopback test stack).
 */
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, startE2E, type E2E, type Json } from './stack-fixture';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const ORG_NAME = 'People Org';

let e2e: E2E;
let browser: Browser;
let orgId: string;
let serviceKeyId: string;
const contexts: BrowserContext[] = [];
/** Every confirmation dialog shown, in order. */
const dialogs: string[] = [];

const ui = (p: string) => `${e2e.stack.adminUrl}/ui${p}`;

beforeAll(async () => {
  e2e = await startE2E({ testLogin: true });
  orgId = (await e2e.admin('POST', '/orgs', { name: ORG_NAME })).json.id;
  for (const [email, role] of [
    ['lead@people.test', 'org_admin'],
    ['audit@people.test', 'auditor'],
    ['dev@people.test', 'developer'],
  ] as const) {
    expect((await e2e.admin('POST', `/orgs/${orgId}/members`, { email, role })).status).toBe(201);
  }
  // A key made with the master key: nobody's own, visible to org_admin and auditor, not to a developer.
  serviceKeyId = (await e2e.admin('POST', '/keys', { org_id: orgId, name: 'service key', models: ['mock/*'] })).json.id;
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}, 180_000);

afterAll(async () => {
  await browser?.close();
  await e2e?.close();
});

/** A browser of its own for one person, signed in through /ui/test-login (cookies shared with the page). */
async function signedIn(email: string): Promise<{ context: BrowserContext; page: Page }> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 1000 } });
  contexts.push(context);
  const res = await context.request.post(ui('/test-login'), { data: { email } });
  expect(res.status(), await res.text()).toBe(200);
  const page = await context.newPage();
  // Confirmation dialogs (data-confirm) are accepted, as a person clicking OK would.
  page.on('dialog', (d) => {
    dialogs.push(d.message());
    void d.accept();
  });
  return { context, page };
}

async function postForms(page: Page): Promise<string[]> {
  return page.locator('form').evaluateAll((forms) =>
    forms.filter((f) => (f.getAttribute('method') ?? 'get').toLowerCase() === 'post').map((f) => f.getAttribute('action') ?? ''),
  );
}

const apiAs = async (token: string, p: string) => {
  const res = await fetch(`${e2e.stack.adminUrl}/api/v1${p}`, { headers: { authorization: `Bearer ${token}` } });
  return { status: res.status, json: (await res.json()) as Json };
};

describe('an org_admin manages people in the UI', () => {
  let lead: Page;
  const NEWBIE = 'newbie@people.test';
  const row = () => lead.locator(`tr[data-member-email="${NEWBIE}"]`);

  beforeAll(async () => {
    lead = (await signedIn('lead@people.test')).page;
  });

  it('adds a member by email with a role', async () => {
    await lead.goto(ui(`/members?org_id=${orgId}`));
    expect(await lead.textContent('h1')).toBe('Members');
    await lead.fill('#m-email', 'Newbie@People.test');
    await lead.selectOption('#m-role', 'developer');
    await lead.click('button:has-text("Add member")');
    await row().waitFor();
    expect(await row().locator('select[name=role]').inputValue()).toBe('developer');
    expect(await row().textContent()).toContain('active');
    const members = (await e2e.admin('GET', `/orgs/${orgId}/members`)).json.data as Json[];
    expect(members.find((m) => m.email === NEWBIE)?.role).toBe('developer');
  });

  it('names the field of a bad email and keeps the real status', async () => {
    await lead.goto(ui(`/members?org_id=${orgId}`));
    await lead.fill('#m-email', 'not-an-email');
    // The browser's own check would stop a type=email field; the server's is what is tested here.
    await lead.locator('#m-email').evaluate((el) => el.setAttribute('type', 'text'));
    const [res] = await Promise.all([lead.waitForResponse((r) => r.url().endsWith('/ui/members') && r.request().method() === 'POST'), lead.click('button:has-text("Add member")')]);
    expect(res.status()).toBe(400);
    expect(await lead.textContent('.error')).toContain('email');
  });

  it('changes the role', async () => {
    await lead.goto(ui(`/members?org_id=${orgId}`));
    await row().locator('select[name=role]').selectOption('auditor');
    await row().locator('button:has-text("Change role")').click();
    await lead.waitForURL((u) => u.pathname === '/ui/members');
    expect(await row().locator('select[name=role]').inputValue()).toBe('auditor');
    const members = (await e2e.admin('GET', `/orgs/${orgId}/members`)).json.data as Json[];
    expect(members.find((m) => m.email === NEWBIE)?.role).toBe('auditor');
  });

  it('suspends them, and their open session is refused at once', async () => {
    const newbie = (await signedIn(NEWBIE)).page;
    await newbie.goto(ui(''));
    expect(await newbie.textContent('h1')).toBe('Overview');

    await lead.goto(ui(`/members?org_id=${orgId}`));
    await row().locator('button:has-text("Suspend")').click();
    await lead.waitForURL((u) => u.pathname === '/ui/members');
    expect(dialogs.at(-1)).toContain(`Suspend ${NEWBIE}?`);
    expect(await row().textContent()).toContain('suspended');
    expect(await row().locator('button:has-text("Reactivate")').count()).toBe(1);

    await newbie.goto(ui('/keys'));
    expect(new URL(newbie.url()).pathname).toBe('/ui/login');
    const again = await fetch(ui('/test-login'), { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email: NEWBIE }) });
    expect(again.status).toBe(403);
    const audit = (await e2e.admin('GET', '/audit-log?action=user.suspend')).json.data as Json[];
    expect(audit[0]).toMatchObject({ outcome: 'allowed', actor_email: 'lead@people.test' });
  });

  it('creates an API token, shows it once, it works against the API, and revoking it stops it', async () => {
    await lead.goto(ui('/api-tokens'));
    await lead.selectOption('#t-org', { label: ORG_NAME });
    await lead.fill('#t-name', 'ci reader');
    await lead.selectOption('#t-role', 'auditor');
    await lead.click('button:has-text("Create token")');
    await lead.locator('[data-testid=new-token]').waitFor();
    expect(await lead.textContent('.warning')).toContain('You will not see it again');
    const token = (await lead.textContent('[data-testid=new-token]'))!.trim();
    expect(token).toMatch(/^rtat_[a-z2-7]{16}_/);
    const tokenId = token.split('_')[1]!;

    const orgs = await apiAs(token, '/orgs');
    expect(orgs.status).toBe(200);
    expect(orgs.json.data.map((o: Json) => o.name)).toEqual([ORG_NAME]);

    // Shown once: the list names it, with its creator and last use, but never contains it.
    await lead.goto(ui('/api-tokens'));
    expect(await lead.content()).not.toContain(token);
    const tokenRow = lead.locator(`tr[data-token-id="${tokenId}"]`);
    const text = (await tokenRow.textContent())!;
    expect(text).toContain('ci reader');
    expect(text).toContain('lead@people.test');
    expect(text).toContain('active');
    // Its use above is recorded: the "last used" cell holds a time, not a dash.
    expect(await tokenRow.locator('td').nth(6).textContent()).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ$/);

    await tokenRow.locator('button:has-text("Revoke")').click();
    await lead.waitForURL((u) => u.pathname === '/ui/api-tokens');
    expect(dialogs.at(-1)).toContain('Revoke the API token "ci reader"?');
    expect(await lead.locator(`tr[data-token-id="${tokenId}"]`).textContent()).toContain('revoked');
    expect((await apiAs(token, '/orgs')).status).toBe(401);
  });
});

describe('an auditor sees the data but no form that changes anything', () => {
  it('shows every page with data, and the only POST form is Log out', async () => {
    const { page } = await signedIn('audit@people.test');
    for (const p of ['', '/keys', '/provider-keys', '/orgs', '/members', '/api-tokens', '/sso', '/requests', '/audit', '/api']) {
      const res = await page.goto(ui(p));
      expect(res?.status(), `GET /ui${p}`).toBe(200);
      expect(await postForms(page), `POST forms on /ui${p}`).toEqual(['/ui/logout']);
    }
    await page.goto(ui('/keys'));
    expect(await page.locator(`tr[data-key-id="${serviceKeyId}"]`).count()).toBe(1);
    expect(await page.locator('a:has-text("Create a virtual key")').count()).toBe(0);
    expect(await page.locator('a:has-text("Revoke")').count()).toBe(0);
    await page.goto(ui('/members'));
    const members = (await page.textContent('[data-testid=members-table]'))!;
    for (const email of ['lead@people.test', 'audit@people.test', 'dev@people.test']) expect(members).toContain(email);
    await page.goto(ui('/audit'));
    expect(await page.locator('[data-testid=audit-table] tbody tr').count()).toBeGreaterThan(0);
    // Audit targets show names where they resolve: the org the auditor's org_admin changed.
    const audit = (await page.textContent('[data-testid=audit-table]'))!;
    expect(audit).toContain('newbie@people.test');
    // Actors by email, with how they logged in and whether with MFA.
    expect(audit).toContain('lead@people.test (test_login, MFA)');
    expect(await page.locator('a:has-text("Verify the hash chain")').count()).toBe(0);
    // A direct POST is refused by the policy all the same (the forms were only hidden).
    const res = await page.goto(ui('/keys/new'));
    expect(res?.status()).toBe(403);
  });
});

describe('a developer sees only their own keys', () => {
  it('creates a key of their own and sees it, and not the service key', async () => {
    const { page } = await signedIn('dev@people.test');
    await page.goto(ui('/keys'));
    expect(await page.locator('tbody tr').count()).toBe(0);
    await page.click('a:has-text("Create a virtual key")');
    await page.selectOption('#k-org', { label: ORG_NAME });
    await page.fill('#k-name', 'dev own key');
    await page.click('button:has-text("Create key")');
    await page.locator('[data-testid=new-key]').waitFor();
    const key = (await page.textContent('[data-testid=new-key]'))!.trim();
    const keyId = key.split('_')[1]!;

    await page.goto(ui('/keys'));
    const rows = page.locator('[data-testid=keys-table] tbody tr');
    expect(await rows.count()).toBe(1);
    expect(await rows.first().getAttribute('data-key-id')).toBe(keyId);
    expect(await rows.first().textContent()).toContain('dev@people.test');
    expect(await page.content()).not.toContain(serviceKeyId);
    // Their own key they may revoke; someone else's key answers like a missing one.
    expect(await rows.first().locator('a:has-text("Revoke")').count()).toBe(1);
    expect((await page.goto(ui(`/keys/${serviceKeyId}`)))?.status()).toBe(404);
    // No provider-key form, no members they may list.
    await page.goto(ui('/provider-keys'));
    expect(await postForms(page)).toEqual(['/ui/logout']);
    expect((await page.goto(ui('/members')))?.status()).toBe(403);

    // Their usage: a request with their key shows on the overview's top keys by name.
    const res = await fetch(`${e2e.stack.gatewayUrl}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'mock/echo', messages: [{ role: 'user', content: 'hi' }] }),
    });
    expect(res.status).toBe(200);
    await eventually('the request on the overview', async () => {
      await page.goto(ui(''));
      return (await page.textContent('[data-testid=top-keys]'))?.includes('dev own key');
    });
    await page.goto(ui('/requests'));
    expect(await page.textContent('[data-testid=events-table]')).toContain('dev own key');
  });
});
