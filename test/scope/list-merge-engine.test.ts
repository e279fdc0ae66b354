// The changeset engine with a sender's base (docs/protocol.md §7.10): a collection change of an
// existing object is merged against the base instead of replacing the value; the merged list is
// what is applied, emitted (forwarded and stored) and reported in `lists`; without a known base
// the sender's list replaces the value as before. And the scope's history of collection values,
// which the bases come from.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { type Collection, type ModelObject, model, type Property } from '../../src/model/index.js';
import { type ListKey, listKeys } from '../../src/scope/list-merge.js';
import { Scope } from '../../src/scope/scope.js';
import type { AppliedFragment, ListBase } from '../../src/scope/types.js';
import { Node, type NodeT, node, u } from './helpers.js';

/** A ListBase answering one fixed base for every collection (or none). */
function fixedBase(base: readonly ListKey[] | null): ListBase {
  return { base: () => base };
}

function nodeScope(children: number[] = [11, 12]): {
  scope: Scope;
  root: NodeT;
  emitted: AppliedFragment[][];
} {
  const root = node(1, { children: children.map((n) => node(n)) });
  const scope = new Scope({ name: 'merge' });
  scope.setRoot(root);
  const emitted: AppliedFragment[][] = [];
  scope.on('changes', (f) => emitted.push(f));
  return { scope, root, emitted };
}

const uuids = (root: NodeT) => root.children.toArray().map((c) => c.uuid);
const prop = (name: string) => (Node as unknown as { $propMap: Record<string, Property> }).$propMap[name]!;

describe('engine: merging a collection change against the sender’s base', () => {
  test('an append merged with another session’s append: both kept, the merged list forwarded and reported', () => {
    const { scope, root, emitted } = nodeScope();
    // Another session appended u(13) (replace: no base).
    scope.applyChangeset([
      { type: 'add', uuid: u(13), clsName: 'Node', properties: {} },
      { type: 'change', uuid: u(1), clsName: 'Node', properties: { children: [u(11), u(12), u(13)] } },
    ]);
    // This sender saw [11, 12] and appends u(14).
    const result = scope.applyChangeset(
      [
        { type: 'add', uuid: u(14), clsName: 'Node', properties: {} },
        { type: 'change', uuid: u(1), clsName: 'Node', properties: { children: [u(11), u(12), u(14)] } },
      ],
      { listBase: fixedBase([u(11), u(12)]) },
    );
    assert.deepEqual(result.results, [null, null]);
    assert.deepEqual(uuids(root), [u(11), u(12), u(13), u(14)]);
    const change = emitted[1]!.find((f) => f.type === 'change')!;
    assert.deepEqual(
      change.properties.children,
      [u(11), u(12), u(13), u(14)],
      'the merged list is forwarded',
    );
    assert.equal(result.lists?.length, 1);
    assert.equal(result.lists![0]!.obj, root);
    assert.deepEqual(result.lists![0]!.mine, [u(11), u(12), u(14)]);
    assert.deepEqual(result.lists![0]!.merged, [u(11), u(12), u(13), u(14)]);
  });

  test('a removal merged with another session’s append: the removed child leaves the scope, the appended stays', () => {
    const { scope, root } = nodeScope([11, 12]);
    scope.applyChangeset([
      { type: 'add', uuid: u(13), clsName: 'Node', properties: {} },
      { type: 'change', uuid: u(1), clsName: 'Node', properties: { children: [u(11), u(12), u(13)] } },
    ]);
    const result = scope.applyChangeset(
      [{ type: 'change', uuid: u(1), clsName: 'Node', properties: { children: [u(12)] } }],
      { listBase: fixedBase([u(11), u(12)]) },
    );
    assert.deepEqual(result.results, [null]);
    assert.deepEqual(uuids(root), [u(12), u(13)]);
    assert.equal(scope.get(u(11)), null, 'the removed child left the scope (cascade)');
  });

  test('a reference to an object removed since the base is dropped, not an error; without a base it is one', () => {
    const { scope, root } = nodeScope([11, 12]);
    // Another session removed u(11) (it left the scope).
    scope.applyChangeset([
      { type: 'change', uuid: u(1), clsName: 'Node', properties: { children: [u(12)] } },
    ]);
    assert.equal(scope.get(u(11)), null);
    const append = [
      { type: 'add' as const, uuid: u(14), clsName: 'Node', properties: {} },
      {
        type: 'change' as const,
        uuid: u(1),
        clsName: 'Node',
        properties: { children: [u(11), u(12), u(14)] },
      },
    ];
    const refused = scope.applyChangeset(append, { listBase: fixedBase(null) });
    assert.match(refused.results[1]!.message, /No such ModelObjects/);
    // A uuid the sender never saw is still an error.
    const unknown = scope.applyChangeset(
      [{ type: 'change', uuid: u(1), clsName: 'Node', properties: { children: [u(12), u(99)] } }],
      { listBase: fixedBase([u(11), u(12)]) },
    );
    assert.match(unknown.results[0]!.message, /No such ModelObjects/);
    const merged = scope.applyChangeset(append, { listBase: fixedBase([u(11), u(12)]) });
    assert.deepEqual(merged.results, [null, null]);
    assert.deepEqual(uuids(root), [u(12), u(14)]);
  });

  test('when the merge gives the sender’s list, nothing is rewritten: merged is null', () => {
    const { scope, root, emitted } = nodeScope();
    const frag = { type: 'change' as const, uuid: u(1), clsName: 'Node', properties: { children: [u(12)] } };
    const result = scope.applyChangeset([frag], { listBase: fixedBase([u(11), u(12)]) });
    assert.deepEqual(uuids(root), [u(12)]);
    assert.equal(result.lists![0]!.merged, null);
    assert.equal(emitted[0]![0], frag, 'forwarded as sent');
  });

  test('an unknown base (null) replaces, as without a base', () => {
    const { scope, root } = nodeScope();
    scope.applyChangeset([
      { type: 'add', uuid: u(13), clsName: 'Node', properties: {} },
      { type: 'change', uuid: u(1), clsName: 'Node', properties: { children: [u(11), u(12), u(13)] } },
    ]);
    const result = scope.applyChangeset(
      [{ type: 'change', uuid: u(1), clsName: 'Node', properties: { children: [u(11)] } }],
      { listBase: fixedBase(null) },
    );
    assert.deepEqual(uuids(root), [u(11)]);
    assert.equal(result.lists![0]!.merged, null);
  });

  test('without a listBase nothing is merged and no lists are reported', () => {
    const { scope, root } = nodeScope();
    scope.applyChangeset([
      { type: 'add', uuid: u(13), clsName: 'Node', properties: {} },
      { type: 'change', uuid: u(1), clsName: 'Node', properties: { children: [u(11), u(12), u(13)] } },
    ]);
    const result = scope.applyChangeset([
      { type: 'change', uuid: u(1), clsName: 'Node', properties: { children: [u(11), u(12)] } },
    ]);
    assert.deepEqual(uuids(root), [u(11), u(12)]);
    assert.equal(result.lists, undefined);
  });

  test('scalar collections merge too (strings, and Dates by time, forwarded as seconds)', () => {
    const Dated = model('ListMergeDated', function () {
      this.has('days', [Date]);
    });
    const root = new Dated({ days: [new Date(1_000_000)] }) as ModelObject & { days: Collection<Date> };
    const scope = new Scope({ name: 'dates' });
    scope.setRoot(root);
    const emitted: AppliedFragment[][] = [];
    scope.on('changes', (f) => emitted.push(f));
    root.days.push(new Date(2_000_000)); // a server-side edit
    scope.flush();
    const result = scope.applyChangeset(
      [{ type: 'change', uuid: root.uuid, clsName: 'ListMergeDated', properties: { days: [1000, 3000] } }],
      { listBase: fixedBase([1_000_000]) },
    );
    assert.deepEqual(result.results, [null]);
    assert.deepEqual(
      root.days.toArray().map((d) => d.getTime()),
      [1_000_000, 2_000_000, 3_000_000],
    );
    assert.deepEqual(emitted[1]![0]!.properties.days, [1000, 2000, 3000]);

    const { scope: s2, root: r2 } = nodeScope();
    r2.tags.push('a');
    s2.flush();
    s2.applyChangeset([{ type: 'change', uuid: u(1), clsName: 'Node', properties: { tags: ['b'] } }], {
      listBase: fixedBase([]),
    });
    assert.deepEqual(r2.tags.toArray(), ['a', 'b']);
  });

  test('an atomic changeset that fails reports no lists and changes nothing', () => {
    const { scope, root } = nodeScope();
    const result = scope.applyChangeset(
      [
        { type: 'change', uuid: u(1), clsName: 'Node', properties: { children: [u(12)] } },
        { type: 'change', uuid: u(1), clsName: 'Node', properties: { n: 'not a number' } },
      ],
      { atomic: true, listBase: fixedBase([u(11), u(12)]) },
    );
    assert.ok(result.results.every((r) => r !== null));
    assert.equal(result.lists, undefined);
    assert.deepEqual(uuids(root), [u(11), u(12)]);
  });
});

describe('scope: the history of collection values', () => {
  test('records every change of a collection under its version: changesets, server-side edits, updates', () => {
    const { scope, root } = nodeScope();
    const children = prop('children');
    const v0 = scope.version;
    scope.applyChangeset([
      { type: 'change', uuid: u(1), clsName: 'Node', properties: { children: [u(12)] } },
    ]);
    const v1 = scope.version;
    root.children.push(node(20));
    scope.flush();
    const v2 = scope.version;
    scope.update(null, { $push: { children: { name: 'pushed' } } });
    const v3 = scope.version;
    const at = (v: number) => {
      const items = scope._lists.valueAt(root, children, v, scope.version, root.children._items);
      return items === null ? null : listKeys(items);
    };
    assert.deepEqual(at(v0), [u(11), u(12)]);
    assert.deepEqual(at(v1 + 0), [u(12)]);
    assert.deepEqual(at(v1), [u(12)]);
    assert.deepEqual(at(v2), [u(12), u(20)]);
    assert.equal(at(v3)!.length, 3);
    assert.deepEqual(at(v3), listKeys(root.children._items));
  });

  test('a server-side assignment records the value before it: a base older than it is known', () => {
    const { scope, root } = nodeScope();
    const children = prop('children');
    const v0 = scope.version;
    root.children.push(node(21));
    root.children.push(node(22)); // the same turn: one change, from the value before the first
    scope.flush();
    const items = scope._lists.valueAt(root, children, v0, scope.version, root.children._items);
    assert.deepEqual(items === null ? null : listKeys(items), [u(11), u(12)]);
  });

  test('a change of no collection starts the history too: a base from before it is known', () => {
    const { scope, root } = nodeScope();
    const children = prop('children');
    const v0 = scope.version;
    scope.applyChangeset([{ type: 'change', uuid: u(1), clsName: 'Node', properties: { n: 1 } }]);
    scope.applyChangeset([
      { type: 'change', uuid: u(1), clsName: 'Node', properties: { children: [u(12)] } },
    ]);
    const items = scope._lists.valueAt(root, children, v0, scope.version, root.children._items);
    assert.deepEqual(items === null ? null : listKeys(items), [u(11), u(12)]);
  });

  test('a rebuild (reset) forgets the history', () => {
    const { scope, root } = nodeScope();
    scope.applyChangeset([
      { type: 'change', uuid: u(1), clsName: 'Node', properties: { children: [u(12)] } },
    ]);
    assert.equal(scope._lists.size, 1);
    scope._reset();
    assert.equal(scope._lists.size, 0);
    assert.equal(root.uuid, u(1));
  });

  test('a replay (a restore from the store) is not recorded', () => {
    const { scope } = nodeScope();
    scope.applyChangeset(
      [{ type: 'change', uuid: u(1), clsName: 'Node', properties: { children: [u(12)] } }],
      {
        replay: true,
      },
    );
    assert.equal(scope._lists.size, 0);
  });
});
