// store/ — durable storage of scopes: the Store interface and its three implementations (memory
// for tests, SQLite as the embedded default, PostgreSQL), plus the factory that picks one from
// options or the environment. A store keeps change records (one per accepted changeset, group
// committed) and snapshots, which a store can compute itself from what it stored (fold.ts,
// Store.compact), in worker threads (worker.ts); the in-memory scope stays the source of truth for
// reads.
//
// It must not import server/, transport/, scope/ or client/ code: it knows fragments only as JSON
// data, so it can be tested, and swapped, on its own. Every implementation passes the one
// conformance suite in test/store/conformance.ts.

export { DelegatingStore } from './delegating.js';
export { StoreConflictError, StoreError } from './errors.js';
export { createStore, type StoreFromEnvOptions, type StoreOptions, storeFromEnv } from './factory.js';
export { type FoldedState, Folder, fold, foldStored } from './fold.js';
export { MemoryStore, MemoryStoreData, type MemoryStoreOptions } from './memory.js';
export { PostgresStore, type PostgresStoreOptions } from './postgres.js';
export { SqliteStore, type SqliteStoreOptions, type SqliteSynchronous } from './sqlite.js';
export type {
  ChangeRecord,
  FoldClass,
  FoldSchema,
  LoadedScope,
  Snapshot,
  Store,
  StoredFragment,
  StoreKind,
} from './types.js';
