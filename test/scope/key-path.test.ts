// Key path resolution (the cases of the original's test/query/key_path_notation.js).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { type ModelClass, type ModelObject, model } from '../../src/model/index.js';
import {
  KeyPath,
  KeyPathNotation,
  type KeyPathResult,
  resolveModelObject,
  resolveProperty,
} from '../../src/scope/index.js';

const Leaf = model('Leaf');

const KeyPathTest = model('KeyPathTest', function () {
  this.has('single', this);
  this.has('leaf', Leaf);
  this.has('many', [this]);
  this.has('number', Number);
  this.has('str', String);
});

const DerivedKeyPathTest = model('DerivedKeyPathTest', function () {
  this.inherit(KeyPathTest);
  this.has('base', KeyPathTest);
  this.has('derived', this);
  this.has('date', Date);
});

model('ConflictingDerivedKeyPathTest', function () {
  this.inherit(KeyPathTest);
  this.has('date', Date);
});

/** A class derived from a derived class: inherits `derived` without declaring it again. */
const GrandDerivedKeyPathTest = model('GrandDerivedKeyPathTest', function () {
  this.inherit(DerivedKeyPathTest);
});

type Node = ModelObject & Record<string, unknown>;

function value<T>(r: KeyPathResult<T>): T {
  if (!r.ok) assert.fail(`expected a value, got error: ${r.error.message}`);
  return r.value;
}

function errorOf<T>(r: KeyPathResult<T>): string {
  if (r.ok) assert.fail('expected an error result');
  assert.equal(r.error.name, 'QueryError');
  return r.error.message;
}

describe('KeyPathNotation', () => {
  test('is a function and can be called without throwing', () => {
    assert.equal(typeof KeyPathNotation, 'function');
    assert.doesNotThrow(() => KeyPathNotation());
    assert.equal(KeyPathNotation, KeyPath);
    assert.equal(KeyPath.resolveModelObject, resolveModelObject);
    assert.equal(KeyPath.resolveProperty, resolveProperty);
  });
});

describe('resolveModelObject', () => {
  function tree() {
    const root = new KeyPathTest() as Node;
    const single = new KeyPathTest() as Node;
    const leaf = new Leaf();
    const many0 = new KeyPathTest() as Node;
    const many1 = new KeyPathTest() as Node;
    const many1Single = new KeyPathTest() as Node;
    const many1Leaf = new Leaf();
    root.single = single;
    single.leaf = leaf;
    root.many = [many0, many1];
    many0.leaf = new Leaf();
    many1.single = many1Single;
    many1Single.leaf = many1Leaf;
    return { root, single, leaf, many0, many1, many1Single, many1Leaf };
  }

  test('gives Err "Requires modelObject" for a non-ModelObject', () => {
    assert.match(errorOf(resolveModelObject(1, '')), /Requires modelObject/);
    assert.match(errorOf(resolveModelObject({ uuid: 'x' }, 'a')), /Requires modelObject/);
  });

  test('an empty key path gives the object itself', () => {
    const leaf = new Leaf();
    assert.equal(value(resolveModelObject(leaf, '')), leaf);
  });

  test('resolves nested objects', () => {
    const t = tree();
    assert.equal(value(resolveModelObject(t.root, 'single.leaf')), t.leaf);
    assert.equal(value(resolveModelObject(t.root, 'single')), t.single);
  });

  test('resolves collection elements by [i], .i and negative indices', () => {
    const t = tree();
    assert.equal(value(resolveModelObject(t.root, 'many.0.leaf')), t.many0.leaf);
    assert.equal(value(resolveModelObject(t.root, 'many[1]')), t.many1);
    assert.equal(value(resolveModelObject(t.root, 'many[1].single.leaf')), t.many1Leaf);
    assert.equal(value(resolveModelObject(t.root, 'many.0')), t.many0);
    assert.equal(value(resolveModelObject(t.root, 'many[-1]')), t.many1);
    assert.equal(value(resolveModelObject(t.root, 'many.-1')), t.many1);
    assert.equal(value(resolveModelObject(t.root, 'many.-2.leaf')), t.many0.leaf);
  });

  test('traverses properties that only a derived class declares', () => {
    const root = new KeyPathTest() as Node;
    const derived = new DerivedKeyPathTest() as Node;
    const inner = new DerivedKeyPathTest() as Node;
    const innerSingle = new KeyPathTest();
    root.single = derived;
    derived.derived = inner;
    inner.single = innerSingle;
    assert.equal(value(resolveModelObject(root, 'single.derived.single')), innerSingle);
  });

  test('an unknown property gives Err "No property"', () => {
    const t = tree();
    const message = errorOf(resolveModelObject(t.root, 'single.missing'));
    assert.match(message, /No property 'missing'/);
    assert.ok(message.includes(`KeyPathTest('${t.root.uuid}').single.missing`), message);
  });

  test('traversing a value property gives Err "is not a ModelObject property"', () => {
    const t = tree();
    assert.match(
      errorOf(resolveModelObject(t.root, 'single.number')),
      /Property 'number' is not a ModelObject property/,
    );
  });

  test('a collection without an index gives Err "No index found"', () => {
    const t = tree();
    assert.match(errorOf(resolveModelObject(t.root, 'many.single')), /No index found/);
    assert.match(errorOf(resolveModelObject(t.root, 'many')), /No index found/);
  });

  test('an out-of-range index gives Err "No ModelObject instance at index"', () => {
    const t = tree();
    assert.equal(value(resolveModelObject(t.root, 'many.0')), t.many0);
    assert.match(
      errorOf(resolveModelObject(t.root, 'many[2]')),
      /No ModelObject instance at index 2 on property 'many'/,
    );
    assert.match(errorOf(resolveModelObject(t.root, 'many[-3]')), /No ModelObject instance at index -3/);
  });

  test('a null intermediate gives Err "No ModelObject instance on property"', () => {
    const root = new KeyPathTest() as Node;
    root.single = new KeyPathTest();
    assert.match(
      errorOf(resolveModelObject(root, 'single.leaf')),
      /No ModelObject instance on property 'leaf'/,
    );
  });

  test('an index on a single reference is an error', () => {
    const t = tree();
    assert.match(errorOf(resolveModelObject(t.root, 'single[0]')), /is not a collection property/);
  });
});

describe('resolveProperty', () => {
  test('gives Err "Requires typeClass to derive from ModelObject" for a non-model', () => {
    assert.match(errorOf(resolveProperty(1, 'number')), /Requires typeClass to derive from ModelObject/);
    assert.match(
      errorOf(resolveProperty(() => {}, 'number')),
      /Requires typeClass to derive from ModelObject/,
    );
  });

  test('a direct property: owner type is the class, ownerKeyPath empty', () => {
    const r = value(resolveProperty(KeyPathTest, 'number'));
    assert.equal(r.property, KeyPathTest.getProperty('number'));
    assert.equal(r.ownerType, KeyPathTest);
    assert.equal(r.ownerKeyPath, '');
    assert.equal(r.index, null);
  });

  test('a nested property: ownerKeyPath is the path to its owner', () => {
    const r = value(resolveProperty(KeyPathTest, 'single.leaf'));
    assert.equal(r.property.name, 'leaf');
    assert.equal(r.ownerType, KeyPathTest);
    assert.equal(r.ownerKeyPath, 'single');
  });

  test('a trailing index names the collection; an inner index stays in ownerKeyPath', () => {
    const many = value(resolveProperty(KeyPathTest, 'many[1]'));
    assert.equal(many.property.name, 'many');
    assert.equal(many.ownerKeyPath, '');
    assert.equal(many.index, 1);

    const leaf = value(resolveProperty(KeyPathTest, 'single.many.0.leaf'));
    assert.equal(leaf.property.name, 'leaf');
    assert.equal(leaf.ownerKeyPath, 'single.many.0');
    assert.equal(leaf.index, null);

    const last = value(resolveProperty(KeyPathTest, 'many[-1].str'));
    assert.equal(last.ownerKeyPath, 'many[-1]');
  });

  test('resolves through a derived class', () => {
    const r = value(resolveProperty(KeyPathTest, 'single.derived.leaf'));
    assert.equal(r.property.name, 'leaf');
    assert.equal(r.ownerType, DerivedKeyPathTest);
    assert.equal(r.ownerKeyPath, 'single.derived');

    const d = value(resolveProperty(KeyPathTest, 'single.base'));
    assert.equal(d.ownerType, DerivedKeyPathTest);
  });

  test('a property inherited by several derived classes from one declaration is not ambiguous', () => {
    assert.ok(GrandDerivedKeyPathTest.getProperty('derived'));
    const r = value(resolveProperty(KeyPathTest, 'single.derived'));
    assert.equal(r.ownerType, DerivedKeyPathTest as ModelClass);
  });

  test('a property declared by two derived classes is ambiguous, naming both', () => {
    const message = errorOf(resolveProperty(KeyPathTest, 'single.date'));
    assert.match(message, /is ambiguous/);
    assert.match(message, /both declare the same property/);
    assert.ok(message.includes('DerivedKeyPathTest'), message);
    assert.ok(message.includes('ConflictingDerivedKeyPathTest'), message);
  });

  test('an unknown property gives Err "No property"', () => {
    assert.match(
      errorOf(resolveProperty(KeyPathTest, 'single.missing')),
      /No property 'missing' at keyPath: KeyPathTest.single.missing/,
    );
  });

  test('traversing a value property gives Err "is not a ModelObject property"', () => {
    assert.match(
      errorOf(resolveProperty(KeyPathTest, 'single.number.invalid')),
      /is not a ModelObject property/,
    );
  });

  test('a collection without an index gives Err "No index found"', () => {
    assert.match(errorOf(resolveProperty(KeyPathTest, 'many.single')), /No index found/);
  });

  test('a final dot index names the collection, ownerKeyPath without it', () => {
    const r = value(resolveProperty(KeyPathTest, 'single.many.3'));
    assert.equal(r.property.name, 'many');
    assert.equal(r.ownerKeyPath, 'single');
    assert.equal(r.index, 3);
  });

  test('an index on a single reference, or an empty key path, is an error', () => {
    assert.match(errorOf(resolveProperty(KeyPathTest, 'single[0].leaf')), /is not a collection property/);
    assert.match(errorOf(resolveProperty(KeyPathTest, '')), /keyPath/);
  });
});
