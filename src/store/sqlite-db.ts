// The SQLite database of a SqliteStore: tables, statements and transactions, on one
// better-sqlite3 connection. Synchronous, as the driver is: it runs in the store's worker thread
// (sqlite-worker.ts), never on the server's event loop.

import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type Database from 'better-sqlite3';
import { BETTER_SQLITE3, loadOptional } from '../util/optional-module.js';
import { foldStored } from './fold.js';
import {
  appendConflict,
  checkCompactable,
  checkContiguous,
  type ScopeBatch,
  staleSnapshot,
} from './records.js';
import type { FoldSchema } from './types.js';

export type SqliteSynchronous = 'OFF' | 'NORMAL' | 'FULL' | 'EXTRA';

/** What a connection is opened with (SqliteStore's options, checked). */
export interface SqliteConfig {
  filename: string;
  synchronous: SqliteSynchronous;
  tablePrefix: string;
  busyTimeoutMs: number;
  /** Take the file's writer lock (see openLock) in the connection that appends. */
  lock: boolean;
}

/** A loaded scope with its fragments still as stored JSON text (parsed by the caller). */
export interface LoadedTexts {
  version: number;
  snapshot: { version: number; rootUUID: string; fragments: string } | null;
  changes: { version: number; fragments: string }[];
}

/** A snapshot to write, its fragments already JSON text. */
export interface SnapshotText {
  scope: string;
  version: number;
  rootUUID: string;
  fragments: string;
}

interface Statements {
  head: Database.Statement<[string], { version: number }>;
  setHead: Database.Statement<[string, number]>;
  insertChange: Database.Statement<[string, number, string]>;
  changesAfter: Database.Statement<[string, number], { version: number; fragments: string }>;
  changesUpTo: Database.Statement<[string, number, number], { version: number; fragments: string }>;
  snapshotVersion: Database.Statement<[string], { version: number }>;
  snapshot: Database.Statement<[string], { version: number; root_uuid: string; fragments: string }>;
  putSnapshot: Database.Statement<[string, number, string, string]>;
  pruneChanges: Database.Statement<[string, number]>;
  deleteChanges: Database.Statement<[string]>;
  deleteSnapshot: Database.Statement<[string]>;
  deleteHead: Database.Statement<[string]>;
  listScopes: Database.Statement<[], { name: string }>;
}

export class SqliteDb {
  readonly db: Database.Database;
  readonly #st: Statements;
  readonly #append: (batches: ScopeBatch[], rows: [string, number, string][]) => void;
  readonly #writeSnapshot: (snapshot: SnapshotText) => void;
  readonly #load: (scope: string) => LoadedTexts | null;
  readonly #deleteScope: (scope: string) => void;
  readonly #readForCompaction: (scope: string, version: number) => Compaction | null;
  readonly #writeCompacted: (
    scope: string,
    version: number,
    base: number,
    rootUUID: string,
    text: string,
  ) => void;

  /**
   * Opens (creating the file, its directory and the tables when missing). Throws the driver's
   * error. `writer`: this connection appends; it also takes the file's writer lock when the
   * config asks for it (see openLock), and holds it for as long as it is open.
   */
  static open(config: SqliteConfig, options: { writer?: boolean } = {}): SqliteDb {
    let db: Database.Database | undefined;
    let lock: Database.Database | null = null;
    try {
      if (config.filename !== ':memory:') {
        mkdirSync(dirname(resolve(config.filename)), { recursive: true });
        if (options.writer && config.lock) lock = openLock(config);
      }
      db = new (loadOptional(BETTER_SQLITE3))(config.filename, { timeout: config.busyTimeoutMs });
      db.pragma('journal_mode = WAL');
      db.pragma(`synchronous = ${config.synchronous}`);
      return new SqliteDb(db, config.tablePrefix, lock);
    } catch (err) {
      db?.close();
      lock?.close();
      throw err;
    }
  }

  readonly #lock: Database.Database | null;

  private constructor(db: Database.Database, prefix: string, lock: Database.Database | null) {
    this.db = db;
    this.#lock = lock;
    const scopes = `${prefix}scopes`;
    const changes = `${prefix}changes`;
    const snapshots = `${prefix}snapshots`;
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
      changesUpTo: db.prepare(
        `SELECT version, fragments FROM ${changes} WHERE scope = ? AND version > ? AND version <= ? ORDER BY version`,
      ),
      snapshotVersion: db.prepare(`SELECT version FROM ${snapshots} WHERE scope = ?`),
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
    this.#st = st;

    // IMMEDIATE takes the write lock before reading the head, so the compare-and-bump holds against
    // another process writing the same file.
    const append = db.transaction((batches: ScopeBatch[], rows: [string, number, string][]) => {
      for (const batch of batches) {
        const stored = st.head.get(batch.scope)?.version ?? 0;
        if (stored !== batch.expectedVersion) throw appendConflict(batch, stored);
        st.setHead.run(batch.scope, batch.lastVersion);
      }
      for (const row of rows) st.insertChange.run(row[0], row[1], row[2]);
    });
    this.#append = (batches, rows) => append.immediate(batches, rows);
    const writeSnapshot = db.transaction((snapshot: SnapshotText) => {
      const previous = st.snapshotVersion.get(snapshot.scope)?.version;
      if (previous !== undefined && previous > snapshot.version) throw staleSnapshot(snapshot, previous);
      st.putSnapshot.run(snapshot.scope, snapshot.version, snapshot.rootUUID, snapshot.fragments);
      st.pruneChanges.run(snapshot.scope, snapshot.version);
      const head = st.head.get(snapshot.scope)?.version ?? 0;
      st.setHead.run(snapshot.scope, Math.max(head, snapshot.version));
    });
    this.#writeSnapshot = (snapshot) => writeSnapshot.immediate(snapshot);
    // A read transaction: the three reads see one state even if another process writes meanwhile.
    const load = db.transaction((scope: string): LoadedTexts | null => {
      const head = st.head.get(scope);
      if (head === undefined) return null;
      const snap = st.snapshot.get(scope);
      return {
        version: head.version,
        snapshot:
          snap === undefined
            ? null
            : { version: snap.version, rootUUID: snap.root_uuid, fragments: snap.fragments },
        changes: st.changesAfter.all(scope, snap?.version ?? -1),
      };
    });
    this.#load = (scope) => load.deferred(scope);
    const deleteScope = db.transaction((scope: string) => {
      st.deleteChanges.run(scope);
      st.deleteSnapshot.run(scope);
      st.deleteHead.run(scope);
    });
    this.#deleteScope = (scope) => deleteScope.immediate(scope);
    // Compaction reads in one read transaction (on any connection), and writes the folded result
    // in an IMMEDIATE one (on the connection of the appends, see sqlite.ts).
    const readForCompaction = db.transaction((scope: string, version: number): Compaction | null => {
      const snap = st.snapshot.get(scope);
      checkCompactable(scope, version, st.head.get(scope)?.version, snap?.version);
      if (snap === undefined || snap.version >= version) return null;
      const rows = st.changesUpTo.all(scope, snap.version, version);
      checkContiguous(scope, snap.version, version, rows);
      return { base: snap.version, rootUUID: snap.root_uuid, snapshot: snap.fragments, changes: rows };
    });
    this.#readForCompaction = (scope, version) => readForCompaction.deferred(scope, version);
    const writeCompacted = db.transaction(
      (scope: string, version: number, base: number, rootUUID: string, text: string) => {
        // Written only over what it was computed from, or a snapshot between that and `version`
        // (the same state, differently reached). Not over a newer snapshot, and not into a scope
        // deleted meanwhile.
        const head = st.head.get(scope)?.version;
        const current = st.snapshotVersion.get(scope)?.version;
        if (head === undefined || head < version || current === undefined) return;
        if (current < base || current >= version) return;
        st.putSnapshot.run(scope, version, rootUUID, text);
        st.pruneChanges.run(scope, version);
      },
    );
    this.#writeCompacted = (scope, version, base, rootUUID, text) =>
      writeCompacted.immediate(scope, version, base, rootUUID, text);
  }

  append(batches: ScopeBatch[], rows: [string, number, string][]): void {
    this.#append(batches, rows);
  }

  writeSnapshot(snapshot: SnapshotText): void {
    this.#writeSnapshot(snapshot);
  }

  load(scope: string): LoadedTexts | null {
    return this.#load(scope);
  }

  listScopes(): string[] {
    return this.#st.listScopes.all().map((r) => r.name);
  }

  deleteScope(scope: string): void {
    this.#deleteScope(scope);
  }

  /**
   * The first half of Store.compact, on any connection: reads what is stored up to `version` and
   * folds it (fold.ts). Returns null when the stored snapshot is at `version` or later. The
   * snapshot's JSON comes as UTF-8 bytes, whose buffer moves to another thread without a copy.
   */
  fold(scope: string, version: number, schema: FoldSchema): Folded | null {
    const read = this.#readForCompaction(scope, version);
    if (read === null) return null;
    const folded = foldStored(
      schema,
      { rootUUID: read.rootUUID, fragments: read.snapshot },
      read.changes.map((c) => c.fragments),
    );
    return {
      base: read.base,
      rootUUID: folded.rootUUID,
      fragments: new TextEncoder().encode(folded.fragments),
    };
  }

  /**
   * The second half: writes a folded snapshot at `version` and prunes the changes it covers,
   * unless the stored snapshot moved past it or the scope was deleted meanwhile.
   */
  writeCompacted(scope: string, version: number, folded: Folded): void {
    const f = folded.fragments;
    const text = Buffer.from(f.buffer, f.byteOffset, f.byteLength).toString('utf8');
    this.#writeCompacted(scope, version, folded.base, folded.rootUUID, text);
  }

  /** Store.compact on this one connection: both halves. */
  compact(scope: string, version: number, schema: FoldSchema): void {
    const folded = this.fold(scope, version, schema);
    if (folded !== null) this.writeCompacted(scope, version, folded);
  }

  /** Tests: reads or sets a pragma on this connection (a read-only database, the journal mode). */
  pragma(source: string): unknown {
    return this.db.pragma(source, { simple: true });
  }

  close(): void {
    this.db.close();
    this.#lock?.close();
  }
}

/** SQLite's answer when another connection holds a lock. */
const BUSY = /SQLITE_BUSY|database is locked/i;

/**
 * The writer lock of a SQLite file (docs/persistence.md, "SQLite"): one process appends to a
 * file's tables, since a second one would only meet version conflicts. The lock is a tiny
 * database beside the file, `<file>.<tablePrefix>lock`, written once in SQLite's exclusive
 * locking mode, so that its connection keeps an exclusive lock on it until it is closed. It is
 * the operating system's file lock, released when the process ends however it ends (kill -9
 * included): no stale lock file to clean up. Throws a clear error when another process has it.
 */
function openLock(config: SqliteConfig): Database.Database {
  const path = `${config.filename}.${config.tablePrefix}lock`;
  // A process shutting down may hold it a moment longer: wait a little, not the full busy timeout.
  const lock = new (loadOptional(BETTER_SQLITE3))(path, { timeout: Math.min(config.busyTimeoutMs, 2000) });
  try {
    lock.pragma('locking_mode = EXCLUSIVE');
    lock.exec('CREATE TABLE IF NOT EXISTS holder (pid INTEGER NOT NULL, since TEXT NOT NULL)');
    lock.prepare('DELETE FROM holder').run();
    lock.prepare('INSERT INTO holder (pid, since) VALUES (?, ?)').run(process.pid, new Date().toISOString());
    return lock;
  } catch (err) {
    lock.close();
    if (BUSY.test(String((err as Error).message)) || (err as { code?: string }).code === 'SQLITE_BUSY') {
      throw new Error(
        `${config.filename} is in use by another process (it holds ${path}): one process serves a SQLite file; to run several, use PostgreSQL and Redis (docs/cluster.md)`,
      );
    }
    throw err;
  }
}

/** A snapshot folded by `fold`, to be written by `writeCompacted`. */
export interface Folded {
  /** The version of the stored snapshot it was computed from. */
  base: number;
  rootUUID: string;
  /** The JSON text of its fragments, UTF-8. */
  fragments: Uint8Array;
}

interface Compaction {
  base: number;
  rootUUID: string;
  snapshot: string;
  changes: { version: number; fragments: string }[];
}
