// Undo and redo of the local user's own edits (docs/client.md, "Undo and redo"): on a scope
// without a network (a fake host records what would be sent), and against the real server with
// two clients, where only the undoing client's edit goes away.
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import WebSocket from 'ws';
import { Canvas, Shape } from '../../demo/models.js';
import {
  type Client,
  ClientScope,
  connect,
  type ScopeHost,
  type SyncOptions,
  UndoManager,
} from '../../src/client/index.js';
import type { ModelObject } from '../../src/model/index.js';
import type { Fragment, FragmentReply, InboundFragment } from '../../src/protocol/index.js';
import { startServer, tree, until } from './helpers.js';

const ROOT = '0b7c2d0e-6a0c-4a8e-9c2f-4f7e4b1d9a10';
const S1 = '5d1e9b9a-3c44-4f0b-8d7a-0f2b6c1e2a33';
const S2 = 'a9f0c1d2-7b3e-4c5d-9e8f-1a2b3c4d5e6f';
const S3 = 'c3f0c1d2-7b3e-4c5d-9e8f-1a2b3c4d5e60';

type ShapeObj = ModelObject & { x: number; y: number };
type Root = ModelObject & {
  name: string;
  shapes: {
    toArray(): ShapeObj[];
    push(...o: ModelObject[]): number;
    remove(o: ModelObject): number;
    length: number;
  };
};

class FakeHost implements ScopeHost {
  sent: Fragment[][] = [];
  /** Answer every fragment with this error (null: accept). */
  reject: FragmentReply['error'] | null = null;
  _sendSync(
    _s: unknown,
    fragments: Fragment[],
    _o: SyncOptions,
    reply: (r: FragmentReply[] | null) => void,
  ): void {
    this.sent.push(fragments);
    const error = this.reject;
    reply(fragments.map(() => (error ? { error } : {})));
  }
  _pendingChanged(): void {}
}

const shape = (uuid: string, x: number): InboundFragment => ({
  type: 'add',
  uuid,
  clsName: 'Shape',
  properties: { x, y: 0, width: 5, height: 5, type: 0 },
});

function setup() {
  const host = new FakeHost();
  const scope = new ClientScope('Canvas', Canvas, {}, host);
  scope._applyState(ROOT, [
    { type: 'change', uuid: ROOT, clsName: 'Canvas', properties: { name: 'Board', shapes: [S1, S2] } },
    shape(S1, 1),
    shape(S2, 2),
  ]);
  scope._fetched(0);
  const undo = new UndoManager(scope);
  return { host, scope, undo, root: scope.root as Root, s1: scope.get(S1) as ShapeObj };
}

const uuids = (root: Root) => root.shapes.toArray().map((s) => s.uuid);

describe('UndoManager', () => {
  test('undo restores what a step changed and sends it; redo sets it again', async () => {
    const { host, scope, undo, root, s1 } = setup();
    s1.x = 10;
    root.name = 'Renamed';
    await scope.flush();
    assert.equal(undo.canUndo, true);
    assert.equal(undo.undo(), true);
    assert.equal(s1.x, 1);
    assert.equal(root.name, 'Board');
    assert.deepEqual(
      host.sent
        .at(-1)!
        .map((f) => [f.uuid, f.properties])
        .sort(),
      [
        [ROOT, { name: 'Board' }],
        [S1, { x: 1 }],
      ].sort(),
      'the inverse is one changeset',
    );
    assert.equal(undo.canUndo, false);
    assert.equal(undo.canRedo, true);
    assert.equal(undo.redo(), true);
    assert.equal(s1.x, 10);
    assert.equal(root.name, 'Renamed');
    assert.equal(undo.canRedo, false);
    assert.equal(undo.undo(), true, 'a redone step can be undone again');
    assert.equal(s1.x, 1);
  });

  test('another user’s later change of the same property stays; a step with nothing left is skipped', async () => {
    const { scope, undo, root, s1 } = setup();
    root.name = 'Mine';
    await scope.flush();
    s1.x = 7;
    await scope.flush();
    scope._applySync([{ type: 'change', uuid: S1, clsName: 'Shape', properties: { x: 99 } }]);
    // The last step (x = 7) was overwritten by someone: undo goes on to the one before.
    assert.equal(undo.undo(), true);
    assert.equal(s1.x, 99);
    assert.equal(root.name, 'Board');
    assert.equal(undo.undo(), false, 'nothing left');
  });

  test('collections: undo takes out only what the step added, and puts back what it removed, in place', async () => {
    const { scope, undo, root } = setup();
    const mine = new Shape({ uuid: S3, x: 3 }) as ShapeObj;
    root.shapes.push(mine);
    await scope.flush();
    const other = '11111111-2222-4333-8444-555555555555';
    scope._applySync([
      { type: 'change', uuid: ROOT, clsName: 'Canvas', properties: { shapes: [S1, S2, S3, other] } },
      shape(other, 4),
    ]);
    assert.equal(undo.undo(), true);
    assert.deepEqual(uuids(root), [S1, S2, other], 'the other user’s shape stays');
    assert.equal(scope.get(S3), null);
    assert.equal(undo.redo(), true);
    assert.deepEqual(uuids(root), [S1, S2, S3, other], 'back where it was');
    assert.equal((scope.get(S3) as ShapeObj).x, 3);

    const s1 = scope.get(S1)!;
    root.shapes.remove(s1);
    await scope.flush();
    assert.equal(undo.undo(), true);
    assert.deepEqual(uuids(root), [S1, S2, S3, other], 'back at its place, with its values');
    assert.equal((scope.get(S1) as ShapeObj).x, 1);
  });

  test('a transaction is one step; a new edit forgets what was undone; the scope’s own re-applications are no steps', async () => {
    const { scope, undo, root, s1 } = setup();
    await scope.transaction(() => {
      s1.x = 5;
      s1.y = 6;
    });
    root.name = 'Two';
    await scope.flush();
    assert.equal(undo.undo(), true);
    assert.equal(root.name, 'Board');
    assert.equal(s1.x, 5);
    assert.equal(undo.canRedo, true);
    s1.x = 8;
    await scope.flush();
    assert.equal(undo.canRedo, false, 'a new edit clears redo');
    assert.equal(undo.undo(), true);
    assert.equal(s1.x, 5);
    assert.equal(undo.undo(), true);
    assert.deepEqual([s1.x, s1.y], [1, 0], 'the transaction, as one step');
    assert.equal(undo.canUndo, false);

    // A new session re-applies an unanswered change: that is not an edit of the user.
    scope._suspend();
    root.name = 'Pending';
    await tick();
    const steps = [undo.undoSize, undo.redoSize];
    assert.deepEqual(steps, [1, 0]);
    scope._recover(1, ROOT, [
      { type: 'change', uuid: ROOT, clsName: 'Canvas', properties: { name: 'Board', shapes: [S1, S2] } },
      shape(S1, 1),
      shape(S2, 2),
    ]);
    assert.equal(root.name, 'Pending');
    assert.deepEqual([undo.undoSize, undo.redoSize], steps);
  });

  test('a step the server rejected has nothing to undo: it is skipped', async () => {
    const { host, scope, undo, root, s1 } = setup();
    s1.x = 3;
    await scope.flush();
    host.reject = { message: 'no', type: 'rejected' };
    root.name = 'Refused';
    const result = await scope.flush();
    assert.equal(result.status, 'reverted');
    assert.equal(root.name, 'Board');
    host.reject = null;
    assert.equal(undo.undoSize, 2);
    assert.equal(undo.undo(), true);
    assert.equal(s1.x, 1, 'the step before it was undone');
    assert.equal(root.name, 'Board');
    assert.equal(undo.canUndo, false);
  });

  test('captureTimeout merges steps made close together', async () => {
    const { scope, root, s1 } = setup();
    const undo = new UndoManager(scope, { captureTimeout: 60_000 });
    s1.x = 2;
    await scope.flush();
    root.name = 'Later';
    await scope.flush();
    assert.equal(undo.undo(), true);
    assert.equal(s1.x, 1);
    assert.equal(root.name, 'Board');
    assert.equal(undo.canUndo, false);
  });
});

describe('UndoManager against the server', { timeout: 30_000 }, () => {
  const clients: Client[] = [];
  after(() => {
    for (const c of clients) c.close();
  });

  test('undo removes this client’s shape on every client, and leaves the other user’s edits', async () => {
    const { server, canvas, url } = await startServer();
    try {
      const a = await connect(url, { WebSocket });
      const b = await connect(url, { WebSocket });
      clients.push(a, b);
      const sa = (await a.fetch('Canvas', Canvas)) as unknown as ClientScope<Root>;
      const sb = (await b.fetch('Canvas', Canvas)) as unknown as ClientScope<Root>;
      const undo = new UndoManager(sa as unknown as ClientScope);
      const mine = new Shape({ x: 1 }) as ShapeObj;
      sa.root!.shapes.push(mine);
      await sa.settled();
      await until(() => sb.get(mine.uuid) !== null);
      const theirs = new Shape({ x: 2 }) as ShapeObj;
      sb.root!.shapes.push(theirs);
      await sb.settled();
      await until(() => sa.get(theirs.uuid) !== null);

      assert.equal(undo.undo(), true);
      await sa.settled();
      await until(() => sb.get(mine.uuid) === null);
      assert.deepEqual(
        (canvas.root as unknown as Root).shapes.toArray().map((s) => s.uuid),
        [theirs.uuid],
      );
      assert.equal(undo.redo(), true);
      await sa.settled();
      await until(() => tree(sb.root).join() === tree(canvas.root).join());
      assert.deepEqual(
        (canvas.root as unknown as Root).shapes.toArray().map((s) => s.uuid),
        [mine.uuid, theirs.uuid],
        'back at its former place',
      );
      assert.deepEqual(tree(sa.root), tree(canvas.root));
    } finally {
      await server.close();
    }
  });
});

const tick = () => new Promise<void>((r) => setTimeout(r, 0));
