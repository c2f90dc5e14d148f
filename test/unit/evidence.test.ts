import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../../scripts/paths';
import { buildEvidence, renderSecurityMd, type VitestJson } from '../../scripts/evidence/build';
import { CLAIMS } from '../../security/claims';
import { claim } from '../support/claims';

const run = promisify(execFile);

const CLAIM_A = { id: 'a', title: 'Claim A.', mechanism: 'mech A', limits: 'limits A' };
const CLAIM_B = { id: 'b', title: 'Claim B.', mechanism: 'mech B', limits: 'limits B' };

function results(tests: Array<[string, string]>): VitestJson {
  return {
    startTime: Date.UTC(2026, 10, 30, 4, 0, 0),
    testResults: [{ name: '/repo/test/unit/x.test.ts', assertionResults: tests.map(([fullName, status]) => ({ fullName, title: fullName, status })) }],
  };
}

describe('claim → test evidence', () => {
  it('tags a test name so the JSON results carry the claim', () => {
    expect(claim('key-cidr', 'refuses a foreign address')).toBe('refuses a foreign address [claim:key-cidr]');
    expect(claim(['key-cidr', 'scoped-keys'], 't')).toBe('t [claim:key-cidr] [claim:scoped-keys]');
  });

  it('proves a claim with a passing tagged test, and fails on a claim with none', () => {
    const r = buildEvidence([CLAIM_A, CLAIM_B], [{ suite: 'unit', json: results([['suite x does A [claim:a]', 'passed'], ['untagged', 'passed']]) }], '/repo');
    expect(r.ok).toBe(false);
    expect(r.claims.map((c) => [c.claim.id, c.proven])).toEqual([['a', true], ['b', false]]);
    expect(r.claims[0]!.tests).toEqual([{ suite: 'unit', file: 'test/unit/x.test.ts', name: 'suite x does A', status: 'passed', ranAt: '2026-11-30T04:00:00.000Z' }]);
  });

  it('a failing or skipped proof does not prove the claim; an unknown tag fails the run', () => {
    const failing = buildEvidence([CLAIM_A], [{ suite: 'unit', json: results([['A1 [claim:a]', 'passed'], ['A2 [claim:a]', 'failed']]) }]);
    expect(failing.claims[0]!.proven).toBe(false);
    const skipped = buildEvidence([CLAIM_A], [{ suite: 'unit', json: results([['A1 [claim:a]', 'skipped']]) }]);
    expect(skipped.claims[0]!.proven).toBe(false);
    const typo = buildEvidence([CLAIM_A], [{ suite: 'unit', json: results([['A1 [claim:a]', 'passed'], ['A2 [claim:aa]', 'passed']]) }]);
    expect(typo.ok).toBe(false);
    expect(typo.unknownTags).toEqual([{ tag: 'aa', test: 'A2' }]);
  });

  it('renders SECURITY.md with reporting first, then each claim with mechanism, limits and its tests', () => {
    const r = buildEvidence([CLAIM_A, CLAIM_B], [{ suite: 'e2e', json: results([['does A [claim:a]', 'passed']]) }], '/repo');
    const md = renderSecurityMd(r, { commit: 'abc123', dirty: false, generatedAt: '2026-11-30T05:00:00.000Z' });
    expect(md.indexOf('## Reporting a vulnerability')).toBeLessThan(md.indexOf('## Security model'));
    expect(md).toContain('**Mechanism.** mech A');
    expect(md).toContain('**Limits.** limits A');
    expect(md).toContain('- passed — does A (`test/unit/x.test.ts`, e2e, 2026-11-30T04:00:00.000Z)');
    expect(md).toContain('| [Claim B.](#b) | **NOT PROVEN** | 0 of 0 |');
    expect(md).toContain('`abc123`');
  });

  it('`npm run evidence` exits 1 naming the claim when the last run has no passing test for it', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'routero-evidence-'));
    try {
      // Every registered claim proven but the last one.
      const proven = CLAIMS.slice(0, -1).map((c) => [`proves ${c.id} [claim:${c.id}]`, 'passed'] as [string, string]);
      fs.writeFileSync(path.join(dir, 'unit.json'), JSON.stringify(results(proven)));
      const out = path.join(dir, 'SECURITY.md');
      const tsx = path.join(ROOT, 'node_modules', '.bin', 'tsx');
      const failed = await run(tsx, ['scripts/evidence/index.ts', '--results', dir, '--out', out], { cwd: ROOT }).then(
        () => null,
        (e: { code: number; stdout: string }) => e,
      );
      const last = CLAIMS[CLAIMS.length - 1]!;
      expect(failed?.code).toBe(1);
      expect(failed?.stdout).toContain(`MISSING  ${last.id.padEnd(26)}`);
      expect(fs.readFileSync(out, 'utf8')).toContain(`| [${last.title}](#${last.id}) | **NOT PROVEN** |`);

      // With the last claim proven too, it passes.
      fs.writeFileSync(path.join(dir, 'unit.json'), JSON.stringify(results([...proven, [`proves ${last.id} [claim:${last.id}]`, 'passed']])));
      const ok = await run(tsx, ['scripts/evidence/index.ts', '--results', dir, '--out', out], { cwd: ROOT });
      expect(ok.stdout).not.toContain('MISSING');
      expect(JSON.parse(fs.readFileSync(path.join(dir, 'evidence.json'), 'utf8')).ok).toBe(true);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }, 30_000);
});

describe('evidence export period', () => {
  it('defaults to the last 90 days, takes a date as the whole day, and refuses reversed or over-long periods', async () => {
    const { evidencePeriod } = await import('../../admin/evidence');
    const now = new Date('2026-11-30T12:00:00Z');
    expect(evidencePeriod({}, now)).toEqual({ from: new Date('2026-09-01T12:00:00Z'), to: now });
    expect(evidencePeriod({ from: '2026-03-01', to: '2026-03-31' }, now)).toEqual({ from: new Date('2026-03-01T00:00:00Z'), to: new Date('2026-03-31T23:59:59.999Z') });
    expect(() => evidencePeriod({ from: '2026-04-01', to: '2026-03-31' }, now)).toThrow(/from must not be after to/);
    expect(() => evidencePeriod({ from: '2025-01-01', to: '2026-03-31' }, now)).toThrow(/at most 400 days/);
  });
});
