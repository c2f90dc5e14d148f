/**
 * Checks that the generated matrix tests match policies/matrix.yaml (`--write` regenerates them),
 * then compiles the Cerbos policies and runs their tests (policies/tests/*_test.yaml) with the real
 * binary.
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { CERBOS_BIN, OFFLINE_ENV, ROOT } from './paths';

const gen = spawnSync(process.execPath, ['--import', 'tsx', path.join(ROOT, 'scripts', 'policy-matrix.ts'), ...process.argv.slice(2)], { stdio: 'inherit' });
if (gen.status !== 0) process.exit(gen.status ?? 1);
const version = spawnSync(process.execPath, ['--import', 'tsx', path.join(ROOT, 'scripts', 'policy-version.ts'), ...process.argv.slice(2)], { stdio: 'inherit' });
if (version.status !== 0) process.exit(version.status ?? 1);

const result = spawnSync(CERBOS_BIN, ['compile', path.join(ROOT, 'policies')], {
  stdio: 'inherit',
  env: { ...process.env, ...OFFLINE_ENV },
});
process.exit(result.status ?? 1);
