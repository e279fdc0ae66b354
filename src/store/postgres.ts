// The PostgreSQL store, through a `pg` Pool, plus one connection of its own for appends.
//
// Fragments are stored as TEXT holding the JSON we already serialized, not JSONB: the server never
// queries inside them, TEXT takes the string as is (JSONB parses and re-encodes it on insert, and on
// read is printed back to text and parsed again), keeps key order, and accepts "\u0000", which
// JSONB refuses. bench/store-append.ts measures the difference.
//
// Versions: `scopes` holds each scope's latest version. An append compares and bumps it in one
// statement (UPDATE … WHERE version = expected, or INSERT for a new scope), the statement that
// inserts the records, and its own transaction: it fails as a whole when one head did not move. A
// second writer either waits on the row lock and then finds the version moved, or finds the row
// inserted; both come out as a StoreConflictError and nothing is stored.
//
// Appends: one round trip each. They go, in call order, on one connection in pipeline mode: the
// next append is written while the previous one is still running (or waiting for its commit's
// fsync), and PostgreSQL runs them one after the other, each in its own transaction. So a group
// commit never waits for the previous group's answer to travel back and through our event loop,
// and appends to one scope keep their order. An append whose predecessor on the same scope failed
// fails too, as the versions it follows were not stored, unless another writer stored exactly
// those versions meanwhile: the check is on versions (docs/persistence.md, "PostgreSQL").
//
// Ordering within this process: calls touching a scope run one after another, in call order (see
// `serialize`), so the server may issue the next group commit before the previous one settled.
// An append waits only until the earlier appends of its scopes are written on the append
// connection; every other call waits until the earlier calls of its scopes have settled.
//
// Compaction (Store.compact) runs in a worker thread with a connection of its own
// (postgres-worker.ts): reading, folding and writing tens of megabytes of JSON would block this
// event loop for a long time. It is not serialized with the other calls: it reads only versions
// that are stored already and writes only the snapshot and changes up to its version, so the
// appends that follow neither wait for it nor conflict with it (the worker's header says how).

import type pg from 'pg';
import { loadOptional, PG } from '../util/optional-module.js';
import { type StoreConflictError, StoreError, wrapStoreError } from './errors.js';
import type { PostgresWorkerData } from './postgres-worker.js';
import {
  appendConflict,
  checkCompact,
  checkScopeName,
  checkSnapshot,
  encodeFragments,
  encodeSnapshotFragments,
  planAppend,
  type ScopeBatch,
  staleSnapshot,
} from './records.js';
import type { ChangeRecord, FoldSchema, LoadedScope, Snapshot, Store } from './types.js';
import { LazyWorker } from './worker.js';

export interface PostgresStoreOptions {
  /** e.g. `postgres://user:pass@host:5432/db` (DATABASE_URL). */
  connectionString: string;
  /** Schema of the tables, created when missing. Default: none (the connection's search_path). */
  schema?: string;
  /** Prefix of the table names. Default `jetstream_`. */
  tablePrefix?: string;
  /** `application_name` of the connections, as pg_stat_activity shows it. Default `jetstream`. */
  applicationName?: string;
  /** Connections in the pool. Default 10. */
  poolSize?: number;
  /** How long to wait for a connection before a call rejects. Default 10,000 ms. */
  connectionTimeoutMillis?: number;
  /**
   * Errors that happen outside any call (an idle connection dropped by the server). They are not
   * fatal: the pool replaces the connection and the next call reports any lasting problem. Default:
   * ignored.
   */
  onError?: (err: StoreError) => void;
}

/**
 * The SQLSTATE the append statement raises when a scope's head did not move (see #appendSql):
 * division_by_zero, which nothing else in that statement can raise. A duplicate (scope, version)
 * (unique_violation) would mean the same, should the heads and the changes ever disagree.
 */
const CONFLICT_CODES = new Set(['22012', '23505']);

interface HeadRow {
  name: string;
  version: string;
}

export class PostgresStore implements Store {
  readonly kind = 'postgres' as const;
  /** Appends are pipelined on one connection (see the header): group commit keeps two in flight. */
  readonly pipelinesAppends = true;
  readonly #options: PostgresStoreOptions;
  readonly #schema: string | undefined;
  readonly #t: { scopes: string; changes: string; snapshots: string };
  #pool: pg.Pool | null = null;
  #opening: Promise<void> | null = null;
  /** Per scope, the last call touching it. */
  readonly #tails = new Map<string, Tail>();
  /** Appends written on the append connection and not answered yet, in the order written. */
  readonly #written: ScopeBatch[][] = [];
  /** The append connection (see the header), opened on first use and replaced once it failed. */
  #appender: Appender | null = null;
  /** The compaction worker, started when needed. */
  readonly #compactor: LazyWorker;
  /** The append statement (see the constructor), prepared once per connection under this name. */
  readonly #appendSql: string;
  readonly #appendName = 'jetstream_append';

  constructor(options: PostgresStoreOptions) {
    if (typeof options?.connectionString !== 'string' || options.connectionString === '') {
      throw new StoreError('PostgreSQL store: the `connectionString` option is required');
    }
    this.#options = options;
    this.#schema = options.schema;
    const prefix = options.tablePrefix ?? 'jetstream_';
    const qualify = (name: string) =>
      this.#schema === undefined
        ? quoteIdent(prefix + name)
        : `${quoteIdent(this.#schema)}.${quoteIdent(prefix + name)}`;
    this.#t = { scopes: qualify('scopes'), changes: qualify('changes'), snapshots: qualify('snapshots') };
    // One statement, sent on its own (no BEGIN/COMMIT round trips): it is its own transaction.
    // It compares and bumps every scope's head and inserts the records only when all of them
    // moved. When one did not, it raises division_by_zero at the end (plain SQL has no RAISE),
    // which rolls the whole statement back, including the heads that did move; append() then
    // reads the heads to name the conflict. Its text does not depend on the records (they come
    // as arrays), so each connection parses and plans it once.
    this.#appendSql = `
      WITH input AS (
        SELECT * FROM unnest($1::text[], $2::int8[], $3::int8[]) AS t(name, expected, next)
      ), upd AS (
        UPDATE ${this.#t.scopes} s SET version = i.next FROM input i
          WHERE s.name = i.name AND s.version = i.expected
          RETURNING s.name
      ), ins AS (
        INSERT INTO ${this.#t.scopes} (name, version)
          SELECT name, next FROM input WHERE expected = 0 AND name NOT IN (SELECT name FROM upd)
          ON CONFLICT (name) DO NOTHING
          RETURNING name
      ), ok AS (
        SELECT (SELECT count(*) FROM upd) + (SELECT count(*) FROM ins) = cardinality($1::text[]) AS moved
      ), rec AS (
        INSERT INTO ${this.#t.changes} (scope, version, fragments)
          SELECT ($4::text[])[f.n], ($5::int8[])[f.n], f.fragments::text
            FROM json_array_elements($6::json) WITH ORDINALITY AS f(fragments, n)
            WHERE (SELECT moved FROM ok)
      )
      SELECT 1 / (SELECT moved FROM ok)::int AS stored`;
    const data: PostgresWorkerData = {
      connectionString: options.connectionString,
      applicationName: options.applicationName ?? 'jetstream',
      connectionTimeoutMillis: options.connectionTimeoutMillis ?? 10_000,
      tables: this.#t,
      background: true,
    };
    this.#compactor = new LazyWorker('postgres-worker', data, 'PostgreSQL store (compaction)');
  }

  async open(): Promise<void> {
    if (this.#pool !== null) return;
    this.#opening ??= this.#connect().finally(() => {
      this.#opening = null;
    });
    return this.#opening;
  }

  async #connect(): Promise<void> {
    const pool = new (loadOptional(PG).Pool)({
      connectionString: this.#options.connectionString,
      application_name: this.#options.applicationName ?? 'jetstream',
      max: this.#options.poolSize ?? 10,
      connectionTimeoutMillis: this.#options.connectionTimeoutMillis ?? 10_000,
    });
    // Without a listener, an idle connection dropped by the server would crash the process.
    pool.on('error', (err) => {
      this.#options.onError?.(wrapStoreError('PostgreSQL store: idle connection failed', err));
    });
    try {
      await withTransaction(pool, async (client) => {
        // Several processes may open the same database at once; CREATE … IF NOT EXISTS alone races.
        await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [
          `jetstream-schema:${this.#t.scopes}`,
        ]);
        if (this.#schema !== undefined) {
          const found = await client.query('SELECT 1 FROM pg_namespace WHERE nspname = $1', [this.#schema]);
          if (found.rowCount === 0) await client.query(`CREATE SCHEMA ${quoteIdent(this.#schema)}`);
        }
        await client.query(`
          CREATE TABLE IF NOT EXISTS ${this.#t.scopes} (
            name TEXT PRIMARY KEY,
            version BIGINT NOT NULL
          );
          CREATE TABLE IF NOT EXISTS ${this.#t.changes} (
            scope TEXT NOT NULL,
            version BIGINT NOT NULL,
            fragments TEXT NOT NULL,
            PRIMARY KEY (scope, version)
          );
          CREATE TABLE IF NOT EXISTS ${this.#t.snapshots} (
            scope TEXT PRIMARY KEY,
            version BIGINT NOT NULL,
            root_uuid TEXT NOT NULL,
            fragments TEXT NOT NULL
          );`);
      });
    } catch (err) {
      await pool.end().catch(() => undefined);
      throw wrapStoreError('PostgreSQL store: cannot open', err);
    }
    this.#pool = pool;
  }

  async close(): Promise<void> {
    await this.#opening?.catch(() => undefined);
    const pool = this.#pool;
    if (pool === null) return;
    await Promise.all([...this.#tails.values()].map((t) => t.settled));
    this.#pool = null;
    const appender = this.#appender;
    this.#appender = null;
    await appender?.client.end().catch(() => undefined);
    // After the compactions in flight (the worker runs `close` after them).
    await this.#compactor.stop().catch(() => undefined);
    await pool.end().catch((err) => {
      throw wrapStoreError('PostgreSQL store: cannot close', err);
    });
  }

  async load(scope: string): Promise<LoadedScope | null> {
    checkScopeName(scope);
    const pool = this.#pool_('load');
    return this.#serialize([scope], async () => {
      // One statement, so the three parts come from one consistent view.
      const sql = `
        SELECT 0 AS kind, version, NULL AS root_uuid, NULL AS fragments FROM ${this.#t.scopes} WHERE name = $1
        UNION ALL
        SELECT 1, version, root_uuid, fragments FROM ${this.#t.snapshots} WHERE scope = $1
        UNION ALL
        SELECT 2, c.version, NULL, c.fragments FROM ${this.#t.changes} c
          WHERE c.scope = $1
            AND c.version > coalesce((SELECT version FROM ${this.#t.snapshots} WHERE scope = $1), -1)
        ORDER BY kind, version`;
      try {
        const { rows } = await pool.query<{
          kind: number;
          version: string;
          root_uuid: string | null;
          fragments: string | null;
        }>(sql, [scope]);
        const head = rows[0];
        if (head === undefined || head.kind !== 0) return null;
        const loaded: LoadedScope = { snapshot: null, changes: [], version: Number(head.version) };
        for (let i = 1; i < rows.length; i++) {
          const row = rows[i]!;
          const fragments = JSON.parse(row.fragments ?? '[]');
          if (row.kind === 1) {
            loaded.snapshot = {
              scope,
              version: Number(row.version),
              rootUUID: row.root_uuid ?? '',
              fragments,
            };
          } else {
            loaded.changes.push({ scope, version: Number(row.version), fragments });
          }
        }
        return loaded;
      } catch (err) {
        throw wrapStoreError(`PostgreSQL store: cannot load scope ${JSON.stringify(scope)}`, err);
      }
    });
  }

  async append(records: ChangeRecord[]): Promise<void> {
    const batches = planAppend(records);
    if (batches.length === 0) return;
    const pool = this.#pool_('append');
    const params = appendParams(batches, records);
    await this.#serialize(
      batches.map((b) => b.scope),
      async (sent) => {
        let appender: Appender;
        let query: Promise<unknown>;
        try {
          appender = await this.#appendConnection();
          query = appender.client.query({ name: this.#appendName, text: this.#appendSql, values: params });
          appender.pending++;
          this.#written.push(batches);
        } catch (err) {
          throw wrapStoreError('PostgreSQL store: cannot append', err);
        } finally {
          sent();
        }
        try {
          await query;
        } catch (err) {
          if (!isAppendConflict(err)) throw wrapStoreError('PostgreSQL store: cannot append', err);
          // Taken now: the appends written after this one have not been answered yet.
          const later = this.#written.slice(this.#written.indexOf(batches) + 1).flat();
          throw await this.#conflict(pool, batches, later).catch((e: unknown) => {
            throw wrapStoreError('PostgreSQL store: cannot append', e);
          });
        } finally {
          appender.pending--;
          const at = this.#written.indexOf(batches);
          if (at >= 0) this.#written.splice(at, 1);
        }
      },
      true,
    );
  }

  /**
   * The append connection, connected. Callers that ask while it connects get it in the order they
   * asked (they all wait for the same promise), so their appends are written in that order.
   */
  #appendConnection(): Promise<Appender> {
    const current = this.#appender;
    if (current !== null && !current.broken) return current.ready;
    const client = new (loadOptional(PG).Client)({
      connectionString: this.#options.connectionString,
      application_name: this.#options.applicationName ?? 'jetstream',
      connectionTimeoutMillis: this.#options.connectionTimeoutMillis ?? 10_000,
      pipeline: true,
    });
    const appender: Appender = {
      client,
      ready: null as unknown as Promise<Appender>,
      pending: 0,
      broken: false,
    };
    // A failed connection fails the appends written on it (each rejects with the error); the next
    // append opens a new one. When none was pending, nobody else hears of it: report it as the
    // pool's idle connections are.
    client.on('error', (err) => {
      appender.broken = true;
      if (appender.pending === 0) {
        this.#options.onError?.(wrapStoreError('PostgreSQL store: idle connection failed', err));
      }
    });
    appender.ready = client.connect().then(
      () => appender,
      (err: unknown) => {
        appender.broken = true;
        throw err;
      },
    );
    // Not observed by anyone when the store closes before using it.
    appender.ready.catch(() => undefined);
    if (current !== null) void current.client.end().catch(() => undefined);
    this.#appender = appender;
    return appender.ready;
  }

  /**
   * The conflict of a rejected append: the first of its scopes whose head was not as expected.
   * The heads are read after the failure, when this store's appends written behind it (`later`)
   * may have moved some of them: a head that one of those set is not the conflict.
   */
  async #conflict(pool: pg.Pool, batches: ScopeBatch[], later: ScopeBatch[]): Promise<StoreConflictError> {
    const { rows } = await pool.query<HeadRow>(
      `SELECT name, version FROM ${this.#t.scopes} WHERE name = ANY($1::text[])`,
      [batches.map((b) => b.scope)],
    );
    const heads = new Map(rows.map((r) => [r.name, Number(r.version)]));
    const moved = (b: ScopeBatch) => (heads.get(b.scope) ?? 0) !== b.expectedVersion;
    const ours = (b: ScopeBatch) =>
      later.some((l) => l.scope === b.scope && l.lastVersion === heads.get(b.scope));
    const failed = batches.find((b) => moved(b) && !ours(b)) ?? batches.find(moved) ?? batches[0]!;
    return appendConflict(failed, heads.get(failed.scope) ?? 0);
  }

  async writeSnapshot(snapshot: Snapshot): Promise<void> {
    checkSnapshot(snapshot);
    const pool = this.#pool_('writeSnapshot');
    const fragments = encodeSnapshotFragments(snapshot);
    // One statement, hence one transaction: replace the snapshot unless ours is older, then bump the
    // head and prune, both only when the snapshot was written.
    const sql = `
      WITH prev AS (
        SELECT version FROM ${this.#t.snapshots} WHERE scope = $1
      ), snap AS (
        INSERT INTO ${this.#t.snapshots} AS sn (scope, version, root_uuid, fragments) VALUES ($1, $2, $3, $4)
          ON CONFLICT (scope) DO UPDATE
            SET version = EXCLUDED.version, root_uuid = EXCLUDED.root_uuid, fragments = EXCLUDED.fragments
            WHERE sn.version <= EXCLUDED.version
          RETURNING 1
      ), head AS (
        INSERT INTO ${this.#t.scopes} AS h (name, version) SELECT $1, $2 WHERE EXISTS (SELECT 1 FROM snap)
          ON CONFLICT (name) DO UPDATE SET version = GREATEST(h.version, EXCLUDED.version)
      ), pruned AS (
        DELETE FROM ${this.#t.changes} WHERE scope = $1 AND version <= $2 AND EXISTS (SELECT 1 FROM snap)
      )
      SELECT (SELECT count(*) FROM snap)::int AS written, (SELECT version FROM prev) AS previous`;
    await this.#serialize([snapshot.scope], async () => {
      let row: { written: number; previous: string | null } | undefined;
      try {
        row = (await pool.query(sql, [snapshot.scope, snapshot.version, snapshot.rootUUID, fragments]))
          .rows[0];
      } catch (err) {
        throw wrapStoreError(
          `PostgreSQL store: cannot write the snapshot of ${JSON.stringify(snapshot.scope)}`,
          err,
        );
      }
      if (row?.written !== 1) throw staleSnapshot(snapshot, Number(row?.previous ?? Number.NaN));
    });
  }

  async compact(scope: string, version: number, schema: FoldSchema): Promise<void> {
    checkCompact(scope, version, schema);
    this.#pool_('compact');
    try {
      await this.#compactor.call('compact', [scope, version, schema]);
    } catch (err) {
      throw wrapStoreError(`PostgreSQL store: cannot compact scope ${JSON.stringify(scope)}`, err);
    }
  }

  async listScopes(): Promise<string[]> {
    const pool = this.#pool_('listScopes');
    try {
      // COLLATE "C": code-unit order, the same as the other stores, whatever the database locale.
      const result = await pool.query<{ name: string }>(
        `SELECT name FROM ${this.#t.scopes} ORDER BY name COLLATE "C"`,
      );
      return result.rows.map((r) => r.name);
    } catch (err) {
      throw wrapStoreError('PostgreSQL store: cannot list scopes', err);
    }
  }

  async deleteScope(scope: string): Promise<void> {
    checkScopeName(scope);
    const pool = this.#pool_('deleteScope');
    const sql = `
      WITH c AS (DELETE FROM ${this.#t.changes} WHERE scope = $1),
           s AS (DELETE FROM ${this.#t.snapshots} WHERE scope = $1)
      DELETE FROM ${this.#t.scopes} WHERE name = $1`;
    await this.#serialize([scope], async () => {
      try {
        await pool.query(sql, [scope]);
      } catch (err) {
        throw wrapStoreError(`PostgreSQL store: cannot delete scope ${JSON.stringify(scope)}`, err);
      }
    });
  }

  /** Drops the store's tables (and its schema, when it has one). For tests and admin. */
  async drop(): Promise<void> {
    const pool = this.#pool_('drop');
    try {
      if (this.#schema !== undefined) {
        await pool.query(`DROP SCHEMA IF EXISTS ${quoteIdent(this.#schema)} CASCADE`);
      } else {
        await pool.query(`DROP TABLE IF EXISTS ${this.#t.changes}, ${this.#t.snapshots}, ${this.#t.scopes}`);
      }
    } catch (err) {
      throw wrapStoreError('PostgreSQL store: cannot drop', err);
    }
  }

  #pool_(what: string): pg.Pool {
    if (this.#pool === null) throw new StoreError(`PostgreSQL store: cannot ${what}: the store is not open`);
    return this.#pool;
  }

  /**
   * Runs `fn` once every earlier call touching any of `scopes` has settled, so calls on one scope
   * reach the database in call order even though the pool runs them on different connections.
   * A `pipelined` call (an append) waits only until the earlier appends of those scopes are
   * written on the append connection (their `sent`): that connection keeps their order. Its `fn`
   * calls `sent` once its own statement is written, or once it knows it will not be.
   */
  #serialize<T>(scopes: string[], fn: (sent: () => void) => Promise<T>, pipelined = false): Promise<T> {
    const before: Promise<void>[] = [];
    for (const scope of scopes) {
      const tail = this.#tails.get(scope);
      if (tail !== undefined) before.push(pipelined ? tail.sent : tail.settled);
    }
    let markSent!: () => void;
    const sent = pipelined ? new Promise<void>((resolve) => (markSent = resolve)) : null;
    const call = () => fn(markSent ?? (() => undefined));
    const run = before.length === 0 ? call() : Promise.all(before).then(call);
    const settled = run.then(
      () => undefined,
      () => undefined,
    );
    const tail: Tail = { settled, sent: sent ?? settled };
    for (const scope of scopes) this.#tails.set(scope, tail);
    void settled.then(() => {
      for (const scope of scopes) if (this.#tails.get(scope) === tail) this.#tails.delete(scope);
    });
    return run;
  }
}

/** The last call touching a scope (see #serialize). */
interface Tail {
  /** When it has settled. */
  settled: Promise<void>;
  /** An append: when its statement is written on the append connection; otherwise `settled`. */
  sent: Promise<void>;
}

/** The connection appends are written on (see the header), in pipeline mode. */
interface Appender {
  client: pg.Client;
  /** Resolves once connected; rejects when the connection could not be made. */
  ready: Promise<Appender>;
  /** Appends written on it and not answered yet. */
  pending: number;
  /** It failed: the next append opens another one. */
  broken: boolean;
}

/**
 * The parameters of the append statement: per scope its name, expected and next version; per
 * record its scope and version, and the fragment texts as one JSON array of them (`[t1,t2,…]`),
 * which needs no escaping (a text[] parameter would escape every quote of every text).
 */
function appendParams(batches: ScopeBatch[], records: ChangeRecord[]): unknown[] {
  const texts = records.map((r) => encodeFragments(r));
  return [
    batches.map((b) => b.scope),
    batches.map((b) => b.expectedVersion),
    batches.map((b) => b.lastVersion),
    records.map((r) => r.scope),
    records.map((r) => r.version),
    `[${texts.join(',')}]`,
  ];
}

function isAppendConflict(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && CONFLICT_CODES.has(code);
}

/**
 * BEGIN … COMMIT on one pooled connection. While we hold the connection the pool does not listen
 * for its errors, so we do: a connection lost mid-transaction must reject this call, not crash the
 * process. A connection in doubt is destroyed rather than returned to the pool.
 */
async function withTransaction<T>(pool: pg.Pool, fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  let broken: Error | undefined;
  const onError = (err: Error) => {
    broken = err;
  };
  client.on('error', onError);
  try {
    await client.query('BEGIN');
    const result = await fn(client);
    await client.query('COMMIT');
    return result;
  } catch (err) {
    await client.query('ROLLBACK').catch((rollbackErr: Error) => {
      broken ??= rollbackErr;
    });
    throw err;
  } finally {
    client.off('error', onError);
    client.release(broken);
  }
}

function quoteIdent(name: string): string {
  if (name.length === 0 || name.includes('\u0000'))
    throw new StoreError(`Invalid SQL identifier ${JSON.stringify(name)}`);
  return `"${name.replace(/"/g, '""')}"`;
}
