// The PostgreSQL store's append path (src/store/postgres.ts, docs/persistence.md "PostgreSQL"):
// one statement per append, written in call order on one pipelined connection, so appends are
// issued before the previous ones settled. What this must keep: per-scope order, all-or-nothing,
// the version check (a duplicate or a gap fails, and what was pipelined behind a failed append of
// the same scope fails too), and calls other than appends keeping their place. Then group commit
// (src/persistence/group-commit.ts) issuing a second group while the first is in flight.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { Canvas } from '../../demo/models.js';
import { GroupCommit, snapshotOf } from '../../src/persistence/group-commit.js';
import { restoreScope } from '../../src/persistence/restore.js';
import { Scope } from '../../src/scope/scope.js';
import { DelegatingStore } from '../../src/store/delegating.js';
import {
  type ChangeRecord,
  PostgresStore,
  type Store,
  StoreConflictError,
  StoreError,
} from '../../src/store/index.js';
import { randomSchemaName, startTestPostgres, type TestPostgres } from '../helpers/postgres.js';
import { waitFor } from '../helpers/wait.js';

let server: TestPostgres | undefined;
const schemas: string[] = [];
const stores: PostgresStore[] = [];

before(async () => {
  // Throws when no PostgreSQL can be had: these tests then fail, they do not skip.
  server = await startTestPostgres();
});

after(async () => {
  await Promise.all(stores.map((s) => s.close()));
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

/** A new schema; `count` open stores on it (several: several writers on one database). */
async function openStores(count: number, applicationName?: string): Promise<PostgresStore[]> {
  const schema = randomSchemaName();
  schemas.push(schema);
  const opened = Array.from(
    { length: count },
    () => new PostgresStore({ connectionString: url(), schema, applicationName }),
  );
  stores.push(...opened);
  for (const s of opened) await s.open();
  return opened;
}

function record(scope: string, version: number): ChangeRecord {
  return {
    scope,
    version,
    fragments: [{ type: 'change', uuid: `u-${scope}`, clsName: 'Lane', properties: { count: version } }],
  };
}

/** Settles every promise; the outcome of each as 'ok' or the error's class name. */
async function outcomes(calls: Promise<unknown>[]): Promise<string[]> {
  const results = await Promise.allSettled(calls);
  return results.map((r) => (r.status === 'fulfilled' ? 'ok' : (r.reason as Error).constructor.name));
}

async function storedVersions(store: Store, scope: string): Promise<number[]> {
  const loaded = await store.load(scope);
  return loaded === null ? [] : loaded.changes.map((c) => c.version);
}

describe('PostgresStore: pipelined appends', () => {
  test('appends issued without waiting land in call order, on one scope and across scopes', async () => {
    const [store] = await openStores(1);
    const calls: Promise<void>[] = [];
    for (let v = 1; v <= 40; v++) {
      calls.push(store!.append([record('a', v)]));
      calls.push(store!.append([record('b', v), record('c', 2 * v - 1), record('c', 2 * v)]));
    }
    assert.deepEqual(await outcomes(calls), Array(80).fill('ok'));
    const range = (n: number) => Array.from({ length: n }, (_, i) => i + 1);
    assert.deepEqual(await storedVersions(store!, 'a'), range(40));
    assert.deepEqual(await storedVersions(store!, 'b'), range(40));
    assert.deepEqual(await storedVersions(store!, 'c'), range(80));
    const c = (await store!.load('c'))!;
    assert.equal(c.version, 80);
    assert.deepEqual(c.changes[79], record('c', 80));
  });

  test('an append that conflicts fails whole; what was pipelined behind it on its scope fails too, other scopes do not', async () => {
    const [mine, other] = await openStores(2);
    await mine!.append([record('s', 1), record('s', 2)]);
    // Another writer moves 's' to 5 (what fencing is for: docs/cluster.md).
    await other!.append([record('s', 3), record('s', 4), record('s', 5)]);
    const calls = [
      mine!.append([record('t', 1), record('s', 3)]), // 's' is at 5: conflict, 't' not stored either
      mine!.append([record('u', 1)]), // another scope: stored
      mine!.append([record('s', 4)]), // behind the failed one: does not follow what is stored
      mine!.append([record('t', 1)]), // 't' stored nothing yet: version 1 follows
    ];
    const errors = await Promise.allSettled(calls);
    assert.deepEqual(
      errors.map((r) => r.status),
      ['rejected', 'fulfilled', 'rejected', 'fulfilled'],
    );
    const conflict = (errors[0] as PromiseRejectedResult).reason;
    assert.ok(conflict instanceof StoreConflictError, String(conflict));
    assert.equal(conflict.scope, 's');
    assert.equal(conflict.expectedVersion, 6);
    assert.equal(conflict.actualVersion, 3);
    assert.ok((errors[2] as PromiseRejectedResult).reason instanceof StoreConflictError);
    assert.deepEqual(await storedVersions(mine!, 's'), [1, 2, 3, 4, 5]);
    assert.deepEqual(await storedVersions(mine!, 't'), [1]);
    assert.deepEqual(await storedVersions(mine!, 'u'), [1]);
    // The stored record 3 is the other writer's, not ours.
    const s = (await mine!.load('s'))!;
    assert.equal(s.version, 5);
  });

  test('two writers pipelining the same versions: each version is stored once, without a gap', async () => {
    const [one, two] = await openStores(2);
    await one!.append([record('d', 1)]);
    const first = [2, 3, 4].map((v) => one!.append([record('d', v)]));
    const second = [2, 3, 4].map((v) => two!.append([record('d', v)]));
    const results = await Promise.all([outcomes(first), outcomes(second)]);
    // Which writer stores which version depends on how their statements interleave (the check is
    // on versions, not writers: after losing version 2, a writer's version 3 may follow the
    // other's 2); every version goes to exactly one of them, the other gets a conflict.
    for (const o of results.flat()) assert.ok(o === 'ok' || o === 'StoreConflictError', o);
    for (let i = 0; i < 3; i++) {
      assert.deepEqual(
        [results[0]![i], results[1]![i]].sort(),
        ['StoreConflictError', 'ok'],
        `version ${i + 2}: ${JSON.stringify(results)}`,
      );
    }
    assert.deepEqual(await storedVersions(one!, 'd'), [1, 2, 3, 4]);
  });

  test('loads, snapshots and deletes keep their place among pipelined appends', async () => {
    const [store] = await openStores(1);
    const snap = {
      scope: 'e',
      version: 2,
      rootUUID: 'root',
      fragments: [{ type: 'change' as const, uuid: 'root', clsName: 'Board', properties: {} }],
    };
    const a1 = store!.append([record('e', 1)]);
    const a2 = store!.append([record('e', 2)]);
    const loadedAt2 = store!.load('e');
    const snapshot = store!.writeSnapshot(snap);
    const a3 = store!.append([record('e', 3)]);
    const loadedAt3 = store!.load('e');
    const deleted = store!.deleteScope('e');
    const a1Again = store!.append([record('e', 1)]);
    await Promise.all([a1, a2, snapshot, a3, deleted, a1Again]);
    assert.deepEqual(await loadedAt2, {
      snapshot: null,
      changes: [record('e', 1), record('e', 2)],
      version: 2,
    });
    assert.deepEqual(await loadedAt3, { snapshot: snap, changes: [record('e', 3)], version: 3 });
    assert.deepEqual(await store!.load('e'), { snapshot: null, changes: [record('e', 1)], version: 1 });
  });

  test('the append connection killed with appends pending behind a lock: they all reject, nothing is stored, the next append reconnects', async () => {
    const applicationName = `jetstream-test-pipeline-${Math.random().toString(36).slice(2)}`;
    const errors: StoreError[] = [];
    const [store] = await openStores(1, applicationName);
    await store!.append([record('k', 1)]);
    const admin = new pg.Client({ connectionString: url() });
    await admin.connect();
    const blocker = new pg.Client({ connectionString: url() });
    await blocker.connect();
    try {
      await blocker.query('BEGIN');
      await blocker.query(`SELECT * FROM "${schemas.at(-1)}".jetstream_scopes WHERE name = 'k' FOR UPDATE`);
      const pending = [2, 3, 4].map((v) =>
        store!.append([record('k', v)]).then(
          () => null,
          (err: StoreError) => errors.push(err),
        ),
      );
      await waitFor(
        async () => {
          const { rows } = await admin.query(
            `SELECT pid FROM pg_stat_activity WHERE application_name = $1 AND wait_event_type = 'Lock'`,
            [applicationName],
          );
          return rows.length === 1 ? (rows[0] as { pid: number }).pid : null;
        },
        { message: 'the first append to wait for the row lock' },
      ).then((pid) => admin.query('SELECT pg_terminate_backend($1)', [pid]));
      await Promise.all(pending);
      assert.equal(errors.length, 3);
      for (const err of errors) {
        assert.ok(err instanceof StoreError && !(err instanceof StoreConflictError), String(err));
        assert.match(err.message, /PostgreSQL store: cannot append: /);
      }
    } finally {
      await blocker.query('ROLLBACK');
      await blocker.end();
      await admin.end();
    }
    assert.deepEqual(await storedVersions(store!, 'k'), [1]);
    await store!.append([record('k', 2)]);
    assert.deepEqual(await storedVersions(store!, 'k'), [1, 2]);
  });
});

/** Forwards to a PostgresStore, counting the appends issued and settled. */
class CountingStore extends DelegatingStore {
  issued = 0;
  settled = 0;
  override async append(records: ChangeRecord[]) {
    this.issued++;
    try {
      return await this.inner.append(records);
    } finally {
      this.settled++;
    }
  }
}

function addShape(scope: Scope, root: InstanceType<typeof Canvas>, x: number) {
  const id = crypto.randomUUID();
  const shapes = [...root.shapes.map((s: { uuid: string }) => s.uuid), id];
  return scope.applyChangeset(
    [
      { type: 'add', uuid: id, clsName: 'Shape', properties: { x, y: 0, width: 1, height: 1, type: 0 } },
      { type: 'change', uuid: root.uuid, clsName: 'Canvas', properties: { shapes } },
    ],
    { atomic: true },
  );
}

const nextTurn = () => new Promise((r) => setImmediate(r));

describe('group commit on PostgreSQL: a second group in flight', () => {
  /** A stored, tracked Canvas scope named `name` on `store`, and a client holding its head row. */
  async function setup(name: string) {
    const [pgStore] = await openStores(1);
    const store = new CountingStore(pgStore!);
    const scope = new Scope({ name });
    const root = new Canvas();
    root.assign({ name: 'c', shapes: [] });
    scope.setRoot(root);
    await store.writeSnapshot(snapshotOf(scope));
    const failures: Error[] = [];
    const gc = new GroupCommit(store, { onFailure: (_s, err) => failures.push(err) });
    gc.track(scope);
    const blocker = new pg.Client({ connectionString: url() });
    await blocker.connect();
    const lock = async () => {
      await blocker.query('BEGIN');
      await blocker.query(`SELECT * FROM "${schemas.at(-1)}".jetstream_scopes WHERE name = $1 FOR UPDATE`, [
        name,
      ]);
    };
    return { pgStore: pgStore!, store, scope, root, gc, failures, blocker, lock };
  }

  test('the next group is issued while the first is in flight; both land, callbacks in order', async () => {
    const { pgStore, store, scope, root, gc, failures, blocker, lock } = await setup('Canvas');
    const acks: string[] = [];
    try {
      await lock();
      addShape(scope, root, 1);
      gc.afterCommit((err) => acks.push(`1 ${err}`));
      await nextTurn();
      addShape(scope, root, 2);
      gc.afterCommit((err) => acks.push(`2 ${err}`));
      await nextTurn();
      addShape(scope, root, 3);
      gc.afterCommit((err) => acks.push(`3 ${err}`));
      await waitFor(() => store.issued === 2, { message: 'the second group to be issued' });
      assert.equal(store.settled, 0, 'issued while the first is still in flight');
      assert.deepEqual(acks, []);
      await nextTurn();
      assert.equal(store.issued, 2, 'not a third: it collects until one of the two ends');
    } finally {
      await blocker.query('COMMIT');
      await blocker.end();
    }
    await gc.drain();
    assert.deepEqual(acks, ['1 null', '2 null', '3 null']);
    assert.equal(store.issued, 3);
    assert.deepEqual(failures, []);
    const loaded = (await pgStore.load('Canvas'))!;
    assert.equal(loaded.version, 3);
    const copy = new Scope({ name: 'Canvas' });
    assert.deepEqual(restoreScope(copy, Canvas, loaded), []);
    assert.deepEqual(copy.getState(), scope.getState());
  });

  test('when the first group conflicts, the one issued behind it fails too and the scope is failed', async () => {
    const { pgStore, store, scope, root, gc, failures, blocker, lock } = await setup('Fenced');
    const acks: string[] = [];
    try {
      await lock();
      addShape(scope, root, 1);
      gc.afterCommit((err) => acks.push(`1 ${err?.constructor.name}`));
      await nextTurn();
      addShape(scope, root, 2);
      gc.afterCommit((err) => acks.push(`2 ${err?.constructor.name}`));
      await waitFor(() => store.issued === 2, { message: 'the second group to be issued' });
      // Another writer stores versions 1 and 2 while ours wait (the lock holder). Had it stored
      // version 1 only, our second group would follow it and be stored: the version check sees
      // versions, not writers (the cluster's fence is an empty change, docs/cluster.md).
      await blocker.query(
        `UPDATE "${schemas.at(-1)}".jetstream_scopes SET version = 2 WHERE name = 'Fenced'`,
      );
      await blocker.query(
        `INSERT INTO "${schemas.at(-1)}".jetstream_changes (scope, version, fragments) VALUES ('Fenced', 1, '[]'), ('Fenced', 2, '[]')`,
      );
    } finally {
      await blocker.query('COMMIT');
      await blocker.end();
    }
    await gc.drain();
    assert.deepEqual(acks, ['1 StoreConflictError', '2 StoreConflictError']);
    assert.equal(failures.length, 2);
    assert.ok(gc.failed.has(scope));
    const loaded = (await pgStore.load('Fenced'))!;
    assert.deepEqual(
      loaded.changes.map((c) => [c.version, c.fragments]),
      [
        [1, []],
        [2, []],
      ],
    );
  });
});
