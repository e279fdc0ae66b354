// Scope: name, root, lookup, pre-order listing, ScopeState, callback forms.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ScopeError, SyncError } from '../../src/errors.js';
import type { ModelObject } from '../../src/model/index.js';
import { scope as makeScope, Scope } from '../../src/scope/index.js';
import { Node, node, recordChanges, rootedScope, u } from './helpers.js';

describe('Scope construction', () => {
  test('a name is required', () => {
    for (const bad of [undefined, {}, { name: '' }, { name: 5 }]) {
      assert.throws(
        () => new Scope(bad as never),
        (e: Error) => e instanceof ScopeError && /requires a name/.test(e.message),
      );
    }
  });

  test('name, uuid, params, options; scope() is a factory', () => {
    const s = makeScope({ name: 'room', params: { token: 't' }, disableProcedureConstraints: true });
    assert.ok(s instanceof Scope);
    assert.equal(s.name, 'room');
    assert.match(s.uuid, /^[0-9a-f-]{36}$/);
    assert.deepEqual(s.params, { token: 't' });
    assert.equal(s.disableProcedureConstraints, true);
    const plain = new Scope({ name: 'x' });
    assert.deepEqual(plain.params, {});
    assert.equal(plain.disableProcedureConstraints, false);
    assert.equal(plain.version, 0);
  });
});

describe('root', () => {
  test('setRoot joins the whole tree without emitting changes', async () => {
    const s = new Scope({ name: 's' });
    const events = recordChanges(s);
    const root = node(1);
    const a = node(2);
    const b = node(3);
    root.children.push(a);
    a.partner = b;
    assert.equal(s.setRoot(root), s);
    assert.equal(s.root, root);
    assert.equal(s.size, 3);
    for (const o of [root, a, b]) {
      assert.equal(o.scope, s);
      assert.ok(s.containsModelObject(o));
    }
    assert.equal(root.isScopeRoot, true);
    assert.equal(a.isScopeRoot, false);
    await new Promise((r) => setImmediate(r));
    assert.equal(events.length, 0);
    assert.equal(s.version, 0);
  });

  test('setRoot twice fails ("Already has root modelObject set"), also through the callback', () => {
    const { scope } = rootedScope();
    assert.throws(() => scope.setRoot(node()), /Already has root modelObject set/);
    let err: Error | null = null;
    scope.setRoot(node(), (e) => {
      err = e;
    });
    assert.match(String(err), /Already has root/);
  });

  test('setRoot with a callback answers (null, root)', () => {
    const s = new Scope({ name: 's' });
    const root = node();
    let got: unknown[] = [];
    const ret = s.setRoot(root, (...args) => {
      got = args;
    });
    assert.equal(ret, undefined);
    assert.deepEqual(got, [null, root]);
  });

  test('setRoot rejects a non-model and an object of another scope', () => {
    assert.throws(() => new Scope({ name: 's' }).setRoot({} as ModelObject), /must be a model object/);
    const { root } = rootedScope();
    assert.throws(() => new Scope({ name: 'other' }).setRoot(root), /already belongs to scope 'test'/);
  });

  test('setRoot rejects a tree with two objects of the same uuid', () => {
    const root = node(1);
    root.children.push(node(2), node(2));
    assert.throws(() => new Scope({ name: 's' }).setRoot(root), /already has a ModelObject with UUID/);
  });

  test('root accessors, with and without a root', () => {
    const s = new Scope({ name: 's' });
    assert.equal(s.getRootModelObject(), null);
    assert.equal(s.getRootModelObjectUUID(), null);
    assert.equal(s.getRootModelObjectType(), null);
    let err: Error | null = null;
    s.getRootModelObject((e) => {
      err = e;
    });
    assert.match(String(err), /No root modelObject set/);
    const root = node(1);
    s.setRoot(root);
    assert.equal(s.getRootModelObject(), root);
    assert.equal(s.getRootModelObjectUUID(), u(1));
    assert.equal(s.getRootModelObjectType(), Node);
    let got: unknown;
    s.getRootModelObject((e, r) => {
      assert.equal(e, null);
      got = r;
    });
    assert.equal(got, root);
  });
});

describe('lookup and listing', () => {
  test('get / getModelObjectByUUID are case-insensitive; unknown gives null', () => {
    const { scope, root } = rootedScope();
    const kid = node(0xabc);
    root.children.push(kid);
    assert.equal(scope.get(u(0xabc)), kid);
    assert.equal(scope.get(u(0xabc).toUpperCase()), kid);
    assert.equal(scope.getModelObjectByUUID(u(0xabc).toUpperCase()), kid);
    assert.equal(scope.get(u(99)), null);
    assert.equal(scope.get(5 as unknown as string), null);
    let got: unknown;
    scope.getModelObjectByUUID(u(0xabc), (e, o) => {
      assert.equal(e, null);
      got = o;
    });
    assert.equal(got, kid);
    assert.equal(scope.containsModelObject(node(0xabc)), false, 'same uuid, different object');
  });

  test('getAllModelObjects is pre-order from the root, each object once', () => {
    const { scope, root } = rootedScope();
    const a = node(2);
    const b = node(3);
    const a1 = node(4);
    root.children.push(a, b);
    a.children.push(a1);
    b.partner = a1;
    a1.partner = root;
    assert.deepEqual(scope.getAllModelObjects(), [root, a, a1, b]);
    let got: unknown;
    scope.getAllModelObjects((e, all) => {
      assert.equal(e, null);
      got = all;
    });
    assert.deepEqual(got, [root, a, a1, b]);
  });

  test('getAllModelObjects without a root: [] or a callback error', () => {
    const s = new Scope({ name: 's' });
    assert.deepEqual(s.getAllModelObjects(), []);
    let err: Error | null = null;
    s.getAllModelObjects((e) => {
      err = e;
    });
    assert.match(String(err), /No root modelObject set/);
  });

  test('getState: root first as a change, the others as adds, in pre-order', () => {
    const { scope, root } = rootedScope();
    const a = node(2, { name: 'a', when: new Date(1500) });
    root.children.push(a);
    root.name = 'root';
    const state = scope.getState();
    assert.equal(state.rootUUID, u(1));
    assert.deepEqual(
      state.fragments.map((f) => [f.type, f.uuid, f.clsName]),
      [
        ['change', u(1), 'Node'],
        ['add', u(2), 'Node'],
      ],
    );
    assert.deepEqual(state.fragments[0]!.properties, { ...root.toWireProperties(), children: [u(2)] });
    assert.equal(state.fragments[1]!.properties.when, 1.5);
    assert.equal('partner' in state.fragments[1]!.properties, false);
    assert.throws(() => new Scope({ name: 'x' }).getState(), /has no root/);
  });
});

describe('applying without a root, and argument checks', () => {
  test('no root: every fragment gets the same error, nothing is emitted', () => {
    const s = new Scope({ name: 's' });
    const events = recordChanges(s);
    const r = s.applyChangeset([
      { type: 'change', uuid: u(1), clsName: 'Node', properties: {} },
      { type: 'change', uuid: u(2), clsName: 'Node', properties: {} },
    ]);
    assert.equal(r.results.length, 2);
    for (const e of r.results) assert.match(e!.message, /No root model set/);
    assert.equal(r.results[0]!.type, 'could-not-apply-sync-message');
    assert.deepEqual(r.applied, []);
    assert.equal(events.length, 0);
  });

  test('fragments must be an array', () => {
    const { scope } = rootedScope();
    assert.throws(() => scope.applyChangeset({} as never), SyncError);
  });

  test('applySyncFragments: the original callback form with {accepted, error?}', () => {
    const { scope } = rootedScope();
    const frags = [
      { type: 'change' as const, uuid: u(1), clsName: 'Node', properties: { name: 'x' } },
      { type: 'change' as const, uuid: u(9), clsName: 'Node', properties: {} },
    ];
    let got: unknown;
    scope.applySyncFragments(frags, (err, res) => {
      assert.equal(err, null);
      got = res;
    });
    assert.equal((got as { accepted: boolean }[])[0]!.accepted, true);
    assert.equal((got as { accepted: boolean }[])[1]!.accepted, false);
    assert.match((got as { error: { message: string } }[])[1]!.error.message, /No such ModelObject/);
    // options + callback, and the direct return
    const direct = scope.applySyncFragments(frags, { atomic: true });
    assert.deepEqual(
      direct!.map((r) => r.accepted),
      [false, false],
    );
    let err: Error | null = null;
    scope.applySyncFragments({} as never, {}, (e) => {
      err = e;
    });
    assert.ok((err as Error | null) instanceof SyncError);
    assert.throws(() => scope.applySyncFragments({} as never), SyncError);
  });
});

describe('_reset', () => {
  test('forgets the whole tree and pending edits without emitting', async () => {
    const { scope, root } = rootedScope();
    const kid = node(2);
    root.children.push(kid);
    const events = recordChanges(scope);
    scope._reset();
    assert.equal(scope.root, null);
    assert.equal(scope.size, 0);
    assert.equal(root.scope, null);
    assert.equal(kid.scope, null);
    await new Promise((r) => setImmediate(r));
    assert.equal(events.length, 0);
    scope.setRoot(root);
    assert.equal(scope.size, 2);
  });
});
