/**
 * Every admin route — the management API and the UI — is in a route table with a Cerbos decision
 * from the role × action matrix (or, for the UI, an `openRoute` with its reason), and nothing is
 * registered under /api/v1 or /ui outside the tables. (At run time `mount` also refuses to answer
 * a successful request whose handler skipped its decision.)
 */
import { describe, expect, it } from 'vitest';
import { ROLE_ACTION_MATRIX } from '../../policies/matrix';
import { API_ROUTES } from '../../admin/api/routes';
import { UI_ROUTES } from '../../admin/ui/routes';
import { SCIM_ROUTES } from '../../admin/scim/routes';
import { createAdminApp } from '../../admin/index';
import type { AdminRoute } from '../../admin/route-table';
import type { Env } from 'hono';
import { claim } from '../support/claims';

type Declared = Pick<AdminRoute<Env>, 'method' | 'path' | 'decision'>;

function expectDecisionInMatrix(r: Declared, where: string) {
  if (!('kind' in r.decision)) return;
  const actions = ROLE_ACTION_MATRIX[r.decision.kind] as Record<string, readonly string[]>;
  expect(actions[r.decision.action], `${where} ${r.method} ${r.path} → ${r.decision.kind}:${r.decision.action}`).toBeDefined();
}

const registered = (prefix: string) =>
  createAdminApp()
    .routes.filter((r) => (r.path === prefix || r.path.startsWith(`${prefix}/`)) && r.method !== 'ALL')
    .map((r) => `${r.method} ${r.path}`);

/** A table path relative to its mount point → the registered path (hono drops a lone "/"). */
const full = (prefix: string, p: string) => `${prefix}${p === '/' ? '' : p}`;

describe('admin route table', () => {
  it(claim('policy-every-action', 'gives every API route a decision that exists in the matrix'), () => {
    for (const r of API_ROUTES) {
      expect('kind' in r.decision, `${r.method} ${r.path}`).toBe(true);
      expectDecisionInMatrix(r, 'API');
    }
  });

  it('registers no /api/v1 route outside the table', () => {
    const table = new Set(API_ROUTES.map((r) => `${r.method} /api/v1${r.path}`));
    const found = registered('/api/v1');
    expect(found.length).toBeGreaterThan(0);
    for (const r of found) expect(table.has(r), r).toBe(true);
    for (const r of table) expect(found).toContain(r);
  });

  it('gives every UI route a decision in the matrix, or a reason why it has none', () => {
    for (const r of UI_ROUTES) {
      if ('none' in r.decision) expect(r.decision.none.length, `UI ${r.method} ${r.path} needs a reason`).toBeGreaterThan(10);
      else expectDecisionInMatrix(r, 'UI');
    }
    // Open routes are the few that cannot have a principal's decision: static files, login,
    // logout, and documentation. A page showing data is never open.
    const open = UI_ROUTES.filter((r) => 'none' in r.decision).map((r) => `${r.method} ${r.path}`);
    expect(open.sort()).toEqual(['GET /api', 'GET /login', 'GET /static/app.css', 'GET /static/app.js', 'POST /login', 'POST /logout', 'POST /test-login']);
    // The pages that change something declare the decision of that change.
    const declared = (method: string, path: string) => UI_ROUTES.find((r) => r.method === method && r.path === path)?.decision;
    expect(declared('POST', '/members')).toEqual({ kind: 'member', action: 'create' });
    expect(declared('POST', '/members/:user_id/suspend')).toEqual({ kind: 'user', action: 'suspend' });
    expect(declared('POST', '/api-tokens')).toEqual({ kind: 'api_token', action: 'create' });
    expect(declared('POST', '/api-tokens/:id/revoke')).toEqual({ kind: 'api_token', action: 'revoke' });
  });

  it('registers no /ui route outside the UI table (a page added with ui.get() would fail here)', () => {
    const table = new Set([...UI_ROUTES.map((r) => `${r.method} ${full('/ui', r.path)}`), 'GET /ui/']);
    const found = registered('/ui');
    expect(found.length).toBeGreaterThan(10);
    for (const r of found) expect(table.has(r), `${r} is registered but declares no decision`).toBe(true);
    for (const r of UI_ROUTES) expect(found).toContain(`${r.method} ${full('/ui', r.path)}`);
  });

  it('registers no /scim/v2 route outside the SCIM table; data routes decide on scim_user/scim_group, only discovery is open', () => {
    const table = new Set(SCIM_ROUTES.map((r) => `${r.method} /scim/v2${r.path}`));
    const found = registered('/scim/v2');
    for (const r of found) expect(table.has(r), r).toBe(true);
    for (const r of table) expect(found).toContain(r);
    for (const r of SCIM_ROUTES) {
      if ('none' in r.decision) expect(r.path, `${r.method} ${r.path} is open`).toMatch(/^\/(ServiceProviderConfig|ResourceTypes|Schemas)/);
      else expect(['scim_user', 'scim_group']).toContain(r.decision.kind);
      expectDecisionInMatrix(r, 'SCIM');
    }
  });

  it(claim('policy-every-action', 'mounts every /api/v1, /ui and /sso route through the guard that checks the declared decision'), () => {
    // hono wraps a sub-app's handler when the sub-app has its own onError and keeps the original
    // under this key (hono/utils/constants COMPOSED_HANDLER); `mount` registers `authorizedRoute`.
    const unwrap = (h: unknown): unknown => (typeof h === 'function' && '__COMPOSED_HANDLER' in h ? unwrap((h as { __COMPOSED_HANDLER: unknown }).__COMPOSED_HANDLER) : h);
    const routes = createAdminApp().routes.filter((r) => /^\/(api\/v1|ui|sso|scim\/v2)(\/|$)/.test(r.path) && r.method !== 'ALL');
    expect(routes.length).toBeGreaterThan(30);
    for (const r of routes) expect((unwrap(r.handler) as { name?: string }).name, `${r.method} ${r.path}`).toBe('authorizedRoute');
  });
});
