/**
 * Local secrets in the git-ignored `.dev.vars` (dotenv syntax, read by wrangler dev). Generated on
 * first start; `MASTER_KEY` in the environment wins over the file.
 */
import { generateKeyPairSync } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { generateKek } from '../lib/crypto/aes-gcm';
import { randomString } from '../lib/crypto/encoding';

export function readDotenv(file: string): Record<string, string> {
  if (!fs.existsSync(file)) return {};
  const out: Record<string, string> = {};
  for (const line of fs.readFileSync(file, 'utf8').split(/\r?\n/)) {
    const m = /^\s*([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)\s*$/.exec(line);
    if (!m) continue;
    let v = m[2]!;
    if ((v.startsWith('"') && v.endsWith('"')) || (v.startsWith("'") && v.endsWith("'"))) v = v.slice(1, -1);
    out[m[1]!] = v;
  }
  return out;
}

export function writeDotenv(file: string, values: Record<string, string>, header: string): void {
  const body = Object.entries(values)
    .map(([k, v]) => `${k}="${v}"`)
    .join('\n');
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, `# ${header}\n${body}\n`, { mode: 0o600 });
}

export interface LocalSecrets {
  MASTER_KEY: string;
  ROUTERO_KEKS: string;
  SESSION_SIGNING_KEY: string;
  /** Ed25519 key signing evidence exports (base64 PKCS #8 DER). */
  EVIDENCE_SIGNING_KEY: string;
  DEMO_VIRTUAL_KEY?: string;
}

export function ensureLocalSecrets(file: string, env: NodeJS.ProcessEnv = process.env): LocalSecrets {
  const existing = readDotenv(file);
  const secrets: LocalSecrets = {
    MASTER_KEY: existing.MASTER_KEY || `rto_master_${randomString(40)}`,
    ROUTERO_KEKS: existing.ROUTERO_KEKS || `1:${generateKek()}`,
    SESSION_SIGNING_KEY: existing.SESSION_SIGNING_KEY || randomString(48),
    EVIDENCE_SIGNING_KEY: existing.EVIDENCE_SIGNING_KEY || generateEvidenceKey(),
    ...(existing.DEMO_VIRTUAL_KEY ? { DEMO_VIRTUAL_KEY: existing.DEMO_VIRTUAL_KEY } : {}),
  };
  if (secrets.MASTER_KEY !== existing.MASTER_KEY || secrets.ROUTERO_KEKS !== existing.ROUTERO_KEKS || secrets.SESSION_SIGNING_KEY !== existing.SESSION_SIGNING_KEY || secrets.EVIDENCE_SIGNING_KEY !== existing.EVIDENCE_SIGNING_KEY) {
    saveLocalSecrets(file, secrets);
  }
  if (env.MASTER_KEY) secrets.MASTER_KEY = env.MASTER_KEY;
  return secrets;
}

/** A new Ed25519 private key as base64 PKCS #8 DER (the EVIDENCE_SIGNING_KEY format). */
export function generateEvidenceKey(): string {
  return generateKeyPairSync('ed25519').privateKey.export({ format: 'der', type: 'pkcs8' }).toString('base64');
}

export function saveLocalSecrets(file: string, secrets: LocalSecrets): void {
  const current = readDotenv(file);
  writeDotenv(file, { ...current, ...secrets } as Record<string, string>, 'Local Routero secrets. Never commit this file.');
}
