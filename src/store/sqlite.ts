// The embedded default store: one SQLite file through better-sqlite3.
//
// Durability. The file runs in WAL mode. With `synchronous=NORMAL` a commit is written to the WAL
// but fsync'ed only at checkpoints: it survives a crash of this process (kill -9), because the
// data is in the OS page cache, but an OS crash or power loss can lose the last commits. With
// `synchronous=FULL` every commit fsyncs the WAL, so an acknowledged change survives those too.
// The default is FULL: the server group-commits every changeset accepted in one event-loop turn
// into one transaction, so the fsync is paid once per turn, not once per changeset, and measured
// here (bench/store-append.ts) it costs little at that grain. Pass `synchronous: 'NORMAL'` where
// losing the last moments on power loss is acceptable.
//
// Blocking. better-sqlite3 is synchronous, so the connection lives in a worker thread
// (sqlite-worker.ts, sqlite-db.ts) and every call here is a message to it: appends and their
// fsync, loads, snapshot writes and compactions never run on the server's event loop, nor does
// the wait for another process's write lock (up to `busyTimeoutMs`). The worker runs the calls
// one at a time, in call order. What stays here: checking input, the JSON of what is written (a
// record's is usually encoded already, for the broadcast) and parsing what a load returns, which
// the caller needs as objects.
//
// Compaction (Store.compact, docs/architecture.md "Durability") reads tens of megabytes, folds
// them (fold.ts) and writes the result: about a second for a 100,000-object scope under load. On
// the appends' worker every acknowledgement would wait for all of it (measured: up to a second).
// So a file database reads and folds on a second connection, in a second worker started when
// needed (WAL lets the appends go on meanwhile), and the result, as bytes that move between the
// threads without a copy, is written by the appends' worker in its turn: the appends wait only
// for that write, which is ordered with them like any call and never contends for the lock
// (where a write on the second connection would make appends poll for it, and could outlast
// their busy timeout for a big enough scope). A `:memory:` database has one connection only, so
// it compacts on it.

import type { TransferListItem } from 'node:worker_threads';
import { BETTER_SQLITE3, loadOptional } from '../util/optional-module.js';
import { StoreError, wrapStoreError } from './errors.js';
import {
  checkCompact,
  checkScopeName,
  checkSnapshot,
  encodeFragments,
  encodeSnapshotFragments,
  planAppend,
} from './records.js';
import type { Folded, LoadedTexts, SqliteConfig, SqliteSynchronous } from './sqlite-db.js';
import type { ChangeRecord, FoldSchema, LoadedScope, Snapshot, Store } from './types.js';
import { LazyWorker, StoreWorker } from './worker.js';

export type { SqliteSynchronous } from './sqlite-db.js';

export interface SqliteStoreOptions {
  /** Path of the database file; its directory is created when missing. `:memory:` for tests. */
  filename: string;
  /** See the header of this file. Default `FULL`. */
  synchronous?: SqliteSynchronous;
  /** Prefix of the table names, so several stores can share one file. Default `jetstream_`. */
  tablePrefix?: string;
  /** How long a call waits for another process's write lock (in the store's worker). Default 5000. */
  busyTimeoutMs?: number /**
   * Take the writer lock of the file's tables (default true): while this store is open, another
   * store on the same file and table prefix, in this process or another, fails to open with a
   * clear message instead of meeting version conflicts at its first write. The lock is the
   * operating system's, so it goes with a process that dies (docs/persistence.md, "SQLite").
   */;
  lock?: boolean;
}

const SYNCHRONOUS: readonly SqliteSynchronous[] = ['OFF', 'NORMAL', 'FULL', 'EXTRA'];

export class SqliteStore implements Store {
  readonly kind = 'sqlite' as const;
  readonly filename: string;
  readonly synchronous: SqliteSynchronous;
  readonly #config: SqliteConfig;
  /** The worker that owns the connection of every call but compaction; null when not open. */
  #main: StoreWorker | null = null;
  #opening: Promise<void> | null = null;
  /** The worker compactions run on (a file database only), started when needed. */
  readonly #compactor: LazyWorker;
  /** The main worker died without being closed: the next call starts a new one. */
  #crashed = false;
  /** Compactions in flight: close lets them finish (their write is a call of the main worker). */
  readonly #compactions = new Set<Promise<void>>();

  constructor(options: SqliteStoreOptions) {
    if (typeof options?.filename !== 'string' || options.filename === '') {
      throw new StoreError('SQLite store: the `filename` option is required');
    }
    this.filename = options.filename;
    this.synchronous = options.synchronous ?? 'FULL';
    if (!SYNCHRONOUS.includes(this.synchronous)) {
      throw new StoreError(`SQLite store: synchronous must be one of ${SYNCHRONOUS.join(', ')}`);
    }
    const tablePrefix = options.tablePrefix ?? 'jetstream_';
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(tablePrefix)) {
      throw new StoreError(`SQLite store: invalid tablePrefix ${JSON.stringify(tablePrefix)}`);
    }
    this.#config = {
      filename: this.filename,
      synchronous: this.synchronous,
      tablePrefix,
      busyTimeoutMs: options.busyTimeoutMs ?? 5000,
      lock: options.lock ?? true,
    };
    this.#compactor = new LazyWorker(
      'sqlite-worker',
      { config: this.#config, background: true },
      'SQLite store (compaction)',
    );
  }

  async open(): Promise<void> {
    if (this.#main !== null) return;
    this.#opening ??= this.#start().finally(() => {
      this.#opening = null;
    });
    return this.#opening;
  }

  async #start(): Promise<void> {
    // The driver is loaded in the worker; loading it here first makes a missing one a
    // MissingDependencyError that says what to install, not a worker's start-up failure.
    loadOptional(BETTER_SQLITE3);
    let worker: StoreWorker;
    try {
      worker = await StoreWorker.start('sqlite-worker', { config: this.#config }, 'SQLite store');
    } catch (err) {
      throw wrapStoreError(`SQLite store: cannot open ${this.filename}`, err);
    }
    worker.onDeath = () => {
      if (this.#main !== worker) return;
      this.#main = null;
      this.#crashed = true;
    };
    this.#main = worker;
    this.#crashed = false;
  }

  async close(): Promise<void> {
    await this.#opening?.catch(() => undefined);
    await Promise.allSettled([...this.#compactions]);
    const main = this.#main;
    this.#main = null;
    this.#crashed = false;
    // Calls posted before settle first: each worker runs `close` after them.
    const results = await Promise.allSettled([main?.stop(), this.#compactor.stop()]);
    const failed = results.find((r) => r.status === 'rejected');
    if (failed) throw wrapStoreError(`SQLite store: cannot close ${this.filename}`, failed.reason);
  }

  async load(scope: string): Promise<LoadedScope | null> {
    checkScopeName(scope);
    const what = `SQLite store: cannot load scope ${JSON.stringify(scope)}`;
    const texts = await this.#call<LoadedTexts | null>('load', what, [scope]);
    if (texts === null) return null;
    try {
      const snap = texts.snapshot;
      return {
        snapshot:
          snap === null
            ? null
            : {
                scope,
                version: snap.version,
                rootUUID: snap.rootUUID,
                fragments: JSON.parse(snap.fragments),
              },
        changes: texts.changes.map((r) => ({
          scope,
          version: r.version,
          fragments: JSON.parse(r.fragments),
        })),
        version: texts.version,
      };
    } catch (err) {
      throw wrapStoreError(what, err);
    }
  }

  async append(records: ChangeRecord[]): Promise<void> {
    const batches = planAppend(records);
    if (batches.length === 0) return;
    const rows = records.map((r): [string, number, string] => [r.scope, r.version, encodeFragments(r)]);
    await this.#call('append', 'SQLite store: cannot append', [batches, rows]);
  }

  async writeSnapshot(snapshot: Snapshot): Promise<void> {
    checkSnapshot(snapshot);
    const fragments = encodeSnapshotFragments(snapshot);
    await this.#call(
      'writeSnapshot',
      `SQLite store: cannot write the snapshot of ${JSON.stringify(snapshot.scope)}`,
      [{ scope: snapshot.scope, version: snapshot.version, rootUUID: snapshot.rootUUID, fragments }],
    );
  }

  async compact(scope: string, version: number, schema: FoldSchema): Promise<void> {
    checkCompact(scope, version, schema);
    const what = `SQLite store: cannot compact scope ${JSON.stringify(scope)}`;
    if (this.filename === ':memory:') return this.#call('compact', what, [scope, version, schema]);
    if (this.#main === null && !this.#crashed) throw this.#notOpen('compact');
    const run = this.#compactOnTheSide(scope, version, schema, what);
    this.#compactions.add(run);
    try {
      await run;
    } finally {
      this.#compactions.delete(run);
    }
  }

  async #compactOnTheSide(scope: string, version: number, schema: FoldSchema, what: string): Promise<void> {
    let folded: Folded | null;
    try {
      folded = await this.#compactor.call<Folded | null>('fold', [scope, version, schema]);
    } catch (err) {
      throw wrapStoreError(what, err);
    }
    if (folded === null) return;
    // The bytes move from one worker to the other through here, without a copy.
    await this.#call(
      'writeCompacted',
      what,
      [scope, version, folded],
      [folded.fragments.buffer as ArrayBuffer],
    );
  }

  async listScopes(): Promise<string[]> {
    return this.#call('listScopes', 'SQLite store: cannot list scopes', []);
  }

  async deleteScope(scope: string): Promise<void> {
    checkScopeName(scope);
    await this.#call('deleteScope', `SQLite store: cannot delete scope ${JSON.stringify(scope)}`, [scope]);
  }

  /** @internal Tests: reads or sets a pragma on the store's (main) connection. */
  _pragma(source: string): Promise<unknown> {
    return this.#call('pragma', 'SQLite store: pragma failed', [source]);
  }

  /**
   * Posts `op` to the main worker, synchronously when it runs (so calls reach it in call order),
   * and wraps its failure as `what: <driver message>`.
   */
  async #call<T>(op: string, what: string, args: unknown[], transfer?: TransferListItem[]): Promise<T> {
    if (this.#main === null) {
      if (!this.#crashed) throw this.#notOpen(op);
      await this.open();
    }
    try {
      return await this.#main!.call<T>(op, args, transfer);
    } catch (err) {
      throw wrapStoreError(what, err);
    }
  }

  #notOpen(op: string): StoreError {
    return new StoreError(`SQLite store: cannot ${op}: the store is not open (${this.filename})`);
  }
}
