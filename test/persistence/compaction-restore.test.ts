// A durable server whose store compacts (Store.compact, docs/architecture.md "Durability"): after
// many changesets and server-side edits, with compactions running while later groups are
// appended, a restart on the same storage brings back exactly the scope as it was, and each
// stored snapshot is exactly the scope's state at its version. On SQLite (a file: compaction in
// its own worker and connection) and PostgreSQL (compaction in a worker).
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import fc from 'fast-check';
import { ChatRoom, Message, User } from '../../demo/models.js';
import type { ModelClass } from '../../src/model/index.js';
import { restoreScope } from '../../src/persistence/restore.js';
import { Scope } from '../../src/scope/scope.js';
import type { Fragment } from '../../src/scope/types.js';
import { createServer } from '../../src/server/server.js';
import { PostgresStore } from '../../src/store/postgres.js';
import { SqliteStore } from '../../src/store/sqlite.js';
import type { Store } from '../../src/store/types.js';
import { engineChangesets, FUZZ_SEED, FuzzNode, ROOT_UUID } from '../fuzz/arbitraries.js';
import { randomSchemaName, startTestPostgres, type TestPostgres } from '../helpers/postgres.js';

const dir = mkdtempSync(join(tmpdir(), 'jetstream-compaction-'));
let pg: TestPostgres | undefined;
const schemas: string[] = [];

before(async () => {
  pg = await startTestPostgres();
});

after(async () => {
  rmSync(dir, { recursive: true, force: true });
  if (pg === undefined) return;
  for (const schema of schemas) {
    const store = new PostgresStore({ connectionString: pg.connectionString, schema });
    await store.open();
    await store.drop();
    await store.close();
  }
  await pg.stop();
});

/** Warnings the server logs (a restore that does not fit the models would warn). */
function capturingLogger(warnings: unknown[]) {
  const noop = () => {};
  return {
    debug: noop,
    info: noop,
    error: noop,
    warn: (details: unknown, msg?: string) => warnings.push([details, msg]),
  };
}

/** Records the scope's state after every version, as JSON text. */
function recordStates(scope: Scope): Map<number, string> {
  const states = new Map<number, string>([[scope.version, JSON.stringify(scope.getState())]]);
  scope.on('changes', () => {
    states.set(scope.version, JSON.stringify(scope.getState()));
  });
  return states;
}

/** Changes a scope the ways a server does: random client changesets and server-side edits, over many turns. */
async function churn(scope: Scope, rootClass: ModelClass, seed: number): Promise<void> {
  const runs = fc.sample(engineChangesets(rootClass, { maxChangesets: 30, maxFragments: 6 }), {
    seed,
    numRuns: 12,
  });
  let turn = 0;
  for (const changesets of runs) {
    for (const changeset of changesets) {
      scope.applyChangeset(changeset.fragments as Fragment[], { atomic: changeset.atomic });
      if (rootClass === ChatRoom && ++turn % 7 === 0) {
        // Server-side edits: a new user and message, the room renamed, an old message dropped.
        const room = scope.root as InstanceType<typeof ChatRoom>;
        const user = new User({ username: `u${turn}`, lastActive: new Date(turn * 1000) });
        room.users.push(user);
        room.messages.push(new Message({ author: user, text: `m${turn}`, postedAt: new Date(turn * 1500) }));
        room.name = `room ${turn}`;
        if (room.messages.length > 6) room.messages.shift();
      }
      if (turn % 3 === 0) await new Promise((r) => setImmediate(r));
    }
  }
}

async function roundTrip(makeStore: () => Store, rootClass: ModelClass, seed: number): Promise<void> {
  const warnings: unknown[] = [];
  const store = makeStore();
  const server = await createServer({ port: 0, store, snapshotEvery: 1, logger: capturingLogger(warnings) });
  const root = () => new rootClass({ uuid: ROOT_UUID });
  const scope = await server.openScope({ name: 'room', root });
  const states = recordStates(scope);
  await churn(scope, rootClass, seed);
  await server.drain();
  const before = JSON.stringify(scope.getState());
  const version = scope.version;
  await server.close();
  await store.close();

  const again = makeStore();
  await again.open();
  const loaded = (await again.load('room'))!;
  assert.equal(loaded.version, version);
  assert.ok(loaded.snapshot!.version > 0, 'compactions wrote snapshots');
  assert.ok(loaded.changes.length < version, 'and pruned the log');
  // The stored snapshot is the scope's state at its version, exactly.
  assert.equal(
    JSON.stringify({ rootUUID: loaded.snapshot!.rootUUID, fragments: loaded.snapshot!.fragments }),
    states.get(loaded.snapshot!.version),
  );
  const fromSnapshot = new Scope({ name: 'room' });
  assert.deepEqual(
    restoreScope(fromSnapshot, rootClass, { ...loaded, changes: [], version: loaded.snapshot!.version }),
    [],
  );

  const server2 = await createServer({ port: 0, store: again, logger: capturingLogger(warnings) });
  const restored = await server2.openScope({ name: 'room', root });
  assert.equal(
    JSON.stringify(restored.getState()),
    before,
    'the scope restored after compactions is the scope before',
  );
  assert.equal(restored.version, version);
  assert.deepEqual(warnings, []);
  await server2.close();
  await again.close();
}

const ROOTS: [string, ModelClass, number][] = [
  ['FuzzNode', FuzzNode, FUZZ_SEED],
  ['ChatRoom', ChatRoom as ModelClass, FUZZ_SEED + 1],
];

describe('a durable scope restored after compactions equals the scope before', () => {
  for (const [name, rootClass, seed] of ROOTS) {
    test(`SQLite, ${name}`, () =>
      roundTrip(() => new SqliteStore({ filename: join(dir, `${name}.db`) }), rootClass, seed));
    test(`PostgreSQL, ${name}`, () => {
      assert.ok(pg, 'no PostgreSQL');
      const schema = randomSchemaName();
      schemas.push(schema);
      return roundTrip(
        () => new PostgresStore({ connectionString: pg!.connectionString, schema }),
        rootClass,
        seed,
      );
    });
  }
});
