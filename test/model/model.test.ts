// The schema DSL: model(), has(), inherit(), Super.model().
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { DefinitionError } from '../../src/errors.js';
import { enumeration, isModelClass, type ModelClass, ModelObject, model } from '../../src/model/index.js';
import { Kind } from '../../src/model/property.js';

describe('model()', () => {
  test('requires a model name (missing, empty, non-string)', () => {
    for (const bad of [undefined, '', 42, null]) {
      assert.throws(
        () => model(bad as unknown as string, () => {}),
        (e: Error) => e instanceof DefinitionError && /model name/.test(e.message),
      );
    }
  });

  test('sets typeName on the class and on the prototype (and instances)', () => {
    const Thing = model('Thing');
    assert.equal(Thing.typeName, 'Thing');
    assert.equal((Thing.prototype as ModelObject).typeName, 'Thing');
    assert.equal(new Thing().typeName, 'Thing');
    assert.equal(Thing.name, 'Thing');
    assert.ok(isModelClass(Thing));
    assert.ok(new Thing() instanceof ModelObject);
  });

  test('calls the definition exactly once, with this and the argument bound to the class', () => {
    const calls: unknown[][] = [];
    const Thing = model('Thing', function (this: ModelClass, arg: ModelClass) {
      calls.push([this, arg]);
    });
    assert.equal(calls.length, 1);
    assert.equal(calls[0]![0], Thing);
    assert.equal(calls[0]![1], Thing);
  });

  test('a third methods argument becomes instance methods, called with the given arguments', () => {
    const Thing = model(
      'Thing',
      function () {
        this.has('n', Number);
      },
      {
        add(this: { n: number }, a: number, b: number) {
          return this.n + a + b;
        },
      },
    );
    const t = new Thing({ n: 1 }) as ModelObject & { add(a: number, b: number): number };
    assert.equal(t.add(2, 3), 6);
    assert.equal(Object.keys(t).includes('add'), false, 'methods live on the prototype');
  });

  test('an object as second argument means methods only', () => {
    const Thing = model('Thing', { hello: () => 'hi' });
    assert.equal((new Thing() as unknown as { hello(): string }).hello(), 'hi');
    assert.equal(Thing.getProperties().length, 0);
  });

  test('a method may not shadow the ModelObject API', () => {
    assert.throws(() => model('Thing', () => {}, { getValues: () => 1 }), /reserved/);
    assert.throws(() => model('Thing', { uuid: () => 1 }), /reserved/);
  });

  test('declaring the same property twice throws ("already exists")', () => {
    assert.throws(
      () =>
        model('Thing', function () {
          this.has('x', Number);
          this.has('x', String);
        }),
      /already exists/,
    );
  });

  test('unknown types are rejected with the type named', () => {
    const bad: [unknown, RegExp][] = [
      [Object, /unknown type \(Object\)/],
      [undefined, /unknown type \(undefined\)/],
      [null, /unknown type \(null\)/],
      ['String', /unknown type \(string\)/],
      [class Foo {}, /unknown type \(Foo\)/],
      [[], /must be declared as \[Type\]/],
      [[Number, String], /must be declared as \[Type\]/],
      [[Object], /unknown type/],
    ];
    for (const [type, re] of bad) {
      assert.throws(
        () =>
          model('Thing', function () {
            this.has('p', type);
          }),
        (e: Error) => e instanceof DefinitionError && re.test(e.message) && /'p'/.test(e.message),
        `type ${String(type)}`,
      );
    }
  });

  test('property names: missing, reserved and internal names are rejected', () => {
    const tryName = (name: unknown) =>
      model('Thing', function () {
        this.has(name as string, Number);
      });
    assert.throws(() => tryName(''), /requires a name/);
    assert.throws(() => tryName(undefined), /requires a name/);
    assert.throws(() => tryName(7), /requires a name/);
    for (const reserved of ['uuid', 'typeName', 'scope', 'isScopeRoot', 'getValues', 'constructor', 'then']) {
      assert.throws(() => tryName(reserved), /reserved|not allowed/, reserved);
    }
    for (const internal of ['$x', '__proto__', 'prototype']) {
      assert.throws(() => tryName(internal), /not allowed/, internal);
    }
    // Instance fields of ModelObject are reserved too: a property `_scope` would be shadowed by
    // the field and assigning it would corrupt the object's scope.
    for (const field of ['_scope', '_p0', '_k0', '_px']) {
      assert.throws(() => tryName(field), /reserved/, field);
    }
  });

  test('supports every property type and reports kind and singleType', () => {
    const Status = enumeration('Status', String, ['On', 'Off']);
    const Other = model('Other');
    const Thing = model('Thing', function () {
      this.has('s', String);
      this.has('n', Number);
      this.has('b', Boolean);
      this.has('d', Date);
      this.has('e', Status);
      this.has('m', Other);
      this.has('ns', [Number]);
      this.has('ms', [Other]);
    });
    const props = Thing.getProperties();
    assert.deepEqual(
      props.map((p) => [p.name, p.kind, p.isCollection]),
      [
        ['s', Kind.String, false],
        ['n', Kind.Number, false],
        ['b', Kind.Boolean, false],
        ['d', Kind.Date, false],
        ['e', Kind.Enum, false],
        ['m', Kind.Model, false],
        ['ns', Kind.Number, true],
        ['ms', Kind.Model, true],
      ],
    );
    assert.equal(Thing.getProperty('s')!.singleType, String);
    assert.equal(Thing.getProperty('e')!.singleType, Status);
    assert.equal(Thing.getProperty('ms')!.singleType, Other);
    assert.equal(Thing.getProperty('ms')!.isModel, true);
    assert.equal(Thing.getProperty('n')!.isModel, false);
    assert.equal(Thing.getProperty('nope'), undefined);
    // getProperties() returns a copy
    props.pop();
    assert.equal(Thing.getProperties().length, 8);
  });

  test('defaultValue is validated when the model is defined', () => {
    assert.throws(
      () =>
        model('Thing', function () {
          this.has('n', Number, { defaultValue: 'five' });
        }),
      (e: Error) => e instanceof DefinitionError && /invalid default value for 'n'/.test(e.message),
    );
    assert.throws(
      () =>
        model('Thing', function () {
          this.has('ns', [Number], { defaultValue: 5 });
        }),
      /invalid default value for 'ns'.*array/,
    );
    assert.throws(
      () =>
        model('Thing', function () {
          this.has('ns', [Number], { defaultValue: [1, 'x'] });
        }),
      /invalid default value for 'ns'/,
    );
    // A Date default is a Date object, as an assignment takes (docs/client.md, "Values: one rule").
    assert.throws(
      () =>
        model('Thing', function () {
          this.has('d', Date, { defaultValue: '2020-01-02' });
        }),
      /invalid default value for 'd'.*expected Date, got string/,
    );
    const Other = model('Other');
    assert.throws(
      () =>
        model('Thing', function () {
          this.has('m', Other, { defaultValue: new Other() });
        }),
      /cannot have a default value/,
    );
    const Ok = model('Ok', function () {
      this.has('n', Number, { defaultValue: 3 });
      this.has('d', Date, { defaultValue: new Date('2020-01-02T03:04:05.678Z') });
      this.has('ns', [Number], { defaultValue: [1, 2] });
      this.has('s', String, { defaultValue: null });
    });
    assert.equal(Ok.getProperty('n')!.defaultValue, 3);
    assert.ok(Ok.getProperty('d')!.defaultValue instanceof Date);
    assert.deepEqual(Ok.getProperty('ns')!.defaultValue, [1, 2]);
    assert.equal(Ok.getProperty('s')!.defaultValue, null);
  });

  test('a model may refer to itself, singly and as a collection', () => {
    const Node = model('Node', function () {
      this.has('partner', this);
      this.has('children', [this]);
    });
    assert.equal(Node.getProperty('partner')!.type, Node);
    assert.equal(Node.getProperty('children')!.type, Node);
    const a = new Node();
    const b = new Node();
    a.assign({ partner: b, children: [b] });
    assert.equal(a.get('partner'), b);
  });

  test('ModelObject itself cannot be instantiated', () => {
    assert.throws(() => new (ModelObject as unknown as new () => ModelObject)(), /abstract/);
  });
});

describe('inheritance', () => {
  test('Super.model(name, def) has the super properties plus its own, with correct types', () => {
    const Shape = model('Shape', function () {
      this.has('x', Number);
    });
    const Circle = Shape.model('Circle', function () {
      this.has('radius', String);
    });
    assert.equal(Circle.typeName, 'Circle');
    assert.deepEqual(
      Circle.getProperties().map((p) => [p.name, p.kind]),
      [
        ['x', Kind.Number],
        ['radius', Kind.String],
      ],
    );
    const c = new Circle({ x: 1, radius: 'big' });
    assert.ok(c instanceof Shape);
    assert.ok(Circle.isSubclassOf(Shape));
    assert.ok(Circle.isSubclassOf(ModelObject));
    assert.equal(Shape.isSubclassOf(Circle), false);
    assert.deepEqual(Shape.$subclasses, [Circle]);
    // the super is unchanged
    assert.equal(Shape.getProperties().length, 1);
  });

  test('Super.model() without a definition just inherits', () => {
    const Shape = model('Shape', function () {
      this.has('x', Number);
    });
    const Square = Shape.model('Square');
    assert.equal(Square.getProperties().length, 1);
  });

  test('a property added to the super after the child was defined is inherited', () => {
    const Shape = model('Shape', function () {
      this.has('x', Number);
    });
    const Circle = Shape.model('Circle', function () {
      this.has('radius', Number);
    });
    const Big = Circle.model('Big');
    Shape.has('y', Number);
    assert.deepEqual(
      Circle.getProperties().map((p) => p.name),
      ['x', 'y', 'radius'],
    );
    assert.deepEqual(
      Big.getProperties().map((p) => p.name),
      ['x', 'y', 'radius'],
    );
    const b = new Big({ y: 2 });
    assert.equal(b.get('y'), 2);
  });

  test('Child.inherit(Super) after both were defined adds the super properties (1 → 2)', () => {
    const Super = model('Super', function () {
      this.has('a', Number);
    });
    const Child = model('Child', function () {
      this.has('b', Number);
    });
    assert.equal(Child.getProperties().length, 1);
    Child.inherit(Super);
    assert.equal(Child.getProperties().length, 2);
    assert.ok(new Child() instanceof Super);
  });

  test('re-inheriting moves the child from the old super to the new one', () => {
    const A = model('A');
    const B = model('B');
    const C = A.model('C');
    C.inherit(B);
    assert.deepEqual(A.$subclasses, []);
    assert.deepEqual(B.$subclasses, [C]);
    assert.equal(C.$super, B);
  });

  test('inherit() rejects non-models, cycles and property clashes', () => {
    const A = model('A', function () {
      this.has('x', Number);
    });
    const B = A.model('B');
    assert.throws(() => B.inherit({} as unknown as ModelClass), /can only inherit from a model/);
    assert.throws(() => B.inherit(ModelObject as unknown as ModelClass), /can only inherit from a model/);
    assert.throws(() => A.inherit(B), /cycle/);
    assert.throws(() => A.inherit(A), /cycle/);
    const C = model('C', function () {
      this.has('x', String);
    });
    assert.throws(() => C.inherit(A), /'x' already exists in 'A'/);
    // adding a clashing property to a super later is rejected too
    const D = model('D', function () {
      this.has('y', Number);
    });
    const E = D.model('E', function () {
      this.has('z', Number);
    });
    assert.throws(() => D.has('z', Number), /'z' already exists/);
    assert.equal(E.getProperties().length, 2);
  });

  test('a child may not redeclare an inherited property', () => {
    const A = model('A', function () {
      this.has('x', Number);
    });
    assert.throws(
      () =>
        A.model('B', function () {
          this.has('x', Number);
        }),
      /already exists/,
    );
  });
});

test('model(name, methods, moreMethods) keeps both method sets', () => {
  const Greeter = model('Greeter', { hello: () => 'hello' }, { bye: () => 'bye' });
  const g = new Greeter() as unknown as { hello(): string; bye(): string };
  assert.equal(g.hello(), 'hello');
  assert.equal(g.bye(), 'bye');
});

test('a Date default is copied per instance (a Date is mutable)', () => {
  const T = model('DatedThing', function () {
    this.has('when', Date, { defaultValue: new Date(1_000) });
  });
  const a = new T();
  const b = new T();
  assert.notEqual(a.when, b.when);
  assert.equal(a.when.getTime(), 1_000);
  a.when.setTime(5);
  assert.equal(b.when.getTime(), 1_000, 'mutating one instance leaves the others alone');
});
