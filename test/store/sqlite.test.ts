import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { createStore, SqliteStore, StoreError, storeFromEnv } from '../../src/store/index.js';
import { runStoreConformance } from './conformance.js';

const dir = mkdtempSync(join(tmpdir(), 'jetstream-sqlite-'));
after(() => rmSync(dir, { recursive: true, force: true }));

// Killing a writer process (kill -9) with synchronous NORMAL: test/e2e/durability.test.ts, which runs
// its scenarios on every durable store.

// A nested path: open() creates the missing directories. The suite opens many instances on one
// storage at once, which the writer lock forbids by design: it runs without it here, and the lock
// has its own tests (sqlite-lock.test.ts).
const filename = join(dir, 'nested', 'deeper', 'store.db');
runStoreConformance(
  'sqlite',
  async () => new SqliteStore({ filename, lock: false }),
  async () => {},
);

/** A pragma on the store's own connection (in its worker), to check settings and to simulate faults. */
function pragma(store: SqliteStore, source: string): Promise<unknown> {
  return store._pragma(source);
}

test('SqliteStore: WAL mode, synchronous FULL by default and configurable', async () => {
  const file = join(dir, 'pragmas.db');
  for (const [synchronous, expected] of [
    [undefined, 2],
    ['NORMAL', 1],
    ['FULL', 2],
  ] as const) {
    const store = new SqliteStore(
      synchronous === undefined ? { filename: file } : { filename: file, synchronous },
    );
    await store.open();
    assert.equal(await pragma(store, 'journal_mode'), 'wal');
    assert.equal(await pragma(store, 'synchronous'), expected);
    assert.equal(store.synchronous, synchronous ?? 'FULL');
    await store.close();
  }
  assert.throws(() => new SqliteStore({ filename: file, synchronous: 'SOMETIMES' as never }), StoreError);
  assert.throws(() => new SqliteStore({ filename: '' }), StoreError);
  assert.throws(() => new SqliteStore({ filename: file, tablePrefix: 'x; DROP' }), StoreError);
});

test('SqliteStore: a table prefix keeps two stores apart in one file', async () => {
  const file = join(dir, 'prefixed.db');
  const one = new SqliteStore({ filename: file, tablePrefix: 'one_' });
  const two = new SqliteStore({ filename: file, tablePrefix: 'two_' });
  await one.open();
  await two.open();
  await one.append([{ scope: 's', version: 1, fragments: [] }]);
  assert.equal(await two.load('s'), null);
  await two.append([{ scope: 's', version: 1, fragments: [] }]);
  await one.close();
  await two.close();
});

test('SqliteStore: :memory: works (no directory to create), compaction included (on its one connection)', async () => {
  const store = new SqliteStore({ filename: ':memory:' });
  await store.open();
  await store.append([{ scope: 's', version: 1, fragments: [] }]);
  assert.equal((await store.load('s'))!.version, 1);
  const root = '00000000-0000-4000-8000-000000000000';
  await store.writeSnapshot({
    scope: 'c',
    version: 0,
    rootUUID: root,
    fragments: [{ type: 'change', uuid: root, clsName: 'R', properties: { n: 0 } }],
  });
  await store.append([
    {
      scope: 'c',
      version: 1,
      fragments: [{ type: 'change', uuid: root, clsName: 'R', properties: { n: 1 } }],
    },
  ]);
  await store.compact('c', 1, {
    root: 'R',
    classes: [{ name: 'R', properties: [['n', null]], references: [] }],
  });
  assert.deepEqual(await store.load('c'), {
    snapshot: {
      scope: 'c',
      version: 1,
      rootUUID: root,
      fragments: [{ type: 'change', uuid: root, clsName: 'R', properties: { n: 1 } }],
    },
    changes: [],
    version: 1,
  });
  await store.close();
});

test('SqliteStore: a path whose directory cannot be created rejects open() clearly', async () => {
  const blocker = join(dir, 'a-file');
  writeFileSync(blocker, 'not a directory');
  const store = new SqliteStore({ filename: join(blocker, 'sub', 'store.db') });
  const err = await store.open().then(
    () => assert.fail('open succeeded'),
    (e: unknown) => e,
  );
  assert.ok(err instanceof StoreError);
  assert.match(err.message, /SQLite store: cannot open .*a-file/);
  assert.match(err.message, /ENOTDIR|not a directory/i);
  // Still closed: calls reject, nothing crashes.
  await assert.rejects(store.append([{ scope: 's', version: 1, fragments: [] }]), /not open/);
  await store.close();
});

test('SqliteStore: a file that is not a database rejects clearly', async () => {
  const file = join(dir, 'garbage.db');
  writeFileSync(
    file,
    'this is not an SQLite database, just text that is long enough to have a header'.repeat(20),
  );
  const store = new SqliteStore({ filename: file });
  await assert.rejects(store.open(), (err: unknown) => {
    assert.ok(err instanceof StoreError);
    assert.match(err.message, /cannot open .*garbage\.db.*not a database/);
    return true;
  });
});

test('SqliteStore: a path on a read-only file system rejects open() clearly', async () => {
  // /proc refuses new files even to root (file modes would not stop root).
  const store = new SqliteStore({ filename: '/proc/jetstream-test.db' });
  await assert.rejects(store.open(), (err: unknown) => {
    assert.ok(err instanceof StoreError);
    assert.match(
      err.message,
      /SQLite store: cannot open \/proc\/jetstream-test\.db: unable to open database file/,
    );
    return true;
  });
});

test('SqliteStore: a database that turned read-only rejects append and snapshot clearly', async () => {
  const store = new SqliteStore({ filename: join(dir, 'readonly.db') });
  await store.open();
  await store.append([{ scope: 's', version: 1, fragments: [] }]);
  await pragma(store, 'query_only = ON');
  await assert.rejects(store.append([{ scope: 's', version: 2, fragments: [] }]), (err: unknown) => {
    assert.ok(err instanceof StoreError);
    assert.match(err.message, /SQLite store: cannot append: .*readonly/i);
    return true;
  });
  await assert.rejects(
    store.writeSnapshot({ scope: 's', version: 1, rootUUID: 'r', fragments: [] }),
    /SQLite store: cannot write the snapshot of "s": .*readonly/i,
  );
  await pragma(store, 'query_only = OFF');
  await store.append([{ scope: 's', version: 2, fragments: [] }]);
  assert.equal((await store.load('s'))!.version, 2);
  await store.close();
});

test('SqliteStore: a store whose file was removed keeps working on the open handle, and a reopen starts empty', async () => {
  const sub = join(dir, 'removed');
  const file = join(sub, 'store.db');
  const store = new SqliteStore({ filename: file });
  await store.open();
  await store.append([{ scope: 's', version: 1, fragments: [] }]);
  rmSync(sub, { recursive: true, force: true });
  assert.ok(!existsSync(file));
  await store.close();
  const again = new SqliteStore({ filename: file });
  await again.open();
  assert.equal(await again.load('s'), null);
  await again.close();
});

test('createStore and storeFromEnv', async () => {
  assert.ok(createStore({ kind: 'sqlite', filename: join(dir, 'factory.db') }) instanceof SqliteStore);
  const fromEnv = storeFromEnv({ dataDir: join(dir, 'data'), env: {} });
  assert.equal(fromEnv.kind, 'sqlite');
  assert.equal((fromEnv as SqliteStore).filename, join(dir, 'data', 'jetstream.db'));
  await fromEnv.open();
  await fromEnv.close();
  assert.ok(existsSync(join(dir, 'data', 'jetstream.db')));
  assert.equal(
    storeFromEnv({ dataDir: dir, env: { DATABASE_URL: 'postgres://x@127.0.0.1:1/db' } }).kind,
    'postgres',
  );
  assert.equal(storeFromEnv({ dataDir: dir, env: { DATABASE_URL: '' } }).kind, 'sqlite');
  assert.equal(storeFromEnv({ dataDir: dir, env: { DATABASE_URL: 'postgresql://h/db' } }).kind, 'postgres');
  // A wrong value names the variable, and never repeats a password.
  assert.throws(
    () => storeFromEnv({ dataDir: dir, env: { DATABASE_URL: 'mysql://root:secret@db:3306/app' } }),
    (err: Error) =>
      err instanceof StoreError &&
      /^DATABASE_URL must be a postgres:\/\/ or postgresql:\/\/ URL \(got mysql:\/\/db:3306\)/.test(
        err.message,
      ) &&
      !err.message.includes('secret'),
  );
  assert.throws(
    () => storeFromEnv({ dataDir: dir, env: { DATABASE_URL: 'not a url' } }),
    /DATABASE_URL is not a valid URL/,
  );
});
