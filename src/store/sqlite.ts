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
// Blocking. better-sqlite3 is synchronous: every call below runs on the event loop. Appends and
// loads are short (prepared statements, one transaction). Writing a large snapshot is not: JSON of
// a 100,000-object scope is tens of megabytes, and encoding plus writing it stalls every socket
// for that long. Write snapshots rarely (the server decides when), or move them to a worker.
// A second process holding the write lock makes a call wait up to `busyTimeoutMs`, also blocking.

import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import Database from 'better-sqlite3';
import { StoreError, wrapStoreError } from './errors.js';
import {
  appendConflict,
  checkScopeName,
  checkSnapshot,
  encodeFragments,
  encodeSnapshotFragments,
  planAppend,
  staleSnapshot,
} from './records.js';
import type { ChangeRecord, LoadedScope, Snapshot, Store } from './types.js';

export type SqliteSynchronous = 'OFF' | 'NORMAL' | 'FULL' | 'EXTRA';

export interface SqliteStoreOptions {
  /** Path of the database file; its directory is created when missing. `:memory:` for tests. */
  filename: string;
  /** See the header of this file. Default `FULL`. */
  synchronous?: SqliteSynchronous;
  /** Prefix of the table names, so several stores can share one file. Default `jetstream_`. */
  tablePrefix?: string;
  /** How long a call waits for another process's write lock (blocking). Default 5000. */
  busyTimeoutMs?: number;
}

const SYNCHRONOUS: readonly SqliteSynchronous[] = ['OFF', 'NORMAL', 'FULL', 'EXTRA'];

interface Statements {
  head: Database.Statement<[string], { version: number }>;
  setHead: Database.Statement<[string, number]>;
  insertChange: Database.Statement<[string, number, string]>;
  changesAfter: Database.Statement<[string, number], { version: number; fragments: string }>;
  snapshot: Database.Statement<[string], { version: number; root_uuid: string; fragments: string }>;
  putSnapshot: Database.Statement<[string, number, string, string]>;
  pruneChanges: Database.Statement<[string, number]>;
  deleteChanges: Database.Statement<[string]>;
  deleteSnapshot: Database.Statement<[string]>;
  deleteHead: Database.Statement<[string]>;
  listScopes: Database.Statement<[], { name: string }>;
}

interface Open {
  db: Database.Database;
  st: Statements;
  append: (batches: ReturnType<typeof planAppend>, rows: [string, number, string][]) => void;
  writeSnapshot: (snapshot: Snapshot, fragments: string) => void;
  load: (scope: string) => LoadedScope | null;
  deleteScope: (scope: string) => void;
}

export class SqliteStore implements Store {
  readonly kind = 'sqlite' as const;
  readonly filename: string;
  readonly synchronous: SqliteSynchronous;
  readonly #prefix: string;
  readonly #busyTimeoutMs: number;
  /** @internal The open database and its statements (tests reach the connection through it). */
  _state: Open | null = null;

  constructor(options: SqliteStoreOptions) {
    if (typeof options?.filename !== 'string' || options.filename === '') {
      throw new StoreError('SQLite store: the `filename` option is required');
    }
    this.filename = options.filename;
    this.synchronous = options.synchronous ?? 'FULL';
    if (!SYNCHRONOUS.includes(this.synchronous)) {
      throw new StoreError(`SQLite store: synchronous must be one of ${SYNCHRONOUS.join(', ')}`);
    }
    this.#prefix = options.tablePrefix ?? 'jetstream_';
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(this.#prefix)) {
      throw new StoreError(`SQLite store: invalid tablePrefix ${JSON.stringify(this.#prefix)}`);
    }
    this.#busyTimeoutMs = options.busyTimeoutMs ?? 5000;
  }

  async open(): Promise<void> {
    if (this._state !== null) return;
    let db: Database.Database | undefined;
    try {
      if (this.filename !== ':memory:') mkdirSync(dirname(resolve(this.filename)), { recursive: true });
      db = new Database(this.filename, { timeout: this.#busyTimeoutMs });
      db.pragma('journal_mode = WAL');
      db.pragma(`synchronous = ${this.synchronous}`);
      this._state = this.#prepare(db);
    } catch (err) {
      db?.close();
      throw wrapStoreError(`SQLite store: cannot open ${this.filename}`, err);
    }
  }

  async close(): Promise<void> {
    const state = this._state;
    this._state = null;
    if (state === null) return;
    try {
      state.db.close();
    } catch (err) {
      throw wrapStoreError(`SQLite store: cannot close ${this.filename}`, err);
    }
  }

  async load(scope: string): Promise<LoadedScope | null> {
    checkScopeName(scope);
    const state = this.#open_('load');
    try {
      return state.load(scope);
    } catch (err) {
      throw wrapStoreError(`SQLite store: cannot load scope ${JSON.stringify(scope)}`, err);
    }
  }

  async append(records: ChangeRecord[]): Promise<void> {
    const batches = planAppend(records);
    if (batches.length === 0) return;
    const state = this.#open_('append');
    // Encode outside the write lock.
    const rows = records.map((r): [string, number, string] => [r.scope, r.version, encodeFragments(r)]);
    try {
      state.append(batches, rows);
    } catch (err) {
      throw wrapStoreError('SQLite store: cannot append', err);
    }
  }

  async writeSnapshot(snapshot: Snapshot): Promise<void> {
    checkSnapshot(snapshot);
    const state = this.#open_('writeSnapshot');
    const fragments = encodeSnapshotFragments(snapshot);
    try {
      state.writeSnapshot(snapshot, fragments);
    } catch (err) {
      throw wrapStoreError(
        `SQLite store: cannot write the snapshot of ${JSON.stringify(snapshot.scope)}`,
        err,
      );
    }
  }

  async listScopes(): Promise<string[]> {
    const state = this.#open_('listScopes');
    try {
      return state.st.listScopes.all().map((r) => r.name);
    } catch (err) {
      throw wrapStoreError('SQLite store: cannot list scopes', err);
    }
  }

  async deleteScope(scope: string): Promise<void> {
    checkScopeName(scope);
    const state = this.#open_('deleteScope');
    try {
      state.deleteScope(scope);
    } catch (err) {
      throw wrapStoreError(`SQLite store: cannot delete scope ${JSON.stringify(scope)}`, err);
    }
  }

  #open_(what: string): Open {
    if (this._state === null) {
      throw new StoreError(`SQLite store: cannot ${what}: the store is not open (${this.filename})`);
    }
    return this._state;
  }

  #prepare(db: Database.Database): Open {
    const scopes = `${this.#prefix}scopes`;
    const changes = `${this.#prefix}changes`;
    const snapshots = `${this.#prefix}snapshots`;
    // `scopes` holds each scope's latest version: the one row an append must compare and bump,
    // instead of a max() over the changes (which a snapshot prunes).
    db.exec(`
      CREATE TABLE IF NOT EXISTS ${scopes} (
        name TEXT PRIMARY KEY,
        version INTEGER NOT NULL
      ) WITHOUT ROWID;
      CREATE TABLE IF NOT EXISTS ${changes} (
        scope TEXT NOT NULL,
        version INTEGER NOT NULL,
        fragments TEXT NOT NULL,
        PRIMARY KEY (scope, version)
      );
      CREATE TABLE IF NOT EXISTS ${snapshots} (
        scope TEXT PRIMARY KEY,
        version INTEGER NOT NULL,
        root_uuid TEXT NOT NULL,
        fragments TEXT NOT NULL
      );
    `);
    const st: Statements = {
      head: db.prepare(`SELECT version FROM ${scopes} WHERE name = ?`),
      setHead: db.prepare(
        `INSERT INTO ${scopes} (name, version) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET version = excluded.version`,
      ),
      insertChange: db.prepare(`INSERT INTO ${changes} (scope, version, fragments) VALUES (?, ?, ?)`),
      changesAfter: db.prepare(
        `SELECT version, fragments FROM ${changes} WHERE scope = ? AND version > ? ORDER BY version`,
      ),
      snapshot: db.prepare(`SELECT version, root_uuid, fragments FROM ${snapshots} WHERE scope = ?`),
      putSnapshot: db.prepare(
        `INSERT INTO ${snapshots} (scope, version, root_uuid, fragments) VALUES (?, ?, ?, ?)
         ON CONFLICT (scope) DO UPDATE SET version = excluded.version, root_uuid = excluded.root_uuid,
           fragments = excluded.fragments`,
      ),
      pruneChanges: db.prepare(`DELETE FROM ${changes} WHERE scope = ? AND version <= ?`),
      deleteChanges: db.prepare(`DELETE FROM ${changes} WHERE scope = ?`),
      deleteSnapshot: db.prepare(`DELETE FROM ${snapshots} WHERE scope = ?`),
      deleteHead: db.prepare(`DELETE FROM ${scopes} WHERE name = ?`),
      listScopes: db.prepare(`SELECT name FROM ${scopes} ORDER BY name`),
    };

    // IMMEDIATE takes the write lock before reading the head, so the compare-and-bump holds against
    // another process writing the same file.
    const append = db.transaction(
      (batches: ReturnType<typeof planAppend>, rows: [string, number, string][]) => {
        for (const batch of batches) {
          const stored = st.head.get(batch.scope)?.version ?? 0;
          if (stored !== batch.expectedVersion) throw appendConflict(batch, stored);
          st.setHead.run(batch.scope, batch.lastVersion);
        }
        for (const row of rows) st.insertChange.run(row[0], row[1], row[2]);
      },
    );
    const writeSnapshot = db.transaction((snapshot: Snapshot, fragments: string) => {
      const previous = st.snapshot.get(snapshot.scope)?.version;
      if (previous !== undefined && previous > snapshot.version) throw staleSnapshot(snapshot, previous);
      st.putSnapshot.run(snapshot.scope, snapshot.version, snapshot.rootUUID, fragments);
      st.pruneChanges.run(snapshot.scope, snapshot.version);
      const head = st.head.get(snapshot.scope)?.version ?? 0;
      st.setHead.run(snapshot.scope, Math.max(head, snapshot.version));
    });
    // A read transaction: the three reads see one state even if another process writes meanwhile.
    const load = db.transaction((scope: string): LoadedScope | null => {
      const head = st.head.get(scope);
      if (head === undefined) return null;
      const snap = st.snapshot.get(scope);
      const rows = st.changesAfter.all(scope, snap?.version ?? -1);
      return {
        snapshot:
          snap === undefined
            ? null
            : {
                scope,
                version: snap.version,
                rootUUID: snap.root_uuid,
                fragments: JSON.parse(snap.fragments),
              },
        changes: rows.map((r) => ({ scope, version: r.version, fragments: JSON.parse(r.fragments) })),
        version: head.version,
      };
    });
    const deleteScope = db.transaction((scope: string) => {
      st.deleteChanges.run(scope);
      st.deleteSnapshot.run(scope);
      st.deleteHead.run(scope);
    });
    return {
      db,
      st,
      append: (batches, rows) => append.immediate(batches, rows),
      writeSnapshot: (snapshot, fragments) => writeSnapshot.immediate(snapshot, fragments),
      load: (scope) => load.deferred(scope),
      deleteScope: (scope) => deleteScope.immediate(scope),
    };
  }
}
