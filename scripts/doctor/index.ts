/**
 * `npm run doctor`: checks the production configuration before a deploy and prints what to fix.
 * Reads wrangler.toml and admin/wrangler.toml (wrangler's own parser), the secret names from the
 * generated Env types (types/*.d.ts, `npm run types`), and the secret values from dotenv files the
 * operator keeps outside the repository:
 *   npm run doctor -- --gateway-secrets prod-gateway.env --admin-secrets prod-admin.env
 * (without them, from the environment). Exits 1 on any error; warnings alone exit 0.
 * `--config` and `--admin-config` check other files (the tests use them).
 */
import fs from 'node:fs';
import path from 'node:path';
import { experimental_readRawConfig } from 'wrangler';
import { readDotenv } from '../dev-vars';
import { ROOT } from '../paths';
import { diagnose, secretNamesFromTypes, type WorkerConfig } from './checks';

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

const gatewayConfig = path.resolve(arg('--config') ?? path.join(ROOT, 'wrangler.toml'));
const adminConfig = path.resolve(arg('--admin-config') ?? path.join(ROOT, 'admin', 'wrangler.toml'));
const read = (file: string) => experimental_readRawConfig({ config: file }).rawConfig as unknown as WorkerConfig;
const secretsFrom = (file: string | undefined): Record<string, string> => (file ? readDotenv(path.resolve(file)) : Object.fromEntries(Object.entries(process.env).filter((e): e is [string, string] => typeof e[1] === 'string')));
const types = (name: string) => {
  const file = path.join(ROOT, 'types', `${name}.d.ts`);
  return fs.existsSync(file) ? secretNamesFromTypes(fs.readFileSync(file, 'utf8')) : [];
};

const findings = diagnose({
  gateway: read(gatewayConfig),
  admin: read(adminConfig),
  secretNames: { gateway: types('gateway'), admin: types('admin') },
  secrets: { gateway: secretsFrom(arg('--gateway-secrets')), admin: secretsFrom(arg('--admin-secrets')) },
});

for (const f of findings) {
  console.log(`${f.level === 'error' ? '✗ error  ' : '! warning'} [${f.worker}] ${f.problem}\n           fix: ${f.fix}`);
}
const errors = findings.filter((f) => f.level === 'error').length;
console.log(errors ? `\n${errors} error(s), ${findings.length - errors} warning(s): fix the errors before deploying.` : `\nNo errors${findings.length ? `, ${findings.length} warning(s)` : ''}: ready to deploy.`);
process.exit(errors ? 1 : 0);
