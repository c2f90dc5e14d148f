/**
 * Child processes that die with the launcher (finding 13: a hard kill of `npm start` left wrangler
 * and workerd holding their ports).
 *
 * - `spawnTied` starts a command through scripts/lifeline.mjs, which puts it in a process group of
 *   its own and kills that group when its stdin pipe closes — on `stopTied`, or when this process
 *   dies by any means, SIGKILL included, because the kernel closes a dead process's pipes.
 * - `watchAncestors` covers the other direction: `npm start` is npm → sh → tsx → node, and a SIGKILL
 *   of npm or tsx leaves this node process running with nobody to press Ctrl-C. It polls the
 *   ancestors that belong to our terminal job and calls back when one of them is gone.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { ROOT } from './paths';

const LIFELINE = path.join(ROOT, 'scripts', 'lifeline.mjs');

interface ProcStat {
  state: string;
  ppid: number;
  pgrp: number;
  startTime: string;
}

/** /proc/<pid>/stat on Linux (proc(5)); null when the process does not exist or /proc is absent. */
export function procStat(pid: number): ProcStat | null {
  let text: string;
  try {
    text = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return null;
  }
  // "pid (comm) state ppid pgrp session tty_nr tpgid flags minflt cminflt majflt cmajflt utime stime
  // cutime cstime priority nice num_threads itrealvalue starttime …"; comm may hold ") ".
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return { state: fields[0] ?? '', ppid: Number(fields[1]), pgrp: Number(fields[2]), startTime: fields[19] ?? '' };
}

/** True while the process exists and is not a zombie (a zombie holds no ports or files). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  const stat = procStat(pid);
  return stat === null ? process.platform !== 'linux' : stat.state !== 'Z' && stat.state !== 'X';
}

export interface TiedOptions {
  cwd: string;
  env: NodeJS.ProcessEnv;
  /** How long the command gets between SIGTERM and SIGKILL when it is stopped. */
  graceMs: number;
}

/**
 * Spawns `command` so that it and everything it starts die with this process. stdout and stderr are
 * pipes as with a plain spawn; the returned ChildProcess is the wrapper, which exits with the
 * command's status.
 */
export function spawnTied(command: string, args: string[], opts: TiedOptions): ChildProcess {
  const child = spawn(process.execPath, [LIFELINE, String(opts.graceMs), command, ...args], {
    cwd: opts.cwd,
    env: opts.env,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  // Nothing is ever written; the pipe only has to exist. Errors on it mean the wrapper is gone.
  child.stdin?.on('error', () => undefined);
  return child;
}

/** Stops a tied child and its whole process group; resolves once the wrapper has exited. */
export function stopTied(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once('exit', () => resolve());
    child.stdin?.end();
  });
}

/** npm's process: `npm start` as its title, or node running npm-cli.js. */
function isNpm(pid: number): boolean {
  try {
    const argv = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    return /(^|\/)npm$/.test(argv[0] ?? '') || /^npm /.test(argv[0] ?? '') || argv.some((a) => a.endsWith('npm-cli.js'));
  } catch {
    return false;
  }
}

/**
 * Calls `onGone` (once) when an ancestor that belongs to our process group — the terminal job that
 * `npm start` runs as: npm, its shell, tsx — exits. Ancestors outside the group (the user's shell,
 * init) and above npm are not watched. Linux only (/proc); elsewhere it watches the parent alone.
 */
export function watchAncestors(onGone: (reason: string) => void, intervalMs = 200): () => void {
  const watched: Array<{ pid: number; startTime: string }> = [];
  const own = procStat(process.pid);
  if (own) {
    for (let pid = own.ppid; pid > 1; ) {
      const stat = procStat(pid);
      if (!stat || stat.pgrp !== own.pgrp) break;
      watched.push({ pid, startTime: stat.startTime });
      // npm is the top of what `npm start` runs; a shell script above it may end on purpose
      // (`npm start &`) without meaning to stop us.
      if (isNpm(pid)) break;
      pid = stat.ppid;
    }
  }
  const parent = process.ppid;
  const timer = setInterval(() => {
    if (process.ppid !== parent) return fire(`parent process ${parent} exited`);
    for (const { pid, startTime } of watched) {
      const stat = procStat(pid);
      // Gone, a zombie, or the pid reused by another process (a different start time).
      if (!stat || stat.state === 'Z' || stat.state === 'X' || stat.startTime !== startTime) return fire(`ancestor process ${pid} exited`);
    }
  }, intervalMs);
  timer.unref();
  let fired = false;
  function fire(reason: string) {
    if (fired) return;
    fired = true;
    clearInterval(timer);
    onGone(reason);
  }
  return () => clearInterval(timer);
}
