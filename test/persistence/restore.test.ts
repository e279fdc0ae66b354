// Restoring a scope from stored data, including data written by older versions of the models
// (schema evolution): an added property loads with its default; a removed property or
// class is reported as a warning, not a crash, and the rest of the scope loads.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Collection } from '../../src/model/collection.js';
import { type ModelObject, model } from '../../src/model/model-object.js';
import { restoreScope } from '../../src/persistence/restore.js';
import { Scope } from '../../src/scope/scope.js';
import type { LoadedScope } from '../../src/store/types.js';

const ROOT = '00000000-0000-4000-8000-000000000001';
const A = '00000000-0000-4000-8000-00000000000a';
const B = '00000000-0000-4000-8000-00000000000b';
const C = '00000000-0000-4000-8000-00000000000c';

/** What version 1 of an app stored: a board with two notes and a sticker, then one change. */
function storedV1(): LoadedScope {
  return {
    version: 1,
    snapshot: {
      scope: 'Board',
      version: 0,
      rootUUID: ROOT,
      fragments: [
        {
          type: 'change',
          uuid: ROOT,
          clsName: 'Board',
          properties: { title: 'v1', notes: [A, B], sticker: C },
        },
        { type: 'add', uuid: A, clsName: 'Note', properties: { text: 'first', color: 3 } },
        { type: 'add', uuid: B, clsName: 'Note', properties: { text: 'second', color: 4 } },
        { type: 'add', uuid: C, clsName: 'Sticker', properties: { emoji: '*' } },
      ],
    },
    changes: [
      {
        scope: 'Board',
        version: 1,
        fragments: [{ type: 'change', uuid: A, clsName: 'Note', properties: { text: 'edited', color: 5 } }],
      },
    ],
  };
}

test('restores snapshot + change log into an empty scope at the stored version', () => {
  const Sticker = model('Sticker', function () {
    this.has('emoji', String);
  });
  const Note = model('Note', function () {
    this.has('text', String);
    this.has('color', Number);
  });
  const Board = model('Board', function () {
    this.has('title', String);
    this.has('notes', [Note]);
    this.has('sticker', Sticker);
  });
  const scope = new Scope({ name: 'Board' });
  const warnings = restoreScope(scope, Board, storedV1());
  assert.deepEqual(warnings, []);
  assert.equal(scope.version, 1);
  assert.equal(scope.root!.uuid, ROOT);
  assert.equal(scope.size, 4);
  assert.equal(scope.get(A)!.get('text'), 'edited', 'the change log is replayed after the snapshot');
  assert.equal(scope.get(A)!.get('color'), 5);
});

test('schema evolution: added property → default; removed property and class → warnings, rest loaded', () => {
  // Version 2 of the app: Note lost `color` and gained `pinned` (default false); Sticker is gone.
  const Note = model('Note', function () {
    this.has('text', String);
    this.has('pinned', Boolean, { defaultValue: false });
  });
  const Board = model('Board', function () {
    this.has('title', String);
    this.has('notes', [Note]);
  });
  const scope = new Scope({ name: 'Board' });
  const warnings = restoreScope(scope, Board, storedV1());
  assert.equal(scope.size, 3, 'root and the two notes; the sticker is dropped');
  assert.equal(scope.get(A)!.get('text'), 'edited');
  assert.equal(scope.get(A)!.get('pinned'), false, 'a property added since loads with its default');
  assert.equal(scope.get(C), null);
  assert.equal((scope.root!.get('notes') as Collection).length, 2);
  const text = warnings.join('\n');
  assert.match(text, /property 'Note\.color' is no longer defined/);
  assert.match(text, /property 'Board\.sticker' is no longer defined/);
  assert.match(text, /class 'Sticker' is no longer defined; object 0{8}-0{4}-4000-8000-00000000000c dropped/);
});

test('references to objects of a removed class are dropped from collections', () => {
  const Note = model('Note', function () {
    this.has('text', String);
  });
  const Board = model('Board', function () {
    this.has('title', String);
    this.has('items', [Note]);
  });
  const loaded: LoadedScope = {
    version: 0,
    changes: [],
    snapshot: {
      scope: 'Board',
      version: 0,
      rootUUID: ROOT,
      fragments: [
        { type: 'change', uuid: ROOT, clsName: 'Board', properties: { title: 't', items: [A, C] } },
        { type: 'add', uuid: A, clsName: 'Note', properties: { text: 'kept' } },
        { type: 'add', uuid: C, clsName: 'Gone', properties: {} },
      ],
    },
  };
  const scope = new Scope({ name: 'Board' });
  const warnings = restoreScope(scope, Board, loaded);
  assert.deepEqual(
    (scope.root!.get('items') as Collection<ModelObject>).map((n) => n.uuid),
    [A],
  );
  assert.equal(warnings.length, 1);
  assert.match(warnings[0]!, /class 'Gone'/);
});

test('a stored scope without a snapshot is an error naming the scope', () => {
  const Board = model('Board', function () {
    this.has('title', String);
  });
  assert.throws(
    () => restoreScope(new Scope({ name: 'Board' }), Board, { version: 0, changes: [], snapshot: null }),
    /Stored scope 'Board' has no snapshot/,
  );
});

test('a change naming a superclass of its target keeps the properties of the target class', () => {
  // The engine accepts `{type: 'change', clsName: 'Shape'}` for a Circle (docs/protocol.md §6.1)
  // and stores the fragment as the client sent it: replaying it must check `radius` against
  // Circle, not drop it as a property Shape lacks.
  const Shape = model('RShape', function () {
    this.has('x', Number);
  });
  const Circle = Shape.model('RCircle', function () {
    this.has('radius', Number);
  });
  const Board = model('RBoard', function () {
    this.has('shapes', [Shape]);
  });
  const loaded: LoadedScope = {
    version: 2,
    snapshot: {
      scope: 'Board',
      version: 0,
      rootUUID: ROOT,
      fragments: [{ type: 'change', uuid: ROOT, clsName: 'RBoard', properties: { shapes: [] } }],
    },
    changes: [
      {
        scope: 'Board',
        version: 1,
        fragments: [
          { type: 'change', uuid: B, clsName: 'RShape', properties: { radius: 2 } },
          { type: 'add', uuid: B, clsName: 'RCircle', properties: { x: 1 } },
          { type: 'change', uuid: ROOT, clsName: 'RBoard', properties: { shapes: [B] } },
        ],
      },
      {
        scope: 'Board',
        version: 2,
        fragments: [{ type: 'change', uuid: B, clsName: 'RShape', properties: { x: 3, radius: 4 } }],
      },
    ],
  };
  const scope = new Scope({ name: 'Board' });
  assert.deepEqual(restoreScope(scope, Board, loaded), []);
  assert.ok(scope.get(B) instanceof Circle);
  assert.deepEqual(scope.get(B)!.getValues(), { x: 3, radius: 4 });
});
