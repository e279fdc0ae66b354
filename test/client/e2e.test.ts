// The client against the real server over WebSockets: convergence, a lost socket mid-edit, an
// expired session, and procedure rejection.
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import WebSocket from 'ws';
import { Canvas, Shape } from '../../demo/models.js';
import { type Client, type ClientScope, connect } from '../../src/client/index.js';
import type { ModelObject } from '../../src/model/index.js';
import { waitFor } from '../helpers/wait.js';
import { flakySocket, startServer, tree, until } from './helpers.js';

type ShapeObj = ModelObject & { x: number; y: number; type: number };
type CanvasObj = ModelObject & {
  shapes: {
    toArray(): ShapeObj[];
    push(...s: ModelObject[]): number;
    remove(s: ModelObject): number;
    length: number;
  };
};

const clients: Client[] = [];
after(() => {
  for (const c of clients) c.close();
});

async function open(
  url: string,
  WS: unknown = WebSocket,
): Promise<{ client: Client; scope: ClientScope<CanvasObj> }> {
  const client = await connect(url, { WebSocket: WS, minReconnectDelay: 5, maxReconnectDelay: 50 });
  clients.push(client);
  const scope = (await client.fetch('Canvas', Canvas)) as unknown as ClientScope<CanvasObj>;
  return { client, scope };
}

const isSync = (t: string) => t.includes('"type":"ScopeSync"');

describe('client e2e', { timeout: 30_000 }, () => {
  test('connectTimeout: connect() rejects (connect-timeout) when no server answers, and closes the client', async () => {
    const { createServer: createTcp } = await import('node:net');
    const port = await new Promise<number>((resolve) => {
      const probe = createTcp().listen(0, '127.0.0.1', () => {
        const p = (probe.address() as { port: number }).port;
        probe.close(() => resolve(p)); // nothing listens there any more
      });
    });
    await assert.rejects(
      connect(`ws://127.0.0.1:${port}/`, { WebSocket, connectTimeout: 300, minReconnectDelay: 50 }),
      (err: Error & { type?: string }) =>
        err.type === 'connect-timeout' && /No session within 300 ms/.test(err.message),
    );
  });

  test('two clients converge', async () => {
    const { server, canvas, url } = await startServer();
    try {
      const a = await open(url);
      const b = await open(url);
      const s = new Shape({ x: 10, y: 20, width: 30, height: 30, type: 1 }) as ShapeObj;
      a.scope.root!.shapes.push(s);
      await until(() => b.scope.get(s.uuid) !== null);
      const sb = b.scope.get(s.uuid) as ShapeObj;
      assert.equal(sb.x, 10);
      sb.x = 100;
      sb.y = 200;
      await until(() => s.x === 100 && s.y === 200);
      s.type = 3;
      b.scope.root!.shapes.push(new Shape({ x: 1, y: 1 }));
      await a.scope.settled();
      await b.scope.settled();
      await until(() => tree(a.scope.root).join() === tree(canvas.root).join());
      await until(() => tree(b.scope.root).join() === tree(canvas.root).join());
      assert.equal(canvas.root!.get('shapes') && (canvas.root as CanvasObj).shapes.length, 2);
      assert.equal(a.client.status.pendingChangesets, 0);
      assert.ok(a.client.status.lastAcknowledgedAt);
    } finally {
      await server.close();
    }
  });

  test('a resume presents the token in a header with ws, never in the URL; in the query when asked', async () => {
    const { server, url } = await startServer();
    try {
      for (const mode of ['header', 'query'] as const) {
        const { FlakySocket, sockets, opened } = flakySocket();
        const client = await connect(url, {
          WebSocket: FlakySocket,
          minReconnectDelay: 5,
          maxReconnectDelay: 50,
          ...(mode === 'query' ? { sessionTokenIn: 'query' as const } : {}),
        });
        clients.push(client);
        await client.fetch('Canvas', Canvas);
        const sessions = server.sessions.length;
        sockets.at(-1)!.terminate();
        await waitFor(() => opened.length >= 2 && client.status.connected, { message: 'reconnected' });
        const resume = opened[1]!;
        const token = server.sessions.at(-1)!.token;
        if (mode === 'header') {
          assert.equal(resume.headers['X-Jetstream-SessionToken'], token);
          assert.ok(!resume.url.includes('sessiontoken'), resume.url);
        } else {
          assert.ok(resume.url.includes(`x-jetstream-sessiontoken=${token}`), resume.url);
          assert.equal(resume.headers['X-Jetstream-SessionToken'], undefined);
        }
        assert.equal(server.sessions.length, sessions, 'the session was resumed, not replaced');
        assert.equal(client.status.sessions, 1);
        client.close();
      }
    } finally {
      await server.close();
    }
  });

  test('a socket lost mid-edit reconnects; nothing is lost or duplicated', async () => {
    const { server, canvas, url } = await startServer();
    try {
      const { FlakySocket, sockets, faults } = flakySocket();
      const a = await open(url, FlakySocket);
      const watcher = await open(url);
      const states: string[] = [];
      a.client.on('status', (s) => states.push(s.state));

      // 1. The connection dies right after a changeset was written.
      let kills = 1;
      faults.killAfterSend = (t) => isSync(t) && kills-- > 0;
      const s1 = new Shape({ x: 1, y: 1 }) as ShapeObj;
      a.scope.root!.shapes.push(s1);
      await a.scope.settled();
      // 2. A changeset lost in transit, then the connection dies.
      let drops = 1;
      faults.dropOut = (t) => isSync(t) && drops-- > 0;
      const s2 = new Shape({ x: 2, y: 2 }) as ShapeObj;
      a.scope.root!.shapes.push(s2);
      await until(() => drops === 0);
      sockets.at(-1)!.terminate();
      // Edits made while disconnected.
      s1.x = 11;
      await a.scope.settled();
      // 3. The reply is lost: the server applied it, the client reconnects and gets it again.
      let lost = 1;
      faults.killOnReceive = (t) => t.includes('ScopeSyncReply') && lost-- > 0;
      s2.x = 22;
      await a.scope.settled();

      assert.ok(sockets.length >= 4, `reconnected (${sockets.length} sockets)`);
      assert.ok(states.includes('reconnecting'));
      const shapes = (canvas.root as CanvasObj).shapes.toArray();
      assert.deepEqual(
        shapes.map((s) => s.uuid),
        [s1.uuid, s2.uuid],
        'each shape once',
      );
      assert.deepEqual(
        shapes.map((s) => s.x),
        [11, 22],
      );
      await until(() => tree(watcher.scope.root).join() === tree(canvas.root).join());
      assert.deepEqual(tree(a.scope.root), tree(canvas.root));
      assert.equal(a.client.status.sessions, 1, 'the same session throughout');
    } finally {
      await server.close();
    }
  });

  test('an expired session is re-created; unacknowledged edits still land, applied ones once', async () => {
    const { server, canvas, url } = await startServer();
    try {
      const { FlakySocket, faults } = flakySocket();
      const a = await open(url, FlakySocket);
      const restarted = new Promise<void>((r) => a.client.once('sessionRestarted', r));
      // The server applies an edit, and forgets the session before its reply reaches the client.
      let lost = 1;
      faults.killOnReceive = (t) => {
        if (!t.includes('ScopeSyncReply') || lost-- <= 0) return false;
        server.sessions[0]!.close();
        return true;
      };
      const applied = new Shape({ x: 1 }) as ShapeObj;
      a.scope.root!.shapes.push(applied);
      const first = a.scope.flush();
      await until(() => lost === 0);
      // Edits made while the client has no session.
      const held = new Shape({ x: 2 }) as ShapeObj;
      a.scope.root!.shapes.push(held);
      applied.y = 5;
      const second = a.scope.flush();
      await restarted;
      assert.equal((await first).status, 'completed');
      assert.equal((await second).status, 'completed');
      await a.scope.settled();
      const shapes = (canvas.root as CanvasObj).shapes.toArray();
      assert.deepEqual(
        shapes.map((s) => s.uuid),
        [applied.uuid, held.uuid],
        'each shape once',
      );
      assert.equal(shapes[0]!.y, 5);
      assert.equal(a.client.status.sessions, 2);
      assert.deepEqual(tree(a.scope.root), tree(canvas.root));
    } finally {
      await server.close();
    }
  });

  test('a changeset the server rejects (unknown procedure) is rolled back; the outcome is reported', async () => {
    const { server, url } = await startServer();
    try {
      const a = await open(url);
      const s = new Shape({ x: 1 });
      const result = await a.scope.transaction(() => a.scope.root!.shapes.push(s), {
        procedure: 'Canvas.nope',
      });
      assert.equal(result.status, 'reverted');
      assert.ok(result.errors[0]!.message.length > 0);
      assert.equal(a.scope.root!.shapes.length, 0);
      assert.equal(a.scope.get(s.uuid), null);
    } finally {
      await server.close();
    }
  });

  test('a rejected list change restores the list others changed meanwhile, with their shapes as the server has them', async () => {
    const { server, canvas, url } = await startServer();
    try {
      const a = await open(url);
      const b = await open(url);
      const rb = b.scope.root!;
      rb.shapes.push(new Shape({ x: 1 }), new Shape({ x: 2 }));
      await b.scope.settled();
      await until(() => a.scope.root!.shapes.length === 2);
      // In one turn: B adds N, moves it, removes its first shape (three changesets); A, whose
      // changeset reaches the server after them, removes its first shape in a changeset the
      // server rejects. B's changes reach A while A's is unanswered.
      const n = new Shape({ x: 5 }) as ShapeObj;
      rb.shapes.push(n);
      b.scope.flush();
      n.x = 77;
      b.scope.flush();
      rb.shapes.remove(rb.shapes.toArray()[0]!);
      b.scope.flush();
      const ra = a.scope.root!;
      const rejected = a.scope.transaction(() => ra.shapes.remove(ra.shapes.toArray()[0]!), {
        procedure: 'Canvas.nope',
      });
      assert.equal((await rejected).status, 'reverted');
      await b.scope.settled();
      await until(() => server.sessions.every((s) => s.unacknowledged === 0));
      assert.deepEqual(tree(a.scope.root), tree(canvas.root));
      assert.equal((a.scope.get(n.uuid) as ShapeObj).x, 77);
    } finally {
      await server.close();
    }
  });

  test('an edit of a shape the same rejected changeset removes does not survive the rollback', async () => {
    const { server, canvas, url } = await startServer();
    try {
      const a = await open(url);
      const ra = a.scope.root!;
      const s = new Shape({ x: 1 }) as ShapeObj;
      ra.shapes.push(s);
      await a.scope.settled();
      const result = await a.scope.transaction(
        () => {
          s.x = 99;
          ra.shapes.remove(s);
        },
        { procedure: 'Canvas.nope' },
      );
      assert.equal(result.status, 'reverted');
      assert.equal(a.scope.get(s.uuid), s);
      assert.equal(s.x, 1);
      assert.deepEqual(tree(a.scope.root), tree(canvas.root));
    } finally {
      await server.close();
    }
  });
});
