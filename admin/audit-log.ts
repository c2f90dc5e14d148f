/**
 * The admin audit log: one row per management action (who, by which login method, what, on what,
 * with which outcome, from where). Append-only and tamper-evident: rows are numbered without gaps
 * and each stores SHA-256(previous hash ‖ its own content), so `verifyAuditChain` finds a modified
 * row (its hash no longer matches) and a deleted row (a gap, and the next row's prev_hash no longer
 * matches). Appends take a transaction-scoped advisory lock so two writers cannot fork the chain.
 */
import { asc, desc, sql } from 'drizzle-orm';
import { sha256Hex, uuidv7 } from '../lib/crypto/encoding';
import type { Queryable } from './db/client';
import { adminAuditLog } from './db/schema';

export const GENESIS_HASH = '0'.repeat(64);
const LOCK_KEY = 0x726f7574; // "rout"

export type Outcome = 'allowed' | 'denied' | 'failed';

export interface AdminAction {
  actor: string;
  login_method: string;
  action: string;
  target_type: string | null;
  target_id: string | null;
  outcome: Outcome;
  client_ip: string | null;
  user_agent: string | null;
  request_id: string;
  /** The acting person (null for master and API tokens), whether their login showed MFA, the org. */
  actor_user_id: string | null;
  actor_email: string | null;
  mfa: boolean | null;
  org_id: string | null;
}

type Row = typeof adminAuditLog.$inferSelect;

/**
 * The exact content a row's hash covers, in a fixed order. Version 1 rows (written before the
 * identity columns existed) hash the original thirteen fields; version 2 rows append
 * actor_user_id, actor_email, mfa, org_id and the version itself, so those are tamper-evident too.
 */
function canonical(row: Omit<Row, 'hash'>): string {
  const v1 = [
    row.seq,
    row.id,
    new Date(row.at).toISOString(),
    row.actor,
    row.login_method,
    row.action,
    row.target_type,
    row.target_id,
    row.outcome,
    row.client_ip,
    row.user_agent,
    row.request_id,
    row.prev_hash,
  ];
  if (row.hash_version === 1) return JSON.stringify(v1);
  return JSON.stringify([...v1, row.hash_version, row.actor_user_id, row.actor_email, row.mfa, row.org_id]);
}

export function rowHash(row: Omit<Row, 'hash'>): Promise<string> {
  return sha256Hex(canonical(row));
}

/**
 * Appends one row. Given an open transaction it joins it (a savepoint), so the row commits or rolls
 * back with the change it records (DESIGN §7: no change without its audit row).
 */
export async function appendAdminAction(db: Queryable, action: AdminAction): Promise<void> {
  await db.transaction(async (tx) => {
    await tx.execute(sql`select pg_advisory_xact_lock(${LOCK_KEY})`);
    const [last] = await tx.select({ seq: adminAuditLog.seq, hash: adminAuditLog.hash }).from(adminAuditLog).orderBy(desc(adminAuditLog.seq)).limit(1);
    const row = {
      seq: (last?.seq ?? 0) + 1,
      id: uuidv7(),
      at: new Date().toISOString(),
      ...action,
      user_agent: action.user_agent?.slice(0, 512) ?? null,
      hash_version: 2,
      prev_hash: last?.hash ?? GENESIS_HASH,
    };
    await tx.insert(adminAuditLog).values({ ...row, hash: await rowHash(row) });
  });
}

export interface ChainReport {
  ok: boolean;
  rows: number;
  problems: Array<{ seq: number; problem: string }>;
}

/** Walks the whole chain in order; reports every row that does not fit. */
export async function verifyAuditChain(db: Queryable): Promise<ChainReport> {
  const problems: ChainReport['problems'] = [];
  let expectedSeq = 1;
  let prevHash = GENESIS_HASH;
  let rows = 0;
  const PAGE = 1000;
  for (let after = 0; ; ) {
    const page = await db.select().from(adminAuditLog).where(sql`${adminAuditLog.seq} > ${after}`).orderBy(asc(adminAuditLog.seq)).limit(PAGE);
    for (const row of page) {
      rows++;
      if (row.seq !== expectedSeq) problems.push({ seq: row.seq, problem: `rows ${expectedSeq}–${row.seq - 1} are missing` });
      if (row.prev_hash !== prevHash) problems.push({ seq: row.seq, problem: 'prev_hash does not match the previous row (a row was removed or altered)' });
      const { hash, ...content } = row;
      // eslint-disable-next-line security/detect-possible-timing-attacks -- compares a recomputed hash with a stored one; neither is a secret
      if ((await rowHash(content)) !== hash) problems.push({ seq: row.seq, problem: 'content does not match its hash (the row was modified)' });
      expectedSeq = row.seq + 1;
      prevHash = row.hash;
      after = row.seq;
    }
    if (page.length < PAGE) break;
  }
  return { ok: problems.length === 0, rows, problems };
}
