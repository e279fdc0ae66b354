// The compaction worker of a PostgresStore (src/store/postgres.ts): Store.compact reads tens of
// megabytes of stored JSON, folds it (fold.ts) and writes the result. On the server's event
// loop, receiving those rows alone (the driver decodes every text field there) and parsing them
// would block it for a long time, so this thread does all of it on a connection of its own; the
// store only posts the call.

import { workerData } from 'node:worker_threads';
import type pg from 'pg';
import { loadOptional, PG } from '../util/optional-module.js';
import { foldStored } from './fold.js';
import { checkCompactable, checkContiguous } from './records.js';
import type { FoldSchema } from './types.js';
import { serve } from './worker.js';

/** What the store hands its worker. */
export interface PostgresWorkerData {
  connectionString: string;
  applicationName: string;
  connectionTimeoutMillis: number;
  /** The store's table names, quoted and qualified. */
  tables: { scopes: string; changes: string; snapshots: string };
  /** Run at a lower CPU priority than the event loop (see worker.ts). */
  background: boolean;
}

serve(() => {
  const data = workerData as PostgresWorkerData;
  const t = data.tables;
  let client: pg.Client | null = null;
  let broken = false;

  /** One connection, opened on first use and replaced once it failed. */
  async function connection(): Promise<pg.Client> {
    if (client !== null && !broken) return client;
    const old = client;
    client = null;
    await old?.end().catch(() => undefined);
    const c = new (loadOptional(PG).Client)({
      connectionString: data.connectionString,
      application_name: data.applicationName,
      connectionTimeoutMillis: data.connectionTimeoutMillis,
    });
    broken = false;
    // Without a listener, a connection dropped by the server would end the thread.
    c.on('error', () => {
      broken = true;
    });
    try {
      await c.connect();
    } catch (err) {
      await c.end().catch(() => undefined);
      throw err;
    }
    client = c;
    return c;
  }

  // One statement, so the head, the snapshot and the changes come from one consistent view. The
  // snapshot's text is read only when it is older than `version` (otherwise there is nothing to do).
  const read = `
    SELECT 0 AS kind, version, NULL AS root_uuid, NULL AS fragments FROM ${t.scopes} WHERE name = $1
    UNION ALL
    SELECT 1, version, root_uuid, CASE WHEN version < $2 THEN fragments END FROM ${t.snapshots} WHERE scope = $1
    UNION ALL
    SELECT 2, c.version, NULL, c.fragments FROM ${t.changes} c
      WHERE c.scope = $1 AND c.version <= $2
        AND c.version > coalesce((SELECT version FROM ${t.snapshots} WHERE scope = $1), -1)
    ORDER BY kind, version`;
  // Written only over the snapshot it was computed from (or one between that and `version`: the
  // same state), never over a newer one nor into a scope deleted meanwhile. The head is locked
  // FOR KEY SHARE, which an append's update of the version does not wait for, but a deleteScope
  // does. The changes pruned are all <= version: appends only add later ones.
  const write = `
    WITH head AS (
      SELECT version FROM ${t.scopes} WHERE name = $1 AND version >= $2 FOR KEY SHARE
    ), snap AS (
      UPDATE ${t.snapshots} SET version = $2, root_uuid = $3, fragments = $4
        WHERE scope = $1 AND version >= $5 AND version < $2 AND EXISTS (SELECT 1 FROM head)
        RETURNING 1
    ), pruned AS (
      DELETE FROM ${t.changes} WHERE scope = $1 AND version <= $2 AND EXISTS (SELECT 1 FROM snap)
    )
    SELECT (SELECT count(*) FROM snap)::int AS written`;

  return {
    async compact(scope: string, version: number, schema: FoldSchema): Promise<void> {
      const c = await connection();
      const { rows } = await c.query<{
        kind: number;
        version: string;
        root_uuid: string | null;
        fragments: string | null;
      }>(read, [scope, version]);
      const head = rows[0]?.kind === 0 ? Number(rows[0].version) : undefined;
      const snap = rows.find((r) => r.kind === 1);
      checkCompactable(scope, version, head, snap === undefined ? undefined : Number(snap.version));
      const base = Number(snap!.version);
      if (base >= version) return;
      const changes = rows.filter((r) => r.kind === 2);
      checkContiguous(scope, base, version, changes);
      const folded = foldStored(
        schema,
        { rootUUID: snap!.root_uuid ?? '', fragments: snap!.fragments ?? '[]' },
        changes.map((r) => r.fragments ?? '[]'),
      );
      rows.length = 0; // the texts can go before the result is sent
      await c.query(write, [scope, version, folded.rootUUID, folded.fragments, base]);
    },
    async close(): Promise<void> {
      const c = client;
      client = null;
      await c?.end();
    },
  };
});
