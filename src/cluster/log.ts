// The cluster's change log (docs/cluster.md, "Fan-out"): one Redis Stream per scope, written
// by the scope's owner after each commit, read by every process that serves the scope.
//
// Why a stream and not pub/sub: pub/sub delivers at most once, and a process that was
// disconnected for a moment would silently miss changes (the commonest complaint about
// ShareDB's and Hocuspocus's Redis adapters). A stream is a log: a reader asks for everything
// after the last entry it applied, and gets it, or learns that it was trimmed away.
//
// Entry ids are `<version>-0`: Redis refuses an id that is not above the stream's last one, so
// the stream holds each version once, in version order, whoever tries to write it (a deposed
// owner's late entry is refused by Redis as its append was by the store), and a reader can ask
// for "everything after version v" directly.
import type { Redis } from 'ioredis';
import { type Logger, silentLogger } from '../util/logger.js';
import { type ClusterKeys, clusterKeys } from './keys.js';

/** One accepted change of a scope, as the log carries it. */
export interface LogEntry {
  /** The scope's version after this change. */
  version: number;
  /** The epoch of the owner's lease that accepted it (see lease.ts). */
  epoch: number;
  /** The applied fragments, as JSON (the text the store and the sessions already use). */
  fragments: string;
  /**
   * Who sent it, when a forwarded changeset: `<processId>:<request id>`. The forwarding process
   * recognizes its own request in the log even if the owner's reply never reached it.
   */
  origin?: string;
  /** When the owner appended it (ms since the epoch, its clock): how far behind a replica is. */
  at?: number;
}

export interface LogOptions {
  /** Key prefix (see keys.ts). Default `jetstream:`. */
  prefix?: string;
  /**
   * Entries kept per scope, approximately (Redis trims whole nodes). Default 10,000. A reader
   * further behind than this reloads the scope from the store.
   */
  maxEntries?: number;
  /** A scope's log is deleted this long after its last entry, in ms. Default one day. */
  idleExpiryMs?: number;
}

/** Writes entries to scope logs. */
export class LogWriter {
  readonly #redis: Redis;
  readonly #keys: ClusterKeys;
  readonly #maxEntries: number;
  readonly #idleExpiryMs: number;
  /** When each log's expiry was last pushed back (ms): once a minute is plenty for a day. */
  readonly #expirySetAt = new Map<string, number>();

  constructor(redis: Redis, options: LogOptions = {}) {
    this.#redis = redis;
    this.#keys = clusterKeys(options.prefix);
    this.#maxEntries = options.maxEntries ?? 10_000;
    this.#idleExpiryMs = options.idleExpiryMs ?? 86_400_000;
  }

  /**
   * Appends the entries of one scope, in version order. Rejects when Redis refuses one (a
   * version already in the log, or Redis unreachable); the others are still tried, as in a
   * pipeline, and those before it stay.
   *
   * Plain commands, not a pipeline of their own: on the cluster's command connection (created
   * with auto-pipelining, connect.ts) every scope appended to in one event-loop turn leaves in
   * the same socket write. One explicit pipeline per scope cost one write system call each,
   * which measured as the largest single cost of an owner under load (docs/cluster.md, "Costs").
   */
  async append(scope: string, entries: readonly LogEntry[]): Promise<void> {
    if (entries.length === 0) return;
    const key = this.#keys.log(scope);
    const at = String(Date.now());
    const sent: Promise<unknown>[] = [];
    for (const e of entries) {
      const fields = ['e', String(e.epoch), 'f', e.fragments, 't', at];
      if (e.origin !== undefined) fields.push('o', e.origin);
      sent.push(this.#redis.xadd(key, 'MAXLEN', '~', this.#maxEntries, `${e.version}-0`, ...fields));
    }
    const now = Date.now();
    const expiryDue = now - (this.#expirySetAt.get(key) ?? 0) > Math.min(60_000, this.#idleExpiryMs / 10);
    if (expiryDue) sent.push(this.#redis.pexpire(key, this.#idleExpiryMs));
    const results = await Promise.allSettled(sent);
    for (const r of results) if (r.status === 'rejected') throw r.reason;
    if (expiryDue) {
      if (this.#expirySetAt.size >= 10_000) this.#expirySetAt.clear(); // bounded: at worst refreshed early
      this.#expirySetAt.set(key, now);
    }
  }
}

/** Reads the entries of `scope` with a version above `after`, in order (at most `count`). */
export async function readLog(
  redis: Redis,
  scope: string,
  after: number,
  count = 1000,
  prefix?: string,
): Promise<LogEntry[]> {
  const raw = await redis.xrange(clusterKeys(prefix).log(scope), `(${after}-0`, '+', 'COUNT', count);
  return raw.map(([id, fields]) => toEntry(id, fields));
}

type Listener = (entries: LogEntry[]) => void;

/**
 * Follows the logs of many scopes on one blocking connection (`XREAD BLOCK`), delivering each
 * scope's new entries in order. Subscribing interrupts the blocking read (`CLIENT UNBLOCK`), so
 * a new scope is followed at once.
 */
export class LogReader {
  readonly #blocking: Redis;
  readonly #control: Redis;
  readonly #keys: ClusterKeys;
  readonly #logger: Logger;
  /** scope → the last version delivered, and its listener. */
  readonly #follows = new Map<string, { after: number; listener: Listener }>();
  #clientId: number | null = null;
  #running = false;
  #closed = false;
  #reading = false;

  /**
   * `blocking` is used for nothing else (a blocked connection cannot serve other commands);
   * `control` is any other connection, used to interrupt it.
   */
  constructor(blocking: Redis, control: Redis, options: { prefix?: string; logger?: Logger } = {}) {
    this.#blocking = blocking;
    this.#control = control;
    this.#keys = clusterKeys(options.prefix);
    this.#logger = options.logger ?? silentLogger;
    // A reconnected connection has another id, and a restarted Redis numbers connections anew:
    // the old id may now name another client's connection, which must not be unblocked. Until
    // the loop asks again (before its next read), a new follow() waits for the read in flight
    // (resent by ioredis) to end on its own, within a second.
    blocking.on('close', () => {
      this.#clientId = null;
    });
  }

  /** Delivers every entry of `scope` with a version above `after`, as they come. */
  follow(scope: string, after: number, listener: Listener): void {
    if (this.#closed) throw new Error('The log reader is closed');
    this.#follows.set(scope, { after, listener });
    if (!this.#running) {
      this.#running = true;
      void this.#loop();
    } else {
      void this.#interrupt();
    }
  }

  /** Stops following `scope`. */
  unfollow(scope: string): void {
    this.#follows.delete(scope);
  }

  /** The last version delivered for `scope` (or the one it was followed from). */
  position(scope: string): number | null {
    return this.#follows.get(scope)?.after ?? null;
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#follows.clear();
    await this.#interrupt();
  }

  async #interrupt(): Promise<void> {
    if (!this.#reading || this.#clientId === null) return;
    try {
      await this.#control.client('UNBLOCK', this.#clientId);
    } catch (err) {
      this.#logger.debug({ err }, 'could not interrupt the log reader; it wakes up on its own');
    }
  }

  async #loop(): Promise<void> {
    let failures = 0;
    while (!this.#closed) {
      if (this.#follows.size === 0) {
        this.#running = false;
        return;
      }
      const scopes = [...this.#follows.keys()];
      const keys = scopes.map((s) => this.#keys.log(s));
      const ids = scopes.map((s) => `${this.#follows.get(s)!.after}-0`);
      let reply: [string, [string, string[]][]][] | null;
      try {
        // Asked once per connection (the 'close' listener forgets it), not before every read.
        this.#clientId ??= Number(await this.#blocking.client('ID'));
        this.#reading = true;
        reply = (await this.#blocking.xread('COUNT', 1000, 'BLOCK', 1000, 'STREAMS', ...keys, ...ids)) as
          | [string, [string, string[]][]][]
          | null;
        failures = 0;
      } catch (err) {
        this.#reading = false;
        if (this.#closed) return;
        // Unblocked by follow() ("UNBLOCKED" error), or Redis is away: read again (with a pause
        // after repeated failures, so an outage does not spin).
        if (!/UNBLOCKED/.test(String((err as Error).message))) {
          failures++;
          this.#logger.warn({ err }, 'reading the change log failed; retrying');
          await new Promise((r) => setTimeout(r, Math.min(2000, 50 * 2 ** failures)));
        }
        continue;
      }
      this.#reading = false;
      if (reply === null) continue;
      const scopeOf = new Map(keys.map((k, i) => [k, scopes[i]!]));
      for (const [key, raw] of reply) {
        const scope = scopeOf.get(key)!;
        const follow = this.#follows.get(scope);
        if (!follow || raw.length === 0) continue;
        const entries = raw
          .map(([id, fields]) => toEntry(id, fields))
          .filter((e) => e.version > follow.after);
        if (entries.length === 0) continue;
        follow.after = entries[entries.length - 1]!.version;
        try {
          follow.listener(entries);
        } catch (err) {
          this.#logger.error({ err, scope }, 'change log listener threw');
        }
      }
    }
  }
}

function toEntry(id: string, fields: string[]): LogEntry {
  const entry: LogEntry = { version: Number(id.slice(0, id.indexOf('-'))), epoch: 0, fragments: '[]' };
  for (let i = 0; i + 1 < fields.length; i += 2) {
    const v = fields[i + 1]!;
    if (fields[i] === 'e') entry.epoch = Number(v);
    else if (fields[i] === 'f') entry.fragments = v;
    else if (fields[i] === 'o') entry.origin = v;
    else if (fields[i] === 't') entry.at = Number(v);
  }
  return entry;
}
