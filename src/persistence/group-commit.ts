// Group commit (docs/protocol.md §7 step 7): every change a durable scope emits during one
// event-loop turn goes into one store transaction; replies and broadcasts that depend on those
// changes wait for it. Nothing is acknowledged before it is on disk.
//
// Groups are committed in order: one in flight at a time (the next group collects everything
// emitted meanwhile), or two with a store that pipelines its appends (PostgreSQL outside a
// cluster; see maxInFlight). The store sees each scope's versions in order (a store applies one
// scope's appends in call order, see Store), and callbacks run in the order they were queued (a
// sync reply never overtakes the broadcast of an earlier changeset, nor a fetch reply the
// changes it already contains).
//
// When an append fails, the changes of that group are in memory but not on disk. Their replies
// carry an error (never an ack), their broadcasts are dropped, and each affected scope is
// marked failed: it rejects changesets with a clear error until `onFailure` has restored it
// from the store (reads keep working meanwhile).
//
// Snapshots (docs/architecture.md, "Durability"). A store that can compact (Store.compact) is
// asked, once a group's append has succeeded, to write the snapshot at the version that group
// reached, from what it has stored: nothing of the scope is captured or encoded here, so a big
// scope's snapshot costs this event loop nothing (the stores fold in a worker thread). Later
// groups go on meanwhile: the compaction reads only what is stored up to its version. A store
// without compaction gets the scope's state, captured when the group closes and written after
// its append, in the chain.

import type { ModelClass } from '../model/model-object.js';
import { encodeFragmentsOnce } from '../protocol/codec.js';
import type { Scope } from '../scope/scope.js';
import type { AppliedFragment, ChangeContext } from '../scope/types.js';
import type { ChangeRecord, Snapshot, Store } from '../store/types.js';
import { foldSchema } from './schema.js';
import type { CommitCallback } from './types.js';

interface Group {
  records: ChangeRecord[];
  callbacks: CommitCallback[];
  scopes: Set<Scope>;
  /**
   * Without Store.compact: snapshots taken when the group closed (the state exactly at its last
   * record), written after it.
   */
  snapshots: Snapshot[];
}

/**
 * A snapshot costs time proportional to the scope's size: reading, folding and writing tens of
 * megabytes for a 100,000-object scope (in a worker thread when the store compacts; on the event
 * loop otherwise). Spacing snapshots by at least a quarter of the object count keeps that cost
 * a small constant per stored change, however big the scope (a 100,000-object scope under load
 * would otherwise snapshot every 1,000 changes), while start-up still replays a bounded log.
 */
const SNAPSHOT_SHARE = 0.25;

/**
 * Appends in flight at most. PostgreSQL pipelines appends on one connection (store/postgres.ts):
 * a second group issued while the first is in flight is on the wire before the first commit
 * ends, which hides the first answer's way back through this event loop, the larger part of a
 * group's time there (docs/persistence.md, "PostgreSQL"). SQLite gains nothing from it: each of
 * its commits pays a disk flush, and a second group in flight is closed early, so there are more,
 * smaller groups, hence more flushes (measured slower with bench/durable.ts). A store without
 * compaction writes a group's snapshots after its append, before the next group's: one at a time.
 */
function maxInFlight(store: Store): number {
  return store.pipelinesAppends === true && typeof store.compact === 'function' ? 2 : 1;
}

export interface GroupCommitOptions {
  /**
   * Write a snapshot after this many change records of a scope (default 1000), and never more
   * often than every `size / 4` records of a scope of `size` objects (see SNAPSHOT_SHARE).
   */
  snapshotEvery?: number;
  /** Called when a group could not be stored, with the scopes it touched. */
  onFailure?: (scopes: Scope[], err: Error) => void;
  /** Called when a background snapshot fails (logged; the change log still has everything). */
  onSnapshotError?: (scope: Scope, err: Error) => void;
}

export class GroupCommit {
  #open: Group | null = null;
  /** The tail of the chain of group commits (each waits for the previous). */
  #chain: Promise<void> = Promise.resolve();
  #inFlight = 0;
  #sinceSnapshot = new Map<Scope, number>();
  /** Compactions in flight, one per scope at most (they never reject). */
  readonly #compactions = new Map<Scope, Promise<void>>();
  #tracked = new Map<Scope, (fragments: AppliedFragment[], context: ChangeContext) => void>();
  /** Scopes whose last append failed: they refuse changesets until restored. */
  readonly failed = new Map<Scope, Error>();
  /** Changes recorded and not stored yet (nor failed), by scope (see unstored). */
  readonly #unstored = new Map<Scope, number>();
  readonly snapshotEvery: number;
  readonly #options: GroupCommitOptions;

  constructor(
    readonly store: Store,
    options: GroupCommitOptions = {},
  ) {
    this.#options = options;
    this.snapshotEvery = options.snapshotEvery ?? 1000;
  }

  /**
   * Records every change `scope` emits from now on. The recorder runs before every other
   * 'changes' listener, so a listener that waits for the commit (the hub's broadcast, a reply)
   * always finds the change already in the open group.
   */
  track(scope: Scope): void {
    if (this.#tracked.has(scope)) return;
    const recorder = (fragments: AppliedFragment[], context: ChangeContext) => {
      if (context.replay || context.replicated) return; // stored already, or by the owner
      const group = this.#group();
      group.records.push({
        scope: scope.name,
        version: scope.version,
        fragments,
        encodedFragments: encodeFragmentsOnce(fragments),
      });
      group.scopes.add(scope);
      this.#sinceSnapshot.set(scope, (this.#sinceSnapshot.get(scope) ?? 0) + 1);
      this.#unstored.set(scope, (this.#unstored.get(scope) ?? 0) + 1);
    };
    this.#tracked.set(scope, recorder);
    scope.prependListener('changes', recorder);
  }

  untrack(scope: Scope): void {
    const recorder = this.#tracked.get(scope);
    if (!recorder) return;
    this.#tracked.delete(scope);
    scope.off('changes', recorder);
    this.#sinceSnapshot.delete(scope);
  }

  /** Runs `fn` once everything recorded so far is stored — at once when nothing is pending. */
  afterCommit(fn: CommitCallback): void {
    if (this.#open === null && this.#inFlight === 0) fn(null);
    else this.#group().callbacks.push(fn);
  }

  /**
   * Resolves when everything recorded so far has been committed (or failed), and the snapshots
   * due by then are written (or failed).
   */
  async drain(): Promise<void> {
    if (this.#open !== null || this.#inFlight > 0) {
      await new Promise<void>((resolve) => this.#group().callbacks.push(() => resolve()));
    }
    await this.#chain; // the snapshots written after that group
    await Promise.all(this.#compactions.values());
  }

  #group(): Group {
    if (this.#open) return this.#open;
    const g: Group = { records: [], callbacks: [], scopes: new Set(), snapshots: [] };
    this.#open = g;
    setImmediate(() => this.#commitOpen());
    return g;
  }

  #commitOpen(): void {
    const g = this.#open;
    if (!g) return;
    // While the commits in flight are as many as allowed, the open group stays open and keeps
    // collecting: the first of them to end closes it. One transaction then carries everything
    // that arrived meanwhile, instead of a queue of small groups behind a slow append.
    if (this.#inFlight >= maxInFlight(this.store)) return;
    const compacting = typeof this.store.compact === 'function';
    // Without compaction, a snapshot is taken when its group closes, while the in-memory state is
    // exactly what the group's records lead to. Taken after the append, it could include a later
    // group that is in memory but not yet stored, claim that group's version, and make its append
    // conflict.
    const due: Scope[] = compacting ? [] : [...g.scopes].filter((s) => this.#due(s));
    // Server-side edits still pending in those scopes are already in memory: flushed now, they
    // become records of this group, so that the snapshot (which would flush them itself) never
    // holds a change whose record is only in the next group.
    for (const s of due) s.flush();
    this.#open = null;
    for (const s of due) {
      this.#sinceSnapshot.set(s, 0);
      g.snapshots.push(snapshotOf(s));
    }
    this.#inFlight++;
    // Issued now, even while the previous group's append is in flight; its outcome is handled in
    // the chain, in group order.
    const appended: Promise<Error | null> =
      g.records.length === 0
        ? Promise.resolve(null)
        : (async () => this.store.append(g.records))().then(
            () => null,
            (err: unknown) => (err instanceof Error ? err : new Error(String(err))),
          );
    this.#chain = this.#chain.then(async () => {
      const error = await appended;
      this.#settled(g);
      if (error) {
        for (const s of g.scopes) this.failed.set(s, error);
        this.#options.onFailure?.([...g.scopes], error);
      }
      for (const cb of g.callbacks) {
        try {
          cb(error);
        } catch (err) {
          // Not ours to handle; surfaced as before (uncaught), but the chain goes on.
          setImmediate(() => {
            throw err;
          });
        }
      }
      if (!error) {
        await this.#writeSnapshots(g);
        if (compacting) this.#compact(g);
      }
      this.#inFlight--;
      this.#commitOpen();
    });
  }

  /** Changes of `scope` recorded and not stored yet (nor failed). */
  unstored(scope: Scope): number {
    return this.#unstored.get(scope) ?? 0;
  }

  /** A group's append is over: its changes no longer wait. */
  #settled(g: Group): void {
    const byName = new Map<string, Scope>();
    for (const s of g.scopes) byName.set(s.name, s);
    for (const r of g.records) {
      const s = byName.get(r.scope);
      if (s === undefined) continue;
      const left = (this.#unstored.get(s) ?? 1) - 1;
      if (left > 0) this.#unstored.set(s, left);
      else this.#unstored.delete(s);
    }
  }

  /** True when `s` has stored enough changes since its last snapshot for the next one. */
  #due(s: Scope): boolean {
    const every = Math.max(this.snapshotEvery, s.size * SNAPSHOT_SHARE);
    return (this.#sinceSnapshot.get(s) ?? 0) >= every && !this.failed.has(s);
  }

  /**
   * Starts the compaction of every scope of `g` that is due, at the version `g` brought it to
   * (stored now). One at a time per scope: a scope whose compaction is still running stays due,
   * and the group after it ends starts the next.
   */
  #compact(g: Group): void {
    const reached = new Map<string, number>();
    for (const r of g.records) reached.set(r.scope, r.version);
    for (const s of g.scopes) {
      const version = reached.get(s.name);
      if (version === undefined || !s.root || this.#compactions.has(s) || !this.#due(s)) continue;
      // What is recorded after `version` counts towards the next snapshot.
      if (this.#tracked.has(s)) this.#sinceSnapshot.set(s, s.version - version);
      const schema = foldSchema(s.root.constructor as ModelClass);
      const run = (async () => this.store.compact!(s.name, version, schema))().then(
        () => {
          this.#compactions.delete(s);
        },
        (err: unknown) => {
          this.#compactions.delete(s);
          this.#options.onSnapshotError?.(s, err instanceof Error ? err : new Error(String(err)));
        },
      );
      this.#compactions.set(s, run);
    }
  }

  #scopeOf(g: Group, name: string): Scope | undefined {
    for (const s of g.scopes) if (s.name === name) return s;
    return undefined;
  }

  /** Writes the group's snapshots, in the chain (before the next group's append). */
  async #writeSnapshots(g: Group): Promise<void> {
    for (const snapshot of g.snapshots) {
      try {
        await this.store.writeSnapshot(snapshot);
      } catch (err) {
        const s = this.#scopeOf(g, snapshot.scope);
        if (s) this.#options.onSnapshotError?.(s, err as Error);
      }
    }
  }
}

/** The scope's current state as a store snapshot. */
export function snapshotOf(scope: Scope) {
  const { rootUUID, fragments } = scope.getState();
  return { scope: scope.name, version: scope.version, rootUUID, fragments };
}
