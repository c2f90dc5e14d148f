/**
 * Local secrets in the git-ignored `.dev.vars` (dotenv syntax, read by wrangler dev). Generated on
 * first start; `MASTER_KEY` in the environment wins over the file.
 */
import { generateKeyPairSync, randomUUID } from 'node:crypto';
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
    // JSON values (the service-token JWKs) hold double quotes: single-quote those, as dotenv reads them.
    .map(([k, v]) => (v.includes('"') ? `${k}='${v}'` : `${k}="${v}"`))
    .join('\n');
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, `# ${header}\n${body}\n`, { mode: 0o600 });
}

export interface LocalSecrets {
  MASTER_KEY: string;
  ROUTERO_KEKS: string;
  SESSION_SIGNING_KEY: string;
  /** The admin Worker's ES256 private JWK for internal service tokens (lib/auth/service-token.ts). */
  INTERNAL_TOKEN_SIGNING_KEY: string;
  /** The gateway's JWK Set with the matching public key. */
  INTERNAL_TOKEN_PUBLIC_KEYS: string;
  /** Ed25519 key signing evidence exports (base64 PKCS #8 DER). */
  EVIDENCE_SIGNING_KEY: string;
  DEMO_VIRTUAL_KEY?: string;
}

/**
 * A fresh ES256 keypair for internal service tokens: the private JWK (admin Worker) and a JWK Set
 * with its public half (gateway). Node's own crypto, so it stays synchronous like the other secrets.
 */
export function newServiceTokenKeyPair(kid: string = `dev-${randomUUID()}`): { privateJwk: string; publicJwks: string } {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const priv = privateKey.export({ format: 'jwk' });
  const pub = publicKey.export({ format: 'jwk' });
  return {
    privateJwk: JSON.stringify({ kty: priv.kty, crv: priv.crv, x: priv.x, y: priv.y, d: priv.d, kid, alg: 'ES256' }),
    publicJwks: JSON.stringify({ keys: [{ kty: pub.kty, crv: pub.crv, x: pub.x, y: pub.y, kid, alg: 'ES256' }] }),
  };
}

export function ensureLocalSecrets(file: string, env: NodeJS.ProcessEnv = process.env): LocalSecrets {
  const existing = readDotenv(file);
  // The two halves are generated together; a file with only one of them gets a new pair.
  const pair =
    existing.INTERNAL_TOKEN_SIGNING_KEY && existing.INTERNAL_TOKEN_PUBLIC_KEYS
      ? { privateJwk: existing.INTERNAL_TOKEN_SIGNING_KEY, publicJwks: existing.INTERNAL_TOKEN_PUBLIC_KEYS }
      : newServiceTokenKeyPair();
  const secrets: LocalSecrets = {
    MASTER_KEY: existing.MASTER_KEY || `rto_master_${randomString(40)}`,
    ROUTERO_KEKS: existing.ROUTERO_KEKS || `1:${generateKek()}`,
    SESSION_SIGNING_KEY: existing.SESSION_SIGNING_KEY || randomString(48),
    INTERNAL_TOKEN_SIGNING_KEY: pair.privateJwk,
    INTERNAL_TOKEN_PUBLIC_KEYS: pair.publicJwks,
    EVIDENCE_SIGNING_KEY: existing.EVIDENCE_SIGNING_KEY || generateEvidenceKey(),
    ...(existing.DEMO_VIRTUAL_KEY ? { DEMO_VIRTUAL_KEY: existing.DEMO_VIRTUAL_KEY } : {}),
  };
  if (
    secrets.MASTER_KEY !== existing.MASTER_KEY ||
    secrets.ROUTERO_KEKS !== existing.ROUTERO_KEKS ||
    secrets.SESSION_SIGNING_KEY !== existing.SESSION_SIGNING_KEY ||
    secrets.INTERNAL_TOKEN_SIGNING_KEY !== existing.INTERNAL_TOKEN_SIGNING_KEY ||
    secrets.EVIDENCE_SIGNING_KEY !== existing.EVIDENCE_SIGNING_KEY
  ) {
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
