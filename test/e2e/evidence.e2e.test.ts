/**
 * Trust evidence on the real stack (issue 12): the admin audit chain anchored outside Postgres, and
 * the signed evidence export.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rowHash } from '../../admin/audit-log';
import { ROOT } from '../../scripts/paths';
import { claim } from '../support/claims';
import { startE2E, type E2E } from './stack-fixture';

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
