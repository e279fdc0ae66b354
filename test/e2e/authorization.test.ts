// Authorization of writes (docs/server.md, "Authorizing writes"): a fetch hook may grant a scope
// read-only, a session's 'sync' hook may deny a changeset before anything of it is applied, and
// a scope may accept client changes only through procedures. A refusal rejects every fragment
// with type `rejected`; nothing is applied and nothing is broadcast.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { hasNewValuePropertyConstraint } from '../../src/procedures/constraints.js';
import { defineProcedure } from '../../src/procedures/procedure.js';
import type { ChangesetInfo } from '../../src/server/events.js';
import type { Session } from '../../src/server/session.js';
import { type Msg, TestClient } from '../helpers/ws-client.js';
import { Canvas, canvasScope, type Fixture, startServer } from './fixture.js';

const rename = (state: Msg, name: string) => [
  { type: 'change', uuid: state.rootUUID, clsName: 'Canvas', properties: { name } },
];
const moveFirst = (state: Msg, x: number) => [
  { type: 'change', uuid: (state.fragments as Msg[])[1]!.uuid, clsName: 'Shape', properties: { x } },
];

function rejectedAll(reply: Msg, n: number, message?: RegExp): void {
  assert.equal(reply.fragmentReplies.length, n);
  for (const r of reply.fragmentReplies) {
    assert.equal(r.error?.type, 'rejected', JSON.stringify(reply));
    if (message) assert.match(r.error.message, message);
  }
}

describe('read-only grants', () => {
  test('a session granted read-only receives changes, and its own changesets are rejected whole', async () => {
    const f: Fixture = await startServer();
    f.server.on('session', (session: Session, params: Record<string, unknown>, cb: () => void) => {
      session.on('fetch', (_name, _p, callback) =>
        callback(null, { scope: f.scope, readOnly: params.viewer === true }),
      );
      cb();
    });
    try {
      const viewer = await TestClient.session(f.port, { viewer: true });
      const editor = await TestClient.session(f.port);
      const { state } = await viewer.fetch('Canvas');
      await editor.fetch('Canvas');
      const refused = await viewer.sync(0, [...rename(state!, 'by viewer'), ...moveFirst(state!, 99)]);
      rejectedAll(refused, 2, /read-only/);
      assert.equal(f.canvas.name, 'Shapes Demo', 'nothing applied');
      // The editor writes; the viewer sees it. The editor never saw the viewer's attempt.
      assert.deepEqual((await editor.sync(0, rename(state!, 'by editor'))).fragmentReplies, [{}]);
      const seen = await viewer.waitFor((m) => m.type === 'ScopeSync');
      assert.equal(seen.fragments[0].properties.name, 'by editor');
      await editor.barrier();
      assert.equal(editor.messages.filter((m) => m.type === 'ScopeSync').length, 0);
      await viewer.close();
      await editor.close();
    } finally {
      await f.server.close();
    }
  });
});

describe("the 'sync' hook", () => {
  test('callback and promise forms; a denial rejects the whole changeset with its reason', async () => {
    const f = await startServer();
    const asked: ChangesetInfo[] = [];
    f.server.on('session', (session: Session, _p: Record<string, unknown>, cb: () => void) => {
      session.on('sync', (_scope, changeset, callback) => {
        asked.push(changeset);
        const tooFar = changeset.fragments.some((fr) => Number(fr.properties?.x) > 100);
        callback(tooFar ? new Error('Shapes must stay on the canvas') : undefined);
      });
      session.on('sync', async (scope, changeset) => {
        if (changeset.fragments.some((fr) => fr.properties?.name === 'forbidden'))
          throw new Error(`Not that name in ${scope.name}`);
      });
      cb();
    });
    try {
      const c = await TestClient.session(f.port);
      const { state } = await c.fetch('Canvas');
      rejectedAll(await c.sync(0, moveFirst(state!, 500)), 1, /^Shapes must stay on the canvas$/);
      rejectedAll(
        await c.sync(0, [...moveFirst(state!, 5), ...rename(state!, 'forbidden')]),
        2,
        /Not that name in Canvas/,
      );
      assert.equal(f.canvas.name, 'Shapes Demo');
      assert.equal(f.canvas.shapes.at(0)!.x, 1, 'nothing of a denied changeset is applied');
      assert.deepEqual((await c.sync(0, moveFirst(state!, 50))).fragmentReplies, [{}]);
      assert.equal(f.canvas.shapes.at(0)!.x, 50);
      assert.deepEqual(asked.at(-1), {
        fragments: moveFirst(state!, 50),
        atomic: false,
        procedure: undefined,
      });
      await c.close();
    } finally {
      await f.server.close();
    }
  });

  test('it runs in the scope queue: it sees the state every earlier changeset left', async () => {
    const f = await startServer();
    f.server.on('session', (session: Session, _p: Record<string, unknown>, cb: () => void) => {
      session.on('sync', async (scope) => {
        await new Promise((r) => setImmediate(r));
        if ((scope.root as InstanceType<typeof Canvas>).name === 'locked')
          throw new Error('The canvas is locked');
      });
      cb();
    });
    try {
      const c = await TestClient.session(f.port);
      const { state } = await c.fetch('Canvas');
      // Two changesets in one frame: the lock is applied before the move is decided.
      const lock = {
        type: 'ScopeSync',
        index: c.nextIndex++,
        scopeIndex: 0,
        atomic: false,
        fragments: rename(state!, 'locked'),
      };
      const move = {
        type: 'ScopeSync',
        index: c.nextIndex++,
        scopeIndex: 0,
        atomic: false,
        fragments: moveFirst(state!, 9),
      };
      c.send([lock, move]);
      const r1 = await c.waitFor((m) => m.type === 'ScopeSyncReply' && m.replyTo === lock.index);
      const r2 = await c.waitFor((m) => m.type === 'ScopeSyncReply' && m.replyTo === move.index);
      assert.deepEqual(r1.fragmentReplies, [{}]);
      rejectedAll(r2, 1, /locked/);
      assert.equal(f.canvas.shapes.at(0)!.x, 1);
      await c.close();
    } finally {
      await f.server.close();
    }
  });
});

describe('scopes changed only through procedures', () => {
  test('a changeset without a procedure is rejected; one naming a procedure goes through', async () => {
    defineProcedure(Canvas, 'authzRename', {
      constraints: [
        { type: 'change', clsName: 'Canvas', properties: { name: hasNewValuePropertyConstraint() } },
      ],
    });
    const { scope, canvas } = canvasScope('Guarded');
    scope.requireProcedures = true;
    const f = await startServer({ scopes: [scope] });
    try {
      const c = await TestClient.session(f.port);
      const { state } = await c.fetch('Guarded');
      rejectedAll(await c.sync(0, rename(state!, 'direct')), 1, /only through its procedures/);
      assert.equal(canvas.name, 'Shapes Demo');
      const ok = await c.sync(0, rename(state!, 'via procedure'), {
        atomic: false,
        procedure: 'Canvas.authzRename',
      });
      assert.deepEqual(ok.fragmentReplies, [{}]);
      assert.equal(canvas.name, 'via procedure');
      canvas.name = 'server-side edits are not affected';
      scope.flush();
      assert.equal(canvas.name, 'server-side edits are not affected');
      await c.close();
    } finally {
      await f.server.close();
    }
  });
});
