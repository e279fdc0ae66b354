// The client SDK against real servers over WebSockets, for any deployment: one process
// (e2e.test.ts) or a cluster (test/cluster/conformance.test.ts). Convergence, a lost socket
// mid-edit, an expired session, and rejections rolled back. The i-th client of a test connects to
// `urls[i % urls.length]`, so in a cluster the clients of one test sit on different processes;
// a client that loses its socket reconnects to the same URL (the same process).
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import WebSocket from 'ws';
import { Canvas, Shape } from '../../demo/models.js';
import { type Client, type ClientScope, connect } from '../../src/client/index.js';
import type { ModelObject } from '../../src/model/index.js';
import type { Scope } from '../../src/scope/scope.js';
import type { Server } from '../../src/server/server.js';
import { flakySocket, tree, until } from './helpers.js';

export type ShapeObj = ModelObject & { x: number; y: number; type: number };
export type CanvasObj = ModelObject & {
  shapes: {
    toArray(): ShapeObj[];
    push(...s: ModelObject[]): number;
    remove(s: ModelObject): number;
    length: number;
  };
};

/** Where the suite runs: one process or several serving the demo's 'Canvas' scope. */
export interface ClientDeployment {
  /** One WebSocket URL per process. */
  urls: string[];
  /** The servers, in the order of `urls`. */
  servers: Server[];
  /** The 'Canvas' scope on the process that owns it (docs/cluster.md, "Running it"). */
  serverScope(): Promise<Scope>;
  close(): Promise<void>;
}

export type ClientDeploy = () => Promise<ClientDeployment>;

const isSync = (t: string) => t.includes('"type":"ScopeSync"');

/**
 * Registers the suite. `extras` registers tests of one deployment only, first, inside the
 * suite's describe.
 */
export function clientSuite(deploy: ClientDeploy, extras?: () => void): void {
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

  /** Runs `body` with a fresh deployment and `url(i)`, the URL of the i-th client; closes it after. */
  async function withDeployment(
    body: (d: ClientDeployment, url: (i: number) => string, canvas: Scope) => Promise<void>,
  ): Promise<void> {
    const d = await deploy();
    try {
      await body(d, (i) => d.urls[i % d.urls.length]!, await d.serverScope());
    } finally {
      await d.close();
    }
  }

  describe('client e2e', { timeout: 30_000 }, () => {
    extras?.();

    test('two clients converge', () =>
      withDeployment(async (_d, url, canvas) => {
        const a = await open(url(0));
        const b = await open(url(1));
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
      }));

    test('a socket lost mid-edit reconnects; nothing is lost or duplicated', () =>
      withDeployment(async (_d, url, canvas) => {
        const { FlakySocket, sockets, faults } = flakySocket();
        const a = await open(url(0), FlakySocket);
        const watcher = await open(url(1));
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
      }));

    test('an expired session is re-created; unacknowledged edits still land, applied ones once', () =>
      withDeployment(async (d, url, canvas) => {
        const { FlakySocket, faults } = flakySocket();
        const a = await open(url(0), FlakySocket);
        const restarted = new Promise<void>((r) => a.client.once('sessionRestarted', r));
        // The server applies an edit, and forgets the session before its reply reaches the client.
        let lost = 1;
        faults.killOnReceive = (t) => {
          if (!t.includes('ScopeSyncReply') || lost-- <= 0) return false;
          d.servers[0]!.sessions[0]!.close();
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
      }));

    test('a changeset the server rejects (unknown procedure) is rolled back; the outcome is reported', () =>
      withDeployment(async (_d, url) => {
        const a = await open(url(1));
        const s = new Shape({ x: 1 });
        const result = await a.scope.transaction(() => a.scope.root!.shapes.push(s), {
          procedure: 'Canvas.nope',
        });
        assert.equal(result.status, 'reverted');
        assert.ok(result.errors[0]!.message.length > 0);
        assert.equal(a.scope.root!.shapes.length, 0);
        assert.equal(a.scope.get(s.uuid), null);
      }));

    test('a rejected list change restores the list others changed meanwhile, with their shapes as the server has them', () =>
      withDeployment(async (d, url, canvas) => {
        const a = await open(url(0));
        const b = await open(url(1));
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
        await until(() => d.servers.every((server) => server.sessions.every((s) => s.unacknowledged === 0)));
        assert.deepEqual(tree(a.scope.root), tree(canvas.root));
        assert.equal((a.scope.get(n.uuid) as ShapeObj).x, 77);
      }));

    test('an edit of a shape the same rejected changeset removes does not survive the rollback', () =>
      withDeployment(async (_d, url, canvas) => {
        const a = await open(url(1));
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
      }));
  });
}
