// Concurrent edits of one collection over real sockets, with raw v1 clients (docs/protocol.md
// §7.10, docs/collaboration.md): a whole-array `change` is merged against what the sending
// session last acknowledged instead of replacing the value. Both appends survive; a removal and
// an append both apply; every session ends with the server's list; the sender of a change the
// server merged into something else gets the merged list right after its ScopeSyncReply, in the
// same frame; a session's own unacknowledged changes are its base; and a client that has not
// acknowledged a broadcast cannot remove what it brought (the documented undo).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Canvas, Shape } from '../../demo/models.js';
import type { ModelObject } from '../../src/model/index.js';
import { arrayPropertyConstraint, defineProcedure } from '../../src/procedures/index.js';
import { createServer } from '../../src/server/server.js';
import { MemoryStore } from '../../src/store/memory.js';
import { withTwoClients } from '../helpers/two-clients.js';
import { type Msg, type TestClient, uuid } from '../helpers/ws-client.js';
import { startServer } from './fixture.js';

type CanvasObj = ModelObject & { shapes: { toArray(): ModelObject[] } };

function addShape(id: string): Msg {
  return {
    type: 'add',
    uuid: id,
    clsName: 'Shape',
    properties: { x: 1, y: 1, width: 5, height: 5, type: 0 },
  };
}

function setShapes(root: string, shapes: string[]): Msg {
  return { type: 'change', uuid: root, clsName: 'Canvas', properties: { shapes } };
}

/** The canvas's shapes a message sets, if it does. */
function shapesIn(m: Msg, root: string): string[] | undefined {
  if (m.type !== 'ScopeSync' && m.type !== 'ScopeState') return undefined;
  return m.fragments.find((f: Msg) => f.uuid === root && Array.isArray(f.properties?.shapes))?.properties
    .shapes;
}

/** The last list of shapes the server sent `c` (ScopeState, broadcasts, corrections). */
function lastShapes(c: TestClient, root: string): string[] | undefined {
  let out: string[] | undefined;
  for (const m of c.messages) out = shapesIn(m, root) ?? out;
  return out;
}

/** A ScopeSync in one frame after a Ping acknowledging `ack`, as the SDK sends it; its reply. */
function syncAcked(c: TestClient, ack: number, fragments: Msg[]): Promise<Msg> {
  const index = c.nextIndex++;
  c.send([
    { type: 'Ping', index: 0, ack, resendMissing: false },
    { type: 'ScopeSync', index, scopeIndex: 0, atomic: false, fragments },
  ]);
  return c.waitFor((m) => m.type === 'ScopeSyncReply' && m.replyTo === index);
}

/** syncAcked with a procedure named. */
function procedureAcked(c: TestClient, ack: number, procedure: string, fragments: Msg[]): Promise<Msg> {
  const index = c.nextIndex++;
  c.send([
    { type: 'Ping', index: 0, ack, resendMissing: false },
    { type: 'ScopeSync', index, scopeIndex: 0, atomic: true, procedure, fragments },
  ]);
  return c.waitFor((m) => m.type === 'ScopeSyncReply' && m.replyTo === index);
}

const accepted = (reply: Msg) => reply.fragmentReplies.every((r: Msg) => r.error === undefined);
const serverShapes = (canvas: CanvasObj) => canvas.shapes.toArray().map((s) => s.uuid);

describe('concurrent edits of one collection, raw v1 clients', () => {
  test('both acks current: both appends survive, in server order, and every session ends with that list', async () => {
    const { server, port, canvas } = await startServer();
    try {
      await withTwoClients(port, async ({ a, b, stateA }) => {
        const root = stateA.rootUUID as string;
        const base = shapesIn(stateA, root)!;
        const x = uuid();
        const y = uuid();
        // B's edit is made on what it had before A's change (its ack then).
        const ackB = b.highestIndex();
        const ra = await syncAcked(a, a.highestIndex(), [addShape(x), setShapes(root, [...base, x])]);
        assert.ok(accepted(ra));
        const rb = await syncAcked(b, ackB, [addShape(y), setShapes(root, [...base, y])]);
        assert.ok(accepted(rb));
        const merged = [...base, x, y];
        assert.deepEqual(serverShapes(canvas as CanvasObj), merged);

        // B gets the merged list right after its reply, in the reply's frame.
        const correction = await b.waitFor((m) => m.index === rb.index + 1);
        assert.equal(correction.type, 'ScopeSync');
        assert.deepEqual(correction.fragments, [
          { type: 'change', uuid: root, clsName: 'Canvas', properties: { shapes: merged } },
        ]);
        const frame = b.frames.find(
          (f) => Array.isArray(f) && f.some((m: Msg) => m.index === rb.index),
        ) as Msg[];
        assert.ok(
          frame.some((m) => m.index === correction.index),
          'reply and correction share a frame',
        );

        // A receives B's change as merged, not as B sent it; A's own list was kept as sent: no correction.
        const bChange = await a.waitFor(
          (m) => m.type === 'ScopeSync' && shapesIn(m, root)?.includes(y) === true,
        );
        assert.deepEqual(shapesIn(bChange, root), merged);
        assert.ok(
          !a.messages.some((m) => m.index === ra.index + 1 && m.type === 'ScopeSync' && m !== bChange),
        );
        await a.barrier();
        await b.barrier();
        assert.deepEqual(lastShapes(a, root), merged);
        assert.deepEqual(lastShapes(b, root), merged);
      });
    } finally {
      await server.close();
    }
  });

  test('sent at the same moment: both appends survive, whichever the server applies first', async () => {
    const { server, port, canvas } = await startServer();
    try {
      await withTwoClients(port, async ({ a, b, stateA }) => {
        const root = stateA.rootUUID as string;
        const base = shapesIn(stateA, root)!;
        const x = uuid();
        const y = uuid();
        const [ra, rb] = await Promise.all([
          syncAcked(a, a.highestIndex(), [addShape(x), setShapes(root, [...base, x])]),
          syncAcked(b, b.highestIndex(), [addShape(y), setShapes(root, [...base, y])]),
        ]);
        assert.ok(accepted(ra) && accepted(rb));
        const final = serverShapes(canvas as CanvasObj);
        assert.deepEqual(final.slice(0, 2), base);
        assert.deepEqual([...final.slice(2)].sort(), [x, y].sort());
        await a.barrier();
        await b.barrier();
        assert.deepEqual(lastShapes(a, root), final);
        assert.deepEqual(lastShapes(b, root), final);
      });
    } finally {
      await server.close();
    }
  });

  for (const first of ['removal', 'append'] as const) {
    test(`interleaved removal and append (the ${first} applied first): both apply`, async () => {
      const { server, port, canvas, scope } = await startServer();
      try {
        await withTwoClients(port, async ({ a, b, stateA }) => {
          const root = stateA.rootUUID as string;
          const [s1, s2] = shapesIn(stateA, root)!;
          const y = uuid();
          const ackA = a.highestIndex();
          const ackB = b.highestIndex();
          const remove = () => syncAcked(a, ackA, [setShapes(root, [s2!])]);
          const append = () => syncAcked(b, ackB, [addShape(y), setShapes(root, [s1!, s2!, y])]);
          if (first === 'removal') {
            assert.ok(accepted(await remove()));
            assert.ok(accepted(await append()));
          } else {
            assert.ok(accepted(await append()));
            assert.ok(accepted(await remove()));
          }
          assert.deepEqual(serverShapes(canvas as CanvasObj), [s2, y]);
          assert.equal(scope.get(s1!), null, 'the removed shape left the scope');
          await a.barrier();
          await b.barrier();
          assert.deepEqual(lastShapes(a, root), [s2, y]);
          assert.deepEqual(lastShapes(b, root), [s2, y]);
        });
      } finally {
        await server.close();
      }
    });
  }

  test('a client that never acknowledged anything merges against the ScopeState it was sent', async () => {
    const { server, port, canvas } = await startServer();
    try {
      await withTwoClients(port, async ({ a, b, stateA }) => {
        const root = stateA.rootUUID as string;
        const base = shapesIn(stateA, root)!;
        const x = uuid();
        const y = uuid();
        assert.ok(accepted(await a.sync(0, [addShape(x), setShapes(root, [...base, x])])));
        // B sends no Ping at all, as an original client before its first keep-alive.
        await b.waitFor((m) => shapesIn(m, root)?.includes(x) === true);
        assert.ok(accepted(await b.sync(0, [addShape(y), setShapes(root, [...base, y])])));
        assert.deepEqual(serverShapes(canvas as CanvasObj), [...base, x, y]);
      });
    } finally {
      await server.close();
    }
  });

  test('a session’s own unacknowledged change is its base: removing what it just appended works', async () => {
    const { server, port, canvas } = await startServer();
    try {
      await withTwoClients(port, async ({ a, b, stateA }) => {
        const root = stateA.rootUUID as string;
        const base = shapesIn(stateA, root)!;
        const x = uuid();
        const y = uuid();
        assert.ok(accepted(await a.sync(0, [addShape(x), setShapes(root, [...base, x])])));
        // B, acknowledging nothing, appends y (merged: x stays), then removes y again from its
        // own list, before it acknowledged anything: its base is the list it sent.
        assert.ok(accepted(await b.sync(0, [addShape(y), setShapes(root, [...base, y])])));
        assert.deepEqual(serverShapes(canvas as CanvasObj), [...base, x, y]);
        assert.ok(accepted(await b.sync(0, [setShapes(root, base)])));
        assert.deepEqual(serverShapes(canvas as CanvasObj), [...base, x]);
      });
    } finally {
      await server.close();
    }
  });

  test('a client that has not acknowledged a broadcast cannot remove what it brought; acknowledged, it can', async () => {
    const { server, port, canvas } = await startServer();
    try {
      await withTwoClients(port, async ({ a, b, stateA }) => {
        const root = stateA.rootUUID as string;
        const base = shapesIn(stateA, root)!;
        const x = uuid();
        assert.ok(accepted(await a.sync(0, [addShape(x), setShapes(root, [...base, x])])));
        await b.waitFor((m) => shapesIn(m, root)?.includes(x) === true);
        // B received x but has not acknowledged it: its removal of x is not applied, and B is
        // sent the list back (docs/collaboration.md: the removal is undone).
        const r1 = await b.sync(0, [setShapes(root, base)]);
        assert.ok(accepted(r1));
        assert.deepEqual(serverShapes(canvas as CanvasObj), [...base, x]);
        const back = await b.waitFor((m) => m.index === r1.index + 1);
        assert.deepEqual(shapesIn(back, root), [...base, x]);
        // Acknowledged, the same removal applies.
        assert.ok(accepted(await syncAcked(b, b.highestIndex(), [setShapes(root, base)])));
        assert.deepEqual(serverShapes(canvas as CanvasObj), base);
      });
    } finally {
      await server.close();
    }
  });

  test('an insert constraint compares with the list the sender saw: a stale list that adds one still inserts', async () => {
    // A procedure that only lets a changeset add shapes (as the demo's chat posts messages).
    defineProcedure(Canvas, 'mergeTestAddShape', {
      constraints: [
        {
          type: 'change',
          clsName: 'Canvas',
          properties: { shapes: arrayPropertyConstraint({ type: 'insert' }) },
        },
        { type: 'add', clsName: 'Shape', allowAdditionalProperties: true },
      ],
    });
    const { server, port, canvas } = await startServer();
    try {
      await withTwoClients(port, async ({ a, b, stateA }) => {
        const root = stateA.rootUUID as string;
        const base = shapesIn(stateA, root)!;
        const x = uuid();
        const y = uuid();
        const ackB = b.highestIndex();
        const ra = await procedureAcked(a, a.highestIndex(), 'Canvas.mergeTestAddShape', [
          addShape(x),
          setShapes(root, [...base, x]),
        ]);
        assert.ok(accepted(ra), JSON.stringify(ra));
        // B's list is as long as the server's now, but one longer than what B saw: an insert.
        const rb = await procedureAcked(b, ackB, 'Canvas.mergeTestAddShape', [
          addShape(y),
          setShapes(root, [...base, y]),
        ]);
        assert.ok(accepted(rb), JSON.stringify(rb));
        assert.deepEqual(serverShapes(canvas as CanvasObj), [...base, x, y]);
        // A list that does not grow relative to what its sender saw is still refused.
        await a.waitFor((m) => m.type === 'ScopeSync' && shapesIn(m, root)?.includes(y) === true);
        const rc = await procedureAcked(a, a.highestIndex(), 'Canvas.mergeTestAddShape', [
          setShapes(root, [...base, x, y]),
        ]);
        assert.match(rc.fragmentReplies[0].error?.message ?? '', /do not match the procedure constraints/);
      });
    } finally {
      await server.close();
    }
  });

  test('a change the merge leaves as sent is not echoed: no ScopeSync to its sender', async () => {
    const { server, port } = await startServer();
    try {
      await withTwoClients(port, async ({ a, stateA }) => {
        const root = stateA.rootUUID as string;
        const x = uuid();
        const reply = await a.sync(0, [addShape(x), setShapes(root, [...shapesIn(stateA, root)!, x])]);
        assert.ok(accepted(reply));
        await a.barrier();
        assert.equal(a.messages.filter((m) => m.type === 'ScopeSync').length, 0);
      });
    } finally {
      await server.close();
    }
  });

  test('with a store: the merged list is stored and broadcast, and the correction follows the reply', async () => {
    const store = new MemoryStore();
    const server = await createServer({ port: 0, store });
    const scope = await server.openScope({
      name: 'Canvas',
      root: () => new Canvas({ name: 'stored', shapes: [new Shape({ x: 1 }), new Shape({ x: 2 })] }),
    });
    try {
      await withTwoClients(server.port!, async ({ a, b, stateA }) => {
        const root = stateA.rootUUID as string;
        const base = shapesIn(stateA, root)!;
        const x = uuid();
        const y = uuid();
        const ackB = b.highestIndex();
        assert.ok(
          accepted(await syncAcked(a, a.highestIndex(), [addShape(x), setShapes(root, [...base, x])])),
        );
        const rb = await syncAcked(b, ackB, [addShape(y), setShapes(root, [...base, y])]);
        assert.ok(accepted(rb));
        const merged = [...base, x, y];
        assert.deepEqual(serverShapes(scope.root as CanvasObj), merged);
        const correction = await b.waitFor((m) => m.index === rb.index + 1);
        assert.deepEqual(shapesIn(correction, root), merged);
        await server.drain();
        const loaded = await store.load('Canvas');
        const stored = loaded!.changes.at(-1)!.fragments.find((f) => f.uuid === root)!;
        assert.deepEqual(stored.properties.shapes, merged, 'the store holds the merged list');
      });
    } finally {
      await server.close();
    }
  });

  test('a server-side edit of the list since the client’s view is kept', async () => {
    const { server, port, canvas, scope } = await startServer();
    try {
      await withTwoClients(port, async ({ b, stateB }) => {
        const root = stateB.rootUUID as string;
        const base = shapesIn(stateB, root)!;
        const pushed = new Shape({ x: 9 });
        (canvas as unknown as { shapes: { push(s: ModelObject): void } }).shapes.push(pushed);
        scope.flush();
        const y = uuid();
        assert.ok(accepted(await syncAcked(b, stateB.index, [addShape(y), setShapes(root, [...base, y])])));
        assert.deepEqual(serverShapes(canvas as CanvasObj), [...base, pushed.uuid, y]);
      });
    } finally {
      await server.close();
    }
  });
});
