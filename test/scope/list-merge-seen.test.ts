// A session's record of what its client saw (src/server/seen-collections.ts): the base of a
// collection change is the collection as of the last acknowledged message, with the client's own
// unanswered lists on top (docs/protocol.md §7.10). Driven here without sockets: messages are
// "queued" by calling the record the way a session does.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Property } from '../../src/model/index.js';
import type { ListKey } from '../../src/scope/list-merge.js';
import { Scope } from '../../src/scope/scope.js';
import { MAX_RUNS, mergeCorrections, SeenCollections } from '../../src/server/seen-collections.js';
import { Node, type NodeT, node, u } from './helpers.js';

const children = (Node as unknown as { $propMap: Record<string, Property> }).$propMap.children!;

function setup(): { scope: Scope; root: NodeT; seen: SeenCollections } {
  const root = node(1, { children: [node(11), node(12)] });
  const scope = new Scope({ name: 'seen' });
  scope.setRoot(root);
  const seen = new SeenCollections();
  seen.stateSent(0, scope, 2, scope.version); // index 2: the fetch's ScopeState
  return { scope, root, seen };
}

/** Another session sets the children (a broadcast this session is sent as message `index`). */
function others(scope: Scope, seen: SeenCollections, index: number, list: number[]): void {
  scope.applyChangeset([
    { type: 'change', uuid: u(1), clsName: 'Node', properties: { children: list.map(u) } },
  ]);
  seen.delivered(0, scope, index, scope.version);
}

const base = (seen: SeenCollections, scope: Scope, root: NodeT): readonly ListKey[] | null =>
  seen.baseFor(0, scope).base(root, children);

describe('SeenCollections: the base of a collection change', () => {
  test('the list as of the acknowledged message; before any Ping, the first ScopeState', () => {
    const { scope, root, seen } = setup();
    assert.deepEqual(base(seen, scope, root), [u(11), u(12)], 'nothing acknowledged: the state');
    others(scope, seen, 3, [12]);
    assert.deepEqual(base(seen, scope, root), [u(11), u(12)], 'message 3 not acknowledged yet');
    seen.acknowledged(3);
    assert.deepEqual(base(seen, scope, root), [u(12)]);
    // The SDK acknowledges, with each changeset, what its edits were made on: possibly lower.
    seen.acknowledged(2);
    assert.deepEqual(base(seen, scope, root), [u(11), u(12)]);
  });

  test('the client’s own accepted list until it acknowledges the answer', () => {
    const { scope, root, seen } = setup();
    seen.acknowledged(2);
    const owns = seen.accepted(0, scope, [{ obj: root, prop: children, mine: [u(12)], merged: null }]);
    assert.deepEqual(base(seen, scope, root), [u(12)], 'accepted, not answered yet');
    scope.applyChangeset([
      { type: 'change', uuid: u(1), clsName: 'Node', properties: { children: [u(12)] } },
    ]);
    seen.answered(0, scope, 4, scope.version, owns);
    assert.deepEqual(base(seen, scope, root), [u(12)], 'answered, not acknowledged');
    seen.acknowledged(4);
    assert.deepEqual(base(seen, scope, root), [u(12)], 'acknowledged: the history at that version');
  });

  test('a list the store could not keep is not the client’s view', () => {
    const { scope, root, seen } = setup();
    seen.acknowledged(2);
    const owns = seen.accepted(0, scope, [{ obj: root, prop: children, mine: [], merged: null }]);
    seen.failed(owns);
    assert.deepEqual(base(seen, scope, root), [u(11), u(12)]);
  });

  test('past MAX_RUNS runs, an old acknowledgement gives an older version, never a newer one', () => {
    const { scope, root, seen } = setup();
    others(scope, seen, 4, [12]); // message 4 shows [12]
    // Then every other index: each message starts a run of its own, and message 4's is forgotten.
    let index = 4;
    for (let i = 0; i < MAX_RUNS + 5; i++) {
      index += 2;
      scope.applyChangeset([{ type: 'change', uuid: u(1), clsName: 'Node', properties: { n: i } }]);
      seen.delivered(0, scope, index, scope.version);
    }
    seen.acknowledged(5);
    assert.deepEqual(base(seen, scope, root), [u(11), u(12)], 'the state, older than message 4: safe');
    seen.acknowledged(index);
    assert.deepEqual(base(seen, scope, root), [u(12)], 'a recent acknowledgement is exact');
  });

  test('after the scope is rebuilt, nothing is known until the new state is acknowledged', () => {
    const { scope, root, seen } = setup();
    seen.acknowledged(2);
    scope._reset();
    scope.setRoot(root);
    assert.equal(base(seen, scope, root), null);
    seen.stateSent(0, scope, 3, scope.version);
    assert.equal(base(seen, scope, root), null, 'the new state is not acknowledged yet');
    seen.acknowledged(3);
    assert.deepEqual(base(seen, scope, root), [u(11), u(12)]);
  });

  test('mergeCorrections: one change fragment per object, only for merged lists', () => {
    const { root } = setup();
    const other = node(30);
    const tags = (Node as unknown as { $propMap: Record<string, Property> }).$propMap.tags!;
    assert.equal(mergeCorrections([{ obj: root, prop: children, mine: [], merged: null }]), null);
    assert.deepEqual(
      mergeCorrections([
        { obj: root, prop: children, mine: [], merged: [u(11)] },
        { obj: other, prop: tags, mine: [], merged: null },
        { obj: root, prop: tags, mine: [], merged: ['a'] },
      ]),
      [{ type: 'change', uuid: u(1), clsName: 'Node', properties: { children: [u(11)], tags: ['a'] } }],
    );
  });
});
