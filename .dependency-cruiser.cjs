/**
 * Import boundaries, checked transitively (issue 7; DESIGN: "the gateway has no path to Postgres").
 * ESLint's no-restricted-imports sees one file's direct imports; this follows the whole import graph
 * of our code, type-only imports included, so worker/ → lib/x → admin/db is caught too. Imports
 * inside node_modules are not followed: what third-party code pulls in is checked on the built
 * gateway bundle instead (scripts/check-gateway-bundle.ts).
 *
 * Run: npm run lint:deps (part of npm run lint).
 */
// A Postgres driver or ORM, as a resolved node_modules path or as an unresolved bare name.
const POSTGRES = '(^|node_modules/)(@neondatabase/|@electric-sql/|drizzle-orm(/|$)|drizzle-kit(/|$)|pg(/|$)|pg-[^/]+(/|$)|postgres(/|$))';

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'gateway-never-reaches-admin',
      comment: 'worker/ is the data plane; the admin Worker (and its database code in admin/db) must not be reachable from it.',
      severity: 'error',
      from: { path: '^worker/' },
      to: { path: '^admin/', reachable: true },
    },
    {
      name: 'gateway-never-reaches-postgres',
      comment: 'The gateway has no database credential and no path to Postgres: no driver, directly or through other modules.',
      severity: 'error',
      from: { path: '^worker/' },
      to: { path: POSTGRES, reachable: true },
    },
    {
      name: 'lib-imports-neither-worker',
      comment: 'lib/ is shared by both Workers; it imports neither of them.',
      severity: 'error',
      from: { path: '^lib/' },
      to: { path: '^(worker|admin)/', reachable: true },
    },
    {
      name: 'lib-never-reaches-postgres',
      comment: 'lib/ is bundled into the gateway, so it has no path to a Postgres driver either.',
      severity: 'error',
      from: { path: '^lib/' },
      to: { path: POSTGRES, reachable: true },
    },
    {
      name: 'admin-never-imports-worker',
      comment: 'The admin Worker shares code with the gateway through lib/ only.',
      severity: 'error',
      from: { path: '^admin/' },
      to: { path: '^worker/', reachable: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    // Type-only imports count: a boundary is about what one side knows of the other.
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { extensions: ['.ts', '.tsx', '.js', '.mjs', '.json'] },
    exclude: { path: '^(dist|\\.wrangler)/' },
  },
};
