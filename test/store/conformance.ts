// The one conformance suite every Store implementation runs (docs/architecture.md: one suite, every adapter).
//
// `makeStore` returns a new, unopened instance on the SAME backing storage each time it is called
// within one suite run (same file, same schema, same MemoryStoreData), so that "close, then open a
// new instance" shows what survives. Tests keep apart by using their own scope names.

import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { fold } from '../../src/store/fold.js';
import {
  type ChangeRecord,
  type Snapshot,
  type Store,
  StoreConflictError,
  StoreError,
} from '../../src/store/index.js';
import type { FoldSchema, StoredFragment } from '../../src/store/types.js';

let counter = 0;
/** A scope name no other test of this run uses. */
function scopeName(label: string): string {
  counter += 1;
  return `${label}-${counter}`;
}

function fragment(n: number, extra: Record<string, unknown> = {}): StoredFragment {
  return {
    type: n === 0 ? 'change' : 'add',
    uuid: `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`,
    clsName: n === 0 ? 'Canvas' : 'Shape',
    properties: { x: n, y: n * 1.5, label: `shape ${n}`, visible: n % 2 === 0, parent: null, ...extra },
  };
}

function record(scope: string, version: number, fragments = [fragment(version)]): ChangeRecord {
  return { scope, version, fragments };
}

function snapshot(scope: string, version: number, count = 3): Snapshot {
  const fragments = Array.from({ length: count }, (_, i) => fragment(i));
  return { scope, version, rootUUID: fragments[0]!.uuid, fragments };
}

// Compaction (Store.compact): a board whose root holds notes; a note may hold another note.
const board: FoldSchema = {
  root: 'Board',
  classes: [
    {
      name: 'Board',
      properties: [
        ['title', null],
        ['notes', []],
      ],
      references: [['notes', true]],
    },
    {
      name: 'Note',
      properties: [
        ['text', 'empty'],
        ['at', 1.5],
        ['pinned', null],
      ],
      references: [['pinned', false]],
    },
  ],
};
const BOARD = '10000000-0000-4000-8000-000000000000';
const note = (n: number) => `10000000-0000-4000-8000-${String(n).padStart(12, '0')}`;

function boardSnapshot(scope: string, version: number): Snapshot {
  return {
    scope,
    version,
    rootUUID: BOARD,
    fragments: [{ type: 'change', uuid: BOARD, clsName: 'Board', properties: { title: 't', notes: [] } }],
  };
}

/** Version v adds note v to the board, changes note v - 1, and drops note v - 2 (from v = 3). */
function boardRecord(scope: string, v: number): ChangeRecord {
  const notes = [note(v - 1), note(v)].filter((_, i) => v - 1 + i >= 1);
  const fragments: StoredFragment[] = [
    { type: 'add', uuid: note(v), clsName: 'Note', properties: { text: `note ${v}` } },
    { type: 'change', uuid: BOARD, clsName: 'Board', properties: { notes } },
  ];
  if (v > 1)
    fragments.push({ type: 'change', uuid: note(v - 1), clsName: 'Note', properties: { pinned: note(v) } });
  return { scope, version: v, fragments };
}

function boardRecords(scope: string, from: number, to: number): ChangeRecord[] {
  return Array.from({ length: to - from + 1 }, (_, i) => boardRecord(scope, from + i));
}

/** The snapshot at `version`, as the fold computes it from the initial one. */
function boardAt(scope: string, version: number): Snapshot {
  const folded = fold(
    board,
    boardSnapshot(scope, 0),
    boardRecords(scope, 1, version).map((r) => r.fragments),
  );
  return { scope, version, ...folded };
}

export function runStoreConformance(
  name: string,
  makeStore: () => Promise<Store>,
  cleanup: () => Promise<void>,
): void {
  describe(`Store conformance: ${name}`, () => {
    const opened: Store[] = [];
    /** A new instance, opened; closed at the end of the suite if the test did not. */
    async function open(): Promise<Store> {
      const store = await makeStore();
      await store.open();
      opened.push(store);
      return store;
    }

    after(async () => {
      for (const store of opened) await store.close();
      await cleanup();
    });

    test('open is idempotent, and so is close', async () => {
      const store = await makeStore();
      await store.open();
      await store.open();
      const other = await open(); // a second instance on the same storage
      assert.ok(Array.isArray(await store.listScopes()));
      assert.ok(Array.isArray(await other.listScopes()));
      await store.close();
      await store.close();
    });

    test('calls on a store that is not open reject with StoreError', async () => {
      const store = await makeStore();
      await assert.rejects(store.append([record(scopeName('closed'), 1)]), StoreError);
      await assert.rejects(store.load('x'), StoreError);
    });

    test('load of an unknown scope is null', async () => {
      const store = await open();
      assert.equal(await store.load(scopeName('unknown')), null);
    });

    test('append then load returns the records, in order, deep-equal', async () => {
      const store = await open();
      const scope = scopeName('roundtrip');
      const records = [
        record(scope, 1, [fragment(0), fragment(1), fragment(2)]),
        record(scope, 2, [fragment(3, { list: [1, 'two', null, { nested: [true] }] })]),
      ];
      await store.append(records);
      await store.append([record(scope, 3, [])]);
      const loaded = await store.load(scope);
      assert.deepEqual(loaded, {
        snapshot: null,
        changes: [...records, record(scope, 3, [])],
        version: 3,
      });
    });

    test('stored data is a copy: mutating inputs or loaded results changes nothing', async () => {
      const store = await open();
      const scope = scopeName('copy');
      const input = record(scope, 1);
      await store.append([input]);
      input.fragments[0]!.properties.x = 999;
      const first = await store.load(scope);
      assert.equal(first!.changes[0]!.fragments[0]!.properties.x, 1);
      first!.changes[0]!.fragments[0]!.properties.x = 555;
      const second = await store.load(scope);
      assert.equal(second!.changes[0]!.fragments[0]!.properties.x, 1);
    });

    test('encodedFragments is stored as given', async () => {
      const store = await open();
      const scope = scopeName('encoded');
      const fragments = [fragment(1)];
      await store.append([{ scope, version: 1, fragments, encodedFragments: JSON.stringify(fragments) }]);
      const loaded = await store.load(scope);
      assert.deepEqual(loaded!.changes, [{ scope, version: 1, fragments }]);
    });

    test('one append carries many records across several scopes', async () => {
      const store = await open();
      const scopes = [scopeName('multi-a'), scopeName('multi-b'), scopeName('multi-c')];
      const batch: ChangeRecord[] = [];
      // Interleaved, as a group commit of one tick would produce them.
      for (let v = 1; v <= 5; v++) for (const scope of scopes) batch.push(record(scope, v));
      await store.append(batch);
      for (const scope of scopes) {
        const loaded = await store.load(scope);
        assert.equal(loaded!.version, 5);
        assert.deepEqual(
          loaded!.changes.map((c) => c.version),
          [1, 2, 3, 4, 5],
        );
        assert.deepEqual(loaded!.changes[2], record(scope, 3));
      }
    });

    test('an empty append is a no-op', async () => {
      const store = await open();
      await store.append([]);
    });

    test('an existing version is rejected with StoreConflictError and stores nothing', async () => {
      const store = await open();
      const scope = scopeName('dup');
      await store.append([record(scope, 1), record(scope, 2)]);
      const err = await store.append([record(scope, 2)]).then(
        () => assert.fail('append of an existing version succeeded'),
        (e: unknown) => e,
      );
      assert.ok(err instanceof StoreConflictError, String(err));
      assert.equal(err.code, 'JS_ERR_STORE_CONFLICT');
      assert.equal(err.scope, scope);
      assert.equal(err.expectedVersion, 3);
      assert.equal(err.actualVersion, 2);
      assert.match(err.message, /conflict/i);
      assert.match(err.message, new RegExp(scope));
      // The same batch again (a retry by a confused writer) is rejected too.
      await assert.rejects(store.append([record(scope, 1), record(scope, 2)]), StoreConflictError);
      assert.equal((await store.load(scope))!.version, 2);
    });

    test('a gap is rejected: first version of a new scope must be 1, then last + 1', async () => {
      const store = await open();
      const scope = scopeName('gap');
      await assert.rejects(store.append([record(scope, 2)]), StoreConflictError);
      assert.equal(await store.load(scope), null);
      await store.append([record(scope, 1)]);
      await assert.rejects(store.append([record(scope, 3)]), StoreConflictError);
      // Not contiguous inside one batch.
      await assert.rejects(store.append([record(scope, 2), record(scope, 4)]), StoreConflictError);
      await assert.rejects(store.append([record(scope, 3), record(scope, 2)]), StoreConflictError);
      assert.equal((await store.load(scope))!.version, 1);
    });

    test('all or nothing: a batch whose 3rd record is bad stores none of it', async () => {
      const store = await open();
      const [a, b, c] = [scopeName('aon-a'), scopeName('aon-b'), scopeName('aon-c')];
      await store.append([record(c, 1)]);
      // 3rd record conflicts with what is stored (c is at version 1).
      await assert.rejects(store.append([record(a, 1), record(b, 1), record(c, 1)]), StoreConflictError);
      assert.equal(await store.load(a), null);
      assert.equal(await store.load(b), null);
      assert.equal((await store.load(c))!.version, 1);
      // 3rd record breaks contiguity within the batch.
      await assert.rejects(store.append([record(a, 1), record(b, 1), record(a, 3)]), StoreConflictError);
      assert.equal(await store.load(a), null);
      assert.equal(await store.load(b), null);
      // 3rd record cannot be serialized.
      const circular: Record<string, unknown> = {};
      circular.self = circular;
      await assert.rejects(
        store.append([record(a, 1), record(b, 1), record(c, 2, [fragment(1, { circular })])]),
        StoreError,
      );
      assert.equal(await store.load(a), null);
      assert.equal(await store.load(b), null);
      assert.equal((await store.load(c))!.version, 1);
      const names = await store.listScopes();
      assert.ok(!names.includes(a) && !names.includes(b));
      // The scopes remain usable.
      await store.append([record(a, 1), record(b, 1), record(c, 2)]);
      assert.equal((await store.load(c))!.version, 2);
    });

    test('invalid input is rejected with StoreError', async () => {
      const store = await open();
      await assert.rejects(store.append([record('', 1)]), StoreError);
      await assert.rejects(store.append([record('nul\u0000name', 1)]), StoreError);
      await assert.rejects(store.append([record(scopeName('bad'), 0)]), StoreError);
      await assert.rejects(store.append([record(scopeName('bad'), 1.5)]), StoreError);
      await assert.rejects(
        store.append([{ scope: scopeName('bad'), version: 1 } as ChangeRecord]),
        StoreError,
      );
      await assert.rejects(store.writeSnapshot(snapshot(scopeName('bad'), -1)), StoreError);
      await assert.rejects(
        store.writeSnapshot({ ...snapshot(scopeName('bad'), 1), rootUUID: '' }),
        StoreError,
      );
      await assert.rejects(store.load(''), StoreError);
    });

    test('a snapshot prunes older changes; load returns it plus later changes only', async () => {
      const store = await open();
      const scope = scopeName('snap');
      await store.append([record(scope, 1), record(scope, 2), record(scope, 3)]);
      const snap = snapshot(scope, 2, 5);
      await store.writeSnapshot(snap);
      await store.append([record(scope, 4)]);
      assert.deepEqual(await store.load(scope), {
        snapshot: snap,
        changes: [record(scope, 3), record(scope, 4)],
        version: 4,
      });
      // A newer snapshot replaces the older one.
      const newer = snapshot(scope, 4, 2);
      await store.writeSnapshot(newer);
      assert.deepEqual(await store.load(scope), { snapshot: newer, changes: [], version: 4 });
      // The next version still follows on.
      await assert.rejects(store.append([record(scope, 4)]), StoreConflictError);
      await store.append([record(scope, 5)]);
      assert.deepEqual(await store.load(scope), { snapshot: newer, changes: [record(scope, 5)], version: 5 });
    });

    test('an older snapshot is rejected; one of the same version replaces', async () => {
      const store = await open();
      const scope = scopeName('stale');
      await store.append([record(scope, 1), record(scope, 2)]);
      await store.writeSnapshot(snapshot(scope, 2));
      await assert.rejects(store.writeSnapshot(snapshot(scope, 1)), StoreConflictError);
      const again = snapshot(scope, 2, 7);
      await store.writeSnapshot(again);
      assert.deepEqual(await store.load(scope), { snapshot: again, changes: [], version: 2 });
    });

    test('a snapshot of a scope with no changes (version 0, or ahead of the changes)', async () => {
      const store = await open();
      const fresh = scopeName('snap-fresh');
      const initial = snapshot(fresh, 0);
      await store.writeSnapshot(initial);
      assert.deepEqual(await store.load(fresh), { snapshot: initial, changes: [], version: 0 });
      await store.append([record(fresh, 1)]);
      assert.deepEqual(await store.load(fresh), {
        snapshot: initial,
        changes: [record(fresh, 1)],
        version: 1,
      });

      const ahead = scopeName('snap-ahead');
      await store.append([record(ahead, 1)]);
      await store.writeSnapshot(snapshot(ahead, 10));
      const loaded = await store.load(ahead);
      assert.equal(loaded!.version, 10);
      assert.deepEqual(loaded!.changes, []);
      await assert.rejects(store.append([record(ahead, 2)]), StoreConflictError);
      await store.append([record(ahead, 11)]);
    });

    test('listScopes lists every scope with something stored, sorted; deleteScope removes one', async () => {
      const store = await open();
      const [b, a, s] = [scopeName('list-b'), scopeName('list-a'), scopeName('list-snapshot-only')];
      await store.append([record(b, 1), record(a, 1)]);
      await store.writeSnapshot(snapshot(s, 0));
      const names = await store.listScopes();
      for (const name of [a, b, s]) assert.ok(names.includes(name), `${name} missing from ${names}`);
      assert.deepEqual(names, [...names].sort());
      await store.deleteScope(b);
      await store.deleteScope(s);
      await store.deleteScope(scopeName('never-stored'));
      const left = await store.listScopes();
      assert.ok(left.includes(a));
      assert.ok(!left.includes(b) && !left.includes(s));
      assert.equal(await store.load(b), null);
      assert.equal(await store.load(s), null);
      // A deleted scope starts again at version 1.
      await store.append([record(b, 1)]);
      assert.equal((await store.load(b))!.version, 1);
    });

    test('a new instance on the same storage sees everything (reopen)', async () => {
      const scope = scopeName('reopen');
      const other = scopeName('reopen-other');
      const first = await open();
      await first.append([record(scope, 1), record(scope, 2), record(other, 1)]);
      const snap = snapshot(scope, 1);
      await first.writeSnapshot(snap);
      await first.append([record(scope, 3)]);
      await first.close();

      const second = await open();
      assert.deepEqual(await second.load(scope), {
        snapshot: snap,
        changes: [record(scope, 2), record(scope, 3)],
        version: 3,
      });
      assert.deepEqual(await second.load(other), { snapshot: null, changes: [record(other, 1)], version: 1 });
      const names = await second.listScopes();
      assert.ok(names.includes(scope) && names.includes(other));
      // It continues the version sequence, and refuses what the first instance already stored.
      await assert.rejects(second.append([record(scope, 3)]), StoreConflictError);
      await second.append([record(scope, 4)]);
    });

    test('two instances on the same storage cannot both append the same version', async () => {
      const scope = scopeName('two-writers');
      const one = await open();
      const two = await open();
      await one.append([record(scope, 1)]);
      const results = await Promise.allSettled([
        one.append([record(scope, 2)]),
        two.append([record(scope, 2)]),
      ]);
      const ok = results.filter((r) => r.status === 'fulfilled');
      const failed = results.filter((r) => r.status === 'rejected');
      assert.equal(ok.length, 1, JSON.stringify(results));
      assert.equal(failed.length, 1);
      assert.ok((failed[0] as PromiseRejectedResult).reason instanceof StoreConflictError);
      assert.equal((await one.load(scope))!.changes.length, 2);
    });

    test('unicode and awkward strings survive, in scope names and payloads', async () => {
      const store = await open();
      const scope = `${scopeName('unicode')}-画布-🎨-"quoted"-'single'-\\-ü`;
      const text =
        'héllo wörld — 你好 — 🎉👩‍👩‍👧 — \u2028\u2029 — "quotes" \\ backslash \n\t — \u0000 — \ud800 lone';
      const fragments = [fragment(1, { text, [`key-🔑-${text.slice(0, 5)}`]: 'v', '': 'empty key' })];
      await store.append([record(scope, 1, fragments)]);
      const snap: Snapshot = { scope, version: 1, rootUUID: 'root-🌳', fragments };
      await store.writeSnapshot(snap);
      await store.append([record(scope, 2, fragments)]);
      // JSON.stringify escapes a lone surrogate, so even that comes back exactly.
      assert.deepEqual(await store.load(scope), {
        snapshot: snap,
        changes: [record(scope, 2, fragments)],
        version: 2,
      });
      assert.ok((await store.listScopes()).includes(scope));
    });

    test('large payloads: a 2 MB fragment, a 10,000-fragment snapshot, a 500-record append', async () => {
      const store = await open();
      const scope = scopeName('large');
      const big = 'x'.repeat(2 * 1024 * 1024);
      await store.append([record(scope, 1, [fragment(1, { big })])]);
      const many: ChangeRecord[] = [];
      for (let v = 2; v <= 501; v++) many.push(record(scope, v, [fragment(v), fragment(v + 1)]));
      await store.append(many);
      const snap = snapshot(scope, 400, 10_000);
      await store.writeSnapshot(snap);
      const loaded = await store.load(scope);
      assert.equal(loaded!.version, 501);
      assert.equal(loaded!.snapshot!.fragments.length, 10_000);
      assert.deepEqual(loaded!.snapshot, snap);
      assert.deepEqual(
        loaded!.changes.map((c) => c.version),
        Array.from({ length: 101 }, (_, i) => 401 + i),
      );
      // More records in one append than one INSERT statement takes (PostgreSQL: 1,000 rows).
      const [p, q] = [scopeName('large-many-p'), scopeName('large-many-q')];
      const huge: ChangeRecord[] = [];
      for (let v = 1; v <= 1300; v++) huge.push(record(p, v), record(q, v));
      await store.append(huge);
      assert.equal((await store.load(p))!.changes.length, 1300);
      assert.deepEqual((await store.load(q))!.changes[1299], record(q, 1300));
      const other = scopeName('large-one');
      await store.append([record(other, 1, [fragment(1, { big })])]);
      assert.equal((await store.load(other))!.changes[0]!.fragments[0]!.properties.big, big);
    });

    test('concurrent appends to different scopes all land', async () => {
      const store = await open();
      const scopes = Array.from({ length: 20 }, () => scopeName('concurrent'));
      await Promise.all(
        scopes.map(async (scope) => {
          for (let v = 1; v <= 5; v++) await store.append([record(scope, v)]);
        }),
      );
      for (const scope of scopes) assert.equal((await store.load(scope))!.changes.length, 5);
    });

    test('appends issued before the previous one settled apply in call order', async () => {
      const store = await open();
      const [a, b] = [scopeName('pipelined-a'), scopeName('pipelined-b')];
      const pending: Promise<void>[] = [];
      for (let v = 1; v <= 10; v++) {
        pending.push(store.append([record(a, v), record(b, v)]));
        if (v === 5) pending.push(store.writeSnapshot(snapshot(a, 5)));
      }
      await Promise.all(pending);
      const loaded = await store.load(a);
      assert.equal(loaded!.version, 10);
      assert.equal(loaded!.snapshot!.version, 5);
      assert.deepEqual(
        loaded!.changes.map((c) => c.version),
        [6, 7, 8, 9, 10],
      );
      assert.equal((await store.load(b))!.changes.length, 10);
      // A failed append makes the following ones on that scope fail too: no gap is ever stored.
      const results = await Promise.allSettled([
        store.append([record(a, 12)]),
        store.append([record(a, 13)]),
        store.append([record(b, 11)]),
      ]);
      assert.deepEqual(
        results.map((r) => r.status),
        ['rejected', 'rejected', 'fulfilled'],
      );
      assert.equal((await store.load(a))!.version, 10);
    });

    describe('compact', () => {
      const compactOf = (store: Store) => {
        assert.ok(store.compact, `${name} has no compact`);
        return store.compact.bind(store);
      };
      const skip = async () => typeof (await makeStore()).compact !== 'function';

      test('writes the snapshot folded from the stored snapshot and changes up to a version; prunes them', async (t) => {
        if (await skip()) return t.skip(`${name} does not compact`);
        const store = await open();
        const scope = scopeName('compact');
        await store.writeSnapshot(boardSnapshot(scope, 0));
        await store.append(boardRecords(scope, 1, 6));
        await compactOf(store)(scope, 4, board);
        const loaded = (await store.load(scope))!;
        assert.equal(loaded.version, 6);
        assert.deepEqual(loaded.snapshot, boardAt(scope, 4));
        assert.deepEqual(loaded.changes, boardRecords(scope, 5, 6));
        // What the fold gives, written out: notes 3 and 4 are left, 3 pinning 4; defaults filled in.
        assert.deepEqual(loaded.snapshot!.fragments, [
          {
            type: 'change',
            uuid: BOARD,
            clsName: 'Board',
            properties: { title: 't', notes: [note(3), note(4)] },
          },
          {
            type: 'add',
            uuid: note(3),
            clsName: 'Note',
            properties: { text: 'note 3', at: 1.5, pinned: note(4) },
          },
          { type: 'add', uuid: note(4), clsName: 'Note', properties: { text: 'note 4', at: 1.5 } },
        ]);
        // Again, from that snapshot, up to the latest version; the log goes on after it.
        await compactOf(store)(scope, 6, board);
        assert.deepEqual(await store.load(scope), { snapshot: boardAt(scope, 6), changes: [], version: 6 });
        await assert.rejects(store.append([boardRecord(scope, 6)]), StoreConflictError);
        await store.append([boardRecord(scope, 7)]);
        assert.deepEqual((await store.load(scope))!.changes, [boardRecord(scope, 7)]);
      });

      test('does nothing when the stored snapshot is at that version or later', async (t) => {
        if (await skip()) return t.skip(`${name} does not compact`);
        const store = await open();
        const scope = scopeName('compact-noop');
        await store.writeSnapshot(boardSnapshot(scope, 0));
        await store.append(boardRecords(scope, 1, 5));
        const written = boardAt(scope, 3);
        await store.writeSnapshot(written);
        await compactOf(store)(scope, 2, board);
        await compactOf(store)(scope, 3, board);
        assert.deepEqual(await store.load(scope), {
          snapshot: written,
          changes: boardRecords(scope, 4, 5),
          version: 5,
        });
      });

      test('rejects with StoreError: unknown scope, version not stored yet, no snapshot, invalid input', async (t) => {
        if (await skip()) return t.skip(`${name} does not compact`);
        const store = await open();
        const compact = compactOf(store);
        await assert.rejects(compact(scopeName('compact-unknown'), 1, board), /nothing is stored/);
        const scope = scopeName('compact-errors');
        await store.writeSnapshot(boardSnapshot(scope, 0));
        await store.append(boardRecords(scope, 1, 2));
        await assert.rejects(compact(scope, 3, board), (err: unknown) => {
          assert.ok(err instanceof StoreError);
          assert.match(err.message, /version 3: its latest stored version is 2/);
          return true;
        });
        const bare = scopeName('compact-bare');
        await store.append([boardRecord(bare, 1)]);
        await assert.rejects(compact(bare, 1, board), /no snapshot to start from/);
        await assert.rejects(compact('', 1, board), StoreError);
        await assert.rejects(compact(scope, -1, board), StoreError);
        await assert.rejects(compact(scope, 1.5, board), StoreError);
        await assert.rejects(compact(scope, 1, null as never), StoreError);
        assert.deepEqual((await store.load(scope))!.snapshot, boardSnapshot(scope, 0), 'nothing written');
        const closed = await makeStore();
        await assert.rejects(compactOf(closed)(scope, 1, board), StoreError);
      });

      test('appends issued while a compaction runs land, in order, and never conflict with it', async (t) => {
        if (await skip()) return t.skip(`${name} does not compact`);
        const store = await open();
        const scope = scopeName('compact-concurrent');
        const other = scopeName('compact-concurrent-other');
        await store.writeSnapshot(boardSnapshot(scope, 0));
        // Big enough that the compaction is still running while the appends are issued.
        const many = boardRecords(scope, 1, 3000);
        await store.append(many.slice(0, 2000));
        const compacting = compactOf(store)(scope, 2000, board);
        const appends: Promise<void>[] = [];
        for (let v = 2001; v <= 3000; v += 100) {
          appends.push(store.append([...many.slice(v - 1, v + 99), record(other, (v - 1901) / 100)]));
        }
        // A compaction's version must be stored: this one starts once 2401..2500 is, while the
        // later appends may still be in flight.
        const later = appends[4]!.then(() => compactOf(store)(scope, 2500, board));
        await Promise.all([compacting, ...appends, later]);
        const loaded = (await store.load(scope))!;
        assert.equal(loaded.version, 3000);
        assert.deepEqual(loaded.snapshot, boardAt(scope, 2500));
        assert.deepEqual(
          loaded.changes.map((c) => c.version),
          Array.from({ length: 500 }, (_, i) => 2501 + i),
        );
        assert.equal((await store.load(other))!.version, 10);
      });

      test('a compacted snapshot survives a reopen; close waits for a compaction in flight', async (t) => {
        if (await skip()) return t.skip(`${name} does not compact`);
        const scope = scopeName('compact-reopen');
        const first = await open();
        await first.writeSnapshot(boardSnapshot(scope, 0));
        await first.append(boardRecords(scope, 1, 300));
        const compacting = compactOf(first)(scope, 300, board);
        await first.close();
        await compacting;
        const second = await open();
        assert.deepEqual(await second.load(scope), {
          snapshot: boardAt(scope, 300),
          changes: [],
          version: 300,
        });
      });
    });

    test('errors carry a generic wire form, not storage details', async () => {
      const store = await open();
      const scope = scopeName('wire');
      const err = await store.append([record(scope, 7)]).then(
        () => assert.fail('expected a conflict'),
        (e: unknown) => e as StoreError,
      );
      assert.deepEqual(err.toWire(), { message: 'The change could not be stored', type: 'store-failed' });
    });
  });
}
