/** Compiles the Cerbos policies and runs their tests (policies/tests/*_test.yaml) with the real binary. */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { CERBOS_BIN, OFFLINE_ENV, ROOT } from './paths';

const result = spawnSync(CERBOS_BIN, ['compile', path.join(ROOT, 'policies')], {
  stdio: 'inherit',
  env: { ...process.env, ...OFFLINE_ENV },
});
process.exit(result.status ?? 1);
