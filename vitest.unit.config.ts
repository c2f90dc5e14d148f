import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/unit/**/*.test.ts'],
    // JSON results for `npm run evidence` (claim → test table in SECURITY.md).
    reporters: ['default', 'json'],
    outputFile: { json: 'test-results/unit.json' },
    environment: 'node',
  },
});
