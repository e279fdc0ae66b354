// Fuzzing the changeset engine (docs/protocol.md §6.4, §7): random changesets — adds and changes,
// references to objects that exist, are added in the same changeset, or are unknown,
// collections, wrong classes and invalid values, atomic or not — applied with
// `scope.applyChangeset` to scopes of several models. After every changeset:
// - results has exactly one entry per fragment, and `applied` holds the accepted fragments;
// - an atomic changeset is all or nothing: on any error nothing changes (getState before/after);
// - the scope is one tree: every indexed object is reachable from the root and every reachable
//   object is indexed; no object references an object outside the scope; every object's parent
//   links are exactly the references that point at it;
// - each accepted property value is the one the object holds now (the last writer wins: adds
//   first, then changes in input order), and objects no accepted fragment touched are unchanged;
// - the scope's state applied to a fresh scope (as a restore from a snapshot does) gives the
//   same state.
//
// `npm run fuzz` runs the same properties with FUZZ_RUNS runs each.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { Canvas, ChatRoom } from '../../demo/models.js';
import type { ModelClass, ModelObject } from '../../src/model/index.js';
import { walkTree } from '../../src/model/model-object.js';
import { restoreScope } from '../../src/persistence/restore.js';
import { Scope } from '../../src/scope/index.js';
import type { AppliedFragment, Fragment } from '../../src/scope/types.js';
import {
  type EngineChangeset,
  type EngineFragment,
  engineChangesets,
  FuzzNode,
  fuzzParameters,
  ROOT_UUID,
} from './arbitraries.js';

type State = ReturnType<Scope['getState']>;

function freshScope(rootClass: ModelClass): Scope {
  const scope = new Scope({ name: 'fuzz' });
  scope.setRoot(new rootClass({ uuid: ROOT_UUID }));
  return scope;
}

/** One tree, no dangling references, parent links that match the references. */
function assertOneTree(scope: Scope): void {
  const root = scope.root!;
  const index = scope._index;
  const reachable = walkTree(root);
  assert.equal(
    reachable.length,
    index.size,
    'every indexed object is reachable from the root, and only those',
  );
  for (const o of reachable) {
    assert.equal(index.get(o.uuid), o, `reachable ${o.uuid} is indexed`);
  }
  // The references, as (parent uuid, key) → child, and each object's recorded parent links.
  const expected = new Map<ModelObject, Set<string>>();
  for (const [uuid, o] of index) {
    assert.equal(o.uuid, uuid);
    assert.equal(o._scope, scope);
    expected.set(o, expected.get(o) ?? new Set());
    o._forEachChild((child, key) => {
      assert.equal(index.get(child.uuid), child, `${o.uuid}.${key} → ${child.uuid} is outside the scope`);
      let links = expected.get(child);
      if (!links) expected.set(child, (links = new Set()));
      links.add(`${o.uuid}.${key}`);
    });
  }
  for (const [o, links] of expected) {
    const recorded = o.getParentRelationships().map((r) => `${r.parent.uuid}.${r.key}`);
    assert.equal(new Set(recorded).size, recorded.length, `duplicate parent links on ${o.uuid}`);
    assert.deepEqual(new Set(recorded), links, `parent links of ${o.uuid}`);
    if (o !== root) assert.ok(links.size > 0, `${o.uuid} has no parent`);
  }
}

/** The state, indexed by uuid. */
function byUuid(state: State): Map<string, AppliedFragment> {
  return new Map(state.fragments.map((f) => [f.uuid, f]));
}

/**
 * Each accepted value is what the object holds now, unless the object left the scope (§7 step 5).
 * Adds are applied before changes, then changes in input order: the last writer wins.
 */
function assertAppliedValuesHeld(applied: AppliedFragment[], after: Map<string, AppliedFragment>): void {
  const last = new Map<string, unknown>();
  for (const pass of ['add', 'change']) {
    for (const f of applied) {
      if (f.type !== pass) continue;
      for (const [key, value] of Object.entries(f.properties)) last.set(`${f.uuid}\u0000${key}`, value);
    }
  }
  for (const [k, value] of last) {
    const [uuid, key] = k.split('\u0000') as [string, string];
    const now = after.get(uuid);
    if (!now) continue;
    // A state leaves a null single reference out (§5 ScopeState).
    assert.deepStrictEqual(now.properties[key] ?? null, value, `${uuid}.${key}`);
  }
}

function assertRestores(scope: Scope, rootClass: ModelClass, state: State): void {
  const fresh = new Scope({ name: 'restored' });
  const warnings = restoreScope(fresh, rootClass, {
    snapshot: { scope: 'fuzz', version: 0, rootUUID: state.rootUUID, fragments: state.fragments },
    changes: [],
    version: 0,
  });
  assert.deepEqual(warnings, []);
  assert.deepStrictEqual(fresh.getState(), state);
  assert.equal(fresh.size, scope.size);
}

function applyAndCheck(scope: Scope, rootClass: ModelClass, changeset: EngineChangeset): void {
  const before = scope.getState();
  const events: AppliedFragment[][] = [];
  const listener = (fragments: AppliedFragment[]) => {
    events.push(fragments);
  };
  scope.on('changes', listener);
  const { results, applied } = scope.applyChangeset(changeset.fragments as Fragment[], {
    atomic: changeset.atomic,
  });
  scope.off('changes', listener);
  const after = scope.getState();

  assert.equal(results.length, changeset.fragments.length, 'one result per fragment');
  const accepted = results.filter((r) => r === null).length;
  assert.equal(applied.length, accepted, 'applied = the accepted fragments');
  for (const r of results) {
    if (r !== null) {
      assert.equal(typeof r.message, 'string');
      assert.ok(r.type === 'invalid-fragment' || r.type === 'atomic-changeset-rejected', r.type);
    }
  }
  assert.deepEqual(events, applied.length > 0 ? [applied] : [], "one 'changes' event when anything applied");
  if (changeset.atomic && accepted < results.length) {
    assert.equal(accepted, 0, 'atomic: all or nothing');
    assert.ok(results.some((r) => r?.type === 'invalid-fragment'));
  }
  if (accepted === 0) assert.deepStrictEqual(after, before, 'nothing accepted, nothing changed');

  assertOneTree(scope);
  const afterByUuid = byUuid(after);
  assertAppliedValuesHeld(applied, afterByUuid);
  const touched = new Set(applied.map((f) => f.uuid));
  for (const [uuid, f] of byUuid(before)) {
    const now = afterByUuid.get(uuid);
    if (now && !touched.has(uuid)) assert.deepStrictEqual(now.properties, f.properties, `untouched ${uuid}`);
  }
  assertRestores(scope, rootClass, after);
}

const ROOTS: [string, ModelClass][] = [
  ['FuzzNode (self references, a subclass, items pointing back up)', FuzzNode],
  ['ChatRoom (demo: shared users, messages referencing users)', ChatRoom as ModelClass],
  ['Canvas (demo: a collection of shapes)', Canvas as ModelClass],
];

describe('failure propagation (docs/protocol.md §6.4, §7 step 4)', () => {
  test('a change of an add that fails because an add it references failed, fails too', () => {
    // u4's add references u3, whose add has no parent (u4.next is finally u4 itself): u3 fails,
    // so u4's add fails, so the root's change and both changes of u4 must fail with it: a change
    // left accepted would have no object to apply to.
    const u = (n: number) => `00000000-0000-4000-8000-00000000000${n}`;
    const scope = freshScope(FuzzNode);
    const fragments: EngineFragment[] = [
      { type: 'change', uuid: ROOT_UUID, clsName: 'FuzzNode', properties: { items: [u(4)] } },
      { type: 'add', uuid: u(3), clsName: 'FuzzItem', properties: {} },
      { type: 'change', uuid: u(4), clsName: 'FuzzItem', properties: { label: '' } },
      { type: 'add', uuid: u(4), clsName: 'FuzzItem', properties: { next: u(3) } },
      { type: 'change', uuid: u(4), clsName: 'FuzzItem', properties: { next: u(4) } },
    ];
    applyAndCheck(scope, FuzzNode, { fragments, atomic: false });
    assert.equal(scope.size, 1);
    const { results } = scope.applyChangeset(fragments as Fragment[]);
    assert.deepEqual(
      results.map((r) => r?.message.replace(/'[^']*'/, 'X')),
      [
        'No such ModelObject X: its add fragment failed',
        'No parents: ModelObject X is not referenced by any object in the scope',
        'No such ModelObject X: its add fragment failed',
        'No such ModelObject X: its add fragment failed',
        'No such ModelObject X: its add fragment failed',
      ],
    );
  });
});

describe('failure propagation along long chains', () => {
  test('a chain of 5,000 adds fails link by link when its last add fails', () => {
    const uuid = (n: number) => `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`;
    const n = 5_000;
    const fragments: EngineFragment[] = [
      { type: 'change', uuid: ROOT_UUID, clsName: 'FuzzNode', properties: { partner: uuid(1) } },
    ];
    for (let i = 1; i < n; i++) {
      fragments.push({
        type: 'add',
        uuid: uuid(i),
        clsName: 'FuzzNode',
        properties: { partner: uuid(i + 1) },
      });
    }
    fragments.push({ type: 'add', uuid: uuid(n), clsName: 'FuzzNode', properties: { n: 'not a number' } });
    const scope = freshScope(FuzzNode);
    const { results } = scope.applyChangeset(fragments as Fragment[]);
    // Changes are resolved after the adds: by then the add of uuid(1) has failed.
    assert.equal(results[0]?.message, `No such ModelObject '${uuid(1)}' at 'partner'`);
    for (let i = 1; i < n; i++) {
      assert.equal(results[i]?.message, `No such ModelObject '${uuid(i + 1)}': its add fragment failed`);
    }
    assert.equal(results[n]?.message, "Not valid type at 'n', should be Number");
    assert.equal(scope.size, 1);
  });
});

describe('the changeset engine keeps its promises on random changesets (docs/protocol.md §7)', () => {
  for (const [name, rootClass] of ROOTS) {
    test(name, () => {
      fc.assert(
        fc.property(engineChangesets(rootClass), (changesets) => {
          const scope = freshScope(rootClass);
          for (const changeset of changesets) applyAndCheck(scope, rootClass, changeset);
        }),
        fuzzParameters(rootClass === FuzzNode ? 2000 : 800),
      );
    });
  }
});
