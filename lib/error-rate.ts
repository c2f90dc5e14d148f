/**
 * Per-isolate error-rate watch for the `error_rate_spike` alert (README "Alerts"): counts answers in
 * a sliding window of one-second buckets and raises the alert when, over the window, at least
 * `minRequests` were answered and at least `threshold` of them were server-side failures (5xx).
 * Once raised it stays quiet for a window, so a spike is one log line per isolate, not one per
 * request. The clock is a parameter (tests).
 */
export interface ErrorRateOptions {
  windowMs?: number;
  minRequests?: number;
  threshold?: number;
}

export class ErrorRateMonitor {
  private readonly windowMs: number;
  private readonly minRequests: number;
  private readonly threshold: number;
  private buckets = new Map<number, { total: number; errors: number }>();
  /** Sums over `buckets`, kept as answers come (the window was summed on every answer before). */
  private total = 0;
  private errors = 0;
  /** The second the window was last pruned for. */
  private prunedAt = Number.NaN;
  private quietUntil = 0;

  constructor(opts: ErrorRateOptions = {}) {
    this.windowMs = opts.windowMs ?? 60_000;
    this.minRequests = opts.minRequests ?? 20;
    this.threshold = opts.threshold ?? 0.5;
  }

  /** Records one answer; returns the window's figures when this answer tips it into an alert. */
  record(status: number, now: number): { total: number; errors: number; rate: number } | null {
    const second = Math.floor(now / 1000);
    // Buckets leave the window only when the second changes: prune then, not on every answer.
    if (second !== this.prunedAt) {
      this.prunedAt = second;
      const oldest = Math.floor((now - this.windowMs) / 1000);
      for (const [s, v] of this.buckets) {
        if (s > oldest) continue;
        // Out of the window: no longer counted.
        this.total -= v.total;
        this.errors -= v.errors;
        this.buckets.delete(s);
      }
    }
    let b = this.buckets.get(second);
    if (!b) {
      b = { total: 0, errors: 0 };
      this.buckets.set(second, b);
    }
    b.total += 1;
    this.total += 1;
    if (status >= 500) {
      b.errors += 1;
      this.errors += 1;
    }
    const { total, errors } = this;
    if (now < this.quietUntil || total < this.minRequests || errors / total < this.threshold) return null;
    this.quietUntil = now + this.windowMs;
    return { total, errors, rate: errors / total };
  }
}
