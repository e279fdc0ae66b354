// CollectionHistory (src/scope/collection-history.ts): a collection's value by scope version,
// within its bounds, and what it does not know (null: the caller replaces instead of merging).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Property } from '../../src/model/index.js';
import { CollectionHistory, MAX_ELEMENTS, MAX_VALUES } from '../../src/scope/collection-history.js';
import { Node, type NodeT, node } from './helpers.js';

const tagsProp = (Node as unknown as { $propMap: Record<string, Property> }).$propMap.tags!;
const childrenProp = (Node as unknown as { $propMap: Record<string, Property> }).$propMap.children!;

describe('CollectionHistory', () => {
  test('a value by version: before the first change, after each, and now', () => {
    const h = new CollectionHistory();
    const n = node(1);
    h.record(3, n, tagsProp, ['a'], ['a', 'b']);
    h.record(5, n, tagsProp, ['a', 'b'], ['b']);
    const now = ['b'];
    assert.deepEqual(h.valueAt(n, tagsProp, 2, 6, now), ['a']);
    assert.deepEqual(h.valueAt(n, tagsProp, 3, 6, now), ['a', 'b']);
    assert.deepEqual(h.valueAt(n, tagsProp, 4, 6, now), ['a', 'b']);
    assert.deepEqual(h.valueAt(n, tagsProp, 6, 6, now), ['b']);
    // Before the history started (the first record was version 3): unknown.
    assert.equal(h.valueAt(n, tagsProp, 1, 6, now), null);
    // Another collection, never changed since the history started: its current value.
    assert.deepEqual(h.valueAt(n, childrenProp, 2, 6, []), []);
    assert.equal(h.valueAt(n, childrenProp, 1, 6, []), null);
    // A version the scope has not reached, or none at all: unknown.
    assert.equal(h.valueAt(n, tagsProp, 7, 6, now), null);
    assert.equal(h.valueAt(n, tagsProp, -1, 6, now), null);
  });

  test('a first record without the value before: the value before it is unknown', () => {
    const h = new CollectionHistory();
    const n = node(2);
    h.record(1, n, tagsProp, undefined, ['x']);
    assert.equal(h.valueAt(n, tagsProp, 0, 1, ['x']), null);
    assert.deepEqual(h.valueAt(n, tagsProp, 1, 1, ['x']), ['x']);
  });

  test('a lookup before any record starts the history at the current version', () => {
    const h = new CollectionHistory();
    const n = node(3);
    assert.deepEqual(h.valueAt(n, tagsProp, 10, 10, ['q']), ['q']);
    assert.equal(h.valueAt(n, tagsProp, 9, 10, ['q']), null);
  });

  test('bounded by values: the oldest are forgotten, and what they answered becomes unknown', () => {
    const h = new CollectionHistory({ maxValues: 4, maxElements: 1_000 });
    const a = node(4);
    const b = node(5);
    h.record(1, a, tagsProp, [], ['a1']);
    for (let v = 2; v <= 6; v++) h.record(v, b, tagsProp, v === 2 ? [] : [`b${v - 1}`], [`b${v}`]);
    assert.equal(h.size, 4);
    // a's only entry (version 1) went: a holds its current value from version 1 on, not before.
    assert.deepEqual(h.valueAt(a, tagsProp, 1, 6, ['a1']), ['a1']);
    assert.equal(h.valueAt(a, tagsProp, 0, 6, ['a1']), null);
    // b's oldest entry (version 2) went: from version 2 on b is known, not before.
    assert.deepEqual(h.valueAt(b, tagsProp, 2, 6, ['b6']), ['b2']);
    assert.deepEqual(h.valueAt(b, tagsProp, 4, 6, ['b6']), ['b4']);
    assert.equal(h.valueAt(b, tagsProp, 1, 6, ['b6']), null);
  });

  test('bounded by elements: a value larger than the budget is not kept at all', () => {
    const h = new CollectionHistory({ maxValues: 100, maxElements: 10 });
    const n = node(6);
    const big = Array.from({ length: 11 }, (_, i) => `e${i}`);
    h.record(1, n, tagsProp, [], big);
    assert.equal(h.size, 0);
    assert.ok(h.elements <= 10);
    assert.equal(h.valueAt(n, tagsProp, 0, 1, big), null);
    assert.equal(h.valueAt(n, tagsProp, 1, 1, big), big);
  });

  test('never holds more than its limits, whatever is recorded', () => {
    const h = new CollectionHistory();
    const objs: NodeT[] = [node(7), node(8), node(9)];
    let before: string[] = [];
    for (let v = 1; v <= MAX_VALUES * 3; v++) {
      const after = Array.from({ length: (v % 7) * 1000 }, (_, i) => `x${i}`);
      h.record(v, objs[v % 3]!, tagsProp, before, after);
      before = after;
      assert.ok(h.size <= MAX_VALUES && h.elements <= MAX_ELEMENTS);
    }
  });

  test('begin: complete from that version on, also for a collection first recorded later', () => {
    const h = new CollectionHistory();
    const n = node(11);
    h.begin(2);
    h.begin(4); // already begun: no effect
    h.record(6, n, tagsProp, ['a'], ['b']);
    assert.deepEqual(h.valueAt(n, tagsProp, 2, 6, ['b']), ['a']);
    assert.equal(h.valueAt(n, tagsProp, 1, 6, ['b']), null);
  });

  test('reset forgets everything: the next record or lookup starts it again', () => {
    const h = new CollectionHistory();
    const n = node(10);
    h.record(5, n, tagsProp, ['a'], ['b']);
    h.reset();
    assert.equal(h.size, 0);
    assert.equal(h.valueAt(n, tagsProp, 4, 3, ['c']), null);
    assert.deepEqual(h.valueAt(n, tagsProp, 3, 3, ['c']), ['c']);
  });
});
