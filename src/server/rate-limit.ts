// Connection attempts per client address (docs/protocol.md §15, the `sessionRateLimit` option):
// a token bucket per address. A burst up to `burst` attempts passes at once (a page
// reload storm, a load test from one host); beyond it, `perSecond` attempts a second.

export interface RateLimitOptions {
  /** Attempts refilled per second per address. Default 100. */
  perSecond?: number;
  /** Bucket size: attempts allowed at once. Default 1000. */
  burst?: number;
}

interface Bucket {
  tokens: number;
  at: number;
}

/** Addresses tracked before idle buckets are swept (bounds memory under a spray of addresses). */
const SWEEP_AT = 10_000;

export class RateLimiter {
  readonly perSecond: number;
  readonly burst: number;
  #buckets = new Map<string, Bucket>();

  constructor(options: RateLimitOptions = {}) {
    this.perSecond = options.perSecond ?? 100;
    this.burst = options.burst ?? 1000;
    if (!(this.perSecond > 0) || !(this.burst >= 1)) {
      throw new TypeError('Server option sessionRateLimit needs perSecond > 0 and burst >= 1');
    }
  }

  /** Takes one attempt for `address`; false when its bucket is empty. */
  take(address: string | undefined, now = Date.now()): boolean {
    const key = address ?? 'unknown';
    let b = this.#buckets.get(key);
    if (!b) {
      if (this.#buckets.size >= SWEEP_AT) this.#sweep(now);
      b = { tokens: this.burst, at: now };
      this.#buckets.set(key, b);
    } else {
      b.tokens = Math.min(this.burst, b.tokens + ((now - b.at) / 1000) * this.perSecond);
      b.at = now;
    }
    if (b.tokens < 1) return false;
    b.tokens -= 1;
    return true;
  }

  /** Drops buckets that have refilled completely: they hold no information. */
  #sweep(now: number): void {
    for (const [k, b] of this.#buckets) {
      if (b.tokens + ((now - b.at) / 1000) * this.perSecond >= this.burst) this.#buckets.delete(k);
    }
  }
}
