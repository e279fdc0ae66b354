// The changeset engine (docs/protocol.md §6 validation, §7 steps 3–6).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Canvas, Shape } from '../../demo/models.js';
import type { WireError } from '../../src/errors.js';
import { reachableClasses } from '../../src/model/classes.js';
import { Scope } from '../../src/scope/index.js';
import type { Fragment } from '../../src/scope/types.js';
import { Leaf, Node, type NodeT, node, recordChanges, rootedScope, u, uuidsOf } from './helpers.js';

const add = (uuid: string, properties?: Record<string, unknown>, clsName = 'Node'): Fragment =>
  properties === undefined ? { type: 'add', uuid, clsName } : { type: 'add', uuid, clsName, properties };
const change = (uuid: string, properties?: Record<string, unknown>, clsName = 'Node'): Fragment =>
  properties === undefined
    ? { type: 'change', uuid, clsName }
    : { type: 'change', uuid, clsName, properties };

function messages(results: (WireError | null)[]): (string | null)[] {
  return results.map((r) => (r ? r.message : null));
}

/** Asserts result i is an error whose message contains every part. */
function rejected(results: (WireError | null)[], i: number, ...parts: string[]) {
  const r = results[i];
  assert.ok(r, `fragment ${i} should be rejected`);
  for (const p of parts)
    assert.ok(r.message.includes(p), `fragment ${i}: "${r.message}" should contain "${p}"`);
  assert.equal(r.type, 'invalid-fragment');
}

describe('adds', () => {
  test('an add referenced by an existing object joins the scope with its properties', () => {
    const { scope, root } = rootedScope();
    const r = scope.applyChangeset([
      add(u(2), { name: 'kid', n: 3, tags: ['a'] }),
      change(u(1), { children: [u(2)] }),
    ]);
    assert.deepEqual(r.results, [null, null]);
    const kid = scope.get(u(2)) as NodeT;
    assert.ok(kid instanceof Node);
    assert.equal(kid.scope, scope);
    assert.equal(kid.name, 'kid');
    assert.equal(kid.n, 3);
    assert.deepEqual(kid.tags.toArray(), ['a']);
    assert.deepEqual(root.children.toArray(), [kid]);
    assert.deepEqual(kid.getParentRelationships(), [{ parent: root, key: 'children' }]);
  });

  test('adds are staged first: a change earlier in the batch may reference a later add', () => {
    const { scope, root } = rootedScope();
    const r = scope.applyChangeset([change(u(1), { partner: u(2) }), add(u(2), { name: 'later' })]);
    assert.deepEqual(r.results, [null, null]);
    assert.equal(root.partner!.name, 'later');
  });

  test('adds may reference each other in any order (forward references)', () => {
    const { scope } = rootedScope();
    const r = scope.applyChangeset([
      add(u(2), { children: [u(3)] }),
      add(u(3), { partner: u(4) }),
      add(u(4)),
      change(u(1), { children: [u(2)] }),
    ]);
    assert.deepEqual(r.results, [null, null, null, null]);
    assert.equal((scope.get(u(3)) as NodeT).partner, scope.get(u(4)));
    assert.equal(scope.size, 4);
  });

  test('a duplicate uuid is rejected: already in the scope, or twice in the batch', () => {
    const { scope, root } = rootedScope();
    root.children.push(node(2));
    scope.flush();
    const r = scope.applyChangeset([
      add(u(2)),
      add(u(1)),
      add(u(3)),
      add(u(3), { name: 'second' }),
      change(u(1), { children: [u(2), u(3)] }),
    ]);
    rejected(r.results, 0, `ModelObject with UUID '${u(2)}' already exists`);
    rejected(r.results, 1, 'already exists');
    assert.equal(r.results[2], null);
    rejected(r.results, 3, `'${u(3)}' already exists`);
    assert.equal(r.results[4], null);
    assert.equal((scope.get(u(3)) as NodeT).name, null, 'the first add of the uuid won');
  });

  test('an unknown class is rejected', () => {
    const { scope } = rootedScope();
    const r = scope.applyChangeset([
      add(u(2), {}, 'Nope'),
      add(u(3), {}, 'Stranger'),
      change(u(1), { partner: u(3) }),
    ]);
    rejected(r.results, 0, "No such class type 'Nope'");
    rejected(r.results, 1, "No such class type 'Stranger'");
    rejected(r.results, 2, `'${u(3)}'`);
  });

  test('a submodel of a reachable class is instantiable, even when nothing names it', () => {
    assert.ok(reachableClasses(Node).has('Leaf'));
    const { scope, root } = rootedScope();
    const r = scope.applyChangeset([
      add(u(2), { weight: 5, name: 'leaf' }, 'Leaf'),
      change(u(1), { children: [u(2)] }),
    ]);
    assert.deepEqual(r.results, [null, null]);
    assert.ok(root.children.at(0) instanceof Leaf);
    assert.equal(root.children.at(0)!.get('weight'), 5);
  });

  test('classes reachable through references of the root class (demo models)', () => {
    const names = [...reachableClasses(Canvas).keys()].sort();
    assert.deepEqual(names, ['Canvas', 'Shape']);
    // cached until a definition changes
    assert.equal(reachableClasses(Canvas), reachableClasses(Canvas));
  });

  test('an add with no parent is rejected ("No parents")', () => {
    const { scope } = rootedScope();
    const events = recordChanges(scope);
    const r = scope.applyChangeset([add(u(2), { name: 'lonely' })]);
    rejected(r.results, 0, 'No parents', u(2));
    assert.equal(scope.get(u(2)), null);
    assert.equal(events.length, 0, 'nothing accepted, nothing emitted');
  });

  test('an add whose only parent link is removed again by the batch is rejected', () => {
    const { scope, root } = rootedScope();
    const r = scope.applyChangeset([
      add(u(2)),
      change(u(1), { children: [u(2)] }),
      change(u(1), { children: [] }),
      change(u(3), { name: 'x' }),
    ]);
    rejected(r.results, 0, 'No parents');
    rejected(r.results, 1, `No such ModelObject '${u(2)}': its add fragment failed`);
    assert.equal(r.results[2], null);
    rejected(r.results, 3, 'No such ModelObject');
    assert.equal(root.children.length, 0);
    assert.equal(scope.size, 1);
  });

  test('a change targeting an add rejected for having no parent is rejected too', () => {
    const { scope } = rootedScope();
    const r = scope.applyChangeset([add(u(2)), change(u(2), { name: 'x' })]);
    rejected(r.results, 0, 'No parents');
    rejected(r.results, 1, `No such ModelObject '${u(2)}': its add fragment failed`);
  });

  test('adds forming a cycle not connected to the scope are rejected', () => {
    const { scope } = rootedScope();
    const r = scope.applyChangeset([add(u(2), { partner: u(3) }), add(u(3), { partner: u(2) })]);
    rejected(r.results, 0, 'No parents');
    rejected(r.results, 1, 'No parents');
    assert.equal(scope.size, 1);
  });

  test('an add referencing a failed add fails too, transitively', () => {
    const { scope } = rootedScope();
    const r = scope.applyChangeset([
      add(u(2), { n: 'bad' }),
      add(u(3), { children: [u(2)] }),
      add(u(4), { partner: u(3) }),
      change(u(1), { children: [u(4)] }),
    ]);
    rejected(r.results, 0, "at 'n'");
    rejected(r.results, 1, u(2));
    rejected(r.results, 2, u(3));
    rejected(r.results, 3, u(4));
    assert.equal(scope.size, 1);
  });

  test('a missing properties object is treated as {}', () => {
    const { scope, root } = rootedScope();
    const r = scope.applyChangeset([add(u(2)), change(u(1), { children: [u(2)] }), change(u(2))]);
    assert.deepEqual(r.results, [null, null, null]);
    assert.equal(root.children.length, 1);
    assert.deepEqual(r.applied[0]!.properties, {}, 'applied fragments always carry properties');
    assert.deepEqual(r.applied[2]!.properties, {});
  });
});

describe('changes', () => {
  test('a change may target an object added in the same changeset (the original could not)', () => {
    const { scope } = rootedScope();
    const r = scope.applyChangeset([
      add(u(2), { name: 'a' }),
      change(u(1), { partner: u(2) }),
      change(u(2), { name: 'b' }),
    ]);
    assert.deepEqual(r.results, [null, null, null]);
    assert.equal((scope.get(u(2)) as NodeT).name, 'b');
  });

  test('a change to an unknown object, or to a failed add, is rejected', () => {
    const { scope } = rootedScope();
    const r = scope.applyChangeset([
      change(u(9), { name: 'x' }),
      add(u(2), {}, 'Nope'),
      change(u(2), { name: 'y' }),
    ]);
    rejected(r.results, 0, `No such ModelObject '${u(9)}'`);
    rejected(r.results, 2, `No such ModelObject '${u(2)}'`);
  });

  test('a change naming the wrong class is rejected; an ancestor class is accepted (the original did not check)', () => {
    const { scope, root } = rootedScope();
    root.children.push(new Leaf({ uuid: u(2) }) as NodeT);
    scope.flush();
    const r = scope.applyChangeset([
      change(u(1), { name: 'x' }, 'Leaf'),
      change(u(1), { name: 'x' }, 'Canvas'),
      change(u(2), { name: 'y', weight: 2 }, 'Node'),
      change(u(2), { weight: 3 }, 'Leaf'),
    ]);
    rejected(r.results, 0, `ModelObject '${u(1)}' is a Node, not a Leaf`);
    rejected(r.results, 1, 'is a Node, not a Canvas');
    assert.equal(r.results[2], null);
    assert.equal(r.results[3], null);
    assert.equal(scope.get(u(2))!.get('weight'), 3);
    assert.equal(root.name, null);
  });

  test('a failing fragment sets none of its properties', () => {
    const { scope, root } = rootedScope();
    root.name = 'before';
    scope.flush();
    const r = scope.applyChangeset([change(u(1), { name: 'after', n: 'NaN' })]);
    rejected(r.results, 0, "'n'");
    assert.equal(root.name, 'before');
  });
});

describe('property validation: every message names the property', () => {
  const cases: [string, Record<string, unknown>, string][] = [
    ['unknown property', { nope: 1 }, "No property at 'nope'"],
    ['string for a Number', { n: '5' }, "Not valid type at 'n', should be Number"],
    ['boolean for a String', { name: true }, "Not valid type at 'name', should be String"],
    ['bad Date', { when: 'yesterday' }, "Not valid type at 'when', should be Date"],
    ['collection without array', { tags: 'a' }, "Collection type without array value at 'tags'"],
    ['null collection', { tags: null }, "Collection type without array value at 'tags'"],
    [
      'null in a scalar collection',
      { tags: ['a', null] },
      "Not valid type at 'tags', should be array of String",
    ],
    ['wrong element type', { tags: ['a', 1] }, "Not valid type at 'tags', should be array of String"],
    ['non-uuid reference', { partner: 5 }, "Cannot set property at 'partner' as non-UUID"],
    ['missing reference', { partner: u(77) }, `No such ModelObject '${u(77)}' at 'partner'`],
    [
      'non-string in a reference collection',
      { children: [5] },
      "Not valid type at 'children', should be array of UUIDs",
    ],
    [
      'empty string in a reference collection',
      { children: [''] },
      "Not valid type at 'children', should be array of UUIDs",
    ],
    [
      'missing references in a collection',
      { children: [u(77), u(78)] },
      `No such ModelObjects '["${u(77)}","${u(78)}"]' at 'children'`,
    ],
    [
      'reference collection without array',
      { children: u(1) },
      "Collection type without array value at 'children'",
    ],
  ];
  for (const [what, properties, message] of cases) {
    test(what, () => {
      const { scope, root } = rootedScope();
      const r = scope.applyChangeset([change(u(1), properties)]);
      rejected(r.results, 0, message);
      assert.deepEqual(r.applied, []);
      assert.equal(root.name, null);
    });
  }

  test('NaN and Infinity are rejected for Number (possible from server code)', () => {
    const { scope } = rootedScope();
    const r = scope.applyChangeset([
      change(u(1), { n: Number.NaN }),
      change(u(1), { n: Number.POSITIVE_INFINITY }),
    ]);
    rejected(r.results, 0, "Not valid type at 'n', should be Number");
    rejected(r.results, 1, "Not valid type at 'n', should be Number");
  });

  test('an enumeration value must be one of its values', () => {
    const { ChatRoom } = demo();
    const s = new Scope({ name: 'chat' });
    const room = new ChatRoom({ uuid: u(1) });
    s.setRoot(room);
    const r = s.applyChangeset([
      add(u(2), { status: 2 }, 'ChatRoomAttributes'),
      add(u(3), { status: 1 }, 'ChatRoomAttributes'),
      change(u(1), { attributes: u(3) }, 'ChatRoom'),
    ]);
    rejected(r.results, 0, "Not valid type at 'status', should be one of [0, 1]");
    assert.deepEqual(r.results.slice(1), [null, null]);
  });

  test('a reference to an object of an incompatible class is rejected', () => {
    const { ChatRoom } = demo();
    const s = new Scope({ name: 'chat' });
    s.setRoot(new ChatRoom({ uuid: u(1) }));
    const r = s.applyChangeset([
      add(u(2), { username: 'ann' }, 'User'),
      change(u(1), { users: [u(2)] }, 'ChatRoom'),
      add(u(3), { text: 'hi', author: u(1) }, 'Message'),
      change(u(1), { messages: [u(2)] }, 'ChatRoom'),
      change(u(1), { attributes: u(2) }, 'ChatRoom'),
    ]);
    assert.equal(r.results[0], null);
    assert.equal(r.results[1], null);
    rejected(r.results, 2, `ModelObject '${u(1)}' at 'author' is a ChatRoom, should be User`);
    rejected(r.results, 3, `ModelObject '${u(2)}' at 'messages' is a User, should be Message`);
    rejected(r.results, 4, "at 'attributes' is a User, should be ChatRoomAttributes");
  });

  test('null is allowed for scalars and single references', () => {
    const { scope, root } = rootedScope();
    root.assign({ name: 'x', n: 1, when: new Date(0), partner: node(2) });
    scope.flush();
    const r = scope.applyChangeset([change(u(1), { name: null, n: null, when: null, partner: null })]);
    assert.deepEqual(r.results, [null]);
    assert.deepEqual([root.name, root.n, root.when, root.partner], [null, null, null, null]);
    assert.equal(scope.get(u(2)), null, 'the old partner was removed as an orphan');
  });
});

describe('Dates on the wire', () => {
  test('accepted as seconds or ISO-8601; forwarded as seconds', () => {
    const { scope, root } = rootedScope();
    const r = scope.applyChangeset([
      change(u(1), { when: '2009-02-13T23:31:30.123Z', name: 'iso' }),
      add(u(2), { when: 1_234_567_890.5 }),
      change(u(1), { children: [u(2)] }),
    ]);
    assert.deepEqual(r.results, [null, null, null]);
    assert.equal(root.when!.getTime(), 1_234_567_890_123);
    assert.equal((scope.get(u(2)) as NodeT).when!.getTime(), 1_234_567_890_500);
    assert.deepEqual(r.applied[0]!.properties, { when: 1_234_567_890.123, name: 'iso' });
    assert.deepEqual(r.applied[1]!.properties, { when: 1_234_567_890.5 });
    // fragments without Dates are forwarded as they came
    assert.deepEqual(r.applied[2]!.properties, { children: [u(2)] });
  });

  test('Date collections are converted element by element; null Dates stay null', () => {
    const DNode = Node.model('DNode', function () {
      this.has('stamps', [Date]);
    });
    const s = new Scope({ name: 's' });
    s.setRoot(new DNode({ uuid: u(1) }));
    const r = s.applyChangeset([
      change(u(1), { stamps: [1, '1970-01-01T00:00:02.000Z'], when: null }, 'DNode'),
    ]);
    assert.deepEqual(r.results, [null]);
    assert.deepEqual(r.applied[0]!.properties, { stamps: [1, 2], when: null });
    assert.deepEqual(
      (s.root!.get('stamps') as { map(f: (d: Date) => number): number[] }).map((d) => d.getTime()),
      [1000, 2000],
    );
    const bad = s.applyChangeset([change(u(1), { stamps: [1, 'x'] }, 'DNode')]);
    rejected(bad.results, 0, "Not valid type at 'stamps', should be array of Date");
  });
});

describe('orphan removal', () => {
  function canvasScope() {
    const canvas = new Canvas({ uuid: u(1) });
    const s1 = new Shape({ uuid: u(2) });
    const s2 = new Shape({ uuid: u(3) });
    (canvas as unknown as { shapes: { push(...x: unknown[]): void } }).shapes.push(s1, s2);
    const scope = new Scope({ name: 'canvas' });
    scope.setRoot(canvas);
    return { scope, canvas, s1, s2 };
  }

  test('#1 a change keeping only shape1 removes shape2', () => {
    const { scope, s2 } = canvasScope();
    assert.equal(scope.size, 3);
    const r = scope.applyChangeset([change(u(1), { shapes: [u(2)] }, 'Canvas')]);
    assert.deepEqual(r.results, [null]);
    assert.equal(scope.size, 2);
    assert.equal(s2.scope, null);
    assert.equal(s2.hasParents(), false);
    assert.equal(scope.get(u(3)), null);
  });

  test('#2 a change keeping only shape2 removes shape1', () => {
    const { scope, s1, s2 } = canvasScope();
    scope.applyChangeset([change(u(1), { shapes: [u(3)] }, 'Canvas')]);
    assert.equal(s1.scope, null);
    assert.equal(s2.scope, scope);
    assert.deepEqual(uuidsOf(scope), [u(1), u(3)]);
  });

  test('#3 cascade through a chain: root → child → {gc1, gc2}, gc1 → gc2', () => {
    const { scope, root } = rootedScope();
    const child = node(2);
    const gc1 = node(3);
    const gc2 = node(4);
    root.children.push(child);
    child.children.push(gc1, gc2);
    gc1.partner = gc2;
    scope.flush();
    assert.equal(scope.size, 4);
    scope.applyChangeset([change(u(1), { children: [] })]);
    assert.deepEqual(uuidsOf(scope), [u(1)]);
    for (const o of [child, gc1, gc2]) assert.equal(o.scope, null);
  });

  test('cascade through a true cycle: gc1 ⇄ gc2 leave together with their parent', () => {
    const { scope, root } = rootedScope();
    const child = node(2);
    const gc1 = node(3);
    const gc2 = node(4);
    root.children.push(child);
    child.children.push(gc1);
    gc1.partner = gc2;
    gc2.partner = gc1;
    scope.flush();
    scope.applyChangeset([change(u(1), { children: [] })]);
    assert.deepEqual(uuidsOf(scope), [u(1)]);
    assert.equal(gc1.scope, null);
    assert.equal(gc2.scope, null);
  });

  test('an object with another parent in the scope stays', () => {
    const { scope, root } = rootedScope();
    const a = node(2);
    const shared = node(3);
    root.children.push(a, shared);
    a.partner = shared;
    scope.flush();
    scope.applyChangeset([change(u(1), { children: [u(3)] })]);
    assert.equal(a.scope, null);
    assert.equal(shared.scope, scope);
    assert.deepEqual(shared.getParentRelationships(), [{ parent: root, key: 'children' }]);
  });

  test('the root is never removed, even when a cycle through it is cut', () => {
    const { scope, root } = rootedScope();
    const a = node(2);
    root.children.push(a);
    a.partner = root;
    scope.flush();
    scope.applyChangeset([change(u(2), { partner: null }), change(u(1), { children: [] })]);
    assert.equal(root.scope, scope);
    assert.equal(scope.root, root);
    assert.deepEqual(uuidsOf(scope), [u(1)]);
  });

  test('a removed object can be added back by uuid later', () => {
    const { scope, root } = rootedScope();
    root.children.push(node(2));
    scope.flush();
    scope.applyChangeset([change(u(1), { children: [] })]);
    const r = scope.applyChangeset([add(u(2), { name: 'again' }), change(u(1), { children: [u(2)] })]);
    assert.deepEqual(r.results, [null, null]);
    assert.equal((root.children.at(0) as NodeT).name, 'again');
  });
});

describe('non-atomic and atomic application', () => {
  test('non-atomic: partial success, results in input order, applied fragments in order', () => {
    const { scope, root } = rootedScope();
    const events = recordChanges(scope);
    const frags = [
      change(u(1), { name: 'a' }),
      change(u(9), { name: 'b' }),
      add(u(2), { n: 1 }),
      change(u(1), { n: 'x' }),
      change(u(1), { children: [u(2)], n: 2 }),
    ];
    const r = scope.applyChangeset(frags, { origin: 'session-1' });
    assert.deepEqual(
      messages(r.results).map((m) => m !== null),
      [false, true, false, true, false],
    );
    assert.deepEqual(r.applied, [frags[0], frags[2], frags[4]]);
    assert.equal(root.name, 'a');
    assert.equal(root.n, 2);
    assert.equal(events.length, 1);
    assert.deepEqual(events[0]!.fragments, r.applied);
    assert.deepEqual(events[0]!.context, { origin: 'session-1' });
    assert.equal(scope.version, 1);
  });

  test('atomic: a failure rejects everything; each entry carries its own error or atomic-changeset-rejected', () => {
    const { scope, root } = rootedScope();
    root.children.push(node(2, { name: 'kept' }));
    scope.flush();
    const events = recordChanges(scope);
    const before = JSON.stringify(scope.getState());
    const versionBefore = scope.version;
    const r = scope.applyChangeset(
      [
        add(u(3), { name: 'new' }),
        change(u(1), { children: [u(3)], name: 'changed' }),
        change(u(2), { n: 'bad' }),
        change(u(2), { name: 'also' }),
      ],
      { atomic: true, origin: 's' },
    );
    assert.equal(r.results[0]!.type, 'atomic-changeset-rejected');
    assert.equal(r.results[1]!.type, 'atomic-changeset-rejected');
    rejected(r.results, 2, "Not valid type at 'n'");
    assert.equal(r.results[3]!.type, 'atomic-changeset-rejected');
    assert.match(r.results[3]!.message, /Atomic changeset rejected/);
    assert.deepEqual(r.applied, []);
    assert.equal(events.length, 0);
    assert.equal(scope.version, versionBefore);
    assert.equal(JSON.stringify(scope.getState()), before, 'state byte-identical');
    assert.equal(scope.get(u(3)), null);
    assert.equal(scope.get(u(2))!.get('name'), 'kept');
  });

  test('atomic: an all-valid changeset applies entirely and says so in the context', () => {
    const { scope, root } = rootedScope();
    const events = recordChanges(scope);
    const r = scope.applyChangeset([add(u(2)), change(u(1), { children: [u(2)] })], {
      atomic: true,
      origin: 'o',
    });
    assert.deepEqual(r.results, [null, null]);
    assert.equal(root.children.length, 1);
    assert.deepEqual(events[0]!.context, { origin: 'o', atomic: true });
  });

  test("'changes' is emitted once per changeset, not at all when nothing was accepted", () => {
    const { scope } = rootedScope();
    const events = recordChanges(scope);
    scope.applyChangeset([change(u(1), { name: 'a' }), change(u(1), { name: 'b' })], {
      procedure: 'Node.rename',
    });
    scope.applyChangeset([change(u(9), { name: 'x' })]);
    scope.applyChangeset([]);
    assert.equal(events.length, 1);
    assert.equal(events[0]!.fragments.length, 2);
    assert.deepEqual(events[0]!.context, { procedure: 'Node.rename' });
  });

  test('an empty changeset answers with no results', () => {
    const { scope } = rootedScope();
    assert.deepEqual(scope.applyChangeset([]), { results: [], applied: [] });
  });

  test('assigning a value equal to the current one is accepted and forwarded', () => {
    const { scope, root } = rootedScope();
    root.name = 'same';
    scope.flush();
    const r = scope.applyChangeset([change(u(1), { name: 'same', tags: [] })]);
    assert.deepEqual(r.results, [null]);
    assert.equal(r.applied.length, 1);
  });
});

describe('uuid normalisation', () => {
  const HEX_A = 'abcdef00-0000-4000-8000-0000000000ab';
  const HEX_B = 'abcdef00-0000-4000-8000-0000000000cd';
  test('references given in uppercase resolve to the lowercase objects (uuids compare lowercased, §6)', () => {
    const { scope, root } = rootedScope();
    const r = scope.applyChangeset([
      add(HEX_A, { name: 'kid' }),
      change(u(1), { children: [HEX_A.toUpperCase()], partner: HEX_A.toUpperCase() }),
    ]);
    assert.deepEqual(r.results, [null, null]);
    assert.equal(root.children.at(0), scope.get(HEX_A));
    assert.equal(root.partner, scope.get(HEX_A));
    assert.deepEqual(r.applied[1]!.properties, { children: [HEX_A], partner: HEX_A }, 'forwarded lowercased');
  });

  test('fragment uuids given in uppercase are lowercased (server code may skip the protocol decoder)', () => {
    const { scope, root } = rootedScope();
    const r = scope.applyChangeset([
      add(HEX_B.toUpperCase(), { name: 'kid' }),
      change(u(1).toUpperCase(), { children: [HEX_B] }),
      change(HEX_B.toUpperCase(), { n: 4 }),
    ]);
    assert.deepEqual(r.results, [null, null, null]);
    assert.equal((root.children.at(0) as NodeT).n, 4);
    assert.equal(scope.get(HEX_B)!.uuid, HEX_B);
    assert.deepEqual(
      r.applied.map((f) => f.uuid),
      [HEX_B, u(1), HEX_B],
    );
  });

  test('malformed fragments from server code are rejected, not applied', () => {
    const { scope } = rootedScope();
    const r = scope.applyChangeset([
      { type: 'remove', uuid: u(1), clsName: 'Node', properties: {} } as unknown as Fragment,
      { type: 'change', uuid: 5, clsName: 'Node', properties: {} } as unknown as Fragment,
      add('not-a-uuid'),
    ]);
    rejected(r.results, 0, "type 'remove'");
    rejected(r.results, 1, 'uuid');
    rejected(r.results, 2, "'not-a-uuid'");
    assert.deepEqual(r.applied, []);
  });
});

function demo() {
  return { ...demoModels };
}

import * as demoModels from '../../demo/models.js';

describe('cost bounds', () => {
  /**
   * A changeset whose parent check needs one more round per three fragments: Z0 has no parent,
   * so the change giving O1 the child Z1 fails (it also references Z0), so Z1 has no parent, …
   */
  function chain(n: number): { scope: Scope; fragments: Fragment[] } {
    const { scope, root } = rootedScope();
    for (let k = 1; k <= n; k++) root.children.push(node(1000 + k));
    const fragments: Fragment[] = [{ type: 'add', uuid: u(5000), clsName: 'Node', properties: {} }];
    for (let k = 1; k <= n; k++) {
      fragments.push(
        {
          type: 'change',
          uuid: u(1000 + k),
          clsName: 'Node',
          properties: { partner: u(5000 + k - 1), children: [u(5000 + k)] },
        },
        { type: 'change', uuid: u(1000 + k), clsName: 'Node', properties: { partner: null } },
        { type: 'add', uuid: u(5000 + k), clsName: 'Node', properties: {} },
      );
    }
    return { scope, fragments };
  }

  test('a short chain settles: every add fails for want of a parent, the independent changes apply', () => {
    const { scope, fragments } = chain(5);
    const { results } = scope.applyChangeset(fragments);
    const accepted = results.flatMap((e, i) => (e === null ? [i] : []));
    assert.deepEqual(accepted, [2, 5, 8, 11, 14], 'only the {partner: null} changes');
    assert.equal(scope.size, 6, 'no Z was added');
  });

  test('a chain longer than the parent-check rounds allow is refused whole, at bounded cost', () => {
    const { scope, fragments } = chain(300);
    const before = scope.getState();
    const { results, applied } = scope.applyChangeset(fragments);
    assert.equal(results.length, fragments.length);
    assert.ok(results.every((e) => e !== null));
    assert.ok(results.some((e) => /did not settle/.test(e!.message)));
    assert.equal(applied.length, 0);
    assert.deepEqual(scope.getState(), before);
  });
});
