import { defineConfig } from 'drizzle-kit';

export default defineConfig({
  dialect: 'postgresql',
  schema: './admin/db/schema.ts',
  out: './migrations',
});
