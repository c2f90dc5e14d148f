/**
 * `npm run internal-token:keygen [-- --kid <id>] [--out <dir>]`: a new ES256 keypair for internal
 * service tokens (README "Internal service tokens"). Writes the private JWK (for the admin Worker's
 * INTERNAL_TOKEN_SIGNING_KEY) to `<dir>/internal-token-signing.jwk` with mode 0600, never to the
 * terminal, and prints the public JWK Set (for the gateway's INTERNAL_TOKEN_PUBLIC_KEYS) and the
 * wrangler commands that install both.
 */
import fs from 'node:fs';
import path from 'node:path';
import { newServiceTokenKeyPair } from './dev-vars';

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

const kid = arg('kid') ?? `routero-${new Date().toISOString().slice(0, 10)}`;
const dir = path.resolve(arg('out') ?? '.secrets');
const pair = newServiceTokenKeyPair(kid);
fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
const privateFile = path.join(dir, 'internal-token-signing.jwk');
const publicFile = path.join(dir, 'internal-token-public.jwks');
fs.writeFileSync(privateFile, pair.privateJwk, { mode: 0o600 });
fs.writeFileSync(publicFile, pair.publicJwks, { mode: 0o644 });
console.log(`Key id: ${kid}
Private key (admin Worker only): ${privateFile}
Public key set (gateway):       ${publicFile}
  ${pair.publicJwks}

Install:
  wrangler secret put INTERNAL_TOKEN_PUBLIC_KEYS < ${publicFile}
  wrangler secret put INTERNAL_TOKEN_SIGNING_KEY -c admin/wrangler.toml < ${privateFile}
Then delete ${privateFile}. To rotate, put both public keys in one set ({"keys":[old, new]}) on the
gateway first, then the new private key on the admin Worker, then the new set alone on the gateway.`);
