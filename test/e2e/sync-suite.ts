// The end-to-end sync suite over real sockets, for any deployment: one process (sync.test.ts) or
// a cluster (test/cluster/conformance.test.ts, docs/cluster.md: "several processes serve the same
// scopes as one logical server"). Fetch, sync between sessions, fan-out, atomic, server-side
// edits, indices and batching, dedupe, acknowledgement and resend after a reconnect
// (docs/protocol.md §2, §3, §5, §7). The i-th client of a test connects to
// `ports[i % ports.length]`, so in a cluster the clients of one test sit on different processes.
//
// Where a cluster may differ from one process, the expectation says so, citing the documents; in
// the one-process deployment every assertion is what it always was.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Scope } from '../../src/scope/scope.js';
import type { Server } from '../../src/server/server.js';
import { waitFor } from '../helpers/wait.js';
import { type Msg, TestClient, UUID_RE, uuid } from '../helpers/ws-client.js';
import type { Canvas, Shape } from './fixture.js';

/** Where the suite runs: one process or several serving the 'Canvas' scope as one server. */
export interface SyncDeployment {
  /** One port per process. */
  ports: number[];
  /** The server listening on `port` (sessions live in one process). */
  server(port: number): Server;
  /**
   * The 'Canvas' scope (root: a Canvas named 'Shapes Demo' with two shapes) on the process that
   * owns it: server-side edits are made there (docs/cluster.md, "Running it").
   */
  serverScope(): Promise<Scope>;
  /** True for a cluster (each process its own store connection, PostgreSQL, replicas). */
  cluster: boolean;
  close(): Promise<void>;
}

export type Deploy = () => Promise<SyncDeployment>;

/** Tests of one deployment only, registered inside the suite's describe of the same name. */
export interface SuiteExtras {
  fetch?: () => void;
}

type CanvasObj = InstanceType<typeof Canvas>;
type ShapeObj = InstanceType<typeof Shape>;

/** Checks that the server's indexed messages count 1, 2, 3… without a gap, in arrival order. */
function assertContiguous(c: TestClient, from = 1): void {
  const indices = c.indexed().map((m) => m.index);
  assert.deepEqual(
    indices,
    indices.map((_, i) => from + i),
    `indices ${indices.join(',')}`,
  );
}

/** The fragments to add a shape to the canvas (root `rootUUID`, current shapes `shapes`). */
function addShape(state: Msg, shapes: string[], x = 5): { fragments: Msg[]; id: string } {
  const id = uuid();
  return {
    id,
    fragments: [
      { type: 'change', uuid: state.rootUUID, clsName: 'Canvas', properties: { shapes: [...shapes, id] } },
      { type: 'add', uuid: id, clsName: 'Shape', properties: { x, y: 1, width: 2, height: 3, type: 0 } },
    ],
  };
}

const canvasOf = (scope: Scope) => scope.root as CanvasObj;

/** Two sessions (A on the first process, B on the second), both holding 'Canvas'. */
async function withPair<T>(
  d: SyncDeployment,
  body: (c: { a: TestClient; b: TestClient; stateA: Msg }) => Promise<T>,
): Promise<T> {
  const a = await TestClient.session(d.ports[0]!);
  let b: TestClient | undefined;
  try {
    b = await TestClient.session(d.ports[1 % d.ports.length]!);
    const { reply, state: stateA } = await a.fetch('Canvas');
    if (!stateA) throw new Error(`set-up: A's fetch was refused: ${JSON.stringify(reply)}`);
    const fetched = await b.fetch('Canvas');
    if (!fetched.state) throw new Error(`set-up: B's fetch was refused: ${JSON.stringify(fetched.reply)}`);
    return await body({ a, b, stateA });
  } finally {
    await a.close();
    await b?.close();
  }
}

let barriers = 0;

/**
 * A round trip of `c` after which everything the server queued for `c` because of changes
 * accepted before it has arrived. One process: an empty ScopeSync (one ordered stream). In a
 * cluster an empty ScopeSync is answered by `c`'s own process at once, before its replica may
 * show a change another process just accepted; a real change is answered only once `c`'s
 * process shows it, which is after every change the owner accepted before (docs/cluster.md,
 * "Writes on a process that does not own the scope"; one order per scope). Never echoed to `c`.
 */
async function settle(d: SyncDeployment, c: TestClient, state: Msg): Promise<void> {
  if (!d.cluster) return c.barrier();
  const reply = await c.sync(0, [
    {
      type: 'change',
      uuid: state.rootUUID,
      clsName: 'Canvas',
      properties: { name: `barrier ${++barriers}` },
    },
  ]);
  assert.deepEqual(reply.fragmentReplies, [{}]);
}

/**
 * `check()` holds: at once in one process (the server queued it synchronously); in a cluster
 * once the change is stored (docs/protocol.md §7 step 7: with a durable store the broadcast
 * goes out after the commit) and the client's process has applied it from the owner's log
 * (docs/cluster.md, "Fan-out").
 */
async function shown(d: SyncDeployment, check: () => boolean, message: string): Promise<void> {
  if (d.cluster) await waitFor(check, { message });
  assert.ok(check(), message);
}

/** The session of `c` on the process it is connected to. */
function sessionOf(d: SyncDeployment, port: number, c: TestClient) {
  const session = d.server(port).sessions.find((s) => s.token === c.token);
  assert.ok(session, 'the session is on the process the client connected to');
  return session;
}

export function syncSuite(deploy: Deploy, extras: SuiteExtras = {}): void {
  describe('fetch', () => {
    let d: SyncDeployment;
    before(async () => {
      d = await deploy();
    });
    after(() => d.close());

    test('ScopeFetchReply and ScopeState arrive in one frame, the state pre-order from the root', async () => {
      const c = await TestClient.session(d.ports[0]!);
      try {
        assert.match(c.token!, /^[A-Za-z0-9]{43,}$/, 'token: ≥ 256 bits, alphanumeric');
        assert.deepEqual(c.frames[0], [{ type: 'SessionCreateReply', index: 0, sessionToken: c.token }]);
        const { reply, state } = await c.fetch('Canvas');
        assert.deepEqual(reply, { type: 'ScopeFetchReply', index: 1, replyTo: 1, scopeIndex: 0 });
        assert.equal(c.frames.length, 2);
        assert.deepEqual(
          (c.frames[1] as Msg[]).map((m) => m.type),
          ['ScopeFetchReply', 'ScopeState'],
        );
        assert.equal(state!.index, 2);
        assert.equal(state!.scopeIndex, 0);
        assert.equal(state!.rootUUID, canvasOf(await d.serverScope()).uuid);
        assert.match(state!.rootUUID, UUID_RE);
        const [root, ...rest] = state!.fragments as Msg[];
        assert.deepEqual(root!.type, 'change');
        assert.equal(root!.clsName, 'Canvas');
        assert.equal(root!.properties.name, 'Shapes Demo');
        assert.deepEqual(
          rest.map((r) => r.uuid),
          root!.properties.shapes,
        );
        for (const r of rest) {
          assert.equal(r.type, 'add');
          assert.equal(r.clsName, 'Shape');
          assert.match(r.uuid, UUID_RE);
        }
        assert.deepEqual(Object.keys(state!).sort(), [
          'fragments',
          'index',
          'rootUUID',
          'scopeIndex',
          'type',
        ]);
      } finally {
        await c.close();
      }
    });

    test('a repeat fetch returns the same scopeIndex and a fresh state', async () => {
      const c = await TestClient.session(d.ports[1 % d.ports.length]!);
      try {
        const first = await c.fetch('Canvas');
        const second = await c.fetch('Canvas');
        assert.equal(first.reply.scopeIndex, 0);
        assert.equal(second.reply.scopeIndex, 0);
        assert.equal(second.reply.replyTo, 2);
        assert.deepEqual(second.state!.fragments, first.state!.fragments);
        assertContiguous(c);
      } finally {
        await c.close();
      }
    });

    test('an unknown scope name is an error reply, without scopeIndex and without ScopeState', async () => {
      const c = await TestClient.session(d.ports[0]!);
      try {
        const { reply, state } = await c.fetch('Nope');
        assert.equal(state, undefined);
        assert.equal(reply.scopeIndex, undefined);
        assert.equal(typeof reply.error.message, 'string');
        assert.equal(reply.error.type, 'rejected');
        await c.barrier(); // scopeIndex 0 does not exist: the barrier's reply is an error, fine
        assert.ok(!c.messages.some((m) => m.type === 'ScopeState'));
      } finally {
        await c.close();
      }
    });

    extras.fetch?.();
  });

  describe('sync between sessions', () => {
    let d: SyncDeployment;
    before(async () => {
      d = await deploy();
    });
    after(() => d.close());

    test("two clients see each other's changes; the sender gets a reply and no echo", () =>
      withPair(d, async ({ a, b, stateA: sa }) => {
        const shapes = sa.fragments[0].properties.shapes as string[];
        const { fragments, id } = addShape(sa, shapes);
        const bMark = b.messages.length;
        const reply = await a.sync(0, fragments);
        assert.deepEqual(reply.fragmentReplies, [{}, {}]);
        assert.deepEqual(Object.keys(reply).sort(), ['fragmentReplies', 'index', 'replyTo', 'type']);

        const forwarded = await b.waitFor((m) => m.type === 'ScopeSync', bMark);
        assert.deepEqual(Object.keys(forwarded).sort(), ['fragments', 'index', 'scopeIndex', 'type']);
        assert.equal(forwarded.scopeIndex, 0);
        const added = (forwarded.fragments as Msg[]).find((x) => x.type === 'add');
        assert.equal(added!.uuid, id);
        assert.equal(added!.properties.x, 5);
        assert.ok((forwarded.fragments as Msg[]).some((x) => x.type === 'change' && x.uuid === sa.rootUUID));

        // B answers with a change of its own; A sees it.
        const aMark = a.messages.length;
        const r2 = await b.sync(0, [{ type: 'change', uuid: id, clsName: 'Shape', properties: { x: 42 } }]);
        assert.deepEqual(r2.fragmentReplies, [{}]);
        const back = await a.waitFor((m) => m.type === 'ScopeSync', aMark);
        assert.deepEqual(back.fragments, [
          { type: 'change', uuid: id, clsName: 'Shape', properties: { x: 42 } },
        ]);

        // No echo: after a round trip, A has exactly one ScopeSync (B's) and B exactly one (A's).
        // (In a cluster A's echo would precede B's change in A's stream, and B's would precede
        // B's reply, which its process sends once it shows the change: the waits above cover it.)
        await a.barrier();
        await b.barrier();
        assert.equal(a.messages.filter((m) => m.type === 'ScopeSync').length, 1);
        assert.equal(b.messages.filter((m) => m.type === 'ScopeSync').length, 1);
        assertContiguous(a);
        assertContiguous(b);
        assert.equal(((await d.serverScope()).get(id) as ShapeObj).x, 42);
      }));

    test('one entry per fragment; rejected fragments are not forwarded; nothing sent when nothing accepted', () =>
      withPair(d, async ({ a, b, stateA: sa }) => {
        const shapeId = sa.fragments[1].uuid as string;
        const bMark = b.messages.length;
        const reply = await a.sync(0, [
          { type: 'change', uuid: shapeId, clsName: 'Shape', properties: { y: 7 } },
          { type: 'change', uuid: shapeId, clsName: 'Shape', properties: { nope: 1 } },
          { type: 'change', uuid: shapeId, clsName: 'Shape', properties: { width: 'wide' } },
        ]);
        assert.equal(reply.fragmentReplies.length, 3);
        assert.deepEqual(reply.fragmentReplies[0], {});
        assert.equal(typeof reply.fragmentReplies[1].error.message, 'string');
        assert.match(reply.fragmentReplies[1].error.message, /nope/);
        assert.match(reply.fragmentReplies[2].error.message, /width/);
        const forwarded = await b.waitFor((m) => m.type === 'ScopeSync', bMark);
        assert.deepEqual(forwarded.fragments, [
          { type: 'change', uuid: shapeId, clsName: 'Shape', properties: { y: 7 } },
        ]);

        // Nothing accepted: a reply to the sender, nothing to the others.
        const bMark2 = b.messages.length;
        const rejected = await a.sync(0, [
          { type: 'change', uuid: shapeId, clsName: 'Shape', properties: { nope: 2 } },
        ]);
        assert.ok(rejected.fragmentReplies[0].error);
        // A's reply was queued after any broadcast in the same turn; B's barrier is processed after A's sync.
        await settle(d, b, sa);
        assert.deepEqual(
          b.messages.slice(bMark2).map((m) => m.type),
          ['ScopeSyncReply'],
        );
      }));

    test('atomic: all or nothing, nothing broadcast on failure; every entry carries an error', () =>
      withPair(d, async ({ a, b, stateA: sa }) => {
        const shapeId = sa.fragments[1].uuid as string;
        const scope = await d.serverScope();
        const before = (scope.get(shapeId) as ShapeObj).height;
        const bMark = b.messages.length;
        const reply = await a.sync(
          0,
          [
            { type: 'change', uuid: shapeId, clsName: 'Shape', properties: { height: 99 } },
            { type: 'change', uuid: shapeId, clsName: 'Shape', properties: { height: 'tall' } },
          ],
          { atomic: true },
        );
        assert.equal(reply.fragmentReplies.length, 2);
        assert.equal(reply.fragmentReplies[0].error.type, 'atomic-changeset-rejected');
        assert.match(reply.fragmentReplies[1].error.message, /height/);
        assert.equal((scope.get(shapeId) as ShapeObj).height, before);
        await settle(d, b, sa);
        assert.ok(!b.messages.slice(bMark).some((m) => m.type === 'ScopeSync'));

        const ok = await a.sync(
          0,
          [{ type: 'change', uuid: shapeId, clsName: 'Shape', properties: { height: 99 } }],
          {
            atomic: true,
          },
        );
        assert.deepEqual(ok.fragmentReplies, [{}]);
        const fwd = await b.waitFor((m) => m.type === 'ScopeSync', bMark);
        assert.equal(fwd.fragments[0].properties.height, 99);
      }));

    test('server-side edits and scope.update results reach every session, batched per turn', () =>
      withPair(d, async ({ a, b }) => {
        const scope = await d.serverScope();
        const canvas = canvasOf(scope);
        const aMark = a.messages.length;
        const bMark = b.messages.length;
        // Two assignments in one turn: one ScopeSync.
        canvas.name = 'Renamed';
        const shape = canvas.shapes.at(0)!;
        shape.x = 1234;
        for (const c of [a, b]) {
          const m = await c.waitFor((x) => x.type === 'ScopeSync', c === a ? aMark : bMark);
          const byUuid = new Map((m.fragments as Msg[]).map((x) => [x.uuid, x]));
          assert.equal(byUuid.get(canvas.uuid)!.properties.name, 'Renamed');
          assert.equal(byUuid.get(shape.uuid)!.properties.x, 1234);
        }
        const aMark2 = a.messages.length;
        const result = scope.update(null, { $set: { name: 'Updated' } });
        assert.equal(result.modified.length, 1);
        for (const c of [a, b]) {
          const m = await c.waitFor((x) => x.type === 'ScopeSync', c === a ? aMark2 : bMark + 1);
          assert.ok((m.fragments as Msg[]).some((x) => x.properties.name === 'Updated'));
        }
        assertContiguous(a);
        assertContiguous(b);
      }));
  });

  describe('indices, batching, dedupe', () => {
    let d: SyncDeployment;
    before(async () => {
      d = await deploy();
    });
    after(() => d.close());

    test('everything queued in one turn goes out as one JSON-array frame, indices without gaps', async () => {
      const c = await TestClient.session(d.ports[0]!);
      try {
        const st = (await c.fetch('Canvas')).state!;
        const shapeId = st.fragments[1].uuid as string;
        // Three requests in one client frame (an array): one server frame with three replies.
        const framesBefore = c.frames.length;
        c.send([
          {
            type: 'ScopeSync',
            index: 2,
            scopeIndex: 0,
            fragments: [{ type: 'change', uuid: shapeId, clsName: 'Shape', properties: { x: 1 } }],
          },
          { type: 'ScopeFetch', index: 3, name: 'Canvas', params: {} },
          { type: 'ScopeSync', index: 4, scopeIndex: 0, fragments: [] },
        ]);
        if (!d.cluster) {
          await c.waitFor((m) => m.type === 'ScopeSyncReply' && m.replyTo === 4);
          assert.equal(c.frames.length, framesBefore + 1);
          const frame = c.frames.at(-1) as Msg[];
          assert.deepEqual(
            frame.map((m) => [m.type, m.index, m.replyTo]),
            [
              ['ScopeSyncReply', 3, 2],
              ['ScopeFetchReply', 4, 3],
              ['ScopeState', 5, undefined],
              ['ScopeSyncReply', 6, 4],
            ],
          );
        } else {
          // Every cluster process stores in PostgreSQL, and with a durable store a reply that
          // depends on a commit waits for it (docs/protocol.md §7 step 7: the reply to a change
          // goes out once it is stored; a ScopeFetchReply and its state wait for the changes
          // already applied to be stored; docs/cluster.md: a forwarded change is answered once
          // this process shows it), while the empty changeset's reply needs nothing and is
          // queued at once. So the three replies may leave in different turns and frames, in
          // another order than the requests (clients match replies by replyTo, §3): each request
          // is answered once, the fetch reply and its state share a frame, and the server's
          // indices have no gap.
          await c.waitFor((m) => m.type === 'ScopeSyncReply' && m.replyTo === 2);
          await c.waitFor((m) => m.type === 'ScopeState' && m.index > 2);
          await c.waitFor((m) => m.type === 'ScopeSyncReply' && m.replyTo === 4);
          const after = c.messages.slice(c.frames.slice(0, framesBefore).flat().length);
          assert.deepEqual(
            after.map((m) => m.replyTo ?? 'state').sort(),
            [2, 3, 4, 'state'],
            'one reply per request, and one state',
          );
          const fetchFrame = c.frames.find(
            (f, i) => i >= framesBefore && (f as Msg[]).some((m) => m.type === 'ScopeFetchReply'),
          ) as Msg[];
          const at = fetchFrame.findIndex((m) => m.type === 'ScopeFetchReply');
          assert.equal(
            fetchFrame[at + 1]?.type,
            'ScopeState',
            'the state right after its reply, in its frame',
          );
          assert.deepEqual(fetchFrame[at]!.replyTo, 3);
          const syncReply = after.find((m) => m.replyTo === 2)!;
          assert.deepEqual(syncReply.fragmentReplies, [{}]);
        }
        for (const raw of c.rawFrames) assert.ok(raw.startsWith('['), 'every frame is a JSON array');
        assertContiguous(c);
      } finally {
        await c.close();
      }
    });

    test('a duplicate client index is ignored; index 0 always passes; gaps are tolerated', () =>
      withPair(d, async ({ a, b, stateA: st }) => {
        const shapeId = st.fragments[1].uuid as string;
        const msg = {
          type: 'ScopeSync',
          index: 2,
          scopeIndex: 0,
          atomic: false,
          fragments: [{ type: 'change', uuid: shapeId, clsName: 'Shape', properties: { type: 7 } }],
        };
        const bMark = b.messages.length;
        a.send(msg);
        await a.waitFor((m) => m.type === 'ScopeSyncReply' && m.replyTo === 2);
        a.send(msg); // resent: dropped
        a.send({ ...msg, index: 1 }); // below: dropped
        a.nextIndex = 10; // a gap is fine
        await a.barrier();
        assert.equal(a.messages.filter((m) => m.type === 'ScopeSyncReply' && m.replyTo === 2).length, 1);
        await settle(d, b, st);
        assert.equal(b.messages.slice(bMark).filter((m) => m.type === 'ScopeSync').length, 1);
        assertContiguous(a);
      }));

    test('Ping.ack trims the un-acked buffer; resendMissing answers with the Ping and every un-acked message', async () => {
      const port = d.ports[1 % d.ports.length]!;
      const c = await TestClient.session(port);
      try {
        await c.fetch('Canvas'); // indices 1, 2
        await c.barrier(); // 3
        const session = sessionOf(d, port, c);
        assert.equal(session.unacknowledged, 3);
        c.ping(false, 2);
        c.ping(true, 2);
        const resent = (await c.waitForFrames(4)) as Msg[];
        assert.deepEqual(resent[0], { type: 'Ping', index: 0, ack: 2, resendMissing: true });
        assert.deepEqual(
          resent.slice(1).map((m) => [m.type, m.index]),
          [['ScopeSyncReply', 3]],
        );
        assert.equal(session.unacknowledged, 1);
        c.ping(true); // acks 3: only the Ping comes back (ack = the client's highest index, 2)
        const alone = (await c.waitForFrames(5)) as Msg[];
        assert.deepEqual(alone, [{ type: 'Ping', index: 0, ack: 2, resendMissing: true }]);
        assert.equal(session.unacknowledged, 0);
      } finally {
        await c.close();
      }
    });
  });

  // A session lives in the process that created it: these resumes go back to that process, while
  // the other changes come from the other processes (a resume elsewhere: failover.test.ts).
  describe('reconnect and resend', () => {
    let d: SyncDeployment;
    before(async () => {
      d = await deploy();
    });
    after(() => d.close());

    for (const via of ['header', 'query'] as const) {
      test(`a session resumed by ${via} receives exactly what it missed, nothing twice`, () =>
        withPair(d, async ({ a, b, stateA: sa }) => {
          let a2: TestClient | null = null;
          try {
            const shapes = [...(sa.fragments[0].properties.shapes as string[])];
            const seen = a.highestIndex(); // 2
            const session = sessionOf(d, d.ports[0]!, a);
            await a.close();
            // While A is away: two changes from B (A's indices 3, 4), one server edit (5).
            const one = addShape(sa, shapes, 11);
            assert.deepEqual((await b.sync(0, one.fragments)).fragmentReplies, [{}, {}]);
            shapes.push(one.id);
            const two = addShape(sa, shapes, 12);
            assert.deepEqual((await b.sync(0, two.fragments)).fragmentReplies, [{}, {}]);
            canvasOf(await d.serverScope()).name = `while away ${via}`;
            await b.waitFor((m) => m.type === 'ScopeSync');
            await shown(d, () => session.unacknowledged === 5, "A's process queued the three changes");

            a2 = await TestClient.resume(d.ports[0]!, a.token!, via);
            a2.send({ type: 'Ping', index: 0, ack: seen, resendMissing: true });
            const frame = (await a2.waitForFrames(1)) as Msg[];
            assert.deepEqual(frame[0], { type: 'Ping', index: 0, ack: 1, resendMissing: true });
            assert.deepEqual(
              frame.slice(1).map((m) => [m.type, m.index]),
              [
                ['ScopeSync', 3],
                ['ScopeSync', 4],
                ['ScopeSync', 5],
              ],
            );
            assert.ok((frame[1]!.fragments as Msg[]).some((x) => x.uuid === one.id));
            assert.ok((frame[2]!.fragments as Msg[]).some((x) => x.uuid === two.id));
            // The client then resends its own un-acked message (index 1, already processed): dropped.
            a2.send({ type: 'ScopeFetch', index: 1, name: 'Canvas', params: {} });
            a2.nextIndex = 2;
            // New traffic continues the same counter on the new socket; nothing arrives twice.
            const r = await a2.sync(0, [
              { type: 'change', uuid: one.id, clsName: 'Shape', properties: { y: 5 } },
            ]);
            assert.equal(r.index, 6);
            assert.deepEqual(r.fragmentReplies, [{}]);
            const indices = a2.indexed().map((m) => m.index);
            assert.deepEqual(indices, [3, 4, 5, 6]);
            assert.ok(!a2.messages.some((m) => m.type === 'ScopeFetchReply'));
          } finally {
            await a2?.close();
          }
        }));
    }

    test("after a resume nothing is sent before the client's first message; the stale socket is closed", () =>
      withPair(d, async ({ a, b, stateA: sa }) => {
        let a2: TestClient | null = null;
        try {
          const session = sessionOf(d, d.ports[0]!, a);
          a2 = await TestClient.resume(d.ports[0]!, a.token!);
          // The old socket, still open, is closed by the server and forgotten.
          const old = await a.waitForClose();
          assert.equal(old.code, 1000);
          // A change while the resumed socket is silent: held until A's first message.
          const shapeId = sa.fragments[1].uuid as string;
          await b.sync(0, [{ type: 'change', uuid: shapeId, clsName: 'Shape', properties: { x: -1 } }]);
          await shown(d, () => session.unacknowledged === 3, "A's process queued B's change");
          a2.ping(true, 2);
          const first = (await a2.waitForFrames(1)) as Msg[];
          assert.equal(first[0]!.type, 'Ping', 'the first frame on the resumed socket answers the client');
          assert.deepEqual(
            first.slice(1).map((m) => [m.type, m.index]),
            [['ScopeSync', 3]],
          );
          // The stale socket can do nothing to the session any more: still attached, still answering.
          a2.nextIndex = 2;
          const r = await a2.sync(0, []);
          assert.equal(r.index, 4);
        } finally {
          await a2?.close();
        }
      }));

    test('messages queued while no socket is attached wait in the un-acked buffer', async () => {
      const port = d.ports[1 % d.ports.length]!;
      const a = await TestClient.session(port);
      try {
        const sa = (await a.fetch('Canvas')).state!;
        a.terminate();
        await a.waitForClose();
        const session = sessionOf(d, port, a);
        await waitFor(() => session.connection === null, { message: 'the server to notice the drop' });
        assert.equal(session.connection, null);
        const scope = await d.serverScope();
        canvasOf(scope).name = 'offline edit';
        scope.flush();
        await shown(d, () => session.unacknowledged === 3, "A's process queued the edit");
        const a2 = await TestClient.resume(port, a.token!);
        try {
          a2.ping(true, 2);
          const frame = (await a2.waitForFrames(1)) as Msg[];
          assert.deepEqual(
            frame.map((m) => m.type),
            ['Ping', 'ScopeSync'],
          );
          assert.equal(frame[1]!.fragments[0].uuid, sa.rootUUID);
        } finally {
          await a2.close();
        }
      } finally {
        await a.close();
      }
    });

    test('a resumed client whose first message is not a resend request still gets what was queued while away', async () => {
      const port = d.ports[1 % d.ports.length]!;
      const a = await TestClient.session(port);
      try {
        const sa = (await a.fetch('Canvas')).state!;
        a.ping(false, 2); // everything so far acknowledged
        a.terminate();
        await a.waitForClose();
        const session = sessionOf(d, port, a);
        await waitFor(() => session.connection === null, { message: 'the server to notice the drop' });
        assert.equal(session.connection, null);
        const scope = await d.serverScope();
        canvasOf(scope).name = 'queued while away';
        scope.flush();
        await shown(d, () => session.unacknowledged === 1, "A's process queued the edit");
        const a2 = await TestClient.resume(port, a.token!);
        try {
          a2.nextIndex = 2;
          const reply = await a2.sync(0, []); // the first message: not a Ping
          const got = a2.indexed().map((m) => [m.type, m.index]);
          assert.deepEqual(
            got,
            [
              ['ScopeSync', 3],
              ['ScopeSyncReply', 4],
            ],
            'the queued broadcast first, then the reply: in order, no gap, nothing twice',
          );
          assert.equal(a2.indexed()[0]!.fragments[0].uuid, sa.rootUUID);
          assert.equal(reply.replyTo, 2);
        } finally {
          await a2.close();
        }
      } finally {
        await a.close();
      }
    });
  });
}
