/**
 * `npm run evidence`: reads the last test run's vitest JSON results (test-results/unit.json,
 * worker.json, e2e.json), writes SECURITY.md and test-results/evidence.json, and exits 1 when a
 * claim in security/claims.ts has no passing test (or a test failed, or a tag names no claim).
 * `--results <dir>` and `--out <file>` change where it reads and writes (tests use them).
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { CLAIMS } from '../../security/claims';
import { ROOT } from '../paths';
import { buildEvidence, renderSecurityMd, type ResultSet, type VitestJson } from './build';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(name);
  return i >= 0 && process.argv[i + 1] ? path.resolve(process.argv[i + 1]!) : fallback;
}

function git(args: string[]): string {
  try {
    return execFileSync('git', args, { cwd: ROOT, encoding: 'utf8' }).trim();
  } catch {
    return '';
  }
}

const resultsDir = arg('--results', path.join(ROOT, 'test-results'));
const out = arg('--out', path.join(ROOT, 'SECURITY.md'));

const results: ResultSet[] = [];
for (const suite of ['unit', 'worker', 'e2e']) {
  const file = path.join(resultsDir, `${suite}.json`);
  if (!fs.existsSync(file)) {
    console.warn(`evidence: no ${suite} results (${path.relative(ROOT, file)}); run the ${suite} tests first`);
    continue;
  }
  results.push({ suite, json: JSON.parse(fs.readFileSync(file, 'utf8')) as VitestJson });
}

const report = buildEvidence(CLAIMS, results, ROOT);
const run = { commit: git(['rev-parse', 'HEAD']) || 'unknown', dirty: git(['status', '--porcelain']) !== '', generatedAt: new Date().toISOString() };
fs.writeFileSync(out, renderSecurityMd(report, run));
fs.mkdirSync(resultsDir, { recursive: true });
fs.writeFileSync(path.join(resultsDir, 'evidence.json'), JSON.stringify({ ...run, ok: report.ok, claims: report.claims.map((c) => ({ id: c.claim.id, proven: c.proven, tests: c.tests })), unknownTags: report.unknownTags }, null, 2));

for (const c of report.claims) {
  const passed = c.tests.filter((t) => t.status === 'passed').length;
  console.log(`${c.proven ? 'proven ' : 'MISSING'}  ${c.claim.id.padEnd(26)} ${passed}/${c.tests.length} tests passed`);
}
for (const u of report.unknownTags) console.error(`evidence: tag [claim:${u.tag}] on "${u.test}" names no claim in security/claims.ts`);
console.log(`wrote ${path.relative(ROOT, out)}`);
if (!report.ok) {
  console.error('evidence: a claim has no passing test (or a proving test failed): see above');
  process.exit(1);
}
