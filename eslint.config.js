import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['node_modules/', '.wrangler/', 'dist/', 'migrations/', 'test-output/', 'bench-output/', '.data/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      // worker/ is the data plane: no path to the database, and never the admin Worker's code.
      'no-restricted-imports': 'off',
    },
  },
  {
    files: ['worker/**/*.{ts,tsx,js,mjs}'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            { group: ['**/db/**', '@neondatabase/*', '@electric-sql/*', 'postgres', 'drizzle-orm', 'drizzle-orm/*', 'pg'], message: 'The gateway has no path to the database.' },
            { group: ['**/admin/**'], message: 'worker/ never imports admin/.' },
          ],
        },
      ],
    },
  },
  {
    files: ['lib/**/*.{ts,tsx,js,mjs}'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [
            { group: ['**/worker/**', '**/admin/**'], message: 'lib/ imports neither Worker.' },
            { group: ['@neondatabase/*', 'drizzle-orm', 'drizzle-orm/*', 'pg', 'postgres'], message: 'lib/ is shared with the gateway: no database driver.' },
          ] }],
    },
  },
  {
    files: ['admin/**/*.{ts,tsx,js,mjs}'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [{ group: ['**/worker/**'], message: 'admin/ never imports worker/.' }] }],
    },
  },
);
