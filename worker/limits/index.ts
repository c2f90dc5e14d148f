/**
 * The gateway's side of limits and budgets (DESIGN §8, decision 0016): the one interface the
 * request path calls.
 *
 *   const r = await reserveLimits(env, { subjects, keyId, requestId, body, models });  // null: unlimited
 *   …upstream call…                      r.settle(usage, model, answered)  (any outcome; usage may be empty)
 *   response headers:                    r.headers()
 *
 * A key whose record carries no limited subject never touches a Durable Object. For a limited key
 * every subject (key, its owner, its organisation) is reserved in its own `LimitCounter` in
 * parallel; one refusal cancels the others' reservations. A Durable Object that cannot be reached
 * fails the request closed (503).
 */
import type { Usage } from '../../lib/audit/event';
import { GatewayError, invalidField } from '../../lib/errors';
import { log } from '../../lib/log';
import {
  PRICES_KV_KEY,
  priceTableSchema,
  subjectName,
  type LimitCounterRpc,
  type LimitedSubject,
  type LimitKind,
  type ModelPrice,
  type Standing,
} from '../../lib/limits';

export interface LimitsEnv {
  ROUTERO_KV: KVNamespace;
  LIMITS?: DurableObjectNamespace;
}

/** Output tokens assumed for a request that sets no max_tokens (the estimate a reservation holds). */
export const DEFAULT_OUTPUT_ALLOWANCE = 1024;
/** How long one Durable Object call may take before the request fails closed. */
const DO_TIMEOUT_MS = 5_000;
/** How long an isolate keeps the price table it read from KV. */
const PRICE_CACHE_MS = 60_000;

let prices: { at: number; table: Map<string, ModelPrice>; dearest: ModelPrice | null } | null = null;

/**
 * The model's published price (`exact`, what a settlement charges) and the price a reservation
 * estimates with: the model's own, or for a model not yet in the table the dearest known one.
 */
async function priceOf(kv: KVNamespace, model: string, now: number): Promise<{ exact: ModelPrice | null; estimate: ModelPrice | null }> {
  if (!prices || now - prices.at > PRICE_CACHE_MS) {
    const table = new Map<string, ModelPrice>();
    try {
      const parsed = priceTableSchema.safeParse(await kv.get(PRICES_KV_KEY, 'json'));
      if (parsed.success) for (const [name, p] of Object.entries(parsed.data.models)) table.set(name, p);
    } catch (e) {
      log('warn', 'price table unreadable; cost estimates are 0 until it is', { reason: e instanceof Error ? e.message : String(e) });
    }
    const all = [...table.values()];
    const dearest: ModelPrice | null =
      all.length === 0 ? null : { input: Math.max(...all.map((p) => p.input)), output: Math.max(...all.map((p) => p.output)) };
    prices = { at: now, table, dearest };
  }
  const exact = prices.table.get(model) ?? null;
  return { exact, estimate: exact ?? prices.dearest };
}

const countOf = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) && v >= 0 ? v : null);

/**
 * Tokens a request may use: its text (~4 bytes a token, an over-estimate for JSON) plus its output
 * allowance: the largest of max_tokens, max_completion_tokens and max_output_tokens (or the default)
 * for each of the `n` choices it asks for. A body whose max_tokens and max_completion_tokens
 * disagree is refused: which one a provider honours is not the gateway's to guess.
 */
export function estimateTokens(bodyBytes: number, body: Record<string, unknown>): { input: number; output: number } {
  const legacy = countOf(body.max_tokens);
  const current = countOf(body.max_completion_tokens);
  if (legacy !== null && current !== null && legacy !== current) {
    throw invalidField(['max_tokens'], `differs from 'max_completion_tokens' (${legacy} vs ${current}); send only max_completion_tokens.`);
  }
  const asked = [legacy, current, countOf(body.max_output_tokens)].filter((v): v is number => v !== null);
  const perChoice = asked.length > 0 ? Math.max(...asked) : DEFAULT_OUTPUT_ALLOWANCE;
  const n = countOf(body.n);
  const choices = n !== null && n >= 1 ? Math.min(Math.floor(n), 128) : 1;
  return { input: Math.ceil(bodyBytes / 4), output: Math.min(perChoice * choices, 10_000_000) };
}

export function costOf(price: ModelPrice | null, input: number, output: number): number | null {
  if (!price) return null;
  return input * price.input + output * price.output;
}

function stubOf(env: LimitsEnv, s: LimitedSubject): LimitCounterRpc {
  const ns = env.LIMITS!;
  return ns.get(ns.idFromName(subjectName(s.kind, s.id))) as unknown as LimitCounterRpc;
}

function withTimeout<T>(p: Promise<T>, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  return Promise.race([
    p,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what} took over ${DO_TIMEOUT_MS} ms`)), DO_TIMEOUT_MS);
    }),
  ]).finally(() => clearTimeout(timer));
}

/** OpenAI's reset format: "1s", "6m0s", "250ms". */
export function formatReset(ms: number): string {
  if (ms < 1000) return `${Math.max(0, Math.ceil(ms))}ms`;
  const s = Math.ceil(ms / 1000);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${s % 60}s`;
  return `${Math.floor(m / 60)}h${m % 60}m${s % 60}s`;
}

/** The x-ratelimit-* headers for the tightest of the subjects' request and token windows. */
export function limitHeaders(standings: Standing[]): Record<string, string> {
  const h: Record<string, string> = {};
  const tightest = (pick: (s: Standing) => Standing['rpm']) =>
    standings.map(pick).filter((w): w is NonNullable<Standing['rpm']> => w !== undefined).sort((a, b) => a.remaining - b.remaining || a.limit - b.limit)[0];
  const req = tightest((s) => s.rpm);
  if (req) {
    h['x-ratelimit-limit-requests'] = String(req.limit);
    h['x-ratelimit-remaining-requests'] = String(req.remaining);
    h['x-ratelimit-reset-requests'] = formatReset(req.resetMs);
  }
  const tok = tightest((s) => s.tpm);
  if (tok) {
    h['x-ratelimit-limit-tokens'] = String(tok.limit);
    h['x-ratelimit-remaining-tokens'] = String(tok.remaining);
    h['x-ratelimit-reset-tokens'] = formatReset(tok.resetMs);
  }
  const budget = standings
    .map((s) => s.budget)
    .filter((b): b is NonNullable<Standing['budget']> => b !== undefined)
    .sort((a, b) => a.limit - a.spent - (b.limit - b.spent))[0];
  if (budget) {
    h['x-routero-budget-limit-usd'] = budget.limit.toFixed(4);
    h['x-routero-budget-remaining-usd'] = Math.max(0, budget.limit - budget.spent).toFixed(4);
    h['x-routero-budget-reset'] = new Date(budget.resetsAt).toISOString();
  }
  return h;
}

export interface Reservation {
  /** Limit headers for a successful response. */
  headers(): Record<string, string>;
  /** What the reservation holds: the estimated input and output tokens, and their estimated cost. */
  readonly estimate: { input: number; output: number; cost: number };
  /**
   * Settles with the real usage of the model that answered: once; later calls do nothing.
   * `answered`: the upstream sent 2xx headers. Then a part of the usage that never arrived (the
   * client left before the usage event, the stream was cut, a server ignored stream_options, an
   * endpoint that reports no counts) is charged at the reservation's estimate; the reservation is
   * released only for a request the upstream never answered (refused, failed, error status).
   */
  settle(usage: Usage, model: string | null, answered?: boolean): Promise<void>;
}

/**
 * The tokens and cost a settlement charges: the usage the upstream reported; for an answered
 * request, the reservation's estimate for any part it did not report.
 */
export function chargeOf(
  usage: Usage,
  answered: boolean,
  estimate: { input: number; output: number },
  price: { exact: ModelPrice | null; estimate: ModelPrice | null } | null,
): { tokens: number; cost: number | null } {
  const missingIn = usage.input_tokens === null;
  const missingOut = usage.output_tokens === null;
  if (!answered) {
    const input = usage.input_tokens ?? 0;
    const output = usage.output_tokens ?? 0;
    const cost = missingIn && missingOut ? null : costOf(price?.exact ?? null, input, output);
    return { tokens: input + output, cost };
  }
  const input = usage.input_tokens ?? estimate.input;
  const output = usage.output_tokens ?? estimate.output;
  const guessed = missingIn || missingOut;
  // A guessed part is priced like the reservation was (a model without a price: the dearest known).
  const cost = costOf(price?.exact ?? (guessed ? price?.estimate ?? null : null), input, output);
  return { tokens: input + output, cost };
}

const SUBJECT_WORD = { key: 'API key', user: 'user', org: 'organisation' } as const;

export async function reserveLimits(
  env: LimitsEnv,
  opts: {
    subjects: LimitedSubject[];
    keyId: string;
    requestId: string;
    /** The validated request body (its size estimates the input tokens; max_tokens the output). */
    body: object;
    /** The models the request may go to (a route's targets): the dearest is reserved. */
    models: string[];
    now?: number;
  },
): Promise<Reservation | null> {
  const subjects = opts.subjects;
  if (subjects.length === 0) return null;
  if (!env.LIMITS) {
    throw new GatewayError('unavailable', 'The rate-limit service is unavailable; try again shortly.', { reason: 'LIMITS binding missing' });
  }
  const now = opts.now ?? Date.now();
  // Only limited keys pay for measuring the body (once, here).
  const est = estimateTokens(JSON.stringify(opts.body).length, opts.body as Record<string, unknown>);
  const budgeted = subjects.some((s) => s.limits.budget_usd !== undefined);
  const modelPrices = budgeted ? await Promise.all(opts.models.map((m) => priceOf(env.ROUTERO_KV, m, now))) : [];
  const estCost = Math.max(0, ...modelPrices.map((p) => costOf(p.estimate, est.input, est.output) ?? 0));
  const counters = subjects.map((subject) => ({ subject, stub: stubOf(env, subject) }));
  const results = await Promise.all(
    counters.map(({ subject, stub }) =>
      withTimeout(stub.reserve({ rid: opts.requestId, keyId: opts.keyId, limits: subject.limits, tokens: est.input + est.output, cost: estCost }), 'limit reservation').then(
        (answer) => ({ subject, stub, answer, error: null }),
        (error: unknown) => ({ subject, stub, answer: null, error }),
      ),
    ),
  );
  // A refused or failed request takes nothing: every subject forgets it entirely. A counter that
  // failed or timed out may still have taken the reservation, so it is told too (cancel is idempotent).
  const cancelAll = () =>
    Promise.all(
      results.map((r) =>
        withTimeout(Promise.resolve().then(() => r.stub.cancel(opts.requestId)), 'limit cancel').catch((e: unknown) => {
          log('warn', 'limit cancel failed; the reservation expires on its own', { request_id: opts.requestId, subject: `${r.subject.kind}:${r.subject.id}`, reason: e instanceof Error ? e.message : String(e) });
        }),
      ),
    );
  const failed = results.find((r) => r.error !== null);
  if (failed) {
    await cancelAll();
    throw new GatewayError('unavailable', 'The rate-limit service is unavailable; try again shortly.', {
      reason: `limit counter unreachable: ${failed.error instanceof Error ? failed.error.message : String(failed.error)}`,
    });
  }
  const standings = results.map((r) => r.answer!.standing);
  const refusals = results.flatMap((r) => (r.answer && !r.answer.ok ? [{ a: r.answer, s: r.subject }] : []));
  if (refusals.length > 0) {
    await cancelAll();
    const order: LimitKind[] = ['revoked', 'budget', 'concurrency', 'requests', 'tokens'];
    refusals.sort((x, y) => order.indexOf(x.a.kind) - order.indexOf(y.a.kind));
    const { a, s } = refusals[0]!;
    if (a.kind === 'revoked') {
      throw new GatewayError('authentication', 'Invalid API key.', { reason: `key ${opts.keyId} revoked (limit counter ${s.kind}:${s.id})`, code: 'invalid_api_key' });
    }
    const headers = { ...limitHeaders(standings), 'retry-after': String(Math.max(1, Math.ceil(a.retryAfterMs / 1000))) };
    const who = SUBJECT_WORD[s.kind];
    const code = a.kind === 'budget' ? 'budget_exceeded' : a.kind === 'concurrency' ? 'concurrency_limit_exceeded' : 'rate_limit_exceeded';
    throw new GatewayError('rate_limit', `${a.message.replace(/\.$/, '')} (limit on this ${who}).`, {
      code,
      headers,
      reason: `${a.kind} limit of ${s.kind}:${s.id} refused request ${opts.requestId}`,
    });
  }

  let settled = false;
  return {
    headers: () => limitHeaders(standings),
    estimate: { input: est.input, output: est.output, cost: estCost },
    async settle(usage: Usage, model: string | null, answered = false) {
      if (settled) return;
      settled = true;
      const price = budgeted && model ? await priceOf(env.ROUTERO_KV, model, Date.now()) : null;
      // input_tokens is the whole input, cache reads and writes included (lib/audit/event.ts). The
      // estimate prices every input token at the full rate; the consumer's event corrects it.
      const { tokens, cost } = chargeOf(usage, answered, est, price);
      await Promise.all(
        counters.map(({ subject: s, stub }) =>
          stub.settle({ rid: opts.requestId, tokens, cost }).catch((e: unknown) => {
            log('error', 'limit settle failed; the reservation expires on its own', {
              request_id: opts.requestId,
              subject: `${s.kind}:${s.id}`,
              reason: e instanceof Error ? e.message : String(e),
            });
          }),
        ),
      );
    },
  };
}
