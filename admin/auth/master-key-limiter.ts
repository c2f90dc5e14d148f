/**
 * One limiter for master-key attempts, shared by the API and the UI (issue 8 finding 4). Every
 * attempt first takes a numbered slot for its client address in ONE statement
 * (`INSERT … ON CONFLICT DO UPDATE … RETURNING`): Postgres serialises concurrent statements on the
 * row lock, so twelve simultaneous guesses get slots 1…12 and only those within the limit are
 * compared at all. A correct key gives its slot back. Both surfaces count into the same row, so
 * guesses through either door add up; the UI stops at 5 per 15 minutes, the API at 10 (scripts
 * use the API with the right key; a script with a wrong key needs no more than a few tries to
 * notice).
 */
import { eq, sql } from 'drizzle-orm';
import type { Queryable } from '../db/client';
import { authFailureCounters } from '../db/schema';

export const MASTER_KEY_WINDOW_MINUTES = 15;
export const MASTER_KEY_LIMITS = { ui: 5, api: 10 } as const;

function counterKey(clientIp: string | null): string {
  return `master_key:${clientIp ?? 'unknown'}`;
}

/**
 * Takes a slot; returns its number within the current window (1 = first attempt). If the counter
 * cannot be written (after a retry) the attempt counts as over the limit: a limiter that cannot
 * count must not let the key be compared (fail closed).
 */
export async function takeAttemptSlot(db: Queryable, clientIp: string | null): Promise<number> {
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const slot = await incrementCounter(db, clientIp);
      if (slot !== null) return slot;
    } catch {
      // retried below; a persistent failure falls through to "over the limit"
    }
    await new Promise((r) => setTimeout(r, 20 * (attempt + 1)));
  }
  return Number.MAX_SAFE_INTEGER;
}

async function incrementCounter(db: Queryable, clientIp: string | null): Promise<number | null> {
  const windowStart = sql`now() - make_interval(mins => ${MASTER_KEY_WINDOW_MINUTES})`;
  const [row] = await db
    .insert(authFailureCounters)
    .values({ key: counterKey(clientIp), window_start: sql`now()`, failures: 1 })
    .onConflictDoUpdate({
      target: authFailureCounters.key,
      set: {
        failures: sql`case when ${authFailureCounters.window_start} < ${windowStart} then 1 else ${authFailureCounters.failures} + 1 end`,
        window_start: sql`case when ${authFailureCounters.window_start} < ${windowStart} then now() else ${authFailureCounters.window_start} end`,
      },
    })
    .returning({ failures: authFailureCounters.failures });
  return row?.failures ?? null;
}

/** A correct key: the attempt does not count against the address. */
export async function giveBackSlot(db: Queryable, clientIp: string | null): Promise<void> {
  await db
    .update(authFailureCounters)
    .set({ failures: sql`greatest(${authFailureCounters.failures} - 1, 0)` })
    .where(eq(authFailureCounters.key, counterKey(clientIp)));
}
