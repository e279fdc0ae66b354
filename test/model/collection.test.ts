// Collection properties: validated all-or-nothing mutations that keep parent links right.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ValidationError } from '../../src/errors.js';
import { Collection, type ModelObject, model } from '../../src/model/index.js';

const Node = model('Node', function () {
  this.has('kids', [this]);
  this.has('nums', [Number]);
  this.has('strs', [String]);
  this.has('bools', [Boolean]);
  this.has('dates', [Date]);
});
type NodeT = ModelObject & {
  kids: Collection<NodeT>;
  nums: Collection<number>;
  strs: Collection<string>;
  bools: Collection<boolean>;
  dates: Collection<Date>;
};
const node = () => new Node() as NodeT;

/** Every child's (parent, key) links must match exactly the distinct elements of `parent.kids`. */
function assertLinks(parent: NodeT, children: NodeT[]) {
  const distinct = new Set(parent.kids.toArray());
  for (const c of children) {
    const links = c.getParentRelationships().filter((r) => r.parent === parent && r.key === 'kids');
    assert.equal(links.length, distinct.has(c) ? 1 : 0, `links of child ${children.indexOf(c)}`);
  }
}

describe('Collection', () => {
  test('defaults to empty and is a Collection, not an array', () => {
    const n = node();
    assert.ok(n.kids instanceof Collection);
    assert.equal(Array.isArray(n.kids), false);
    assert.equal(n.kids.length, 0);
    assert.equal(n.nums.pop(), undefined);
    assert.equal(n.nums.shift(), undefined);
  });

  test('value collections of every scalar type can be set and read', () => {
    const n = node();
    n.nums = [1, 2] as unknown as Collection<number>;
    n.strs.setAsArray(['a']);
    n.bools.push(true, false);
    n.dates.push(new Date(1), new Date(2));
    assert.deepEqual(n.nums.slice(), [1, 2]);
    assert.deepEqual(n.strs.toArray(), ['a']);
    assert.deepEqual([...n.bools], [true, false]);
    assert.deepEqual(
      n.dates.map((d) => d.getTime()),
      [1, 2],
    );
    assert.deepEqual(n.nums.toJSON(), [1, 2]);
  });

  test('an invalid element rejects the whole mutation (all or nothing)', () => {
    const n = node();
    n.nums.push(1);
    assert.throws(
      () => n.nums.push(2, '3' as unknown as number),
      (e: Error) => e instanceof ValidationError && /'Node.nums'.*elements of type Number/.test(e.message),
    );
    assert.throws(() => n.nums.push(Number.NaN), ValidationError);
    assert.throws(() => n.nums.push(null as unknown as number), /collections cannot hold null/);
    assert.throws(() => n.strs.push({} as unknown as string), /elements of type String/);
    assert.throws(() => n.bools.push('word' as unknown as boolean), /elements of type Boolean/);
    assert.throws(() => n.dates.push(new Date('nope')), /elements of type Date/);
    assert.throws(() => n.kids.push(new Date() as unknown as NodeT), /elements of type Node/);
    assert.throws(() => n.kids.setAsArray([node(), undefined as unknown as NodeT]), /cannot hold null/);
    assert.deepEqual(n.nums.toArray(), [1]);
    assert.equal(n.kids.length, 0);
  });

  test('reading helpers', () => {
    const n = node();
    n.nums.push(1, 2, 3);
    assert.equal(n.nums.at(0), 1);
    assert.equal(n.nums.at(-1), 3);
    assert.equal(n.nums.objectAtIndex(-2), 2);
    assert.equal(n.nums.at(5), undefined);
    assert.equal(n.nums.indexOf(2), 1);
    assert.equal(n.nums.includes(4), false);
    assert.deepEqual(
      n.nums.filter((v) => v > 1),
      [2, 3],
    );
    assert.equal(
      n.nums.find((v) => v > 1),
      2,
    );
    assert.equal(
      n.nums.some((v) => v > 2),
      true,
    );
    assert.equal(
      n.nums.every((v) => v > 2),
      false,
    );
    const seen: number[] = [];
    n.nums.forEach((v, i) => {
      seen.push(v * 10 + i);
    });
    assert.deepEqual(seen, [10, 21, 32]);
    n.dates.push(new Date(5));
    assert.equal(n.dates.indexOf(new Date(5)), 0, 'Dates compare by time');
  });

  test('push/pop/shift/unshift/splice/set/remove/setAsArray/clear keep parent links right', () => {
    const p = node();
    const [a, b, c, d] = [node(), node(), node(), node()];
    const all = [a, b, c, d];
    assert.equal(p.kids.push(a, b), 2);
    assertLinks(p, all);
    assert.equal(p.kids.unshift(c), 3);
    assert.deepEqual(p.kids.toArray(), [c, a, b]);
    assertLinks(p, all);
    assert.equal(p.kids.pop(), b);
    assertLinks(p, all);
    assert.equal(b.hasParents(), false);
    assert.equal(p.kids.shift(), c);
    assertLinks(p, all);
    p.kids.push(b, c);
    assert.deepEqual(p.kids.splice(1, 1, d), [b]);
    assert.deepEqual(p.kids.toArray(), [a, d, c]);
    assertLinks(p, all);
    assert.deepEqual(p.kids.splice(2), [c]);
    assertLinks(p, all);
    p.kids.set(0, b);
    assert.deepEqual(p.kids.toArray(), [b, d]);
    assertLinks(p, all);
    assert.equal(a.hasParents(), false);
    p.kids.set(-1, a);
    assert.deepEqual(p.kids.toArray(), [b, a]);
    assert.throws(() => p.kids.set(2, c), RangeError);
    assert.throws(() => p.kids.set(-3, c), RangeError);
    p.kids.push(b);
    assert.equal(p.kids.remove(b), 2);
    assert.equal(p.kids.remove(b), 0);
    assertLinks(p, all);
    assert.equal(b.hasParents(), false);
    p.kids.setAsArray([c, d, c]);
    assertLinks(p, all);
    assert.equal(c.getParentRelationships().length, 1, 'duplicates give one link');
    p.kids.clear();
    p.kids.clear();
    assertLinks(p, all);
    for (const x of all) assert.equal(x.hasParents(), false);
  });

  test('whole replacement by assignment relinks (diffing old against new)', () => {
    const p = node();
    const [a, b, c] = [node(), node(), node()];
    p.kids = [a, b] as unknown as Collection<NodeT>;
    p.kids = [b, c] as unknown as Collection<NodeT>;
    assertLinks(p, [a, b, c]);
    assert.equal(a.hasParents(), false);
    // assigning another collection copies its elements
    const q = node();
    q.kids = p.kids;
    assert.deepEqual(q.kids.toArray(), [b, c]);
    assert.notEqual(q.kids, p.kids);
    assert.equal(b.getParentRelationships().length, 2);
  });

  test('the collection object is stable; a mutation replaces its element array', () => {
    const n = node();
    const col = n.nums;
    const before = col.slice();
    col.push(1);
    assert.equal(n.nums, col);
    assert.deepEqual(before, []);
  });
});
