// ModelObject: identity, validated assignment, Dates, defaults, parent links, tree walk and the
// value views.
//
// We deliberately differ from the original server here: it silently ignored an invalid
// assignment (and coerced some values: '5' → 5 for Number, {} → '[object Object]' for String,
// 'word' → true for Boolean). We throw a descriptive ValidationError and never coerce, so a
// mistake in server code surfaces where it is made instead of turning into silent data loss.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ValidationError } from '../../src/errors.js';
import { enumeration, type ModelObject, model, walkTree } from '../../src/model/index.js';

const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

const Color = enumeration('Color', Number, { Red: 1, Green: 2 });

const Item = model('Item', function () {
  this.has('s', String);
  this.has('n', Number);
  this.has('b', Boolean);
  this.has('d', Date);
  this.has('e', Color);
  this.has('partner', this);
  this.has('children', [this]);
  this.has('tags', [String]);
  this.has('dates', [Date]);
});
type ItemT = ModelObject & {
  s: string | null;
  n: number | null;
  b: boolean | null;
  d: Date | null;
  e: number | null;
  partner: ItemT | null;
  // biome-ignore lint/suspicious/noExplicitAny: collections are exercised through their API
  children: any;
  // biome-ignore lint/suspicious/noExplicitAny: idem
  tags: any;
  // biome-ignore lint/suspicious/noExplicitAny: idem
  dates: any;
};
const item = (init?: Record<string, unknown>) => new Item(init) as ItemT;

const Other = model('Other', function () {
  this.has('x', Number);
});

function invalid(fn: () => unknown, ...parts: string[]) {
  assert.throws(
    fn,
    (e: Error) =>
      e instanceof ValidationError &&
      e.code === 'JS_ERR_INVALID_VALUE' &&
      parts.every((p) => e.message.includes(p)),
    `expected a ValidationError mentioning ${parts.join(', ')}`,
  );
}

describe('identity', () => {
  test('a new object gets a fresh lowercase v4 uuid', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 600; i++) {
      const o = item();
      assert.match(o.uuid, UUID_V4);
      seen.add(o.uuid);
    }
    assert.equal(seen.size, 600);
  });

  test('a given uuid is kept, lowercased', () => {
    assert.equal(
      item({ uuid: 'ABCDEF00-0000-4000-8000-00000000000A' }).uuid,
      'abcdef00-0000-4000-8000-00000000000a',
    );
    invalid(() => item({ uuid: 5 }), 'uuid must be a string');
  });

  test('the constructor rejects unknown properties and validates values', () => {
    invalid(() => item({ nope: 1 }), "Model 'Item' has no property 'nope'");
    invalid(() => item({ n: 'x' }), "'Item.n'");
    const o = item({ s: 'a', n: 1, tags: ['t'] });
    assert.equal(o.s, 'a');
    assert.equal(o.n, 1);
    assert.deepEqual(o.tags.toArray(), ['t']);
  });

  test('scope, isScopeRoot and parent queries of a free object', () => {
    const o = item();
    assert.equal(o.scope, null);
    assert.equal(o.isScopeRoot, false);
    assert.equal(o.hasParents(), false);
    assert.deepEqual(o.getParentRelationships(), []);
  });
});

describe('validated assignment', () => {
  test('each scalar type accepts its values and reads them back', () => {
    const o = item();
    o.s = 'hello';
    o.n = 3.5;
    o.b = false;
    o.e = Color.Green;
    assert.deepEqual([o.s, o.n, o.b, o.e], ['hello', 3.5, false, 2]);
    o.s = '';
    assert.equal(o.s, '');
  });

  test('null and undefined clear a scalar or a reference', () => {
    const o = item({ s: 'a', n: 1, partner: item() });
    o.s = null;
    o.n = undefined as unknown as null;
    o.partner = null;
    assert.equal(o.s, null);
    assert.equal(o.n, null);
    assert.equal(o.partner, null);
  });

  test('Number: strings, NaN, Infinity and other types throw (the original coerced "5" to 5; we do not)', () => {
    const o = item({ n: 1 });
    invalid(() => (o.n = '5' as unknown as number), "'Item.n'", 'expected Number', 'got string "5"');
    invalid(() => (o.n = Number.NaN), 'expected Number', 'got number NaN');
    invalid(() => (o.n = Number.POSITIVE_INFINITY), 'got number Infinity');
    invalid(() => (o.n = true as unknown as number), 'got boolean true');
    invalid(() => (o.n = {} as unknown as number), 'got an object');
    invalid(() => (o.n = [] as unknown as number), 'got an array');
    assert.equal(o.n, 1, 'the old value stays');
  });

  test('String: non-strings throw (the original turned {} into "[object Object]")', () => {
    const o = item();
    invalid(() => (o.s = {} as unknown as string), "'Item.s'", 'expected String', 'got an object');
    invalid(() => (o.s = 5 as unknown as string), 'got number 5');
    const long = 'x'.repeat(100);
    invalid(() => (o.n = long as unknown as number), `got string "${'x'.repeat(40)}…"`);
    assert.equal(o.s, null);
  });

  test('Boolean: truthy and falsy values throw (the original coerced "word" to true, "" to false)', () => {
    const o = item();
    invalid(() => (o.b = 'word' as unknown as boolean), "'Item.b'", 'expected Boolean');
    invalid(() => (o.b = '' as unknown as boolean), 'expected Boolean', 'got string ""');
    invalid(() => (o.b = 0 as unknown as boolean), 'got number 0');
    assert.equal(o.b, null);
  });

  test('enumeration: only its values', () => {
    const o = item();
    invalid(() => (o.e = 3), "'Item.e'", 'expected one of [1, 2]', 'got number 3');
    invalid(() => (o.e = '1' as unknown as number), 'got string "1"');
    assert.equal(o.e, null);
  });

  test('model reference: only instances of the declared model (or a submodel)', () => {
    const o = item();
    invalid(
      () => (o.partner = new Other() as unknown as ItemT),
      "'Item.partner'",
      'expected Item',
      'got a Other',
    );
    invalid(() => (o.partner = new Date() as unknown as ItemT), 'expected Item', 'got a Date');
    invalid(() => (o.partner = 'some-uuid' as unknown as ItemT), 'got string');
    const Sub = Item.model('SubItem');
    const s = new Sub() as ItemT;
    o.partner = s;
    assert.equal(o.partner, s);
  });

  test('re-assigning a reference its current value keeps it and does not throw', () => {
    const o = item();
    const p = item();
    o.partner = p;
    o.partner = p;
    assert.equal(o.partner, p);
    assert.equal(p.getParentRelationships().length, 1);
  });

  test('get(), assign() and property lookups', () => {
    const o = item();
    o.assign({ s: 'a', n: 2 });
    assert.equal(o.get('s'), 'a');
    assert.equal(o.get('n'), 2);
    invalid(() => o.get('nope'), "has no property 'nope'");
    invalid(() => o.assign({ nope: 1 }), "has no property 'nope'");
    assert.equal(o.getProperty('n')!.name, 'n');
    assert.equal(o.getProperties().length, 9);
  });

  test('assigning a non-array to a collection throws and keeps it', () => {
    const o = item({ tags: ['a'] });
    invalid(() => (o.tags = 'a'), "'Item.tags'", 'a collection takes an array, got string');
    invalid(() => (o.tags = null), 'got null');
    assert.deepEqual(o.tags.toArray(), ['a']);
  });
});

describe('Dates', () => {
  test('accept a Date object only: no ISO string, no number (docs/client.md, "Values: one rule")', () => {
    const o = item();
    const d = new Date('2020-05-06T07:08:09.123Z');
    o.d = d;
    assert.equal(o.d, d);
    // The original read both through `new Date(value)`: a number as milliseconds, while the
    // wire's numbers are seconds. Code passes Dates; only the wire decodes numbers and strings.
    invalid(
      () => (o.d = '2021-01-02T03:04:05.006Z' as unknown as Date),
      "'Item.d'",
      'expected Date',
      'got string',
    );
    invalid(() => (o.d = '2021-01-02' as unknown as Date), 'expected Date', 'got string "2021-01-02"');
    invalid(() => (o.d = 1_600_000_000 as unknown as Date), 'expected Date', 'got number 1600000000');
    invalid(() => (o.d = 0 as unknown as Date), 'got number 0');
    assert.equal(o.d, d, 'the old value stays');
  });

  test('invalid dates throw (the original parsed "1999/12/31" and any number)', () => {
    const o = item({ d: new Date(0) });
    invalid(() => (o.d = new Date('notadate')), "'Item.d'", 'expected Date', 'got an invalid Date');
    invalid(() => (o.d = 'notadate' as unknown as Date), 'got string "notadate"');
    invalid(() => (o.d = '1999/12/31' as unknown as Date), 'expected Date');
    invalid(() => (o.d = Number.NaN as unknown as Date), 'expected Date');
    invalid(() => (o.d = new Date(8.64e15 + 1)), 'expected Date', 'got an invalid Date');
    invalid(() => (o.d = new Other() as unknown as Date), 'got a Other');
    assert.equal(o.d!.getTime(), 0);
  });

  test('assigning an equal Date is not a change', () => {
    const o = item({ d: new Date(5) });
    const before = o.d;
    o.d = new Date(5);
    assert.equal(o.d, before, 'the stored Date object is kept');
  });
});

describe('defaults', () => {
  test('scalars start null, collections empty, defaults applied per instance', () => {
    const D = model('D', function () {
      this.has('n', Number, { defaultValue: 7 });
      this.has('s', String);
      this.has('ns', [Number], { defaultValue: [1, 2] });
      this.has('refs', [this]);
    });
    const a = new D() as ModelObject & Record<string, unknown>;
    const b = new D() as ModelObject & Record<string, unknown>;
    assert.equal(a.n, 7);
    assert.equal(a.s, null);
    assert.equal((a.refs as { length: number }).length, 0);
    assert.deepEqual((a.ns as { toArray(): number[] }).toArray(), [1, 2]);
    (a.ns as { push(v: number): void }).push(3);
    assert.deepEqual((b.ns as { toArray(): number[] }).toArray(), [1, 2], 'defaults are not shared');
    assert.deepEqual(D.getProperty('ns')!.defaultValue, [1, 2]);
  });
});

describe('parent links', () => {
  test('setting a reference links child to parent; clearing it unlinks (1 → 0)', () => {
    const parent = item();
    const child = item();
    parent.partner = child;
    assert.deepEqual(child.getParentRelationships(), [{ parent, key: 'partner' }]);
    assert.equal(child.hasParents(), true);
    parent.partner = null;
    assert.equal(child.getParentRelationships().length, 0);
    assert.equal(child.hasParents(), false);
  });

  test('replacing a reference moves the link to the new child', () => {
    const parent = item();
    const a = item();
    const b = item();
    parent.partner = a;
    parent.partner = b;
    assert.equal(a.hasParents(), false);
    assert.deepEqual(b.getParentRelationships(), [{ parent, key: 'partner' }]);
  });

  test('links are unique per (parent, key)', () => {
    const p1 = item();
    const p2 = item();
    const c = item();
    p1.children = [c, c];
    p1.partner = c;
    p2.children = [c];
    assert.deepEqual(
      c.getParentRelationships().map((r) => [r.parent, r.key]),
      [
        [p1, 'children'],
        [p1, 'partner'],
        [p2, 'children'],
      ],
    );
    // removing one of the two occurrences keeps the (p1, children) link
    p1.children.shift();
    assert.equal(c.getParentRelationships().length, 3);
    p1.children = [];
    p1.partner = null;
    assert.deepEqual(c.getParentRelationships(), [{ parent: p2, key: 'children' }]);
    p2.children.pop();
    assert.equal(c.hasParents(), false);
  });

  test('removing a link in the middle of several keeps the others in order', () => {
    const ps = [item(), item(), item(), item()];
    const c = item();
    for (const p of ps) p.partner = c;
    ps[2]!.partner = null;
    ps[0]!.partner = null;
    assert.deepEqual(
      c.getParentRelationships().map((r) => r.parent),
      [ps[1], ps[3]],
    );
    ps[3]!.partner = null;
    ps[1]!.partner = null;
    assert.equal(c.hasParents(), false);
    assert.equal(c._px, null, 'the overflow list is released');
  });
});

describe('tree walk and children', () => {
  function tree() {
    const root = item();
    const a = item();
    const b = item();
    const a1 = item();
    const a2 = item();
    const p = item();
    root.partner = p;
    root.children = [a, b];
    a.children = [a1, a2];
    a2.partner = root; // cycle back to the root
    b.children = [a1]; // a1 reachable twice
    a1.children = [a1]; // self-loop
    return { root, a, b, a1, a2, p };
  }

  test('getChildModelObjects lists direct children in declaration order, collection elements in order', () => {
    const { root, a, b, p } = tree();
    assert.deepEqual(root.getChildModelObjects(), [p, a, b]);
    assert.deepEqual(root.getChildModelObjectUUIDs(), [p.uuid, a.uuid, b.uuid]);
    let got: ModelObject[] | undefined;
    const ret = root.getChildModelObjects((err, r) => {
      assert.equal(err, null);
      got = r;
    });
    assert.equal(ret, undefined);
    assert.deepEqual(got, [p, a, b]);
  });

  test('getTreeModelObjects is a pre-order walk, each object once, cycles included', () => {
    const { root, a, b, a1, a2, p } = tree();
    const expected = [root, p, a, a1, a2, b];
    assert.deepEqual(root.getTreeModelObjects(), expected);
    assert.deepEqual(walkTree(root), expected);
    let got: ModelObject[] | undefined;
    root.getTreeModelObjects((err, r) => {
      assert.equal(err, null);
      got = r;
    });
    assert.deepEqual(got, expected);
    // from an inner node, the cycle leads back up
    assert.deepEqual(a.getTreeModelObjects(), [a, a1, a2, root, p, b]);
  });
});

describe('value views', () => {
  const fixed = () => {
    const o = item({ uuid: '00000000-0000-4000-8000-000000000001' });
    const kid = item({ uuid: '00000000-0000-4000-8000-000000000002' });
    o.assign({
      s: 'a',
      n: 1,
      b: true,
      d: new Date(1_500),
      e: Color.Red,
      children: [kid],
      tags: ['x', 'y'],
      dates: [new Date(2_000), new Date(2_500)],
    });
    return { o, kid };
  };

  test('getValues: Dates as Dates, collections as arrays, references as uuids, null reference omitted', () => {
    const { o, kid } = fixed();
    const v = o.getValues();
    assert.deepEqual(v, {
      s: 'a',
      n: 1,
      b: true,
      d: new Date(1_500),
      e: 1,
      children: [kid.uuid],
      tags: ['x', 'y'],
      dates: [new Date(2_000), new Date(2_500)],
    });
    assert.equal('partner' in v, false);
    o.partner = kid;
    assert.equal(o.getValues().partner, kid.uuid);
    // getValues returns copies
    (v.tags as string[]).push('z');
    assert.equal(o.tags.length, 2);
  });

  test('toWireProperties / getAddSyncFragment: Dates as seconds, null single references omitted', () => {
    const { o, kid } = fixed();
    const frag = o.getAddSyncFragment();
    assert.deepEqual(frag, {
      type: 'add',
      uuid: o.uuid,
      clsName: 'Item',
      properties: {
        s: 'a',
        n: 1,
        b: true,
        d: 1.5,
        e: 1,
        children: [kid.uuid],
        tags: ['x', 'y'],
        dates: [2, 2.5],
      },
    });
    // unset scalars are sent as null
    assert.deepEqual(kid.toWireProperties(), {
      s: null,
      n: null,
      b: null,
      d: null,
      e: null,
      children: [],
      tags: [],
      dates: [],
    });
    o.partner = kid;
    assert.equal(o.toWireProperties().partner, kid.uuid);
    // millisecond precision survives the trip to seconds
    o.d = new Date(1_234_567_890_123);
    assert.equal(o.toWireProperties().d, 1_234_567_890.123);
  });

  test('toJSON carries uuid, clsName and the values', () => {
    const { o } = fixed();
    const j = JSON.parse(JSON.stringify(o));
    assert.equal(j.uuid, o.uuid);
    assert.equal(j.clsName, 'Item');
    assert.equal(j.d, new Date(1_500).toISOString());
    assert.deepEqual(j.tags, ['x', 'y']);
  });
});
