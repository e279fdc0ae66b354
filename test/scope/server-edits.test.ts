// Server-side edits (docs/protocol.md §7.9): assignments made by server code to objects of a scope
// are validated and reported as fragments, in ONE 'changes' event per event-loop turn.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ValidationError } from '../../src/errors.js';
import { Scope } from '../../src/scope/index.js';
import { type NodeT, nextTurn, node, recordChanges, rootedScope, u, uuidsOf } from './helpers.js';

describe('server-side edits', () => {
  test('property assignments are batched into one change fragment per object, one event per turn', async () => {
    const { scope, root } = rootedScope();
    const kid = node(2);
    root.children.push(kid);
    await nextTurn();
    const events = recordChanges(scope);
    root.name = 'a';
    root.n = 1;
    root.name = 'b';
    kid.when = new Date(2500);
    kid.tags.push('t');
    assert.equal(events.length, 0, 'nothing is emitted synchronously');
    await nextTurn();
    assert.equal(events.length, 1);
    assert.deepEqual(events[0]!.context, {});
    assert.deepEqual(events[0]!.fragments, [
      { type: 'change', uuid: u(1), clsName: 'Node', properties: { name: 'b', n: 1 } },
      { type: 'change', uuid: u(2), clsName: 'Node', properties: { when: 2.5, tags: ['t'] } },
    ]);
    await nextTurn();
    assert.equal(events.length, 1, 'no further event without further edits');
  });

  test('assigning the current value reports nothing', async () => {
    const { scope, root } = rootedScope();
    root.name = 'x';
    await nextTurn();
    const events = recordChanges(scope);
    root.name = 'x';
    await nextTurn();
    assert.equal(events.length, 0);
  });

  test('null values are reported as null; references as uuids', async () => {
    const { scope, root } = rootedScope();
    root.assign({ name: 'x', partner: node(2) });
    await nextTurn();
    const events = recordChanges(scope);
    root.name = null;
    root.partner = null;
    await nextTurn();
    assert.deepEqual(events[0]!.fragments, [
      { type: 'change', uuid: u(1), clsName: 'Node', properties: { name: null, partner: null } },
    ]);
    assert.equal(scope.get(u(2)), null);
  });

  test('pushing new objects: the subtree joins the scope and is reported as adds, then the change', async () => {
    const { scope, root } = rootedScope();
    const events = recordChanges(scope);
    const a = node(2, { name: 'a' });
    const a1 = node(3, { name: 'a1' });
    a.children.push(a1);
    root.children.push(a);
    assert.equal(a.scope, scope, 'joins immediately');
    assert.equal(a1.scope, scope);
    a.n = 5; // edits to an object added in the same turn fold into its add fragment
    a1.partner = a;
    await nextTurn();
    assert.equal(events.length, 1);
    assert.deepEqual(
      events[0]!.fragments.map((f) => [f.type, f.uuid]),
      [
        ['add', u(2)],
        ['add', u(3)],
        ['change', u(1)],
      ],
    );
    assert.equal(events[0]!.fragments[0]!.properties.n, 5);
    assert.equal(events[0]!.fragments[1]!.properties.partner, u(2));
    assert.deepEqual(events[0]!.fragments[2]!.properties, { children: [u(2)] });
    // the add fragments are exactly what a client would need: applying them elsewhere works
    const mirror = new Scope({ name: 'mirror' });
    mirror.setRoot(node(1));
    const r = mirror.applyChangeset(events[0]!.fragments);
    assert.deepEqual(r.results, [null, null, null]);
    assert.deepEqual(uuidsOf(mirror), uuidsOf(scope));
  });

  test('detaching removes the object (with cascade) at flush; only the parent change is reported', async () => {
    const { scope, root } = rootedScope();
    const a = node(2);
    const a1 = node(3);
    a.children.push(a1);
    root.children.push(a);
    await nextTurn();
    const events = recordChanges(scope);
    root.children.remove(a);
    a.name = 'edited after detach';
    await nextTurn();
    assert.deepEqual(uuidsOf(scope), [u(1)]);
    assert.equal(a.scope, null);
    assert.equal(a1.scope, null);
    assert.deepEqual(events[0]!.fragments, [
      { type: 'change', uuid: u(1), clsName: 'Node', properties: { children: [] } },
    ]);
  });

  test('moving an object between parents within one turn: no remove/add churn', async () => {
    const { scope, root } = rootedScope();
    const a = node(2);
    const b = node(3);
    const moving = node(4, { name: 'm' });
    root.children.push(a, b);
    a.children.push(moving);
    await nextTurn();
    const events = recordChanges(scope);
    a.children.remove(moving);
    b.children.push(moving);
    await nextTurn();
    assert.equal(moving.scope, scope);
    assert.equal(scope.get(u(4)), moving);
    assert.deepEqual(moving.getParentRelationships(), [{ parent: b, key: 'children' }]);
    assert.deepEqual(
      events[0]!.fragments.map((f) => [f.type, f.uuid, f.properties]),
      [
        ['change', u(2), { children: [] }],
        ['change', u(3), { children: [u(4)] }],
      ],
    );
  });

  test('an object added and detached within the same turn is not reported', async () => {
    const { scope, root } = rootedScope();
    const events = recordChanges(scope);
    const temp = node(2);
    root.children.push(temp);
    root.children.clear();
    await nextTurn();
    assert.equal(temp.scope, null);
    assert.deepEqual(
      events[0]!.fragments.map((f) => [f.type, f.uuid]),
      [['change', u(1)]],
    );
  });

  test('a detached subtree can be re-attached later and is reported as adds again', async () => {
    const { scope, root } = rootedScope();
    const a = node(2);
    const a1 = node(3);
    a.children.push(a1);
    root.children.push(a);
    await nextTurn();
    root.children.clear();
    await nextTurn();
    assert.equal(a1.scope, null);
    const events = recordChanges(scope);
    root.partner = a;
    await nextTurn();
    assert.equal(a1.scope, scope);
    assert.deepEqual(a1.getParentRelationships(), [{ parent: a, key: 'children' }]);
    assert.deepEqual(
      events[0]!.fragments.map((f) => [f.type, f.uuid]),
      [
        ['add', u(2)],
        ['add', u(3)],
        ['change', u(1)],
      ],
    );
  });

  test('invalid assignments throw and report nothing', async () => {
    const { scope, root } = rootedScope();
    const events = recordChanges(scope);
    assert.throws(() => {
      root.n = 'five' as unknown as number;
    }, ValidationError);
    assert.throws(() => root.tags.push(1 as unknown as string), ValidationError);
    assert.throws(() => root.children.push({} as NodeT), ValidationError);
    await nextTurn();
    assert.equal(events.length, 0);
    assert.equal(root.n, null);
  });

  test('an object of another scope cannot be linked in', async () => {
    const { scope, root } = rootedScope();
    const other = new Scope({ name: 'other' });
    const foreign = node(9);
    other.setRoot(foreign);
    const events = recordChanges(scope);
    assert.throws(() => {
      root.partner = foreign;
    }, /belongs to scope 'other', not 'test'/);
    assert.throws(() => root.children.push(foreign), /belongs to scope 'other'/);
    await nextTurn();
    assert.equal(events.length, 0);
    assert.equal(root.partner, null);
    assert.equal(foreign.scope, other);
  });

  test('pending edits are flushed before a changeset is applied (order preserved)', () => {
    const { scope, root } = rootedScope();
    const events = recordChanges(scope);
    root.name = 'server';
    const r = scope.applyChangeset(
      [{ type: 'change', uuid: u(1), clsName: 'Node', properties: { name: 'client' } }],
      {
        origin: 'c',
      },
    );
    assert.deepEqual(r.results, [null]);
    assert.equal(events.length, 2);
    assert.deepEqual(events[0]!.fragments[0]!.properties, { name: 'server' });
    assert.deepEqual(events[0]!.context, {});
    assert.deepEqual(events[1]!.fragments[0]!.properties, { name: 'client' });
    assert.deepEqual(events[1]!.context, { origin: 'c' });
    assert.equal(root.name, 'client');
    assert.equal(scope.version, 2);
  });

  test('changes applied by a changeset are not reported again as server edits', async () => {
    const { scope } = rootedScope();
    const events = recordChanges(scope);
    scope.applyChangeset([
      { type: 'add', uuid: u(2), clsName: 'Node', properties: {} },
      { type: 'change', uuid: u(1), clsName: 'Node', properties: { children: [u(2)], name: 'c' } },
    ]);
    await nextTurn();
    assert.equal(events.length, 1);
  });

  test('flush() emits now; getAllModelObjects flushes first', async () => {
    const { scope, root } = rootedScope();
    const events = recordChanges(scope);
    root.name = 'now';
    scope.flush();
    assert.equal(events.length, 1);
    root.children.push(node(2));
    assert.equal(scope.getAllModelObjects().length, 2);
    assert.equal(events.length, 2);
    await nextTurn();
    assert.equal(events.length, 2, 'the scheduled flush finds nothing left');
  });

  test('Date collections and enumerations are wire-encoded in change fragments', async () => {
    const { scope, root } = rootedScope();
    const events = recordChanges(scope);
    root.when = new Date('2000-01-01T00:00:00.250Z');
    await nextTurn();
    assert.equal(events[0]!.fragments[0]!.properties.when, 946_684_800.25);
  });
});

describe('assignments that cannot join the scope fail before anything changes', () => {
  test('an object whose uuid the scope already holds (as another object): nothing stored, nothing reported', async () => {
    const { scope, root } = rootedScope();
    root.children.push(node(2));
    await nextTurn();
    const events = recordChanges(scope);
    const impostor = node(3, { children: [node(2)] }); // a different object reusing uuid u(2)
    assert.throws(
      () => root.children.push(impostor),
      /already has another object with uuid '0{8}-0{4}-4000-8000-000000000002'/,
    );
    assert.throws(() => {
      root.partner = impostor;
    }, ValidationError);
    assert.equal(root.children.length, 1, 'the collection is unchanged');
    assert.equal(root.partner, null);
    assert.equal(scope.get(u(3)), null, 'the impostor did not join');
    assert.equal(impostor.scope, null);
    await nextTurn();
    assert.deepEqual(events, []);
  });

  test('a subtree holding an object of another scope is refused as a whole', () => {
    const { root } = rootedScope();
    const other = new Scope({ name: 'other' });
    const otherRoot = node(9);
    other.setRoot(otherRoot);
    const foreign = node(10);
    otherRoot.children.push(foreign);
    const fresh = node(11, { children: [node(12), foreign] });
    assert.throws(() => root.children.push(fresh), /belongs to scope 'other', not 'test'/);
    assert.equal(root.children.length, 0);
    assert.equal(fresh.scope, null);
  });
});
