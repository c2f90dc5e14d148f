/** `npm start`: the whole Routero system on this machine, no cloud account, no internet. */
import path from 'node:path';
import { watchAncestors } from './process-tree';
import { ensureDemoKey, startStack } from './stack';

const port = (name: string, fallback: number) => {
  const v = Number(process.env[name]);
  return Number.isInteger(v) && v > 0 ? v : fallback;
};

/** ALLOW_PRIVATE_UPSTREAMS from the environment: unset means true (local fake providers on loopback). */
function allowPrivateUpstreams(): boolean {
  const v = process.env.ALLOW_PRIVATE_UPSTREAMS;
  if (v === undefined || v === '' || v === 'true') return true;
  if (v === 'false') return false;
  throw new Error(`ALLOW_PRIVATE_UPSTREAMS must be "true" or "false", not ${JSON.stringify(v)}`);
}

async function main() {
  const allowPrivate = allowPrivateUpstreams();
  const verbose = process.env.ROUTERO_VERBOSE === '1';
  // A hard kill of npm or tsx (SIGKILL, no Ctrl-C) leaves this process without its parents: stop
  // then, as on Ctrl-C (finding 13). Our own children die with us regardless (scripts/lifeline.mjs).
  let stopStack: ((why: string) => void) | null = null;
  watchAncestors((reason) => (stopStack ? stopStack(reason) : process.exit(1)));
  // With the parent gone, the terminal or pipe may be gone too; writing there must not crash us
  // before the children are stopped.
  for (const stream of [process.stdout, process.stderr]) stream.on('error', () => undefined);
  console.log('Starting Routero (embedded Postgres, Cerbos, wrangler dev)…');
  // ROUTERO_STATE_DIR moves every piece of local state (Postgres data, wrangler state, .dev.vars)
  // into one folder — used by the test that runs `npm start` beside a developer's own stack.
  const stateDir = process.env.ROUTERO_STATE_DIR ? path.resolve(process.env.ROUTERO_STATE_DIR) : undefined;
  const devVarsFile = stateDir ? path.join(stateDir, '.dev.vars') : undefined;
  const stack = await startStack({
    ...(stateDir
      ? { pgliteDir: path.join(stateDir, 'pglite'), persistDir: path.join(stateDir, 'wrangler', 'state'), devVarsFile }
      : {}),
    gatewayPort: port('GATEWAY_PORT', 8787),
    adminPort: port('ADMIN_PORT', 8788),
    postgresPort: port('PGLITE_PORT', 54329),
    databaseUrl: process.env.DATABASE_URL || undefined,
    allowPrivateUpstreams: allowPrivate,
    onLog: (source, line) => {
      if (verbose || /error|warn/i.test(line) || source === 'wrangler') console.log(`[${source}] ${line}`);
    },
  });
  const demoKey = await ensureDemoKey(stack, devVarsFile);
  let stopping = false;
  const shutdown = async (why: string) => {
    if (stopping) return;
    stopping = true;
    console.log(`\n${why}: stopping every process Routero started…`);
    // Each child gets 1 s between SIGTERM and SIGKILL and all stop at once, so this normally ends
    // within 2 s; the timer only guards against a component that never settles.
    const force = setTimeout(() => process.exit(1), 4000);
    await stack.stop();
    clearTimeout(force);
    process.exit(0);
  };
  process.on('SIGINT', () => void shutdown('SIGINT'));
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGHUP', () => void shutdown('SIGHUP'));
  stopStack = (why) => void shutdown(why);
  console.log(`
Routero is running.
  Gateway:    ${stack.gatewayUrl}   (OpenAI: ${stack.gatewayUrl}/v1, Anthropic: ${stack.gatewayUrl})
  Admin UI:   ${stack.adminUrl}/ui   (log in with the master key)
  Admin API:  ${stack.adminUrl}/api/v1   (reference: ${stack.adminUrl}/ui/api)
  Master key: ${stack.masterKey}
  Demo key:   ${demoKey}   (models: mock/*)
  Private upstreams: ${allowPrivate ? 'allowed (ALLOW_PRIVATE_UPSTREAMS=false refuses them)' : 'refused (ALLOW_PRIVATE_UPSTREAMS=false)'}
  Postgres:   ${stack.databaseUrl.replace(/\/\/[^@]*@/, '//…@')}

Try it:
  curl ${stack.gatewayUrl}/v1/chat/completions \\
    -H "Authorization: Bearer ${demoKey}" -H "Content-Type: application/json" \\
    -d '{"model":"mock/echo","messages":[{"role":"user","content":"Hello"}]}'

Press Ctrl-C to stop.`);
}

main().catch((e: unknown) => {
  console.error('Routero failed to start:', e instanceof Error ? e.message : e);
  process.exit(1);
});
