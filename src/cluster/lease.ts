// Scope ownership by lease (docs/cluster.md, "Ownership"). One process at a time owns a scope:
// it alone validates, commits and publishes the scope's changes. The lease is a Redis key
// (`SET NX PX`) that the owner renews well before it expires; a process that dies simply stops
// renewing, and another may take the scope once the key has expired.
//
// A lease alone cannot stop a process that was paused (a long GC, SIGSTOP, a VM migration) and
// wakes up believing it still owns the scope. Two things do:
// - the store's version check: a new owner first appends an empty change at the scope's next
//   version (the fence, cluster-persistence.ts), so a deposed owner's append meets a version
//   conflict, whatever it believes. Every lease also carries an epoch, a per-scope counter
//   incremented by each new lease, which the log records; it restarts at 1 if Redis loses its
//   keys, and nothing relies on it for safety;
// - the owner also stops itself: its lease counts as valid only until the time it *sent* its
//   last successful renewal plus the time to live, on the monotonic clock, minus a margin. A
//   process that slept past that point knows it before it tries to write.
// No Redlock: one Redis (or a primary with replicas) is the authority, and the store's fence
// makes the rare lease overlap after a Redis failover harmless.
import type { Redis } from 'ioredis';
import { Emitter } from '../util/emitter.js';
import { type Logger, silentLogger } from '../util/logger.js';
import { type ClusterKeys, clusterKeys } from './keys.js';

/** Takes the lease when it is free; answers the new epoch, or 0 when another process holds it. */
const ACQUIRE = `
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
  return redis.call('INCR', KEYS[2])
end
return 0`;

/** Extends the lease if this process still holds it: 1, else 0. */
const RENEW = `
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0`;

/** Gives the lease up if this process holds it: 1, else 0. */
const RELEASE = `
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0`;

export interface LeaseOptions {
  /** How long a lease lives without renewal, in ms. Default 2000. */
  ttlMs?: number;
  /** Renew every this many ms. Default a quarter of `ttlMs`. */
  renewEveryMs?: number;
  /** Key prefix (see keys.ts). Default `jetstream:`. */
  prefix?: string;
  logger?: Logger;
}

export interface LeaseEvents {
  /** The lease of `scope` is gone (taken over, expired, or not renewable): stop writing to it. */
  lost: (scope: string) => void;
}

interface Held {
  epoch: number;
  /** performance.now() after which the lease no longer counts as held here. */
  validUntil: number;
}

/**
 * The fraction of the time to live a holder trusts: clocks of two machines run at slightly
 * different rates, and Redis expires keys on its own clock.
 */
const TRUSTED_SHARE = 0.9;

export class Leases extends Emitter<LeaseEvents> {
  readonly processId: string;
  readonly ttlMs: number;
  readonly #redis: Redis;
  readonly #keys: ClusterKeys;
  readonly #logger: Logger;
  readonly #held = new Map<string, Held>();
  readonly #timer: ReturnType<typeof setInterval>;
  #renewing = false;
  #closed = false;

  constructor(redis: Redis, processId: string, options: LeaseOptions = {}) {
    super();
    this.#redis = redis;
    this.processId = processId;
    this.ttlMs = options.ttlMs ?? 2000;
    if (!(this.ttlMs >= 100)) throw new TypeError('Lease ttlMs must be at least 100');
    const every = options.renewEveryMs ?? Math.floor(this.ttlMs / 4);
    if (!(every > 0 && every < this.ttlMs * TRUSTED_SHARE)) {
      throw new TypeError('Lease renewEveryMs must be positive and well below ttlMs');
    }
    this.#keys = clusterKeys(options.prefix);
    this.#logger = options.logger ?? silentLogger;
    this.#timer = setInterval(() => void this.#renewAll(), every);
    this.#timer.unref?.();
  }

  /**
   * Takes the lease of `scope` if no process holds it. Resolves with its epoch (a fencing token,
   * greater than every earlier lease's of the scope), or null when another process holds it.
   * Rejects when Redis cannot be reached.
   */
  async acquire(scope: string): Promise<number | null> {
    if (this.#closed) throw new Error('The leases are closed');
    const mine = this.#held.get(scope);
    if (mine && this.holds(scope)) return mine.epoch;
    const sentAt = performance.now();
    const epoch = Number(
      await this.#redis.eval(
        ACQUIRE,
        2,
        this.#keys.lease(scope),
        this.#keys.epoch(scope),
        this.processId,
        this.ttlMs,
      ),
    );
    if (epoch === 0) return null;
    this.#held.set(scope, { epoch, validUntil: sentAt + this.ttlMs * TRUSTED_SHARE });
    return epoch;
  }

  /** True while this process may act as the owner of `scope`: it holds a lease it trusts. */
  holds(scope: string): boolean {
    const h = this.#held.get(scope);
    return h !== undefined && performance.now() < h.validUntil;
  }

  /** The epoch of the lease this process holds on `scope`, or null. */
  epoch(scope: string): number | null {
    return this.holds(scope) ? this.#held.get(scope)!.epoch : null;
  }

  /** The process id holding `scope`'s lease, as Redis sees it now, or null. */
  async owner(scope: string): Promise<string | null> {
    return this.#redis.get(this.#keys.lease(scope));
  }

  /** Scopes this process holds a lease on. */
  get scopes(): string[] {
    return [...this.#held.keys()];
  }

  /** Gives up the lease of `scope` at once (a graceful hand-over: another process may take it now). */
  async release(scope: string): Promise<void> {
    if (!this.#held.delete(scope)) return;
    await this.#redis.eval(RELEASE, 1, this.#keys.lease(scope), this.processId);
  }

  /** Stops renewing and releases every lease (best effort: Redis may be gone). */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#timer);
    const scopes = this.scopes;
    this.#held.clear();
    if (scopes.length === 0) return;
    const pipeline = this.#redis.pipeline();
    for (const scope of scopes) pipeline.eval(RELEASE, 1, this.#keys.lease(scope), this.processId);
    try {
      await pipeline.exec();
    } catch (err) {
      this.#logger.warn({ err }, 'could not release the leases; they expire on their own');
    }
  }

  /** Renews every lease in one round trip; a lease that could not be renewed in time is lost. */
  async #renewAll(): Promise<void> {
    if (this.#renewing || this.#held.size === 0) return;
    this.#renewing = true;
    const scopes = this.scopes;
    const sentAt = performance.now();
    try {
      const pipeline = this.#redis.pipeline();
      for (const scope of scopes)
        pipeline.eval(RENEW, 1, this.#keys.lease(scope), this.processId, this.ttlMs);
      const results = (await pipeline.exec()) ?? [];
      scopes.forEach((scope, i) => {
        const h = this.#held.get(scope);
        if (!h) return; // released meanwhile
        const [err, renewed] = results[i] ?? [new Error('no reply'), 0];
        if (!err && Number(renewed) === 1) h.validUntil = sentAt + this.ttlMs * TRUSTED_SHARE;
        else if (!err) this.#lose(scope, 'taken over or expired');
      });
    } catch (err) {
      this.#logger.warn({ err }, 'lease renewal failed');
    } finally {
      this.#renewing = false;
    }
    // Leases whose trusted time ran out (Redis unreachable, or this process was paused).
    const now = performance.now();
    for (const [scope, h] of this.#held) if (now >= h.validUntil) this.#lose(scope, 'not renewed in time');
  }

  #lose(scope: string, why: string): void {
    if (!this.#held.delete(scope)) return;
    this.#logger.warn({ scope, why }, 'scope lease lost');
    this.emit('lost', scope);
  }
}
