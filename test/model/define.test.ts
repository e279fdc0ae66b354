// defineModel(): the typed form of the DSL produces the same classes as model().
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { type Collection, defineModel, enumeration, model } from '../../src/model/index.js';

const Status = enumeration('Status', Number, { Open: 0, Closed: 1 });

const Shape = defineModel('Shape', {
  x: Number,
  label: { type: String, defaultValue: 'none' },
  tags: [String],
  seen: Date,
  status: Status,
});
const Canvas = defineModel('Canvas', { name: String, shapes: [Shape], main: Shape });
const Circle = defineModel('Circle', { radius: Number }, { extends: Shape, methods: { area } });
function area(this: { radius: number | null }) {
  return Math.PI * (this.radius ?? 0) ** 2;
}

const ShapeDsl = model('Shape', function () {
  this.has('x', Number);
  this.has('label', String, { defaultValue: 'none' });
  this.has('tags', [String]);
  this.has('seen', Date);
  this.has('status', Status);
});

// Compile-time checks: type-checked by `tsc --noEmit` (tsconfig includes test/), never run.
export function typeChecks(): void {
  const s = new Shape();
  const x: number | null = s.x;
  const tags: Collection<string> = s.tags;
  const st: 0 | 1 | null = s.status;
  // @ts-expect-error a Number property does not take a string
  s.x = 'ten';
  // @ts-expect-error an enumeration property takes only its values
  s.status = 2;
  const c = new Canvas();
  const first: ReturnType<typeof Shape.prototype.getValues> | undefined = c.shapes.at(0)?.getValues();
  // @ts-expect-error a reference property takes the referenced model only
  c.main = new Canvas();
  const r: number | null = new Circle().radius;
  const inheritedX: number | null = new Circle().x;
  // @ts-expect-error unknown property
  s.nope = 1;
  void [x, tags, st, first, r, inheritedX];
}

describe('defineModel()', () => {
  test('produces the same class as model(): typeName, properties (name, kind, collection, default)', () => {
    assert.equal(Shape.typeName, 'Shape');
    assert.equal(new Shape().typeName, 'Shape');
    const view = (cls: typeof ShapeDsl) =>
      cls.getProperties().map((p) => [p.name, p.kind, p.isCollection, p.type, p.defaultValue]);
    assert.deepEqual(view(Shape), view(ShapeDsl));
  });

  test('instances behave the same: validation, defaults, wire form', () => {
    const a = new Shape({ uuid: '00000000-0000-4000-8000-000000000001', x: 1 });
    const b = new ShapeDsl({ uuid: '00000000-0000-4000-8000-000000000001', x: 1 });
    assert.deepEqual(a.getAddSyncFragment(), b.getAddSyncFragment());
    assert.equal(a.label, 'none');
    assert.throws(() => {
      (a as unknown as { x: unknown }).x = 'ten';
    }, /'Shape.x'/);
    a.tags.push('t');
    assert.deepEqual(a.tags.toArray(), ['t']);
  });

  test('references, extends and methods', () => {
    const c = new Canvas();
    const s = new Shape();
    c.shapes.push(s);
    c.main = s;
    assert.equal(s.getParentRelationships().length, 2);
    const circle = new Circle({ radius: 2, x: 3 });
    assert.ok(circle instanceof Shape);
    assert.ok(Circle.isSubclassOf(Shape));
    assert.deepEqual(
      Circle.getProperties().map((p) => p.name),
      ['x', 'label', 'tags', 'seen', 'status', 'radius'],
    );
    assert.equal((circle as unknown as { area(): number }).area(), Math.PI * 4);
    c.shapes.push(circle);
    assert.equal(c.shapes.length, 2);
  });

  test('an enumeration whose keys include "type" is a type, not a {type} spec', () => {
    const Kinds = enumeration('Kinds', String, ['type', 'other']);
    const K = defineModel('K', { k: Kinds });
    assert.equal(K.getProperty('k')!.type, Kinds);
  });

  test('a self reference is added with the DSL after definition', () => {
    const Tree = defineModel('Tree', { name: String });
    Tree.has('children', [Tree]);
    const t = new Tree();
    const kid = new Tree();
    (t as unknown as { children: Collection<typeof kid> }).children.push(kid);
    assert.deepEqual(t.getChildModelObjects(), [kid]);
  });
});
