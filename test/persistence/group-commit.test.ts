// Group commit (src/persistence/group-commit.ts) with a MemoryStore behind a wrapper that can hold
// appends (to let changes pile up during a slow commit) or reject them on demand: without
// Store.compact (snapshots captured here), and with it (the store computes them).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Canvas, Shape } from '../../demo/models.js';
import { GroupCommit, type GroupCommitOptions, snapshotOf } from '../../src/persistence/group-commit.js';
import { restoreScope } from '../../src/persistence/restore.js';
import { Scope } from '../../src/scope/scope.js';
import { DelegatingStore } from '../../src/store/delegating.js';
import { MemoryStore } from '../../src/store/memory.js';
import type { ChangeRecord, FoldSchema } from '../../src/store/types.js';

/** A Store that forwards to a MemoryStore, records appends, and can hold or fail them. */
class TestStore extends DelegatingStore {
  appends: ChangeRecord[][] = [];
  fail: Error | null = null;
  #held: (() => void)[] = [];
  hold = false;
  constructor() {
    super(new MemoryStore());
    // A store without compaction: GroupCommit's own snapshot path (CompactingStore adds it).
    delete (this as { compact?: unknown }).compact;
  }
  override async append(records: ChangeRecord[]) {
    this.appends.push(records);
    if (this.hold) await new Promise<void>((r) => this.#held.push(r));
    if (this.fail) throw this.fail;
    return this.inner.append(records);
  }
  release() {
    this.hold = false;
    for (const r of this.#held.splice(0)) r();
  }
}

/** A stored, tracked Canvas scope; `options` adds GroupCommit options (failures are collected). */
async function durableCanvas(store: TestStore, snapshotEvery = 1000, options: GroupCommitOptions = {}) {
  await store.open();
  const scope = new Scope({ name: 'Canvas' });
  const root = new Canvas();
  root.assign({ name: 'c', shapes: [] });
  scope.setRoot(root);
  await store.writeSnapshot(snapshotOf(scope));
  const failures: Error[] = [];
  const gc = new GroupCommit(store, {
    snapshotEvery,
    onFailure: (_s, err) => failures.push(err),
    ...options,
  });
  gc.track(scope);
  return { scope, root, gc, failures };
}

function addShape(scope: Scope, root: InstanceType<typeof Canvas>, x: number, atomic = false) {
  const id = crypto.randomUUID();
  const shapes = [...root.shapes.map((s: InstanceType<typeof Shape>) => s.uuid), id];
  return scope.applyChangeset(
    [
      { type: 'add', uuid: id, clsName: 'Shape', properties: { x, y: 0, width: 1, height: 1, type: 0 } },
      { type: 'change', uuid: root.uuid, clsName: 'Canvas', properties: { shapes } },
    ],
    { atomic },
  );
}

const nextTurn = () => new Promise((r) => setImmediate(r));

describe('group commit', () => {
  test('every changeset of one event-loop turn goes into one append; callbacks wait for it', async () => {
    const store = new TestStore();
    const { scope, root, gc } = await durableCanvas(store);
    const order: string[] = [];
    for (let i = 0; i < 5; i++) {
      addShape(scope, root, i);
      gc.afterCommit((err) => order.push(`ack ${i} ${err}`));
    }
    assert.equal(order.length, 0, 'nothing is acknowledged before the append');
    await gc.drain();
    assert.equal(store.appends.length, 1);
    assert.deepEqual(
      store.appends[0]!.map((r) => r.version),
      [1, 2, 3, 4, 5],
    );
    assert.deepEqual(
      order,
      [0, 1, 2, 3, 4].map((i) => `ack ${i} null`),
    );
    gc.afterCommit((err) => order.push(`now ${err}`));
    assert.equal(order.at(-1), 'now null', 'with nothing pending, at once');
  });

  test('unstored counts the changes of a scope not stored yet (the inspector’s store lag), failed ones included until they fail', async () => {
    const store = new TestStore();
    const { scope, root, gc } = await durableCanvas(store);
    assert.equal(gc.unstored(scope), 0);
    store.hold = true;
    addShape(scope, root, 0);
    addShape(scope, root, 1);
    assert.equal(gc.unstored(scope), 2);
    await nextTurn();
    addShape(scope, root, 2); // collected while the first append is held
    assert.equal(gc.unstored(scope), 3);
    store.release();
    await gc.drain();
    assert.equal(gc.unstored(scope), 0);
    store.fail = new Error('disk full');
    addShape(scope, root, 3);
    assert.equal(gc.unstored(scope), 1);
    await gc.drain();
    assert.equal(gc.unstored(scope), 0, 'a failed change no longer waits to be stored');
  });

  test('changes made while an append is in flight are collected into the next single append', async () => {
    const store = new TestStore();
    const { scope, root, gc } = await durableCanvas(store);
    store.hold = true;
    addShape(scope, root, 0);
    await nextTurn();
    assert.equal(store.appends.length, 1);
    for (let turn = 0; turn < 4; turn++) {
      addShape(scope, root, turn + 1);
      await nextTurn();
    }
    assert.equal(store.appends.length, 1, 'nothing else is sent while the first append is held');
    store.release();
    await gc.drain();
    assert.deepEqual(
      store.appends.map((a) => a.map((r) => r.version)),
      [[1], [2, 3, 4, 5]],
    );
    const loaded = await store.load('Canvas');
    assert.equal(loaded!.version, 5);
  });

  test('snapshots are taken at a group boundary: never ahead of what is stored, never conflicting', async () => {
    const store = new TestStore();
    const { scope, root, gc, failures } = await durableCanvas(store, 2);
    for (let round = 0; round < 6; round++) {
      store.hold = true;
      addShape(scope, root, round);
      addShape(scope, root, round);
      await nextTurn();
      addShape(scope, root, round); // in memory, waiting behind the held append
      await nextTurn();
      store.release();
      await gc.drain();
    }
    assert.deepEqual(failures, [], 'no append conflicts with a snapshot');
    const loaded = (await store.load('Canvas'))!;
    assert.equal(loaded.version, scope.version);
    assert.ok(loaded.snapshot!.version > 0, 'snapshots were written');
    const copy = new Scope({ name: 'Canvas' });
    assert.deepEqual(restoreScope(copy, Canvas, loaded), []);
    assert.deepEqual(copy.getState(), scope.getState());
  });

  test('a failed append: callbacks get the error, the scope is marked failed, nothing is stored', async () => {
    const store = new TestStore();
    const { scope, root, gc, failures } = await durableCanvas(store);
    store.fail = new Error('disk full');
    const results = addShape(scope, root, 1, true);
    assert.deepEqual(results.results, [null, null]);
    const errs: (Error | null)[] = [];
    gc.afterCommit((err) => errs.push(err));
    await gc.drain();
    assert.equal(errs[0]?.message, 'disk full');
    assert.equal(gc.failed.get(scope)?.message, 'disk full');
    assert.equal(failures.length, 1);
    const loaded = (await store.load('Canvas'))!;
    assert.equal(loaded.version, 0, 'the atomic changeset is not on disk, not even in part');
    assert.deepEqual(loaded.changes, []);
  });
});

test('snapshots of a big scope are spaced by a quarter of its object count, not just snapshotEvery', async () => {
  const store = new TestStore();
  const { scope, root, gc } = await durableCanvas(store, 1);
  // 40 shapes (41 objects): with snapshotEvery 1 a snapshot would follow every changeset;
  // spaced by size / 4, one comes after about 10 changesets.
  const shapes = Array.from(
    { length: 40 },
    (_, i) => new Shape({ x: i, y: 0, width: 1, height: 1, type: 0 }),
  );
  root.shapes = shapes;
  scope.flush();
  await gc.drain();
  const afterBulk = (await store.load('Canvas'))!;
  const first = afterBulk.snapshot!.version;
  for (let i = 0; i < 5; i++) {
    shapes[i]!.x = 100 + i;
    scope.flush();
    await gc.drain();
  }
  const loaded = (await store.load('Canvas'))!;
  assert.equal(first, 0, 'only the initial snapshot so far');
  assert.equal(loaded.snapshot!.version, first, 'no snapshot within size / 4 stored changesets');
  assert.equal(loaded.changes.length, 6, 'the bulk changeset and five edits, all in the log');
  for (let i = 0; i < 10; i++) {
    shapes[i]!.x = 200 + i;
    scope.flush();
    await gc.drain();
  }
  const later = (await store.load('Canvas'))!;
  assert.equal(later.snapshot!.version, 11, 'a snapshot once size / 4 (10.25) changesets were stored');
  assert.equal(later.changes.length, 5);
  const copy = new Scope({ name: 'Canvas' });
  assert.deepEqual(restoreScope(copy, Canvas, later), []);
  assert.deepEqual(copy.getState(), scope.getState());
});

test('a snapshot taken while server-side edits are pending stores them first (no version ahead of the log)', async () => {
  const store = new TestStore();
  const { scope, root, gc, failures } = await durableCanvas(store, 1);
  for (let round = 0; round < 3; round++) {
    addShape(scope, root, round); // opens a group whose close will take a snapshot (every 1)
    root.name = `edited ${round}`; // a server-side edit, pending until the end of the turn
    await nextTurn();
    await gc.drain();
  }
  assert.deepEqual(failures, [], 'no append conflicts with a snapshot');
  const loaded = (await store.load('Canvas'))!;
  assert.equal(loaded.version, scope.version);
  const copy = new Scope({ name: 'Canvas' });
  assert.deepEqual(restoreScope(copy, Canvas, loaded), []);
  assert.deepEqual(copy.getState(), scope.getState());
});

/** A TestStore that compacts (Store.compact, through the MemoryStore), and can hold or fail compactions. */
class CompactingStore extends TestStore {
  compactions: { scope: string; version: number }[] = [];
  holdCompactions = false;
  failCompactions: Error | null = null;
  #held: (() => void)[] = [];
  override compact = async (scope: string, version: number, schema: FoldSchema) => {
    this.compactions.push({ scope, version });
    if (this.holdCompactions) await new Promise<void>((r) => this.#held.push(r));
    if (this.failCompactions) throw this.failCompactions;
    return this.inner.compact!(scope, version, schema);
  };
  releaseCompactions() {
    this.holdCompactions = false;
    for (const r of this.#held.splice(0)) r();
  }
}

/** Counts the scope's state captures (getState), which a compacting store makes unnecessary. */
function countStates(scope: Scope): { count: number } {
  const counter = { count: 0 };
  const getState = scope.getState.bind(scope);
  scope.getState = () => {
    counter.count++;
    return getState();
  };
  return counter;
}

describe('group commit with a store that compacts', () => {
  test('the store writes the snapshot from what it stored, at the group boundary; nothing is captured here', async () => {
    const store = new CompactingStore();
    const { scope, root, gc, failures } = await durableCanvas(store, 2);
    const states = countStates(scope);
    for (let round = 0; round < 6; round++) {
      store.hold = true;
      addShape(scope, root, round);
      root.name = `edited ${round}`; // a server-side edit, pending until the end of the turn
      addShape(scope, root, round);
      await nextTurn();
      addShape(scope, root, round); // in memory, waiting behind the held append
      await nextTurn();
      store.release();
      await gc.drain();
    }
    assert.deepEqual(failures, []);
    assert.ok(store.compactions.length >= 3, JSON.stringify(store.compactions));
    // Each at the version its group's append reached: the last record of some append.
    const appended = new Set(store.appends.map((a) => a.at(-1)!.version));
    for (const c of store.compactions) assert.ok(appended.has(c.version), `compaction at ${c.version}`);
    const getStates = states.count;
    const loaded = (await store.load('Canvas'))!;
    assert.equal(loaded.version, scope.version);
    assert.equal(loaded.snapshot!.version, store.compactions.at(-1)!.version);
    const copy = new Scope({ name: 'Canvas' });
    assert.deepEqual(restoreScope(copy, Canvas, loaded), []);
    assert.deepEqual(copy.getState(), scope.getState());
    assert.equal(getStates, 0, 'no state was captured for a snapshot');
    // The snapshot is exactly the scope's state at its version.
    const atSnapshot = new Scope({ name: 'Canvas' });
    restoreScope(atSnapshot, Canvas, { ...loaded, changes: [], version: loaded.snapshot!.version });
    assert.deepEqual(
      JSON.parse(JSON.stringify(loaded.snapshot!.fragments)),
      JSON.parse(JSON.stringify(atSnapshot.getState().fragments)),
    );
  });

  test('appends and acknowledgements go on while a compaction runs; one compaction per scope at a time', async () => {
    const store = new CompactingStore();
    const { scope, root, gc, failures } = await durableCanvas(store, 2);
    store.holdCompactions = true;
    for (let i = 0; i < 2; i++) addShape(scope, root, i);
    await nextTurn();
    // Let the first group's append finish (its compaction is held).
    await new Promise((r) => setTimeout(r, 10));
    assert.deepEqual(store.compactions, [{ scope: 'Canvas', version: 2 }]);
    const acks: (Error | null)[] = [];
    for (let round = 0; round < 3; round++) {
      addShape(scope, root, round);
      addShape(scope, root, round);
      gc.afterCommit((err) => acks.push(err));
      await nextTurn();
      await new Promise((r) => setTimeout(r, 5));
    }
    assert.deepEqual(acks, [null, null, null], 'acknowledged while the compaction is held');
    assert.equal(store.compactions.length, 1, 'no second compaction of the scope while one runs');
    const draining = gc.drain();
    let drained = false;
    void draining.then(() => {
      drained = true;
    });
    await new Promise((r) => setTimeout(r, 10));
    assert.equal(drained, false, 'drain waits for the compaction');
    store.releaseCompactions();
    await draining;
    // Still due: the next group compacts again, at its own version.
    addShape(scope, root, 9);
    await gc.drain();
    assert.deepEqual(
      store.compactions.map((c) => c.version),
      [2, 9],
    );
    assert.deepEqual(failures, []);
    const loaded = (await store.load('Canvas'))!;
    assert.equal(loaded.snapshot!.version, 9);
    const copy = new Scope({ name: 'Canvas' });
    assert.deepEqual(restoreScope(copy, Canvas, loaded), []);
    assert.deepEqual(copy.getState(), scope.getState());
  });

  test('a failed compaction is reported; the log keeps everything and the next one is tried later', async () => {
    const store = new CompactingStore();
    const errors: string[] = [];
    const { scope, root, gc } = await durableCanvas(store, 1, {
      onSnapshotError: (s, err) => errors.push(`${s.name}: ${err.message}`),
    });
    store.failCompactions = new Error('disk full');
    addShape(scope, root, 1);
    await gc.drain();
    assert.deepEqual(errors, ['Canvas: disk full']);
    store.failCompactions = null;
    addShape(scope, root, 2);
    await gc.drain();
    const loaded = (await store.load('Canvas'))!;
    assert.equal(loaded.snapshot!.version, 2);
    assert.deepEqual(loaded.changes, []);
  });
});
