// The seam between the server and durability. The server asks a Persistence to open scopes, to
// tell it when accepted changes are safe (so replies and broadcasts can go out), and whether a
// scope accepts writes right now. Two implementations exist: EphemeralPersistence (no store:
// scopes live in memory only) and StorePersistence (a Store, group commit, snapshots, restore
// after a failed append). A cluster adds a third: scopes owned by another process.
import type { ModelObject } from '../model/model-object.js';
import type { WriteGate } from '../pipeline/pipeline.js';
import type { Scope, ScopeOptions } from '../scope/scope.js';
import type { Store } from '../store/types.js';
import type { Logger } from '../util/logger.js';

/** `server.openScope()`'s options: the scope's, plus the root to create when nothing is stored. */
export interface OpenScopeOptions extends ScopeOptions {
  /** Builds the initial tree of a scope that was never stored (not called when one is loaded). */
  root: () => ModelObject;
  /**
   * With a store: once no session has held the scope for this many ms, it is unloaded from
   * memory (after everything it accepted is stored) and loaded again by the next openScope of
   * its name (a fetch hook that opens scopes on demand). The application must not keep the
   * Scope object: once unloaded, changing it throws. Without a store it is ignored (unloading
   * would lose the scope). Default: never.
   */
  unloadWhenIdle?: number;
}

/** Called once every change accepted so far is durable, or with the store's error. */
export type CommitCallback = (err: Error | null) => void;

/** What a Persistence needs from the server that owns it. */
export interface PersistenceHost {
  readonly logger: Logger;
  /**
   * `scope` was rebuilt from the store (after a failed append): every session that holds it
   * must be sent its state again.
   */
  restored(scope: Scope): void;
}

export interface Persistence extends WriteGate {
  /**
   * True when changes are stored before they are acknowledged: replies and broadcasts then wait
   * for `afterCommit`. False when there is nothing to wait for (the server skips the wait).
   */
  readonly durable: boolean;
  /** The store, when there is one. */
  readonly store: Store | null;
  /**
   * Loads a scope (its snapshot and later changes) or creates it with `options.root()` and
   * stores that initial state. Every later change to it is recorded. Called once per name.
   */
  open(options: OpenScopeOptions): Promise<Scope>;
  /** Runs `fn` once every change accepted so far is durable: at once when nothing is pending. */
  afterCommit(fn: CommitCallback): void;
  /** Resolves once every change accepted so far is stored (or failed). */
  drain(): Promise<void>;
  /** Optional: changes of `scope` accepted and not stored yet (the inspector's store lag). */
  unstored?(scope: Scope): number;
  /**
   * Stops recording `scope` (it is being unloaded): resolves once everything it accepted is
   * stored. Only durable persistences unload scopes.
   */
  release(scope: Scope): Promise<void>;
  /** Stops background work (restores) and drains. The store itself stays open: it is the application's. */
  close(): Promise<void>;
}
