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

/**
 * The process-wide budget for the ScopeState bytes sent by fetches (the `stateBytes` option,
 * docs/server.md "Limits"): a token bucket of `burst` bytes refilled at `perSecond`. A state is
 * the largest thing the server writes, and the cost of building, encoding and writing it grows
 * with its size; 200 fresh sessions a second fetching a 0.9 MB scope kept the server busy enough
 * that every other session's round trip grew 40-fold (BENCHMARKS.md, fairness).
 *
 * A fetch runs at once while the bucket is not in debt and nobody waits; otherwise it waits in
 * one FIFO queue, and the queue is served one fetch per event-loop turn (so every socket's input
 * and the timers run between two states) as the bucket refills. A session has at most one fetch
 * waiting (its input waits behind it), so the queue is also a round robin of sessions. A state
 * larger than the bucket still goes out: the bucket goes into debt and the next one waits.
 */
export class StateBudget {
  readonly perSecond: number;
  readonly burst: number;
  #tokens: number;
  #at: number;
  readonly #now: () => number;
  /** Waiting fetches, from #head on. */
  #queue: (() => number)[] = [];
  #head = 0;
  #scheduled = false;

  /** `now`: the time in ms (the server's clock). */
  constructor(options: RateLimitOptions = {}, now: () => number = Date.now) {
    this.perSecond = options.perSecond ?? DEFAULT_STATE_BYTES.perSecond;
    this.burst = options.burst ?? DEFAULT_STATE_BYTES.burst;
    if (
      typeof this.perSecond !== 'number' ||
      typeof this.burst !== 'number' ||
      !(this.perSecond > 0) ||
      !(this.burst >= 1)
    ) {
      throw new TypeError('Server option stateBytes needs perSecond > 0 and burst >= 1 (bytes)');
    }
    this.#now = now;
    this.#tokens = this.burst;
    this.#at = now();
  }

  /** Fetches waiting for the budget. */
  get waiting(): number {
    return this.#queue.length - this.#head;
  }

  /**
   * Runs `send` now when the budget allows it and no fetch waits, else queues it; `send` returns
   * the bytes it sent (0 when its session is gone). True when it ran now.
   */
  request(send: () => number): boolean {
    if (this.perSecond === Number.POSITIVE_INFINITY) {
      send();
      return true;
    }
    if (this.waiting === 0 && this.#available() >= 0) {
      this.#tokens -= send();
      return true;
    }
    this.#queue.push(send);
    this.#schedule();
    return false;
  }

  #available(): number {
    const now = this.#now();
    const elapsed = now - this.#at;
    if (elapsed > 0) {
      this.#at = now;
      this.#tokens = Math.min(this.burst, this.#tokens + (elapsed / 1000) * this.perSecond);
    }
    return this.#tokens;
  }

  /** The next turn when the bucket is not in debt, else when it will have refilled to zero. */
  #schedule(): void {
    if (this.#scheduled) return;
    this.#scheduled = true;
    const debt = -this.#available();
    if (debt <= 0) setImmediate(this.#serve).unref();
    else setTimeout(this.#serve, Math.ceil((debt / this.perSecond) * 1000)).unref();
  }

  /** Serves the oldest waiting fetch, then schedules the next. */
  #serve = (): void => {
    this.#scheduled = false;
    if (this.waiting === 0) return;
    if (this.#available() >= 0) {
      const send = this.#queue[this.#head]!;
      this.#queue[this.#head++] = NOOP;
      if (this.#head === this.#queue.length) {
        this.#queue.length = 0;
        this.#head = 0;
      } else if (this.#head >= 1024 && this.#head * 2 >= this.#queue.length) {
        this.#queue.splice(0, this.#head);
        this.#head = 0;
      }
      try {
        this.#tokens -= send();
      } finally {
        if (this.waiting > 0) this.#schedule();
      }
      return;
    }
    this.#schedule();
  };
}

const NOOP = (): number => 0;

/** Defaults of `stateBytes` (docs/server.md, "Limits"). */
export const DEFAULT_STATE_BYTES: Readonly<Required<RateLimitOptions>> = Object.freeze({
  perSecond: 64 * 1024 * 1024,
  burst: 4 * 1024 * 1024,
});
