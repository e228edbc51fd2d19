/**
 * Per-client token buckets: each client may spend `burst` tokens at once and regains one every
 * `refillMs`. The map of clients is bounded, so a flood of addresses cannot grow it without limit.
 */

/** Settings of a RateLimiter. */
export interface RateLimitOptions {
  /** Tokens a client may spend in a row (the bucket's size). */
  burst: number;
  /** Milliseconds to regain one token. */
  refillMs: number;
  /** Most clients tracked at once (default 10 000). */
  maxClients?: number;
}

interface Bucket {
  tokens: number;
  /** When `tokens` was last brought up to date. */
  at: number;
}

const DEFAULT_MAX_CLIENTS = 10_000;

/** Token buckets keyed by client (e.g. IP address). */
export class RateLimiter {
  private readonly buckets = new Map<string, Bucket>();
  private readonly maxClients: number;

  constructor(private readonly options: RateLimitOptions) {
    if (!(options.burst >= 1) || !(options.refillMs > 0)) {
      throw new RangeError(`RateLimiter needs burst >= 1 and refillMs > 0, got burst ${options.burst} and refillMs ${options.refillMs}`);
    }
    this.maxClients = options.maxClients ?? DEFAULT_MAX_CLIENTS;
  }

  /**
   * Spends one of `client`'s tokens: returns 0 when it had one, otherwise the whole seconds to wait
   * for the next (for a Retry-After header), spending nothing.
   */
  take(client: string, now: number = Date.now()): number {
    const bucket = this.current(client, now);
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      this.remember(client, bucket);
      return 0;
    }
    return Math.max(1, Math.ceil(((1 - bucket.tokens) * this.options.refillMs) / 1000));
  }

  /** Gives back a token taken by `take` (the attempt turned out not to count). */
  refund(client: string, now: number = Date.now()): void {
    const bucket = this.current(client, now);
    bucket.tokens = Math.min(this.options.burst, bucket.tokens + 1);
    // A full bucket is the same as no bucket: forget it.
    if (bucket.tokens >= this.options.burst) this.buckets.delete(client);
    else this.remember(client, bucket);
  }

  /** How many clients are tracked now (for tests of the bound). */
  get size(): number {
    return this.buckets.size;
  }

  private current(client: string, now: number): Bucket {
    const bucket = this.buckets.get(client) ?? { tokens: this.options.burst, at: now };
    return this.refilled(bucket, now);
  }

  private refilled(bucket: Bucket, now: number): Bucket {
    const gained = Math.max(0, now - bucket.at) / this.options.refillMs;
    return { tokens: Math.min(this.options.burst, bucket.tokens + gained), at: now };
  }

  /** Stores a bucket as the most recently used, evicting when over the bound. */
  private remember(client: string, bucket: Bucket): void {
    // Re-inserting keeps the Map in least-recently-used order, oldest first.
    this.buckets.delete(client);
    this.buckets.set(client, bucket);
    if (this.buckets.size <= this.maxClients) return;
    const now = bucket.at;
    for (const [key, old] of this.buckets) {
      if (this.refilled(old, now).tokens >= this.options.burst) this.buckets.delete(key);
    }
    // Still too many drained buckets: drop the least recently used, down to 90% so that this
    // sweep runs once per tenth of the bound rather than on every new client.
    const target = Math.floor(this.maxClients * 0.9);
    for (const key of this.buckets.keys()) {
      if (this.buckets.size <= target) break;
      this.buckets.delete(key);
    }
  }
}
