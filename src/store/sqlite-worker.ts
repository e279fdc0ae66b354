// The worker thread of a SqliteStore (src/store/sqlite.ts): it owns one better-sqlite3
// connection and runs the store's calls on it, one at a time, in the order they were posted.
import { workerData } from 'node:worker_threads';
import { type SqliteConfig, SqliteDb } from './sqlite-db.js';
import type { FoldSchema } from './types.js';
import { serve, Transfer } from './worker.js';

serve(() => {
  const { config, background } = workerData as { config: SqliteConfig; background?: boolean };
  // The worker that appends holds the file's writer lock; the compaction worker only reads.
  const db = SqliteDb.open(config, { writer: background !== true });
  return {
    append: db.append.bind(db),
    writeSnapshot: db.writeSnapshot.bind(db),
    load: db.load.bind(db),
    listScopes: db.listScopes.bind(db),
    deleteScope: db.deleteScope.bind(db),
    compact: db.compact.bind(db),
    // The snapshot's bytes move to the main thread (which hands them to the appends' worker).
    fold: (scope: string, version: number, schema: FoldSchema) => {
      const folded = db.fold(scope, version, schema);
      return folded === null ? null : new Transfer(folded, [folded.fragments.buffer as ArrayBuffer]);
    },
    writeCompacted: db.writeCompacted.bind(db),
    pragma: db.pragma.bind(db),
    close: db.close.bind(db),
  };
});
