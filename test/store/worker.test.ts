// The stores' worker threads (src/store/worker.ts): calls run in order in the worker, errors
// come back as our classes, and a LazyWorker stops when idle and starts again on the next call.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { StoreConflictError, StoreError } from '../../src/store/errors.js';
import { planAppend } from '../../src/store/records.js';
import type { SqliteConfig } from '../../src/store/sqlite-db.js';
import { LazyWorker, StoreWorker } from '../../src/store/worker.js';

const config: SqliteConfig = {
  filename: ':memory:',
  synchronous: 'FULL',
  tablePrefix: 'w_',
  busyTimeoutMs: 1000,
  lock: false,
};

function appendArgs(scope: string, version: number): unknown[] {
  const records = [{ scope, version, fragments: [] }];
  return [planAppend(records), records.map((r) => [r.scope, r.version, '[]'])];
}

test('StoreWorker: calls run in call order; errors keep their class; stop settles what was posted first', async () => {
  const worker = await StoreWorker.start('sqlite-worker', { config }, 'test');
  const calls = [1, 2, 3].map((v) => worker.call('append', appendArgs('s', v)));
  const conflict = worker.call('append', appendArgs('s', 3));
  const unknown = worker.call('nope', []);
  await Promise.all(calls);
  await assert.rejects(conflict, StoreConflictError);
  await assert.rejects(
    unknown,
    (err: unknown) => err instanceof StoreError && /Unknown store worker call/.test(err.message),
  );
  const loaded = worker.call<{ version: number }>('load', ['s']);
  await worker.stop();
  assert.equal((await loaded).version, 3);
  assert.equal(worker.alive, false);
  await assert.rejects(worker.call('listScopes', []), StoreError);
  await worker.stop();
});

test('StoreWorker: a worker that cannot start rejects with the error it threw', async () => {
  await assert.rejects(
    StoreWorker.start('sqlite-worker', { config: { ...config, filename: '/dev/null/sub/x.db' } }, 'test'),
    (err: unknown) =>
      err instanceof Error && !(err instanceof StoreError) && /ENOTDIR|not a directory/i.test(err.message),
  );
});

test('LazyWorker: started on first use, stopped when idle, started again by the next call', async () => {
  const lazy = new LazyWorker('sqlite-worker', { config }, 'test', 50);
  await lazy.call('append', appendArgs('s', 1));
  assert.equal((await lazy.call<{ version: number }>('load', ['s'])).version, 1);
  await new Promise((r) => setTimeout(r, 300));
  // A new worker: its `:memory:` database starts empty.
  assert.equal(await lazy.call('load', ['s']), null);
  await lazy.stop();
  await lazy.stop();
});
