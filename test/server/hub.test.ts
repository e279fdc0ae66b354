// The hub's encoded state (src/server/hub.ts): it reuses each object's encoded fragment from one
// fetch to the next and re-encodes only what a change named, so it must always equal a fresh
// encoding of the scope's state, whatever happened in between.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { Canvas, ChatRoom, Shape } from '../../demo/models.js';
import type { ModelClass } from '../../src/model/index.js';
import { encodeFragments } from '../../src/protocol/codec.js';
import { Scope } from '../../src/scope/index.js';
import type { Fragment } from '../../src/scope/types.js';
import { ScopeHub, type Subscriber } from '../../src/server/hub.js';
import { engineChangesets, FuzzNode, fuzzParameters, ROOT_UUID } from '../fuzz/arbitraries.js';

const subscriber: Subscriber = { enqueueScopeSync() {}, _sendState() {} };

function fresh(scope: Scope): string {
  return encodeFragments(scope.getState().fragments);
}

function held(rootClass: ModelClass): { scope: Scope; hub: ScopeHub } {
  const scope = new Scope({ name: 'hub' });
  scope.setRoot(new rootClass({ uuid: ROOT_UUID }));
  const hub = new ScopeHub();
  hub.subscribe(scope, subscriber, 0);
  return { scope, hub };
}

describe('ScopeHub.state', () => {
  for (const [name, rootClass] of [
    ['FuzzNode', FuzzNode],
    ['ChatRoom', ChatRoom as ModelClass],
    ['Canvas', Canvas as ModelClass],
  ] as const) {
    test(`equals a fresh encoding after random changesets (${name})`, () => {
      fc.assert(
        fc.property(engineChangesets(rootClass), (changesets) => {
          const { scope, hub } = held(rootClass);
          assert.equal(hub.state(scope).json, fresh(scope));
          for (const changeset of changesets) {
            scope.applyChangeset(changeset.fragments as Fragment[], { atomic: changeset.atomic });
            assert.equal(hub.state(scope).json, fresh(scope));
          }
        }),
        fuzzParameters(300),
      );
    });
  }

  test('follows server-side edits, removals and a removed object put back', () => {
    const canvas = new Canvas();
    const a = new Shape();
    const b = new Shape();
    a.assign({ x: 1 });
    b.assign({ x: 2 });
    canvas.assign({ name: 'c', shapes: [a, b] });
    const scope = new Scope({ name: 'edits' });
    scope.setRoot(canvas);
    const hub = new ScopeHub();
    hub.subscribe(scope, subscriber, 0);
    const first = hub.state(scope).json;
    assert.equal(first, fresh(scope));
    assert.equal(hub.state(scope).json, first, 'an unchanged scope is not encoded again');

    a.assign({ x: 10 }); // captured, emitted by state()'s flush
    assert.equal(hub.state(scope).json, fresh(scope));
    assert.match(hub.state(scope).json, /"x":10/);

    canvas.assign({ shapes: [b] }); // a is removed
    scope.flush();
    a.assign({ x: 99 }); // changed while outside the scope: not captured
    assert.equal(hub.state(scope).json, fresh(scope));
    canvas.assign({ shapes: [b, a] }); // put back: its add carries x = 99
    assert.equal(hub.state(scope).json, fresh(scope));
    assert.match(hub.state(scope).json, /"x":99/);
  });

  test('a scope rebuilt from the store at a version it had before is encoded afresh', () => {
    const { scope, hub } = held(Canvas as ModelClass);
    const shape = new Shape();
    shape.assign({ x: 1 });
    (scope.root as InstanceType<typeof Canvas>).assign({ shapes: [shape] });
    scope.flush();
    const before = hub.state(scope).json;
    assert.match(before, /"x":1/);
    // As after a failed append: rebuilt from the store with other contents at the same version.
    const version = scope.version;
    scope._reset();
    const root = new Canvas({ uuid: ROOT_UUID });
    const other = new Shape();
    other.assign({ x: 2 });
    root.assign({ shapes: [other] });
    scope.setRoot(root);
    scope.version = version;
    assert.equal(hub.state(scope).json, fresh(scope));
    assert.match(hub.state(scope).json, /"x":2/);
  });

  test('a scope no session holds is encoded afresh each time', () => {
    const scope = new Scope({ name: 'unheld' });
    scope.setRoot(new Canvas({ uuid: ROOT_UUID }));
    const hub = new ScopeHub();
    assert.equal(hub.state(scope).json, fresh(scope));
    assert.equal(hub.state(scope).rootUUID, ROOT_UUID);
  });
});
