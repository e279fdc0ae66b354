// Durability on a Store (docs/protocol.md §7 step 7): scopes are loaded from the store or
// created and stored, every change is group-committed before it is acknowledged, snapshots
// are written in the background, and a scope whose append failed refuses writes until it has
// been rebuilt from the store (retried with backoff; reads keep being served meanwhile).
import { ErrorType, type WireError } from '../errors.js';
import type { ModelClass } from '../model/model-object.js';
import { Scope } from '../scope/scope.js';
import type { LoadedScope, Store } from '../store/types.js';
import { GroupCommit, snapshotOf } from './group-commit.js';
import { restoreScope } from './restore.js';
import type { CommitCallback, OpenScopeOptions, Persistence, PersistenceHost } from './types.js';

export interface StorePersistenceOptions {
  /** Write a snapshot of a scope after this many stored changesets (default 1000). */
  snapshotEvery?: number;
}

/** The longest wait between two attempts to restore a scope. */
const MAX_RESTORE_BACKOFF_MS = 30_000;

export class StorePersistence implements Persistence {
  readonly durable = true;
  readonly store: Store;
  readonly #host: PersistenceHost;
  readonly #commits: GroupCommit;
  readonly #restoring = new Set<Scope>();
  #closed = false;

  constructor(store: Store, host: PersistenceHost, options: StorePersistenceOptions = {}) {
    this.store = store;
    this.#host = host;
    this.#commits = new GroupCommit(store, {
      snapshotEvery: options.snapshotEvery,
      onFailure: (scopes, err) => this.#failed(scopes, err),
      onSnapshotError: (scope, err) => host.logger.warn({ err, scope: scope.name }, 'snapshot failed'),
    });
  }

  /**
   * `loaded`: what the caller already read from the store for this scope (a cluster replica
   * waits until its owner stored it), so that it is not read and parsed twice.
   */
  async open(options: OpenScopeOptions, loaded?: LoadedScope): Promise<Scope> {
    const { root, ...scopeOptions } = options;
    const scope = new Scope(scopeOptions);
    const initial = root();
    await this.store.open();
    loaded ??= (await this.store.load(scope.name)) ?? undefined;
    if (loaded) {
      for (const w of restoreScope(scope, initial.constructor as ModelClass, loaded))
        this.#host.logger.warn({ scope: scope.name }, w);
    } else {
      scope.setRoot(initial);
      await this.store.writeSnapshot(snapshotOf(scope));
    }
    this.#commits.track(scope);
    return scope;
  }

  writeBlocked(scope: Scope): WireError | null {
    const failure = this.#commits.failed.get(scope);
    if (!failure) return null;
    return {
      message: `Could not apply SyncMessage: the store failed (${failure.message}); the scope is being restored`,
      type: ErrorType.storeFailed,
    };
  }

  afterCommit(fn: CommitCallback): void {
    this.#commits.afterCommit(fn);
  }

  unstored(scope: Scope): number {
    return this.#commits.unstored(scope);
  }

  drain(): Promise<void> {
    return this.#commits.drain();
  }

  async release(scope: Scope): Promise<void> {
    scope.flush();
    await this.#commits.drain();
    this.#commits.untrack(scope);
  }

  async close(): Promise<void> {
    this.#closed = true;
    await this.#commits.drain();
  }

  #failed(scopes: Scope[], err: Error): void {
    this.#host.logger.error(
      { err, scopes: scopes.map((s) => s.name) },
      'store append failed; restoring the scopes from the store',
    );
    for (const scope of scopes) void this.#restore(scope);
  }

  /** Rebuilds a scope from the store after a failed append, then has its state resent to every holder. */
  async #restore(scope: Scope): Promise<void> {
    if (this.#restoring.has(scope) || !scope.root) return;
    this.#restoring.add(scope);
    const rootClass = scope.root.constructor as ModelClass;
    const logger = this.#host.logger;
    try {
      for (let attempt = 0; !this.#closed; attempt++) {
        try {
          await this.#commits.drain();
          const loaded = await this.store.load(scope.name);
          if (!loaded) throw new Error('the scope is no longer stored');
          // The recorder stays attached: a restore replays (context.replay), which it skips.
          scope._reset();
          for (const w of restoreScope(scope, rootClass, loaded)) logger.warn({ scope: scope.name }, w);
          this.#commits.failed.delete(scope);
          this.#host.restored(scope);
          logger.info({ scope: scope.name }, 'scope restored from the store');
          return;
        } catch (err) {
          logger.warn({ err, scope: scope.name, attempt }, 'scope restore failed; retrying');
          const wait = Math.min(MAX_RESTORE_BACKOFF_MS, 500 * 2 ** attempt);
          await new Promise((r) => setTimeout(r, wait).unref?.());
        }
      }
    } finally {
      this.#restoring.delete(scope);
    }
  }
}
