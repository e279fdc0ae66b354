import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import pg from 'pg';
import { createStore, PostgresStore, StoreError } from '../../src/store/index.js';
import { freePort, randomSchemaName, startTestPostgres, type TestPostgres } from '../helpers/postgres.js';
import { waitFor } from '../helpers/wait.js';
import { runStoreConformance } from './conformance.js';

let server: TestPostgres | undefined;
const schemas: string[] = [];

before(async () => {
  // Throws when no PostgreSQL can be had: these tests then fail, they do not skip.
  server = await startTestPostgres();
});

after(async () => {
  if (server === undefined) return;
  const client = new pg.Client({ connectionString: server.connectionString });
  client.on('error', () => {});
  await client.connect();
  for (const schema of schemas) await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  await client.end();
  await server.stop();
});

function url(): string {
  assert.ok(server, 'no PostgreSQL server');
  return server.connectionString;
}

function newSchema(): string {
  const schema = randomSchemaName();
  schemas.push(schema);
  return schema;
}

const conformanceSchema = newSchema();
runStoreConformance(
  'postgres',
  async () => new PostgresStore({ connectionString: url(), schema: conformanceSchema }),
  async () => {
    const store = new PostgresStore({ connectionString: url(), schema: conformanceSchema });
    await store.open();
    await store.drop();
    await store.close();
  },
);

test('PostgresStore: schemas keep stores apart; tables are created in the schema', async () => {
  const [a, b] = [newSchema(), newSchema()];
  const one = new PostgresStore({ connectionString: url(), schema: a });
  const two = new PostgresStore({ connectionString: url(), schema: b, tablePrefix: 'js_' });
  await Promise.all([one.open(), two.open()]);
  await one.append([{ scope: 's', version: 1, fragments: [] }]);
  assert.equal(await two.load('s'), null);
  const client = new pg.Client({ connectionString: url() });
  await client.connect();
  const tables = await client.query<{ schemaname: string; tablename: string }>(
    'SELECT schemaname, tablename FROM pg_tables WHERE schemaname = ANY($1) ORDER BY 1, 2',
    [[a, b]],
  );
  await client.end();
  assert.deepEqual(tables.rows.map((r) => `${r.schemaname === a ? 'a' : 'b'}.${r.tablename}`).sort(), [
    'a.jetstream_changes',
    'a.jetstream_scopes',
    'a.jetstream_snapshots',
    'b.js_changes',
    'b.js_scopes',
    'b.js_snapshots',
  ]);
  await Promise.all([one.close(), two.close()]);
});

test('PostgresStore: concurrent open() of several instances on a new schema', async () => {
  const schema = newSchema();
  const stores = Array.from({ length: 4 }, () => new PostgresStore({ connectionString: url(), schema }));
  await Promise.all(stores.map((s) => s.open()));
  await Promise.all(stores.map((s) => s.open()));
  await stores[0]!.append([{ scope: 's', version: 1, fragments: [] }]);
  assert.equal((await stores[3]!.load('s'))!.version, 1);
  await Promise.all(stores.map((s) => s.close()));
});

test('PostgresStore: an unreachable server rejects open and calls with a clear error, no crash', async () => {
  const port = await freePort();
  const store = new PostgresStore({ connectionString: `postgres://postgres@127.0.0.1:${port}/none` });
  await assert.rejects(store.open(), (err: unknown) => {
    assert.ok(err instanceof StoreError);
    assert.match(err.message, /PostgreSQL store: cannot open: .*ECONNREFUSED/);
    return true;
  });
  await assert.rejects(
    store.append([{ scope: 's', version: 1, fragments: [] }]),
    /PostgreSQL store: cannot append: the store is not open/,
  );
  await store.close();
});

test('PostgresStore: a server that goes away after open rejects append clearly, and recovers', async () => {
  const schema = newSchema();
  const errors: StoreError[] = [];
  // Other test runs may share this server: touch only this store's connections.
  const applicationName = `jetstream-test-${schema}`;
  const store = new PostgresStore({
    connectionString: url(),
    schema,
    applicationName,
    onError: (err) => errors.push(err),
  });
  await store.open();
  await store.append([{ scope: 's', version: 1, fragments: [] }]);
  // Kill every connection of this store (idle in the pool): the pool reports through onError.
  const admin = new pg.Client({ connectionString: url() });
  await admin.connect();
  /** Terminates this store's backends matching `where`, and waits until they are gone (asynchronous on the server). */
  const terminate = async (where: string): Promise<number> => {
    const { rows } = await admin.query(
      `SELECT pid, pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1 AND ${where}`,
      [applicationName],
    );
    const pids = rows.map((r: { pid: number }) => r.pid);
    await waitFor(
      async () => {
        const left = await admin.query(
          'SELECT count(*)::int AS n FROM pg_stat_activity WHERE pid = ANY($1)',
          [pids],
        );
        return left.rows[0].n === 0;
      },
      { message: 'the terminated backends to exit' },
    );
    return pids.length;
  };
  const killed = await terminate(`state = 'idle'`);
  assert.ok(killed >= 1, 'the pool had an idle connection');
  // Every killed connection is reported (and dropped by the pool) before the next append.
  await waitFor(() => errors.length >= killed, { message: 'onError for every killed connection' });
  assert.match(errors[0]!.message, /PostgreSQL store: idle connection failed/);
  // The pool replaced the connection: the next append works.
  await store.append([{ scope: 's', version: 2, fragments: [] }]);
  assert.equal((await store.load('s'))!.version, 2);

  // A connection killed while a transaction holds it: the append rejects, nothing is stored.
  const blocker = new pg.Client({ connectionString: url() });
  await blocker.connect();
  await blocker.query('BEGIN');
  await blocker.query(`SELECT * FROM "${schema}".jetstream_scopes WHERE name = 's' FOR UPDATE`);
  const pending = store.append([{ scope: 's', version: 3, fragments: [] }]);
  // Observed from the start: it rejects while we are still waiting for the killed backend to
  // exit, and an unobserved rejection would fail the test on its own.
  const outcome = pending.then(
    () => null,
    (err: unknown) => err,
  );
  await waitFor(
    async () => {
      const waiting = await admin.query(
        `SELECT 1 FROM pg_stat_activity WHERE application_name = $1 AND wait_event_type = 'Lock'`,
        [applicationName],
      );
      return (waiting.rowCount ?? 0) > 0;
    },
    { message: 'the append to wait for the row lock' },
  );
  assert.equal(await terminate(`wait_event_type = 'Lock'`), 1);
  const err = await outcome;
  assert.ok(err instanceof StoreError, 'the append killed mid-transaction rejects');
  assert.match(err.message, /PostgreSQL store: cannot append: /);
  await blocker.query('ROLLBACK');
  await blocker.end();
  await admin.end();
  assert.equal((await store.load('s'))!.version, 2);
  await store.append([{ scope: 's', version: 3, fragments: [] }]);
  await store.close();
});

test('PostgresStore: bad options are refused up front', () => {
  assert.throws(() => new PostgresStore({ connectionString: '' }), StoreError);
  assert.throws(() => new PostgresStore({ connectionString: url(), schema: '' }), StoreError);
  assert.ok(createStore({ kind: 'postgres', connectionString: url() }) instanceof PostgresStore);
});
