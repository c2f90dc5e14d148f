/**
 * Gateway route tests inside workerd (@cloudflare/vitest-pool-workers), with the gateway's real
 * wrangler.toml bindings (local KV), the real Cerbos server and local fake providers. The global
 * setup starts those on the ports chosen here.
 */
import { cloudflareTest } from '@cloudflare/vitest-pool-workers';
import { defineConfig } from 'vitest/config';
import { freePort } from './scripts/paths';

export default defineConfig(async () => {
  const cerbosPort = await freePort();
  process.env.ROUTERO_TEST_CERBOS_PORT = String(cerbosPort);
  return {
    plugins: [
      cloudflareTest({
        wrangler: { configPath: './wrangler.toml' },
        // The `[ai]` binding would open a session to Cloudflare's network: tests never call out.
        remoteBindings: false,
        miniflare: {
          bindings: {
            CERBOS_URL: `http://127.0.0.1:${cerbosPort}`,
            ALLOW_PRIVATE_UPSTREAMS: 'true',
            ROUTERO_ENV: 'development',
            ROUTERO_KEKS: '1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=',
          },
        },
      }),
    ],
    test: {
      include: ['test/worker/**/*.test.ts'],
      // JSON results for `npm run evidence` (claim → test table in SECURITY.md).
      reporters: ['default', 'json'],
      outputFile: { json: 'test-results/worker.json' },
      globalSetup: ['test/worker/global-setup.ts'],
      testTimeout: 20_000,
    },
  };
});
