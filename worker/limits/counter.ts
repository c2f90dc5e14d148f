/**
 * `LimitCounter`: the Durable Object holding one limited subject's counters (a key, a user or an
 * organisation), in its own SQLite storage (decision 0016). A Durable Object runs one call at a
 * time and each call below is synchronous SQL, so check-and-reserve is atomic: parallel requests
 * cannot both take the last slot.
 *
 * - requests and tokens per minute: a sliding 60-second log of admitted requests (`hits`), each
 *   with its token estimate, replaced by the real usage when the request settles;
 * - concurrency: the open reservations;
 * - budget: spend per UTC period (`spend`), plus the cost estimates of open reservations. The
 *   gateway settles a request's cost from the published prices; the consumer's priced event
 *   replaces it with the stored price (`costs` keeps which request was settled how, so the two
 *   may arrive in either order and none is counted twice).
 *
 * A request is admitted while a limit still has room (`used < limit`), and then reserves its
 * estimate: requests and concurrency are exact, and tokens or spend can exceed the limit by at most
 * one request's real usage beyond its reservation (measured in test/e2e/limits.e2e.test.ts).
 */
import { DurableObject } from 'cloudflare:workers';
/* The RPC surface callers see is LimitCounterRpc in lib/limits.ts (the same methods, as promises). */
import {
  periodEnd,
  periodStart,
  type AlertCrossing,
  type BudgetPeriod,
  type CostSettleInput,
  type Limits,
  type ReserveInput,
  type ReserveResult,
  type SettleInput,
  type Standing,
} from '../../lib/limits';

const WINDOW_MS = 60_000;
/**
 * A reservation never settled (its isolate died) stops counting after this long: longer than any
 * request can last with the default upstream timeouts (10 minutes to first byte, 5 of silence).
 */
export const RESERVATION_TTL_MS = 30 * 60_000;
/** Cost records are kept this long (longer than a month) so late events are not counted twice. */
const COST_RECORD_TTL_MS = 40 * 86_400_000;

const periodKey = (period: BudgetPeriod, at: number) => `${period}:${periodStart(period, at)}`;

function usd(n: number): string {
  return `$${n.toFixed(n < 1 ? 4 : 2)}`;
}

export class LimitCounter extends DurableObject<object> {
  private readonly sql: SqlStorage;
  /**
   * Running totals of the minute window and of the open reservations, kept in memory so a call
   * costs a few indexed statements, never a scan of the window (at thousands of requests a
   * minute the scan was the cost). Loaded from SQLite when the object starts, so a restart
   * continues where it was.
   */
  private win = { n: 0, tokens: 0 };
  private open = { n: 0, cost: 0 };
  private readonly spendCache = new Map<string, number>();
  private lastExpiry = 0;

  constructor(ctx: DurableObjectState, env: object) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    this.sql.exec(`
      CREATE TABLE IF NOT EXISTS hits (id INTEGER PRIMARY KEY AUTOINCREMENT, at INTEGER NOT NULL, tokens INTEGER NOT NULL);
      CREATE INDEX IF NOT EXISTS hits_at ON hits(at);
      CREATE TABLE IF NOT EXISTS reservations (rid TEXT PRIMARY KEY, at INTEGER NOT NULL, hit_id INTEGER NOT NULL, cost REAL NOT NULL, period_key TEXT);
      CREATE TABLE IF NOT EXISTS spend (period_key TEXT PRIMARY KEY, spent REAL NOT NULL);
      CREATE TABLE IF NOT EXISTS costs (rid TEXT PRIMARY KEY, period_key TEXT NOT NULL, cost REAL NOT NULL, final INTEGER NOT NULL, at INTEGER NOT NULL);
      CREATE TABLE IF NOT EXISTS alerts (period_key TEXT NOT NULL, threshold INTEGER NOT NULL, rid TEXT NOT NULL, PRIMARY KEY (period_key, threshold));
      CREATE TABLE IF NOT EXISTS revoked (key_id TEXT PRIMARY KEY, at INTEGER NOT NULL);
    `);
    this.loadTotals();
  }

  private loadTotals(): void {
    const w = this.one<{ n: number; t: number }>('SELECT count(*) AS n, coalesce(sum(tokens), 0) AS t FROM hits')!;
    this.win = { n: w.n, tokens: w.t };
    const r = this.one<{ n: number; c: number }>('SELECT count(*) AS n, coalesce(sum(cost), 0) AS c FROM reservations')!;
    this.open = { n: r.n, cost: r.c };
  }

  private oldestHit(): number | null {
    return this.one<{ at: number }>('SELECT at FROM hits ORDER BY at LIMIT 1')?.at ?? null;
  }

  private dropReservation(rid: string, cost: number): void {
    this.sql.exec('DELETE FROM reservations WHERE rid = ?', rid);
    this.open.n = Math.max(0, this.open.n - 1);
    this.open.cost = this.open.n === 0 ? 0 : Math.max(0, this.open.cost - cost);
  }

  private one<T>(query: string, ...args: SqlStorageValue[]): T | undefined {
    const rows = this.sql.exec(query, ...args).toArray();
    return rows[0] as T | undefined;
  }

  private spent(key: string): number {
    let v = this.spendCache.get(key);
    if (v === undefined) {
      v = this.one<{ spent: number }>('SELECT spent FROM spend WHERE period_key = ?', key)?.spent ?? 0;
      this.spendCache.set(key, v);
    }
    return v;
  }

  private addSpend(key: string, amount: number): void {
    if (amount === 0) return;
    const row = this.one<{ spent: number }>(
      'INSERT INTO spend (period_key, spent) VALUES (?, ?) ON CONFLICT (period_key) DO UPDATE SET spent = spent + excluded.spent RETURNING spent',
      key,
      amount,
    );
    this.spendCache.set(key, row?.spent ?? 0);
  }

  private prune(now: number): void {
    const cutoff = now - WINDOW_MS;
    const oldest = this.oldestHit();
    if (oldest !== null && oldest <= cutoff) {
      const gone = this.one<{ n: number; t: number }>('SELECT count(*) AS n, coalesce(sum(tokens), 0) AS t FROM hits WHERE at <= ?', cutoff)!;
      this.sql.exec('DELETE FROM hits WHERE at <= ?', cutoff);
      this.win = { n: Math.max(0, this.win.n - gone.n), tokens: Math.max(0, this.win.tokens - gone.t) };
    }
    // Reservations whose isolate died: looked for once a minute (the table holds only requests in flight).
    if (Math.abs(now - this.lastExpiry) >= WINDOW_MS) {
      this.lastExpiry = now;
      const expired = this.sql.exec('DELETE FROM reservations WHERE at <= ? RETURNING rid', now - RESERVATION_TTL_MS).toArray();
      if (expired.length > 0) this.loadTotals();
    }
  }

  private standing(limits: Limits, now: number): Standing & { inFlight: number; tokensUsed: number; requests: number; reservedCost: number } {
    const oldest = this.oldestHit();
    const resetMs = oldest === null ? 0 : Math.max(0, oldest + WINDOW_MS - now);
    const s: ReturnType<LimitCounter['standing']> = {
      inFlight: this.open.n,
      tokensUsed: this.win.tokens,
      requests: this.win.n,
      reservedCost: this.open.cost,
    };
    if (limits.rpm !== undefined) s.rpm = { limit: limits.rpm, remaining: Math.max(0, limits.rpm - this.win.n), resetMs };
    if (limits.tpm !== undefined) s.tpm = { limit: limits.tpm, remaining: Math.max(0, limits.tpm - this.win.tokens), resetMs };
    if (limits.budget_usd !== undefined) {
      const period = limits.budget_period ?? 'month';
      s.budget = { limit: limits.budget_usd, spent: this.spent(periodKey(period, now)), period, resetsAt: periodEnd(period, now) };
    }
    return s;
  }

  reserve(input: ReserveInput): ReserveResult {
    const now = input.now ?? Date.now();
    const { limits } = input;
    this.prune(now);
    const s = this.standing(limits, now);
    const refuse = (kind: Extract<ReserveResult, { ok: false }>['kind'], retryAfterMs: number, message: string): ReserveResult => ({
      ok: false,
      kind,
      retryAfterMs: Math.max(0, Math.ceil(retryAfterMs)),
      message,
      standing: s,
    });
    if (this.one('SELECT 1 AS x FROM revoked WHERE key_id = ?', input.keyId)) return refuse('revoked', 0, 'This API key is revoked.');
    if (limits.rpm !== undefined && s.requests >= limits.rpm) {
      return refuse('requests', s.rpm!.resetMs, `Rate limit reached: ${limits.rpm} requests per minute.`);
    }
    if (limits.concurrency !== undefined && s.inFlight >= limits.concurrency) {
      return refuse('concurrency', 1000, `Concurrency limit reached: ${limits.concurrency} requests at a time.`);
    }
    if (limits.tpm !== undefined && s.tokensUsed >= limits.tpm) {
      return refuse('tokens', s.tpm!.resetMs, `Rate limit reached: ${limits.tpm} tokens per minute.`);
    }
    let period: string | null = null;
    if (limits.budget_usd !== undefined) {
      const p = limits.budget_period ?? 'month';
      period = periodKey(p, now);
      const committed = s.budget!.spent + s.reservedCost;
      if (committed >= limits.budget_usd) {
        const resets = new Date(s.budget!.resetsAt).toISOString();
        const name = p === 'day' ? 'daily' : `${p}ly`;
        return refuse('budget', s.budget!.resetsAt - now, `The ${name} budget of ${usd(limits.budget_usd)} is used up (${usd(committed)} spent or reserved); it resets at ${resets}.`);
      }
    }
    // A request id reserves once (a retried call must not count twice).
    if (this.one('SELECT 1 AS x FROM reservations WHERE rid = ?', input.rid)) return { ok: true, standing: s };
    const tokens = Math.max(0, Math.round(input.tokens));
    const cost = Math.max(0, input.cost);
    const hit = this.one<{ id: number }>('INSERT INTO hits (at, tokens) VALUES (?, ?) RETURNING id', now, tokens)!;
    this.sql.exec('INSERT INTO reservations (rid, at, hit_id, cost, period_key) VALUES (?, ?, ?, ?, ?)', input.rid, now, hit.id, cost, period);
    this.win = { n: this.win.n + 1, tokens: this.win.tokens + tokens };
    this.open = { n: this.open.n + 1, cost: this.open.cost + cost };
    return { ok: true, standing: this.standing(limits, now) };
  }

  settle(input: SettleInput): void {
    const now = input.now ?? Date.now();
    const r = this.one<{ hit_id: number; period_key: string | null; cost: number }>('SELECT hit_id, period_key, cost FROM reservations WHERE rid = ?', input.rid);
    if (!r) return;
    const tokens = Math.max(0, Math.round(input.tokens));
    // The window counts the real usage from now on (if the request is still in it).
    const hit = this.one<{ tokens: number }>('SELECT tokens FROM hits WHERE id = ?', r.hit_id);
    if (hit) {
      this.sql.exec('UPDATE hits SET tokens = ? WHERE id = ?', tokens, r.hit_id);
      this.win = { n: this.win.n, tokens: Math.max(0, this.win.tokens + tokens - hit.tokens) };
    }
    this.dropReservation(input.rid, r.cost);
    if (input.cost === null || input.cost <= 0 || !r.period_key) return;
    // The consumer's priced event may have come first: then its price stands.
    const known = this.one('SELECT 1 AS x FROM costs WHERE rid = ?', input.rid);
    if (known) return;
    this.sql.exec('INSERT INTO costs (rid, period_key, cost, final, at) VALUES (?, ?, ?, 0, ?)', input.rid, r.period_key, input.cost, now);
    this.addSpend(r.period_key, input.cost);
  }

  cancel(rid: string): void {
    const r = this.one<{ hit_id: number; cost: number }>('SELECT hit_id, cost FROM reservations WHERE rid = ?', rid);
    if (!r) return;
    const gone = this.one<{ tokens: number }>('DELETE FROM hits WHERE id = ? RETURNING tokens', r.hit_id);
    if (gone) this.win = { n: Math.max(0, this.win.n - 1), tokens: Math.max(0, this.win.tokens - gone.tokens) };
    this.dropReservation(rid, r.cost);
  }

  settleCost(input: CostSettleInput): AlertCrossing[] {
    const now = input.now ?? Date.now();
    const period = input.limits.budget_period ?? 'month';
    const row = this.one<{ period_key: string; cost: number; final: number }>('SELECT period_key, cost, final FROM costs WHERE rid = ?', input.rid);
    if (!row) {
      const key = periodKey(period, input.at);
      this.sql.exec('INSERT INTO costs (rid, period_key, cost, final, at) VALUES (?, ?, ?, 1, ?)', input.rid, key, input.cost, now);
      this.addSpend(key, input.cost);
    } else if (!row.final) {
      this.sql.exec('UPDATE costs SET cost = ?, final = 1 WHERE rid = ?', input.cost, input.rid);
      this.addSpend(row.period_key, input.cost - row.cost);
    }
    this.sql.exec('DELETE FROM costs WHERE at <= ?', now - COST_RECORD_TTL_MS);
    const budget = input.limits.budget_usd;
    if (budget === undefined || budget <= 0) return [];
    const key = periodKey(period, now);
    const spent = this.spent(key);
    const crossings: AlertCrossing[] = [];
    for (const threshold of [...new Set(input.thresholds)].sort((a, b) => a - b)) {
      if (spent < (budget * threshold) / 100) break;
      // Each threshold fires once per period. The request that crossed it owns the alert, so a
      // retried delivery of the same event gets the same answer and nothing is lost or doubled.
      this.sql.exec('INSERT INTO alerts (period_key, threshold, rid) VALUES (?, ?, ?) ON CONFLICT DO NOTHING', key, threshold, input.rid);
      const owner = this.one<{ rid: string }>('SELECT rid FROM alerts WHERE period_key = ? AND threshold = ?', key, threshold);
      if (owner?.rid === input.rid) {
        crossings.push({ threshold, period, periodStart: periodStart(period, now), periodEnd: periodEnd(period, now), spent, budget });
      }
    }
    return crossings;
  }

  revokeKey(keyId: string): void {
    this.sql.exec('INSERT INTO revoked (key_id, at) VALUES (?, ?) ON CONFLICT DO NOTHING', keyId, Date.now());
  }

  status(limits: Limits, now = Date.now()): Standing & { inFlight: number } {
    this.prune(now);
    const { inFlight, rpm, tpm, budget } = this.standing(limits, now);
    return { inFlight, ...(rpm ? { rpm } : {}), ...(tpm ? { tpm } : {}), ...(budget ? { budget } : {}) };
  }
}
