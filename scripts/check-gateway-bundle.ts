/**
 * The gateway bundle that would ship contains no Postgres driver and none of the admin Worker
 * (issue 7; DESIGN: the gateway has no database credential and no path to Postgres). The import
 * lint (.dependency-cruiser.cjs) sees our own modules; this sees what actually gets bundled,
 * third-party code included.
 *
 * It builds the gateway exactly as a deploy would (`wrangler deploy --dry-run`, into a temporary
 * folder, offline) and fails when
 *   - esbuild's metafile lists an input from a Postgres driver package or from admin/, or
 *   - the bundle text holds a marker that every Postgres client carries (the SCRAM-SHA-256 login of
 *     PostgreSQL's protocol §53.3.1, the `client_encoding` start-up parameter, driver and ORM names)
 *     — a second look that does not trust the metafile.
 *
 * Usage: tsx scripts/check-gateway-bundle.ts [-c path/to/wrangler.toml]
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { z } from 'zod';
import { OFFLINE_ENV, ROOT, WRANGLER_BIN } from './paths';

/** Inputs that must never be bundled into the gateway (paths as esbuild's metafile names them). */
const FORBIDDEN_INPUTS: Array<[RegExp, string]> = [
  [/(^|\/)node_modules\/(@neondatabase|@electric-sql)\//, 'a Postgres driver'],
  [/(^|\/)node_modules\/(pg|pg-[^/]+|postgres|drizzle-orm)\//, 'a Postgres driver or ORM'],
  [/(^|\/)admin\//, 'the admin Worker'],
];

/** Strings a Postgres client cannot do without; none belongs in the gateway. */
const FORBIDDEN_MARKERS: Array<[RegExp, string]> = [
  [/SCRAM-SHA-256/, 'Postgres SASL authentication'],
  [/client_encoding/, 'a Postgres start-up parameter'],
  [/@neondatabase|neondb_owner|wsProxy/, 'the Neon serverless driver'],
  [/drizzle:|PgDialect|PgTable/, 'drizzle-orm'],
  [/PGlite/, 'PGlite'],
];

/** "node_modules/@scope/name" or "node_modules/name" for a file inside a package; the path otherwise. */
function packageOf(input: string): string {
  const at = input.lastIndexOf('node_modules/');
  if (at < 0) return input;
  const parts = input.slice(at + 'node_modules/'.length).split('/');
  const name = parts[0]?.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0];
  return `${input.slice(0, at)}node_modules/${name}`;
}

const metafileSchema = z.object({ inputs: z.record(z.string(), z.unknown()) });

function main() {
  const args = process.argv.slice(2);
  const configArg = args[0] === '-c' || args[0] === '--config' ? args[1] : undefined;
  const config = path.resolve(configArg ?? path.join(ROOT, 'wrangler.toml'));
  const outDir = fs.mkdtempSync(path.join(os.tmpdir(), 'routero-gateway-bundle-'));
  try {
    const metafile = path.join(outDir, 'meta.json');
    const build = spawnSync(process.execPath, [WRANGLER_BIN, 'deploy', '--dry-run', '-c', config, '--outdir', path.join(outDir, 'bundle'), '--metafile', metafile], {
      cwd: ROOT,
      env: { ...process.env, ...OFFLINE_ENV, FORCE_COLOR: '0' },
      encoding: 'utf8',
    });
    if (build.status !== 0) {
      console.error(`wrangler deploy --dry-run failed (exit ${build.status}):\n${build.stdout}\n${build.stderr}`);
      process.exitCode = 1; // not process.exit(): the finally below removes the build folder
      return;
    }
    const problems: string[] = [];
    const inputs = Object.keys(metafileSchema.parse(JSON.parse(fs.readFileSync(metafile, 'utf8'))).inputs);
    // One line per package or admin file: "node_modules/drizzle-orm (97 files)".
    const hits = new Map<string, { what: string; files: number }>();
    for (const input of inputs) {
      for (const [re, what] of FORBIDDEN_INPUTS) {
        if (!re.test(input)) continue;
        hits.set(packageOf(input), { what, files: (hits.get(packageOf(input))?.files ?? 0) + 1 });
      }
    }
    for (const [where, { what, files }] of hits) problems.push(`bundles ${where}${files > 1 ? ` (${files} files)` : ''}: ${what}`);
    const jsFiles = fs.readdirSync(path.join(outDir, 'bundle'), { recursive: true, encoding: 'utf8' }).filter((f) => /\.(m?js|cjs)$/.test(f));
    let bytes = 0;
    for (const file of jsFiles) {
      const text = fs.readFileSync(path.join(outDir, 'bundle', file), 'utf8');
      bytes += Buffer.byteLength(text);
      for (const [re, what] of FORBIDDEN_MARKERS) {
        const m = re.exec(text);
        if (m) problems.push(`${file} contains "${m[0]}" (${what}) near: …${text.slice(Math.max(0, m.index - 60), m.index + 60).replace(/\s+/g, ' ')}…`);
      }
    }
    if (jsFiles.length === 0) problems.push('the build produced no JavaScript file to check');
    if (problems.length > 0) {
      console.error(`The gateway bundle (${path.relative(ROOT, config)}) has a path to Postgres or the admin Worker:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
      process.exitCode = 1; // not process.exit(): the finally below removes the build folder
      return;
    }
    console.log(`gateway bundle: ${inputs.length} inputs, ${(bytes / 1024).toFixed(1)} KB in ${jsFiles.length} file(s); no Postgres driver, no admin/ code`);
  } finally {
    fs.rmSync(outDir, { recursive: true, force: true });
  }
}

main();
