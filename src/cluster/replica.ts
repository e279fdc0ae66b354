// A read replica of a scope another process owns (docs/cluster.md, "Fan-out"): the scope was
// loaded from the store at some version, and the owner's log is applied on top of it in
// version order, each entry through the same changeset engine (as a restore does), then
// broadcast to this process's sessions like any change.
//
// The replica never guesses: an entry that does not follow the scope's version (the log was
// trimmed past it, or an entry is missing) or that the engine does not accept whole (the
// replica diverged) makes it reload the scope from the store, which is the authority, and
// follow the log again from there.
import type { Scope } from '../scope/scope.js';
import type { Fragment } from '../scope/types.js';
import { type Logger, silentLogger } from '../util/logger.js';
import type { LogEntry, LogReader } from './log.js';

export interface ReplicaOptions {
  /**
   * Rebuilds the scope from the store (its version then is the store's) and has its state sent
   * again to the sessions holding it. The replica follows the log from the new version.
   */
  reload: (scope: Scope) => Promise<void>;
  /** The local session a forwarded change came from (by the log entry's `origin`), if any. */
  originOf?: (origin: string) => unknown;
  /** Called after each entry is applied (forwarders wait for their own change here). */
  applied?: (scope: Scope, entry: LogEntry) => void;
  logger?: Logger;
}

export class Replica {
  readonly scope: Scope;
  readonly #reader: LogReader;
  readonly #options: ReplicaOptions;
  readonly #logger: Logger;
  #reloading: Promise<void> | null = null;
  #stopped = false;
  /** How many times the scope was reloaded from the store (for tests and metrics). */
  reloads = 0;

  constructor(scope: Scope, reader: LogReader, options: ReplicaOptions) {
    this.scope = scope;
    this.#reader = reader;
    this.#options = options;
    this.#logger = options.logger ?? silentLogger;
  }

  /** Starts following the owner's log from the scope's current version. */
  start(): void {
    this.#stopped = false;
    this.#reader.follow(this.scope.name, this.scope.version, (entries) => this.#apply(entries));
  }

  /** Stops following (the scope is unloaded, or this process became its owner). */
  stop(): void {
    this.#stopped = true;
    this.#reader.unfollow(this.scope.name);
  }

  /** Resolves once a reload in progress (if any) has finished. */
  async settled(): Promise<void> {
    while (this.#reloading) await this.#reloading;
  }

  #apply(entries: LogEntry[]): void {
    if (this.#stopped || this.#reloading) return;
    const scope = this.scope;
    for (const entry of entries) {
      if (entry.version <= scope.version) continue; // already in the state it was loaded with
      if (entry.version !== scope.version + 1) {
        this.#reload(`version ${entry.version} follows ${scope.version}: the log has a gap or was trimmed`);
        return;
      }
      let fragments: Fragment[];
      try {
        fragments = JSON.parse(entry.fragments) as Fragment[];
      } catch {
        this.#reload(`version ${entry.version} is not JSON`);
        return;
      }
      if (fragments.length === 0) {
        // A new owner's fence (cluster-persistence.ts): a version with no change.
        scope.version = entry.version;
        this.#options.applied?.(scope, entry);
        continue;
      }
      const origin = entry.origin === undefined ? undefined : this.#options.originOf?.(entry.origin);
      const { results } = scope.applyChangeset(fragments, {
        replicated: true,
        atomic: true,
        ...(origin === undefined ? {} : { origin }),
      });
      const failed = results.find((r) => r !== null);
      if (failed || scope.version !== entry.version) {
        this.#reload(`version ${entry.version} does not apply: ${failed?.message ?? 'version mismatch'}`);
        return;
      }
      this.#options.applied?.(scope, entry);
    }
  }

  /** Rebuilds the scope from the store now, then follows the log from there. */
  reload(why: string): void {
    this.#stopped = false;
    this.#reload(why);
  }

  #reload(why: string): void {
    if (this.#reloading) return;
    this.#logger.warn({ scope: this.scope.name, why }, 'replica reloads the scope from the store');
    this.reloads++;
    this.#reader.unfollow(this.scope.name);
    this.#reloading = (async () => {
      for (let attempt = 0; !this.#stopped; attempt++) {
        try {
          await this.#options.reload(this.scope);
          break;
        } catch (err) {
          this.#logger.warn({ err, scope: this.scope.name, attempt }, 'replica reload failed; retrying');
          await new Promise((r) => setTimeout(r, Math.min(5000, 100 * 2 ** attempt)));
        }
      }
    })().finally(() => {
      this.#reloading = null;
      if (!this.#stopped) this.start();
    });
  }
}
