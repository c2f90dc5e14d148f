/**
 * Operator commands through the admin API, so they work the same against `npm start` and a
 * deployed admin Worker:
 *   npm run kv:rebuild       rewrite the KV read model from Postgres
 *   npm run kek:reencrypt    re-encrypt every provider key under the newest KEK in ROUTERO_KEKS
 *   npm run audit:verify     verify the admin audit log's hash chain (exit 1 when broken)
 * ROUTERO_ADMIN_URL (default http://127.0.0.1:8788) and MASTER_KEY (default: from .dev.vars).
 */
import path from 'node:path';
import { readDotenv } from './dev-vars';
import { ROOT } from './paths';

const commands: Record<string, { method: string; path: string }> = {
  'rebuild-kv': { method: 'POST', path: '/api/v1/admin/rebuild-kv' },
  'reencrypt-provider-keys': { method: 'POST', path: '/api/v1/admin/reencrypt-provider-keys' },
  'audit-verify': { method: 'GET', path: '/api/v1/audit-log/verify' },
};

async function main() {
  const command = process.argv[2] ?? '';
  const spec = commands[command];
  if (!spec) {
    console.error(`usage: admin-command.ts ${Object.keys(commands).join('|')}`);
    process.exit(2);
  }
  const adminUrl = process.env.ROUTERO_ADMIN_URL ?? `http://127.0.0.1:${process.env.ADMIN_PORT ?? 8788}`;
  const masterKey = process.env.MASTER_KEY ?? readDotenv(path.join(ROOT, '.dev.vars')).MASTER_KEY;
  if (!masterKey) {
    console.error('MASTER_KEY is not set and .dev.vars has none');
    process.exit(2);
  }
  const res = await fetch(`${adminUrl}${spec.path}`, { method: spec.method, headers: { authorization: `Bearer ${masterKey}` } });
  const body = await res.text();
  console.log(body);
  if (!res.ok || (command === 'audit-verify' && (JSON.parse(body) as { ok: boolean }).ok !== true)) process.exit(1);
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});
