// The fold (src/store/fold.ts) computes a snapshot from stored fragments alone. It must give
// exactly what `scope.getState()` gives at the same version: these tests apply random changesets
// through the real engine (adds, changes, removals by cascade, re-parenting, cycles cut off,
// re-adds of removed uuids, uppercase uuids, dates) and random server-side edits (re-attaching
// removed objects, new subtrees), store every emitted record as JSON, and compare the fold of
// any base snapshot plus the later records with the state, as JSON text (key order included).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { Canvas, ChatRoom, Message, User } from '../../demo/models.js';
import { type ModelClass, type ModelObject, model } from '../../src/model/index.js';
import { Kind, type Property } from '../../src/model/property.js';
import { restoreScope } from '../../src/persistence/restore.js';
import { foldSchema } from '../../src/persistence/schema.js';
import { Scope } from '../../src/scope/index.js';
import type { Fragment } from '../../src/scope/types.js';
import { fold, foldStored } from '../../src/store/fold.js';
import type { StoredFragment } from '../../src/store/types.js';
import {
  classesUnder,
  type EngineChangeset,
  engineChangesets,
  FuzzNode,
  fuzzParameters,
  ROOT_UUID,
} from '../fuzz/arbitraries.js';

type State = { rootUUID: string; fragments: StoredFragment[] };

/** As a store gives it back: JSON text, parsed. */
const stored = <T>(value: T): T => JSON.parse(JSON.stringify(value));

/** A server-side edit, drawn as numbers that pick among the objects present when it runs. */
interface ServerEdit {
  object: number;
  property: number;
  picks: number[];
  fresh: boolean;
  scalar: number;
}

const serverEdit: fc.Arbitrary<ServerEdit> = fc.record(
  {
    object: fc.nat(),
    property: fc.nat(),
    picks: fc.array(fc.nat(), { maxLength: 4 }),
    fresh: fc.boolean(),
    scalar: fc.double({ min: -1e6, max: 1e6, noNaN: true }),
  },
  { noNullPrototype: true },
);

type Step = { changeset: EngineChangeset } | { edit: ServerEdit };

function steps(rootClass: ModelClass): fc.Arbitrary<Step[]> {
  return fc
    .tuple(engineChangesets(rootClass, { maxChangesets: 10 }), fc.array(serverEdit, { maxLength: 6 }))
    .chain(([changesets, edits]) =>
      fc.shuffledSubarray<Step>(
        [...changesets.map((changeset) => ({ changeset })), ...edits.map((edit) => ({ edit }))],
        {
          minLength: changesets.length + edits.length,
        },
      ),
    );
}

function scalarFor(prop: Property, x: number): unknown {
  switch (prop.kind) {
    case Kind.String:
      return `s${Math.round(x)}`;
    case Kind.Number:
      return x;
    case Kind.Boolean:
      return x > 0;
    case Kind.Date:
      return new Date(Math.round(x * 1e6));
    case Kind.Enum:
      return prop.type.getValues()[Math.abs(Math.round(x)) % prop.type.getValues().length];
    default:
      return null;
  }
}

/**
 * Runs one server-side edit the way application code would: assigns a property of an object in
 * the scope, pointing references at objects of the scope, objects it lost earlier (re-attached
 * with their subtrees), or new ones. Edits the models refuse are skipped.
 */
function runEdit(scope: Scope, rootClass: ModelClass, everSeen: ModelObject[], edit: ServerEdit): void {
  const live = scope.getAllModelObjects();
  const obj = live[edit.object % live.length]!;
  const props = obj.getProperties();
  const prop = props[edit.property % props.length]!;
  const pick = (i: number): ModelObject | null => {
    if (prop.kind !== Kind.Model) return null;
    const fits = everSeen.filter((o) => o instanceof prop.type);
    if (edit.fresh && i % 3 === 0) {
      const classes = classesUnder(rootClass).filter((c) => c.isSubclassOf(prop.type));
      const cls = classes[i % classes.length];
      if (cls) return new cls();
    }
    return fits.length ? fits[i % fits.length]! : null;
  };
  try {
    if (prop.kind === Kind.Model) {
      const value = prop.isCollection
        ? edit.picks.map(pick).filter((o) => o !== null)
        : edit.picks.length
          ? pick(edit.picks[0]!)
          : null;
      obj.assign({ [prop.name]: value });
    } else if (prop.isCollection) {
      obj.assign({ [prop.name]: edit.picks.map((p) => scalarFor(prop, edit.scalar + p)) });
    } else {
      obj.assign({ [prop.name]: scalarFor(prop, edit.scalar) });
    }
  } catch (err) {
    if ((err as Error).name !== 'ValidationError') throw err;
  }
  scope.flush();
}

function assertFoldsToState(
  schema: ReturnType<typeof foldSchema>,
  base: State,
  records: StoredFragment[][],
  expected: State,
  label: string,
) {
  const folded = fold(schema, base, records);
  assert.equal(JSON.stringify(folded), JSON.stringify(expected), label);
}

/** Applies the steps through the real engine, recording every emitted changeset as a store would. */
function run(rootClass: ModelClass, all: Step[]): void {
  const scope = new Scope({ name: 'fold' });
  scope.setRoot(new rootClass({ uuid: ROOT_UUID }));
  const schema = stored(foldSchema(rootClass));
  const records: StoredFragment[][] = [];
  scope.on('changes', (fragments) => {
    records.push(stored(fragments));
  });
  const states: State[] = [stored(scope.getState())];
  /** states[i] is the state after records[0..i). */
  const everSeen = new Set<ModelObject>(scope._index.values());
  for (const step of all) {
    if ('changeset' in step) {
      scope.applyChangeset(step.changeset.fragments as Fragment[], { atomic: step.changeset.atomic });
    } else {
      runEdit(scope, rootClass, [...everSeen], step.edit);
    }
    for (const o of scope._index.values()) everSeen.add(o);
    while (states.length < records.length + 1) states.push(stored(scope.getState()));
  }
  assert.equal(states.length, records.length + 1);
  // Every record a store holds has lowercase uuids and references, and Dates in seconds.
  for (const r of records) for (const f of r) assert.equal(f.uuid, f.uuid.toLowerCase());
  // From every base, through every later version.
  for (let from = 0; from < states.length; from++) {
    for (let to = from; to < states.length; to++) {
      assertFoldsToState(schema, states[from]!, records.slice(from, to), states[to]!, `v${from} → v${to}`);
    }
  }
  // The stores' entry point, on texts.
  const text = foldStored(
    schema,
    { rootUUID: states[0]!.rootUUID, fragments: JSON.stringify(states[0]!.fragments) },
    records.map((r) => JSON.stringify(r)),
  );
  assert.equal(text.fragments, JSON.stringify(states.at(-1)!.fragments));
  // And what a restart loads from it is the scope.
  const restored = new Scope({ name: 'fold' });
  const last = states.at(-1)!;
  assert.deepEqual(
    restoreScope(restored, rootClass, {
      snapshot: {
        scope: 'fold',
        version: records.length,
        rootUUID: text.rootUUID,
        fragments: JSON.parse(text.fragments),
      },
      changes: [],
      version: records.length,
    }),
    [],
  );
  assert.equal(JSON.stringify(restored.getState()), JSON.stringify(last));
}

const ROOTS: [string, ModelClass][] = [
  ['FuzzNode (self references, a subclass, items pointing back up, dates)', FuzzNode],
  ['ChatRoom (demo: shared users, messages referencing users, dates)', ChatRoom as ModelClass],
  ['Canvas (demo: a collection of shapes)', Canvas as ModelClass],
];

describe('the fold equals getState after random changesets and server-side edits', () => {
  for (const [name, rootClass] of ROOTS) {
    test(name, () => {
      fc.assert(
        fc.property(steps(rootClass), (all) => run(rootClass, all)),
        fuzzParameters(rootClass === FuzzNode ? 300 : 150),
      );
    });
  }
});

describe('fold: cases written out', () => {
  const u = (n: number) => `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`;
  const schema = foldSchema(FuzzNode);
  const root = (properties: Record<string, unknown>): StoredFragment => ({
    type: 'change',
    uuid: ROOT_UUID,
    clsName: 'FuzzNode',
    properties,
  });
  const base = (): State => stored({ rootUUID: ROOT_UUID, fragments: [root({})] });

  test('a removed object re-added starts from its defaults, not from what it held', () => {
    const scope = new Scope({ name: 's' });
    scope.setRoot(new FuzzNode({ uuid: ROOT_UUID }));
    const records: StoredFragment[][] = [];
    scope.on('changes', (f) => records.push(stored(f)));
    const initial = stored(scope.getState());
    const ok = (fragments: Fragment[]) =>
      assert.ok(scope.applyChangeset(fragments).results.every((r) => r === null));
    ok([
      { type: 'add', uuid: u(1), clsName: 'FuzzNode', properties: { name: 'first', n: 1, tags: ['a'] } },
      { type: 'change', uuid: ROOT_UUID, clsName: 'FuzzNode', properties: { children: [u(1)] } },
    ]);
    ok([{ type: 'change', uuid: ROOT_UUID, clsName: 'FuzzNode', properties: { children: [] } }]);
    assert.equal(scope.size, 1);
    ok([
      { type: 'add', uuid: u(1), clsName: 'FuzzNode', properties: { n: 2 } },
      { type: 'change', uuid: ROOT_UUID, clsName: 'FuzzNode', properties: { partner: u(1) } },
    ]);
    const folded = fold(schema, initial, records);
    assert.equal(JSON.stringify(folded), JSON.stringify(scope.getState()));
    assert.deepEqual(folded.fragments[1]!.properties.name, null);
    assert.deepEqual(folded.fragments[1]!.properties.tags, []);
  });

  test('uppercase uuids and references are lowercased; Date strings were stored as seconds', () => {
    const scope = new Scope({ name: 's' });
    scope.setRoot(new FuzzNode({ uuid: ROOT_UUID }));
    const records: StoredFragment[][] = [];
    scope.on('changes', (f) => records.push(stored(f)));
    const initial = stored(scope.getState());
    const U = u(10).toUpperCase().replace('-4000-8000-', '-4000-A000-');
    scope.applyChangeset([
      {
        type: 'add',
        uuid: U,
        clsName: 'FuzzNode',
        properties: { when: '2024-02-29T12:00:00.5Z', dates: [1.5] },
      },
      { type: 'change', uuid: ROOT_UUID.toUpperCase(), clsName: 'FuzzNode', properties: { children: [U] } },
    ]);
    assert.equal(records.length, 1);
    assert.equal(records[0]![0]!.uuid, U.toLowerCase());
    assert.equal(records[0]![0]!.properties.when, Date.UTC(2024, 1, 29, 12, 0, 0, 500) / 1000);
    assert.deepEqual(records[0]![1]!.properties.children, [U.toLowerCase()]);
    assert.equal(JSON.stringify(fold(schema, initial, records)), JSON.stringify(scope.getState()));
    // Data stored otherwise (by hand, or by an older server) is lowercased by the fold itself.
    const upper = fold(schema, { rootUUID: ROOT_UUID.toUpperCase(), fragments: [root({ partner: U })] }, [
      [{ type: 'add', uuid: U, clsName: 'FuzzNode', properties: { children: [ROOT_UUID.toUpperCase()] } }],
    ]);
    assert.deepEqual(
      upper.fragments.map((f) => [f.type, f.uuid]),
      [
        ['change', ROOT_UUID],
        ['add', U.toLowerCase()],
      ],
    );
    assert.equal(upper.rootUUID, ROOT_UUID);
    assert.equal(upper.fragments[0]!.properties.partner, U.toLowerCase());
    assert.deepEqual(upper.fragments[1]!.properties.children, [ROOT_UUID]);
  });

  test('within a record, adds come first: a change listed before its add still applies after it', () => {
    const folded = fold(schema, base(), [
      [
        { type: 'change', uuid: u(1), clsName: 'FuzzNode', properties: { n: 2 } },
        { type: 'change', uuid: ROOT_UUID, clsName: 'FuzzNode', properties: { partner: u(1) } },
        { type: 'add', uuid: u(1), clsName: 'FuzzNode', properties: { n: 1, name: 'x' } },
      ],
    ]);
    assert.deepEqual(folded.fragments[1]!.properties.n, 2);
    assert.deepEqual(folded.fragments[1]!.properties.name, 'x');
  });

  test('a cycle cut off from the root goes, with everything only it reached', () => {
    const folded = fold(schema, base(), [
      [
        { type: 'add', uuid: u(1), clsName: 'FuzzNode', properties: { partner: u(2) } },
        { type: 'add', uuid: u(2), clsName: 'FuzzNode', properties: { partner: u(1), children: [u(3)] } },
        { type: 'add', uuid: u(3), clsName: 'FuzzNode', properties: {} },
        { type: 'change', uuid: ROOT_UUID, clsName: 'FuzzNode', properties: { partner: u(1) } },
      ],
      [{ type: 'change', uuid: ROOT_UUID, clsName: 'FuzzNode', properties: { partner: null } }],
    ]);
    assert.deepEqual(
      folded.fragments.map((f) => f.uuid),
      [ROOT_UUID],
    );
    assert.equal('partner' in folded.fragments[0]!.properties, false, 'a null single reference is left out');
  });

  test('order: pre-order depth-first, each object once, children in declaration order', () => {
    const folded = fold(schema, base(), [
      [
        { type: 'add', uuid: u(1), clsName: 'FuzzNode', properties: { children: [u(3), u(2)] } },
        { type: 'add', uuid: u(2), clsName: 'FuzzNode', properties: {} },
        { type: 'add', uuid: u(3), clsName: 'FuzzLeaf', properties: { partner: u(2), weight: 3 } },
        { type: 'add', uuid: u(4), clsName: 'FuzzItem', properties: { owner: ROOT_UUID } },
        {
          type: 'change',
          uuid: ROOT_UUID,
          clsName: 'FuzzNode',
          properties: { partner: u(2), children: [u(1), u(1)], items: [u(4)] },
        },
      ],
    ]);
    assert.deepEqual(
      folded.fragments.map((f) => f.uuid),
      [ROOT_UUID, u(2), u(1), u(3), u(4)],
    );
    assert.equal(folded.fragments[3]!.clsName, 'FuzzLeaf');
    assert.deepEqual(Object.keys(folded.fragments[3]!.properties), [
      'name',
      'n',
      'on',
      'when',
      'color',
      'partner',
      'children',
      'tags',
      'dates',
      'items',
      'weight',
      'level',
    ]);
  });

  test('stored data the models no longer describe is kept: unknown classes as leaves, unknown properties', () => {
    const Room = model('FoldRoom', function () {
      this.has('title', String);
      this.has('members', [User]);
    });
    const folded = fold(
      foldSchema(Room),
      {
        rootUUID: ROOT_UUID,
        fragments: [
          {
            type: 'change',
            uuid: ROOT_UUID,
            clsName: 'FoldRoom',
            properties: { title: 't', members: [u(1), u(2)], old: 1 },
          },
          { type: 'add', uuid: u(1), clsName: 'User', properties: { username: 'a' } },
          { type: 'add', uuid: u(2), clsName: 'Gone', properties: { ref: u(3), x: 1 } },
          {
            type: 'add',
            uuid: u(3),
            clsName: 'User',
            properties: { username: 'only the unknown class held me' },
          },
        ],
      },
      [],
    );
    assert.deepEqual(folded.fragments, [
      {
        type: 'change',
        uuid: ROOT_UUID,
        clsName: 'FoldRoom',
        properties: { title: 't', members: [u(1), u(2)], old: 1 },
      },
      {
        type: 'add',
        uuid: u(1),
        clsName: 'User',
        properties: { username: 'a', color: null, lastActive: null },
      },
      { type: 'add', uuid: u(2), clsName: 'Gone', properties: { ref: u(3), x: 1 } },
    ]);
  });

  test('the schema: defaults as the wire carries them, references in declaration order', () => {
    const Stamp = model('FoldStamp', function () {
      this.has('at', Date, { defaultValue: new Date(1500) });
      this.has('ats', [Date], { defaultValue: [new Date(2000)] });
      this.has('label', String, { defaultValue: 'none' });
      this.has('author', User);
      this.has('messages', [Message]);
    });
    const s = foldSchema(Stamp);
    assert.equal(s.root, 'FoldStamp');
    assert.deepEqual(
      s.classes.find((c) => c.name === 'FoldStamp'),
      {
        name: 'FoldStamp',
        properties: [
          ['at', 1.5],
          ['ats', [2]],
          ['label', 'none'],
          ['author', null],
          ['messages', []],
        ],
        references: [
          ['author', false],
          ['messages', true],
        ],
      },
    );
    assert.deepEqual(s.classes.map((c) => c.name).sort(), ['FoldStamp', 'Message', 'User']);
    assert.equal(foldSchema(Stamp), s, 'cached');
    assert.deepEqual(stored(s), s, 'plain JSON data');
  });
});
