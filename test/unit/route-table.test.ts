/**
 * Every admin API route is in the route table with a Cerbos decision from the role × action matrix,
 * and nothing is registered under /api/v1 outside the table. (At run time `mount` also refuses to
 * answer a request whose handler skipped its decision.)
 */
import { describe, expect, it } from 'vitest';
import { ROLE_ACTION_MATRIX } from '../../policies/matrix';
import { API_ROUTES } from '../../admin/api/routes';
import { createAdminApp } from '../../admin/index';

describe('admin route table', () => {
  it('gives every API route a decision that exists in the matrix', () => {
    for (const r of API_ROUTES) {
      expect('kind' in r.decision, `${r.method} ${r.path}`).toBe(true);
      if (!('kind' in r.decision)) continue;
      const actions = ROLE_ACTION_MATRIX[r.decision.kind] as Record<string, readonly string[]>;
      expect(actions[r.decision.action], `${r.method} ${r.path} → ${r.decision.kind}:${r.decision.action}`).toBeDefined();
    }
  });

  it('registers no /api/v1 route outside the table', () => {
    const table = new Set(API_ROUTES.map((r) => `${r.method} /api/v1${r.path}`));
    const registered = createAdminApp()
      .routes.filter((r) => r.path.startsWith('/api/v1') && r.method !== 'ALL')
      .map((r) => `${r.method} ${r.path}`);
    expect(registered.length).toBeGreaterThan(0);
    for (const r of registered) expect(table.has(r), r).toBe(true);
    for (const r of table) expect(registered).toContain(r);
  });
});
