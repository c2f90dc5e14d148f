import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/e2e/**/*.test.ts'],
    // JSON results for `npm run evidence` (claim → test table in SECURITY.md).
    reporters: ['default', 'json'],
    outputFile: { json: 'test-results/e2e.json' },
    environment: 'node',
    fileParallelism: false,
    testTimeout: 60_000,
    hookTimeout: 180_000,
  },
});
