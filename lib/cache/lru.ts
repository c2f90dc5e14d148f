/**
 * A bounded least-recently-used cache with a per-entry time to live, for per-isolate caches.
 *
 * Why every isolate cache uses this: an isolate lives for many requests and its memory is shared by
 * all tenants it serves, so a cache that grows with attacker-chosen input (model names, keys) is a
 * memory exhaustion lever. The bound is on the number of entries; callers keep each entry small by
 * keying on a hash (SHA-256 hex) rather than on raw input. A Map keeps insertion order, so the
 * first key is the least recently used one once `get` re-inserts what it returns.
 */
export interface LruOptions {
  /** Most entries kept; the least recently used one is evicted beyond this. */
  maxEntries: number;
  /** Default time to live in milliseconds (`set` may pass its own). */
  ttlMs: number;
  now?: () => number;
}

interface Slot<V> {
  value: V;
  expiresAt: number;
}

export class BoundedLru<V> {
  private readonly map = new Map<string, Slot<V>>();
  /** The most recently used key: a hit on it needs no reordering (the usual case on a hot path). */
  private newest: string | undefined;
  private readonly maxEntries: number;
  private readonly ttlMs: number;
  private readonly now: () => number;

  constructor(opts: LruOptions) {
    if (!Number.isInteger(opts.maxEntries) || opts.maxEntries < 1) throw new Error('maxEntries must be a positive integer');
    if (!(opts.ttlMs >= 0)) throw new Error('ttlMs must be ≥ 0');
    this.maxEntries = opts.maxEntries;
    this.ttlMs = opts.ttlMs;
    this.now = opts.now ?? Date.now;
  }

  get size(): number {
    return this.map.size;
  }

  get(key: string): V | undefined {
    const slot = this.map.get(key);
    if (!slot) return undefined;
    if (slot.expiresAt <= this.now()) {
      this.delete(key);
      return undefined;
    }
    if (key !== this.newest) {
      this.map.delete(key);
      this.map.set(key, slot);
      this.newest = key;
    }
    return slot.value;
  }

  set(key: string, value: V, ttlMs = this.ttlMs): void {
    if (ttlMs <= 0) return;
    this.map.delete(key);
    this.map.set(key, { value, expiresAt: this.now() + ttlMs });
    this.newest = key;
    while (this.map.size > this.maxEntries) {
      const oldest = this.map.keys().next();
      if (oldest.done) break;
      this.map.delete(oldest.value);
    }
  }

  delete(key: string): void {
    this.map.delete(key);
    if (key === this.newest) this.newest = undefined;
  }

  /** The keys held, least recently used first (for tests and diagnostics). */
  keys(): string[] {
    return [...this.map.keys()];
  }
}
