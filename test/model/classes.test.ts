// Class-graph questions shared by the changeset engine and the client: reachableClasses() (cached
// per root class, forgotten when a definition changes a class it reached) and isClassNamed().
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ScopeError } from '../../src/errors.js';
import { isClassNamed, reachableClasses } from '../../src/model/classes.js';
import { joinTree, type ModelObject, model, type ScopeLink } from '../../src/model/model-object.js';

const names = (root: Parameters<typeof reachableClasses>[0]) => [...reachableClasses(root).keys()].sort();

describe('reachableClasses', () => {
  test('the root, classes named by references, and submodels of those', () => {
    const Item = model('Item');
    const Special = Item.model('Special');
    const Note = model('Note');
    const List = model('List', function () {
      this.has('items', [Item]);
      this.has('note', Note);
    });
    const Unrelated = model('Unrelated');
    assert.deepEqual(names(List), ['Item', 'List', 'Note', 'Special']);
    assert.equal(reachableClasses(List).get('Special'), Special);
    assert.equal(reachableClasses(List).has(Unrelated.typeName), false);
  });

  test('is cached per root until a definition changes a class the root reaches', () => {
    const Leaf = model('Leaf');
    const Root = model('Root', function () {
      this.has('leaf', Leaf);
    });
    const first = reachableClasses(Root);
    assert.equal(reachableClasses(Root), first);

    // A new property on a reached class.
    const Extra = model('Extra');
    Leaf.has('extra', Extra);
    const second = reachableClasses(Root);
    assert.notEqual(second, first);
    assert.deepEqual(names(Root), ['Extra', 'Leaf', 'Root']);

    // A new submodel of a reached class.
    const Twig = model('Twig');
    Twig.inherit(Extra);
    assert.deepEqual(names(Root), ['Extra', 'Leaf', 'Root', 'Twig']);

    // A definition elsewhere leaves the cache alone.
    const third = reachableClasses(Root);
    model('Elsewhere').has('n', Number);
    assert.equal(reachableClasses(Root), third);
  });

  test('a property added to the superclass of a reached class is seen through the subclass', () => {
    const Base = model('Base');
    const Sub = Base.model('Sub');
    const Root = model('Root', function () {
      this.has('sub', Sub);
    });
    assert.deepEqual(names(Root), ['Root', 'Sub']);
    const Target = model('Target');
    Base.has('target', Target);
    assert.deepEqual(names(Root), ['Root', 'Sub', 'Target']);
  });

  test('a class that moves to another superclass is forgotten by roots of the old one', () => {
    const A = model('A');
    const B = model('B');
    const Moving = A.model('Moving');
    assert.deepEqual(names(A), ['A', 'Moving']);
    Moving.inherit(B);
    assert.deepEqual(names(A), ['A']);
    assert.deepEqual(names(B), ['B', 'Moving']);
  });
});

describe('isClassNamed', () => {
  test('the class itself or any ancestor', () => {
    const Shape = model('Shape');
    const Circle = Shape.model('Circle');
    assert.equal(isClassNamed(Circle, 'Circle'), true);
    assert.equal(isClassNamed(Circle, 'Shape'), true);
    assert.equal(isClassNamed(Shape, 'Circle'), false);
    assert.equal(isClassNamed(Circle, 'ModelObject'), false);
  });
});

describe('joinTree', () => {
  const Node = model('JoinNode');
  Node.has('children', [Node]);

  function link(name: string): ScopeLink & { index: Map<string, ModelObject> } {
    const index = new Map<string, ModelObject>();
    return {
      name,
      root: null,
      index,
      get: (uuid) => index.get(uuid) ?? null,
      _join(obj) {
        joinTree(this, index, obj, () => {});
      },
      _propertyChanged() {},
      _lostParent() {},
    };
  }

  test('indexes the whole tree and links every child, calling back once per new member', () => {
    const scope = link('s');
    const root = new Node();
    const child = new Node();
    const grandchild = new Node();
    child.children.push(grandchild);
    root.children.push(child);
    const joined: ModelObject[] = [];
    joinTree(scope, scope.index, root, (o) => joined.push(o));
    assert.deepEqual(joined, [root, child, grandchild]);
    assert.equal(scope.index.size, 3);
    assert.equal(grandchild.scope, scope);
    assert.deepEqual(grandchild.getParentRelationships(), [{ parent: child, key: 'children' }]);
  });

  test('refuses objects of another scope and uuid clashes with a ScopeError', () => {
    const a = link('a');
    const b = link('b');
    const inA = new Node();
    joinTree(a, a.index, inA, () => {});
    assert.throws(
      () => joinTree(b, b.index, inA, () => {}),
      (e: Error) => e instanceof ScopeError && /belongs to scope 'a'/.test(e.message),
    );
    const twin = new Node({ uuid: inA.uuid });
    assert.throws(
      () => joinTree(a, a.index, twin, () => {}),
      (e: Error) => e instanceof ScopeError && /already has a ModelObject with UUID/.test(e.message),
    );
    assert.equal(twin.scope, null);
  });
});
