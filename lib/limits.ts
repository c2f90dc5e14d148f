/**
 * Limits and budgets (DESIGN §8, decision 0016): the shapes both Workers share, the UTC budget
 * periods, and the RPC surface of the gateway's `LimitCounter` Durable Object (one per limited key,
 * user or organisation) that the admin Worker also calls.
 */
// zod/mini: the gateway bundle must stay small.
import * as z from 'zod/mini';

export const BUDGET_PERIODS = ['day', 'week', 'month'] as const;
export type BudgetPeriod = (typeof BUDGET_PERIODS)[number];

/** What an admin sets on a key, a user or an organisation. Every field is optional; none means no limit. */
export const limitsSchema = z.object({
  rpm: z.optional(z.int()),
  tpm: z.optional(z.int()),
  concurrency: z.optional(z.int()),
  budget_usd: z.optional(z.number()),
  budget_period: z.optional(z.enum(BUDGET_PERIODS)),
});
export type Limits = z.infer<typeof limitsSchema>;

export const SUBJECT_KINDS = ['key', 'user', 'org'] as const;
export type SubjectKind = (typeof SUBJECT_KINDS)[number];

/** One limited subject as the gateway sees it (carried in the key's KV record). */
export const limitedSubjectSchema = z.object({
  kind: z.enum(SUBJECT_KINDS),
  id: z.string(),
  limits: limitsSchema,
});
export type LimitedSubject = z.infer<typeof limitedSubjectSchema>;

/** True when the object sets at least one limit (an empty object, or only a period, limits nothing). */
export function hasLimits(l: Limits | null | undefined): l is Limits {
  if (!l) return false;
  return l.rpm !== undefined || l.tpm !== undefined || l.concurrency !== undefined || l.budget_usd !== undefined;
}

/** The Durable Object name of a subject: `key:<id>`, `user:<id>`, `org:<id>`. */
export function subjectName(kind: SubjectKind, id: string): string {
  return `${kind}:${id}`;
}

/** Start of the UTC period containing `now` (day: midnight; week: Monday; month: the 1st). */
export function periodStart(period: BudgetPeriod, now: number): number {
  const d = new Date(now);
  const day = Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate());
  if (period === 'day') return day;
  if (period === 'week') return day - ((d.getUTCDay() + 6) % 7) * 86_400_000;
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1);
}

/** Start of the next UTC period: when a budget resets. */
export function periodEnd(period: BudgetPeriod, now: number): number {
  const start = periodStart(period, now);
  if (period === 'day') return start + 86_400_000;
  if (period === 'week') return start + 7 * 86_400_000;
  const d = new Date(start);
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1);
}

/** USD per token for one model; published by the admin Worker to KV (`prices:v1`). */
export interface ModelPrice {
  input: number;
  output: number;
}
export const PRICES_KV_KEY = 'prices:v1';
export const priceTableSchema = z.object({
  updated_at: z.string(),
  models: z.record(z.string(), z.object({ input: z.number(), output: z.number() })),
});
export type PriceTable = z.infer<typeof priceTableSchema>;

/** Default budget alert thresholds (percent of the budget). */
export const DEFAULT_ALERT_THRESHOLDS = [50, 80, 100];

// ── the Durable Object's RPC surface ──

export interface ReserveInput {
  /** The request id: the reservation's id, and the id the consumer's priced event settles. */
  rid: string;
  keyId: string;
  limits: Limits;
  /** Estimated tokens (input estimate + output allowance). */
  tokens: number;
  /** Estimated cost in USD; 0 when the model has no known price. */
  cost: number;
  /** Tests only: the clock (ms). */
  now?: number;
}

export type LimitKind = 'requests' | 'tokens' | 'concurrency' | 'budget' | 'revoked';

/** What the DO tells the gateway about one subject, for the x-ratelimit-* headers. */
export interface Standing {
  rpm?: { limit: number; remaining: number; resetMs: number };
  tpm?: { limit: number; remaining: number; resetMs: number };
  budget?: { limit: number; spent: number; period: BudgetPeriod; resetsAt: number };
}

export type ReserveResult =
  | { ok: true; standing: Standing }
  | { ok: false; kind: LimitKind; retryAfterMs: number; message: string; standing: Standing };

export interface SettleInput {
  rid: string;
  tokens: number;
  /** Cost from the gateway's price table, or null when unknown (the consumer's event settles it). */
  cost: number | null;
  now?: number;
}

export interface CostSettleInput {
  rid: string;
  cost: number;
  /** When the request started (its period), ms. */
  at: number;
  limits: Limits;
  thresholds: number[];
  now?: number;
}

export interface AlertCrossing {
  threshold: number;
  periodStart: number;
  periodEnd: number;
  period: BudgetPeriod;
  spent: number;
  budget: number;
}

export interface LimitCounterRpc {
  reserve(input: ReserveInput): Promise<ReserveResult>;
  settle(input: SettleInput): Promise<void>;
  /** Forgets a reservation entirely (another subject refused the request): it counts nowhere. */
  cancel(rid: string): Promise<void>;
  settleCost(input: CostSettleInput): Promise<AlertCrossing[]>;
  revokeKey(keyId: string): Promise<void>;
  status(limits: Limits, now?: number): Promise<Standing & { inFlight: number }>;
}
