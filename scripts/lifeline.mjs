// @ts-check
/**
 * lifeline: runs one command in a process group of its own and ties that whole group (the command
 * and everything it starts — wrangler's workerd and esbuild, for instance) to this wrapper's stdin.
 *
 *   node scripts/lifeline.mjs <grace-ms> <command> [args...]
 *
 * The launcher (scripts/stack.ts) holds the write end of our stdin. When it closes — because the
 * launcher asked for a stop, or because the launcher died, even by SIGKILL, since the kernel closes
 * a dead process's pipes — the group gets SIGTERM, then SIGKILL after <grace-ms>. Node cannot set
 * Linux's PR_SET_PDEATHSIG on a child, so a pipe is the portable way to notice a parent's death
 * without polling. SIGINT/SIGTERM/SIGHUP here (Ctrl-C reaches us through the terminal's process
 * group) do the same. If the command exits on its own, whatever it left in its group is killed and
 * we exit with its status.
 *
 * Plain JavaScript, not TypeScript: it starts with bare `node`, without tsx's loader, in ~40 ms.
 */
import { spawn } from 'node:child_process';
import { constants } from 'node:os';
import fs from 'node:fs';
import process from 'node:process';
import { setTimeout as sleep } from 'node:timers/promises';

const [graceText, command, ...args] = process.argv.slice(2);
const graceMs = Number(graceText);
if (!command || !Number.isFinite(graceMs) || graceMs < 0) {
  process.stderr.write('usage: node scripts/lifeline.mjs <grace-ms> <command> [args...]\n');
  process.exit(2);
}

// detached: the command leads a new process group (its pgid is its pid), so one kill(-pgid) reaches
// every process it starts, and a Ctrl-C in the terminal reaches us, not it: we decide how it stops.
const child = spawn(command, args, { detached: true, stdio: ['ignore', 'inherit', 'inherit'] });
const pgid = child.pid;

/**
 * True while a live member of the group exists. Zombies do not count: they hold no ports or files,
 * and an orphaned one (workerd after wrangler died) waits for init to reap it, which can take seconds.
 */
function groupAlive() {
  if (pgid === undefined) return false;
  try {
    process.kill(-pgid, 0);
  } catch {
    return false;
  }
  if (process.platform !== 'linux') return true;
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let stat;
    try {
      stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
    } catch {
      continue; // exited while we looked
    }
    // proc(5): "pid (comm) state ppid pgrp …"; comm may hold spaces and parentheses.
    const [state, , pgrp] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (Number(pgrp) === pgid && state !== 'Z' && state !== 'X') return true;
  }
  return false;
}

/** @param {NodeJS.Signals} signal */
function signalGroup(signal) {
  if (pgid === undefined) return;
  try {
    process.kill(-pgid, signal);
  } catch {
    // the group is gone already
  }
}

/** @type {Promise<never> | null} */
let stopping = null;

/** @param {number} exitCode */
function stopGroup(exitCode) {
  stopping ??= (async () => {
    signalGroup('SIGTERM');
    const deadline = Date.now() + graceMs;
    while (groupAlive() && Date.now() < deadline) await sleep(25);
    if (groupAlive()) signalGroup('SIGKILL');
    const hardDeadline = Date.now() + 2000;
    while (groupAlive() && Date.now() < hardDeadline) await sleep(25);
    process.exit(exitCode);
  })();
  return stopping;
}

child.once('error', (e) => {
  process.stderr.write(`lifeline: cannot start ${command}: ${e.message}\n`);
  process.exit(127);
});
child.once('exit', (code, signal) => {
  void stopGroup(code ?? (signal ? 128 + constants.signals[signal] : 1));
});
for (const signal of /** @type {const} */ (['SIGINT', 'SIGTERM', 'SIGHUP'])) process.on(signal, () => void stopGroup(0));
process.stdin.on('end', () => void stopGroup(0));
process.stdin.on('close', () => void stopGroup(0));
process.stdin.on('error', () => void stopGroup(0));
process.stdin.resume();
