/**
 * The secure-development gates CI runs (`npm run lint`) really refuse what they are there to refuse:
 * a committed credential (secretlint) and an unsafe pattern in source (eslint-plugin-security,
 * --max-warnings 0), and installs never run dependency scripts (decision 0009).
 */
import { execFile } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../../scripts/paths';
import { claim } from '../support/claims';

const run = promisify(execFile);
const bin = (name: string) => path.join(ROOT, 'node_modules', '.bin', name);
const outcome = (p: Promise<{ stdout: string }>) => p.then((r) => ({ code: 0, out: r.stdout }), (e: { code: number; stdout: string }) => ({ code: e.code, out: e.stdout }));

describe('CI gates', () => {
  it(claim('secure-development', 'secretlint fails on a committed private key and passes the same file without it'), async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'routero-secretlint-'));
    try {
      const pem = generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
      fs.writeFileSync(path.join(dir, 'leak.ts'), `export const key = \`${pem}\`;\n`);
      fs.writeFileSync(path.join(dir, 'clean.ts'), 'export const key = process.env.KEY;\n');
      const config = ['--secretlintrc', path.join(ROOT, '.secretlintrc.json')];
      expect((await outcome(run(bin('secretlint'), [...config, path.join(dir, 'leak.ts')], { cwd: ROOT }))).code).not.toBe(0);
      expect((await outcome(run(bin('secretlint'), [...config, path.join(dir, 'clean.ts')], { cwd: ROOT }))).code).toBe(0);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);

  it(claim('secure-development', 'eslint with the security rules fails a source file that builds a RegExp from input'), async () => {
    const lint = (code: string) => {
      const child = run(bin('eslint'), ['--stdin', '--stdin-filename', 'lib/probe.ts', '--max-warnings', '0'], { cwd: ROOT });
      child.child.stdin!.end(code);
      return outcome(child);
    };
    const bad = await lint('export function match(input: string, s: string): boolean {\n  return new RegExp(input).test(s);\n}\n');
    expect(bad.code).not.toBe(0);
    expect(bad.out).toContain('security/detect-non-literal-regexp');
    expect((await lint('export function match(s: string): boolean {\n  return /^a+$/.test(s);\n}\n')).code).toBe(0);
  }, 60_000);

  it(claim('secure-development', 'dependency install scripts are denied in package.json (decision 0009)'), () => {
    const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { allowScripts: Record<string, boolean> };
    // Every package with an install script is listed, and none is allowed to run it.
    const withScripts = JSON.parse(fs.readFileSync(path.join(ROOT, 'package-lock.json'), 'utf8')) as { packages: Record<string, { hasInstallScript?: boolean }> };
    const names = Object.entries(withScripts.packages).filter(([, p]) => p.hasInstallScript).map(([k]) => k.replace(/^.*node_modules\//, ''));
    expect(names.length).toBeGreaterThan(0);
    for (const n of names) expect(pkg.allowScripts[n], `${n} has an install script`).toBe(false);
  });
});
