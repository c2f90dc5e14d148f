/**
 * Anchors of the admin audit chain outside Postgres (issue 12, decision 0006's next step). The hash
 * chain shows a modified or deleted row, but someone who can disable the append-only trigger can
 * rewrite every row from the tampered one on and recompute the hashes. So a cron trigger of the
 * admin Worker (admin/wrangler.toml `[triggers]`) copies the chain head — seq, hash, time — into KV
 * every few minutes, where the database credential cannot reach it. Verification compares the chain
 * with every anchor: a rewritten history no longer has the anchored hash at the anchored seq, and is
 * reported with the first anchor that no longer matches.
 */
import { desc, inArray } from 'drizzle-orm';
import { alert } from '../lib/log';
import type { Database, Queryable } from './db/client';
import { adminAuditLog } from './db/schema';
import { verifyAuditChain, type ChainReport } from './audit-log';

export const ANCHOR_PREFIX = 'audit-anchor/';

export interface Anchor {
  seq: number;
  hash: string;
  /** When the anchored row was written. */
  at: string;
  /** When the anchor was taken. */
  anchored_at: string;
}

const anchorKey = (seq: number) => `${ANCHOR_PREFIX}${String(seq).padStart(15, '0')}`;

/**
 * Writes the current chain head to KV, unless the newest anchor already holds it. Returns the anchor
 * written (or the existing one), or null for an empty chain.
 */
export async function anchorAuditHead(db: Database, kv: KVNamespace, now: Date = new Date()): Promise<{ anchor: Anchor; written: boolean } | null> {
  const [head] = await db.select({ seq: adminAuditLog.seq, hash: adminAuditLog.hash, at: adminAuditLog.at }).from(adminAuditLog).orderBy(desc(adminAuditLog.seq)).limit(1);
  if (!head) return null;
  const key = anchorKey(head.seq);
  const existing = await kv.get<Anchor>(key, 'json');
  if (existing?.hash === head.hash) return { anchor: existing, written: false };
  const anchor: Anchor = { seq: head.seq, hash: head.hash, at: new Date(head.at).toISOString(), anchored_at: now.toISOString() };
  if (existing) {
    // The head row at this seq changed since it was anchored: keep the first anchor, it is the evidence.
    alert('audit_anchor_mismatch', 'admin audit chain head differs from its anchor', { seq: head.seq });
    return { anchor: existing, written: false };
  }
  // The anchor travels in the key's metadata too, so verification reads every anchor with list() alone.
  await kv.put(key, JSON.stringify(anchor), { metadata: anchor });
  return { anchor, written: true };
}

/** Every anchor, oldest first. */
export async function listAnchors(kv: KVNamespace): Promise<Anchor[]> {
  const anchors: Anchor[] = [];
  let cursor: string | undefined;
  for (;;) {
    const page = await kv.list<Anchor>({ prefix: ANCHOR_PREFIX, ...(cursor ? { cursor } : {}) });
    for (const k of page.keys) {
      const a = k.metadata ?? (await kv.get<Anchor>(k.name, 'json'));
      if (a) anchors.push(a);
    }
    if (page.list_complete) break;
    cursor = page.cursor;
  }
  return anchors.sort((a, b) => a.seq - b.seq);
}

export interface AnchorReport {
  /** Anchors compared with the chain. */
  checked: number;
  latest: Anchor | null;
  /** The first anchor whose seq no longer holds the anchored hash (history rewritten from there or before). */
  first_mismatch: (Anchor & { chain_hash: string | null }) | null;
}

export async function compareAnchors(db: Queryable, anchors: Anchor[]): Promise<AnchorReport> {
  const CHUNK = 500;
  for (let i = 0; i < anchors.length; i += CHUNK) {
    const chunk = anchors.slice(i, i + CHUNK);
    const rows = await db.select({ seq: adminAuditLog.seq, hash: adminAuditLog.hash }).from(adminAuditLog).where(inArray(adminAuditLog.seq, chunk.map((a) => a.seq)));
    const bySeq = new Map(rows.map((r) => [r.seq, r.hash]));
    for (const a of chunk) {
      const chainHash = bySeq.get(a.seq) ?? null;
      if (chainHash !== a.hash) return { checked: i + chunk.indexOf(a) + 1, latest: anchors.at(-1) ?? null, first_mismatch: { ...a, chain_hash: chainHash } };
    }
  }
  return { checked: anchors.length, latest: anchors.at(-1) ?? null, first_mismatch: null };
}

export interface AuditVerification extends ChainReport {
  head: { seq: number; hash: string } | null;
  anchors: AnchorReport;
}

/** The chain walk and the anchor comparison: what `npm run audit:verify`, the API and the UI report. */
export async function verifyAuditLog(db: Queryable, kv: KVNamespace): Promise<AuditVerification> {
  const chain = await verifyAuditChain(db);
  const [head] = await db.select({ seq: adminAuditLog.seq, hash: adminAuditLog.hash }).from(adminAuditLog).orderBy(desc(adminAuditLog.seq)).limit(1);
  const anchors = await compareAnchors(db, await listAnchors(kv));
  const problems = [...chain.problems];
  if (anchors.first_mismatch) {
    const m = anchors.first_mismatch;
    problems.push({
      seq: m.seq,
      problem: `the history was rewritten: anchor of ${m.anchored_at} says row ${m.seq} has hash ${m.hash.slice(0, 16)}…, the chain has ${m.chain_hash ? `${m.chain_hash.slice(0, 16)}…` : 'no such row'}`,
    });
  }
  return { ok: problems.length === 0, rows: chain.rows, problems, head: head ?? null, anchors };
}
