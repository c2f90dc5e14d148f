/**
 * `npm run types`: the Env types of both Workers generated from their wrangler.toml by
 * `wrangler types` (bindings, [vars], and the secrets listed under [secrets] required) into
 * types/gateway.d.ts and types/admin.d.ts. `--check` (part of `npm run lint`) fails when a
 * checked-in file no longer matches its wrangler.toml. `npm run doctor` reads the secret names from
 * these files.
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { OFFLINE_ENV, ROOT, WRANGLER_BIN } from './paths';

export const WORKER_TYPES = [
  { config: 'wrangler.toml', out: 'types/gateway.d.ts', iface: 'GatewayWorkerEnv' },
  { config: 'admin/wrangler.toml', out: 'types/admin.d.ts', iface: 'AdminWorkerEnv' },
] as const;

const check = process.argv.includes('--check');
let failed = false;
for (const w of WORKER_TYPES) {
  const args = [WRANGLER_BIN, 'types', '-c', w.config, '--include-runtime=false', '--env-interface', w.iface, w.out, ...(check ? ['--check'] : [])];
  const r = spawnSync(process.execPath, args, { cwd: ROOT, env: { ...process.env, ...OFFLINE_ENV, FORCE_COLOR: '0' }, encoding: 'utf8' });
  if (r.status !== 0) {
    failed = true;
    console.error(`${w.out} is out of date with ${w.config}: run npm run types\n${(r.stdout + r.stderr).trim()}`);
  } else console.log(`${w.out}: ${check ? 'up to date' : 'written'} (${path.relative(ROOT, path.join(ROOT, w.config))})`);
}
process.exit(failed ? 1 : 0);
