/**
 * Lockfile integrity (issue 8, development practice): `npm ci` installs exactly what
 * package-lock.json names, so the lockfile is what a reviewer must be able to trust. This fails when
 * an entry
 *   - has no sha512 `integrity` (npm would then install whatever the registry serves, unverified),
 *   - is fetched from anywhere but https://registry.npmjs.org/ (a git URL, a tarball on another
 *     host, plain http, a local file or link),
 * or when package.json and the lockfile disagree about the direct dependencies.
 * The lockfile is written without `resolved` fields (npm's omit-lockfile-registry-resolved), so an
 * entry without one comes from the configured registry; one with `resolved` must point there.
 *
 * Usage: tsx scripts/check-lockfile.ts [package-lock.json]
 */
import fs from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { ROOT } from './paths';

const REGISTRY = 'https://registry.npmjs.org/';

const entrySchema = z.object({
  version: z.string().optional(),
  resolved: z.string().optional(),
  integrity: z.string().optional(),
  link: z.boolean().optional(),
  dependencies: z.record(z.string(), z.string()).optional(),
  devDependencies: z.record(z.string(), z.string()).optional(),
});
const lockSchema = z.object({ lockfileVersion: z.number(), packages: z.record(z.string(), entrySchema) });
const manifestSchema = z.object({
  dependencies: z.record(z.string(), z.string()).optional(),
  devDependencies: z.record(z.string(), z.string()).optional(),
});

/** Every problem found; empty when the lockfile is sound. */
function lockfileProblems(lockText: string, manifestText: string): string[] {
  const lock = lockSchema.parse(JSON.parse(lockText));
  const manifest = manifestSchema.parse(JSON.parse(manifestText));
  const problems: string[] = [];
  if (lock.lockfileVersion < 3) problems.push(`lockfileVersion ${lock.lockfileVersion}: regenerate it with npm 9 or later`);
  for (const [where, entry] of Object.entries(lock.packages)) {
    if (where === '') continue; // the project itself
    if (entry.link) {
      problems.push(`${where} is a link to ${entry.resolved ?? 'a local folder'}, not a registry package`);
      continue;
    }
    if (!entry.version) problems.push(`${where} has no version`);
    // Subresource Integrity string: "sha512-<base64 of 64 bytes>" (npm writes sha512 since npm 5).
    if (!entry.integrity) problems.push(`${where} has no integrity hash`);
    else if (!/^sha512-[A-Za-z0-9+/]{86}==$/.test(entry.integrity)) problems.push(`${where} has integrity ${entry.integrity.slice(0, 12)}…, not sha512`);
    if (entry.resolved !== undefined && !entry.resolved.startsWith(REGISTRY)) problems.push(`${where} is resolved from ${entry.resolved}, not ${REGISTRY}`);
  }
  const root = lock.packages[''] ?? {};
  for (const field of ['dependencies', 'devDependencies'] as const) {
    const wanted = manifest[field] ?? {};
    const locked = root[field] ?? {};
    for (const [name, range] of Object.entries(wanted)) {
      if (locked[name] !== range) problems.push(`package.json ${field} ${name}@${range} is ${locked[name] ? `locked as ${locked[name]}` : 'missing from the lockfile'}: run npm install`);
    }
    for (const name of Object.keys(locked)) if (!(name in wanted)) problems.push(`the lockfile has ${field} ${name}, which package.json does not`);
  }
  return problems;
}

function main() {
  const lockFile = path.resolve(process.argv[2] ?? path.join(ROOT, 'package-lock.json'));
  const problems = lockfileProblems(fs.readFileSync(lockFile, 'utf8'), fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8'));
  if (problems.length > 0) {
    console.error(`${path.relative(process.cwd(), lockFile)}: ${problems.length} problem(s)\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    process.exit(1);
  }
  const count = Object.keys(JSON.parse(fs.readFileSync(lockFile, 'utf8')).packages).length - 1;
  console.log(`${path.relative(process.cwd(), lockFile)}: ${count} packages, each sha512-pinned and from ${REGISTRY}`);
}

main();
