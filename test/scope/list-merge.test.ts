// The three-way list merge (src/scope/list-merge.ts, docs/protocol.md §7.10): examples of each
// rule, then properties over random lists (fast-check, fixed seed): what the client added is in
// the result, what it removed is not, what others inserted concurrently stays, the server's order
// is kept, element counts follow the rule also with repeated elements, and two clients' changes
// merged one after the other both survive.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { type ListKey, listKey, listKeys, mergeLists, sameList } from '../../src/scope/list-merge.js';

const SEED = Number(process.env.FUZZ_SEED ?? 0x11575);
const RUNS = Number(process.env.FUZZ_RUNS ?? 300);
const params = { seed: SEED, numRuns: RUNS };

describe('mergeLists: the rule', () => {
  test('nothing changed on the server since the base: the client’s list as sent, reordering included', () => {
    const base = ['a', 'b', 'c'];
    const mine = ['c', 'a', 'x'];
    assert.equal(mergeLists(base, mine, base.slice()), mine);
  });

  test('the client changed nothing: the current list', () => {
    const current = ['a', 'b', 'y'];
    assert.equal(mergeLists(['a', 'b'], ['a', 'b'], current), current);
  });

  test('both appended: the server’s appends first, then the client’s', () => {
    assert.deepEqual(mergeLists(['a'], ['a', 'x'], ['a', 'y']), ['a', 'y', 'x']);
    assert.deepEqual(mergeLists([], ['x1', 'x2'], ['y']), ['y', 'x1', 'x2']);
  });

  test('the client removed one element, another session appended: both apply', () => {
    assert.deepEqual(mergeLists(['a', 'b', 'c'], ['a', 'c'], ['a', 'b', 'c', 'y']), ['a', 'c', 'y']);
  });

  test('the client appended, another session removed an element: both apply', () => {
    assert.deepEqual(mergeLists(['a', 'b', 'c'], ['a', 'b', 'c', 'x'], ['a', 'c']), ['a', 'c', 'x']);
  });

  test('an insertion goes after its nearest predecessor the result holds, past others’ insertions there', () => {
    // x follows b in the client's list; y was inserted after b on the server meanwhile.
    assert.deepEqual(mergeLists(['a', 'b', 'c'], ['a', 'b', 'x', 'c'], ['a', 'b', 'y', 'c']), [
      'a',
      'b',
      'y',
      'x',
      'c',
    ]);
    // x follows b, which another session removed: it follows a, b's predecessor in the client's list.
    assert.deepEqual(mergeLists(['a', 'b', 'c'], ['a', 'b', 'x', 'c'], ['a', 'c']), ['a', 'x', 'c']);
    // No predecessor left: to the front, past what others put at the front.
    assert.deepEqual(mergeLists(['b', 'c'], ['x', 'b', 'c'], ['y', 'c']), ['y', 'x', 'c']);
    // Consecutive insertions stay together and in the client's order.
    assert.deepEqual(mergeLists(['a', 'b'], ['a', 'x1', 'x2', 'b'], ['a', 'b', 'y']), [
      'a',
      'x1',
      'x2',
      'b',
      'y',
    ]);
  });

  test('an insertion placed after an element the client removed skips it too', () => {
    // The client removed b and appended x; another session appended y after c.
    assert.deepEqual(mergeLists(['a', 'b'], ['a', 'x'], ['a', 'b', 'y']), ['a', 'y', 'x']);
  });

  test('the client’s reordering is dropped when the server’s list changed', () => {
    assert.deepEqual(mergeLists(['a', 'b', 'c'], ['c', 'b', 'a'], ['a', 'b', 'c', 'y']), [
      'a',
      'b',
      'c',
      'y',
    ]);
  });

  test('an element both added is there once', () => {
    assert.deepEqual(mergeLists(['a'], ['a', 'x'], ['a', 'x', 'y']), ['a', 'x', 'y']);
  });

  test('repeated scalars are told apart by occurrence', () => {
    // The client added a second 1; another session appended 2.
    assert.deepEqual(mergeLists([1], [1, 1], [1, 2]), [1, 2, 1]);
    // The client removed one of two 5s; another session appended a 5: one of the old ones goes.
    assert.deepEqual(mergeLists([5, 5], [5], [5, 5, 5]), [5, 5]);
  });

  test('the result is the client’s list itself when it equals it, the current list itself likewise', () => {
    const mine = ['a', 'x'];
    assert.equal(mergeLists(['a'], mine, ['a', 'x']), mine);
    const current = ['a', 'x', 'y'];
    assert.equal(mergeLists(['a', 'x'], ['a', 'x'], current), current);
  });

  test('listKey: a model object by its uuid, a Date by its time, a scalar as itself', () => {
    assert.equal(listKey({ uuid: 'u1' }), 'u1');
    assert.equal(listKey(new Date(1_700_000_000_123)), 1_700_000_000_123);
    assert.equal(listKey(3), 3);
    assert.deepEqual(listKeys(['s', true, 2]), ['s', true, 2]);
    assert.ok(sameList([1, 2], [1, 2]) && !sameList([1, 2], [2, 1]) && !sameList([1], [1, 1]));
  });
});

// ---- properties -------------------------------------------------------------------------------

/** A base list of distinct elements, and lists derived from it by removals, appends, insertions and moves. */
const distinctBase = fc.uniqueArray(fc.integer({ min: 0, max: 40 }), { maxLength: 12 });

/** Derives a list from `base`: drops some elements, inserts new ones (from `fresh`), maybe shuffles. */
function derive(base: number[], fresh: number[], drops: boolean[], at: number[], shuffle: boolean): number[] {
  const out = base.filter((_, i) => !drops[i % Math.max(drops.length, 1)]);
  fresh.forEach((v, i) => {
    out.splice((at[i] ?? 0) % (out.length + 1), 0, v);
  });
  if (shuffle) out.reverse();
  return out;
}

/** A scenario: a base, the client's list and the current list derived from it independently. */
const scenario = fc
  .record({
    base: distinctBase,
    mineDrops: fc.array(fc.boolean(), { maxLength: 12 }),
    mineAdd: fc.uniqueArray(fc.integer({ min: 100, max: 140 }), { maxLength: 4 }),
    mineAt: fc.array(fc.nat(), { maxLength: 4 }),
    mineShuffle: fc.boolean(),
    curDrops: fc.array(fc.boolean(), { maxLength: 12 }),
    curAdd: fc.uniqueArray(fc.integer({ min: 200, max: 240 }), { maxLength: 4 }),
    curAt: fc.array(fc.nat(), { maxLength: 4 }),
    curShuffle: fc.boolean(),
    shared: fc.uniqueArray(fc.integer({ min: 300, max: 310 }), { maxLength: 2 }),
  })
  .map((r) => ({
    base: r.base,
    // `shared` elements are added by both sides.
    mine: derive(r.base, [...r.mineAdd, ...r.shared], r.mineDrops, r.mineAt, r.mineShuffle),
    current: derive(r.base, [...r.curAdd, ...r.shared], r.curDrops, r.curAt, r.curShuffle),
  }));

const setOf = (list: readonly number[]) => new Set(list);

describe('mergeLists: properties (distinct elements)', () => {
  test('the client’s additions are in, its removals out; others’ insertions stay; nothing else appears', () => {
    fc.assert(
      fc.property(scenario, ({ base, mine, current }) => {
        const out = mergeLists(base, mine, current);
        const B = setOf(base);
        const M = setOf(mine);
        const C = setOf(current);
        const R = setOf(out);
        assert.equal(R.size, out.length, 'no element twice');
        for (const v of mine) if (!B.has(v)) assert.ok(R.has(v), `added ${v} is in`);
        for (const v of base) if (!M.has(v)) assert.ok(!R.has(v), `removed ${v} is out`);
        for (const v of current) if (!B.has(v)) assert.ok(R.has(v), `concurrent ${v} stays`);
        for (const v of out)
          assert.ok(C.has(v) || (M.has(v) && !B.has(v)), `${v} comes from current or the client`);
        // An element of current leaves only when the client removed it.
        for (const v of current) if (!R.has(v)) assert.ok(B.has(v) && !M.has(v), `${v} left only as removed`);
      }),
      params,
    );
  });

  test('the server’s order of the elements it had is kept (unless nothing changed there since the base)', () => {
    fc.assert(
      fc.property(scenario, ({ base, mine, current }) => {
        const out = mergeLists(base, mine, current);
        if (sameList(current, base)) {
          assert.deepEqual(out, mine);
          return;
        }
        const R = setOf(out);
        const kept = current.filter((v) => R.has(v));
        const C = setOf(current);
        assert.deepEqual(
          out.filter((v) => C.has(v)),
          kept,
        );
      }),
      params,
    );
  });

  test('merging the same change again changes nothing (a resent changeset)', () => {
    fc.assert(
      fc.property(scenario, ({ base, mine, current }) => {
        const once = mergeLists(base, mine, current);
        assert.deepEqual(mergeLists(base, mine, once), once);
      }),
      params,
    );
  });

  test('two clients’ changes on the same base, merged in either order: both apply, same elements', () => {
    const two = fc.record({
      base: distinctBase,
      d1: fc.array(fc.boolean(), { maxLength: 12 }),
      a1: fc.uniqueArray(fc.integer({ min: 100, max: 140 }), { maxLength: 3 }),
      at1: fc.array(fc.nat(), { maxLength: 3 }),
      d2: fc.array(fc.boolean(), { maxLength: 12 }),
      a2: fc.uniqueArray(fc.integer({ min: 200, max: 240 }), { maxLength: 3 }),
      at2: fc.array(fc.nat(), { maxLength: 3 }),
    });
    fc.assert(
      fc.property(two, ({ base, d1, a1, at1, d2, a2, at2 }) => {
        const m1 = derive(base, a1, d1, at1, false);
        const m2 = derive(base, a2, d2, at2, false);
        const r12 = mergeLists(base, m2, mergeLists(base, m1, base));
        const r21 = mergeLists(base, m1, mergeLists(base, m2, base));
        for (const r of [r12, r21]) {
          const R = setOf(r);
          for (const v of [...a1, ...a2]) assert.ok(R.has(v), `append ${v} survives`);
          for (const v of base) {
            const removed = !m1.includes(v) || !m2.includes(v);
            assert.equal(R.has(v), !removed, `${v} ${removed ? 'removed' : 'kept'}`);
          }
        }
        assert.deepEqual([...r12].sort(), [...r21].sort());
      }),
      params,
    );
  });

  test('appends only: the current list, then the client’s appends in its order', () => {
    fc.assert(
      fc.property(
        distinctBase,
        fc.uniqueArray(fc.integer({ min: 100, max: 140 }), { maxLength: 4 }),
        fc.uniqueArray(fc.integer({ min: 200, max: 240 }), { maxLength: 4 }),
        (base, mineTail, curTail) => {
          const out = mergeLists(base, [...base, ...mineTail], [...base, ...curTail]);
          assert.deepEqual(
            out,
            curTail.length === 0 ? [...base, ...mineTail] : [...base, ...curTail, ...mineTail],
          );
        },
      ),
      params,
    );
  });
});

describe('mergeLists: properties (repeated elements)', () => {
  const small = fc.array(fc.integer({ min: 0, max: 3 }), { maxLength: 10 });
  const count = (list: readonly ListKey[], k: ListKey) => list.filter((v) => v === k).length;

  test('each key occurs as the rule says: current’s, less the client’s removals, plus its additions not there yet', () => {
    fc.assert(
      fc.property(small, small, small, (base, mine, current) => {
        const out = mergeLists(base, mine, current);
        for (let k = 0; k <= 3; k++) {
          const b = count(base, k);
          const m = count(mine, k);
          const c = count(current, k);
          const expected = c - Math.max(0, Math.min(c, b) - m) + Math.max(0, m - Math.max(b, c));
          assert.equal(count(out, k), expected, `occurrences of ${k} (base ${b}, mine ${m}, current ${c})`);
        }
      }),
      params,
    );
  });

  test('the same counts when the three lists share a prefix and a suffix (the trimmed path)', () => {
    fc.assert(
      fc.property(small, small, small, small, small, (shared, tail, base, mine, current) => {
        const wrap = (mid: number[]) => [...shared, ...mid, ...tail];
        const out = mergeLists(wrap(base), wrap(mine), wrap(current));
        for (let k = 0; k <= 3; k++) {
          const b = count(wrap(base), k);
          const m = count(wrap(mine), k);
          const c = count(wrap(current), k);
          const expected = c - Math.max(0, Math.min(c, b) - m) + Math.max(0, m - Math.max(b, c));
          assert.equal(count(out, k), expected, `occurrences of ${k}`);
        }
        assert.deepEqual(out.slice(0, shared.length), shared, 'the shared prefix stays in front');
      }),
      params,
    );
  });

  test('deterministic, and the client’s list as sent when current equals base', () => {
    fc.assert(
      fc.property(small, small, small, (base, mine, current) => {
        assert.deepEqual(
          mergeLists(base, mine, current),
          mergeLists(base.slice(), mine.slice(), current.slice()),
        );
        assert.deepEqual(mergeLists(base, mine, base.slice()), mine);
      }),
      params,
    );
  });
});
