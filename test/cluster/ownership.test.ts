// Where a scope is owned (docs/cluster.md, "Unloading"): an owner none of whose sessions uses a
// scope hands its lease back, and a process whose sessions use it takes it; a scope nobody uses
// stays unowned until a write claims it; a scope unloaded while another process writes to it
// hands over without failing any of those writes.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, test } from 'node:test';
import { Canvas, Shape } from '../../demo/models.js';
import type { OpenScopeOptions } from '../../src/persistence/types.js';
import type { Scope } from '../../src/scope/scope.js';
import { createServer, type Server } from '../../src/server/server.js';
import type { Session } from '../../src/server/session.js';
import { PostgresStore } from '../../src/store/index.js';
import { useServices } from '../helpers/services.js';
import { waitFor } from '../helpers/wait.js';
import { type Msg, TestClient } from '../helpers/ws-client.js';

const services = useServices();

interface Node {
  server: Server;
  scope: Scope;
  port: number;
}

interface Cluster {
  nodes: Node[];
  /** The process id holding the scope's lease, as Redis says, or null. */
  owner(): Promise<string | null>;
  stop(): Promise<void>;
}

const ROOM: OpenScopeOptions = {
  name: 'room',
  root: () => {
    const canvas = new Canvas();
    canvas.assign({ name: 'shared', shapes: [new Shape()] });
    return canvas;
  },
};

/** `n` servers p0…p(n-1) on one schema and one Redis prefix, opened in order (p0 owns first). */
async function cluster(n: number, releaseIdleAfterMs: number, open: Partial<OpenScopeOptions> = {}) {
  const schema = services.schema();
  const prefix = `${services.redis.prefix}${randomBytes(3).toString('hex')}:`;
  const nodes: Node[] = [];
  for (let i = 0; i < n; i++) {
    const store = new PostgresStore({ connectionString: services.postgres.connectionString, schema });
    const server = await createServer({
      port: 0,
      store,
      cluster: {
        redis: services.redis.url,
        prefix,
        processId: `p${i}`,
        leaseTtlMs: 1000,
        releaseIdleAfterMs,
      },
    });
    // Sessions open the scope on first use (it may have been unloaded since).
    server.on('session', (session: Session, _params: unknown, accept: () => void) => {
      accept();
      session.on('fetch', () => server.openScope({ ...ROOM, ...open }));
    });
    const scope = await server.openScope({ ...ROOM, ...open });
    nodes.push({ server, scope, port: server.port! });
  }
  const redis = services.redis.connect();
  return {
    nodes,
    owner: () => redis.get(`${prefix}{room}:lease`),
    async stop() {
      for (const node of nodes) {
        await node.server.close();
        await node.server.store!.close();
      }
    },
  } satisfies Cluster;
}

function move(state: Msg, x: number): Msg[] {
  const shape = (state.fragments as Msg[])[1]!;
  return [{ type: 'change', uuid: shape.uuid, clsName: 'Shape', properties: { x } }];
}

/** Ends every session of `server` (a closed socket leaves a detached session holding its scopes). */
function endSessions(server: Server): void {
  for (const session of [...server.sessions]) session.close();
}

const xOf = (scope: Scope) => (scope.getState().fragments[1]!.properties as { x: number }).x;

describe('cluster: where a scope is owned', () => {
  test('an owner whose sessions left hands the lease to the process whose sessions use the scope', async () => {
    const c = await cluster(2, 300);
    const [a, b] = c.nodes as [Node, Node];
    try {
      assert.equal(await c.owner(), 'p0', 'the first process to open the scope owns it');
      const ca = await TestClient.session(a.port);
      await ca.fetch('room');
      const cb = await TestClient.session(b.port);
      const { state } = await cb.fetch('room');
      // p0 keeps the scope while its own session uses it, however long that is.
      assert.deepEqual((await cb.sync(0, move(state!, 1))).fragmentReplies, [{}]);
      await new Promise((r) => setTimeout(r, 1200));
      assert.equal(await c.owner(), 'p0');
      // Its session ends: p0 hands the lease back and p1, whose session holds the scope, takes it.
      await ca.close();
      endSessions(a.server);
      await waitFor(async () => (await c.owner()) === 'p1', { message: 'p1 owns the scope' });
      assert.deepEqual((await cb.sync(0, move(state!, 2))).fragmentReplies, [{}]);
      await waitFor(() => xOf(a.scope) === 2, { message: 'p0 follows the new owner' });
      assert.equal(xOf(b.scope), 2);
      await cb.close();
    } finally {
      await c.stop();
    }
  });

  test('a scope no session uses stays unowned until a write claims it', async () => {
    const c = await cluster(2, 300);
    const [a, b] = c.nodes as [Node, Node];
    try {
      assert.equal(await c.owner(), 'p0');
      await waitFor(async () => (await c.owner()) === null, { message: 'p0 hands the idle scope back' });
      // Nobody takes it: no process has a session holding it.
      await new Promise((r) => setTimeout(r, 1500));
      assert.equal(await c.owner(), null);
      // A write on p1 claims it there, and p0 (which kept the scope loaded) shows it.
      const cb = await TestClient.session(b.port);
      const { state } = await cb.fetch('room');
      assert.deepEqual((await cb.sync(0, move(state!, 7))).fragmentReplies, [{}]);
      assert.equal(await c.owner(), 'p1');
      await waitFor(() => xOf(a.scope) === 7, { message: 'p0 follows p1' });
      await cb.close();
    } finally {
      await c.stop();
    }
  });

  test('a scope unloaded by its owner while another process writes to it: every write is acknowledged', async () => {
    const c = await cluster(2, 0, { unloadWhenIdle: 100 });
    const [a, b] = c.nodes as [Node, Node];
    try {
      const ca = await TestClient.session(a.port);
      await ca.fetch('room');
      assert.equal(await c.owner(), 'p0');
      const cb = await TestClient.session(b.port);
      const { state } = await cb.fetch('room');
      // p1 writes without a pause while p0's only session leaves and p0 unloads the scope.
      const writes = 150;
      let closed = false;
      cb.ws.on('close', () => {
        closed = true;
      });
      for (let i = 1; i <= writes; i++) {
        if (i === 20) endSessions(a.server);
        const reply = await cb.sync(0, move(state!, i));
        assert.deepEqual(reply.fragmentReplies, [{}], `write ${i} is acknowledged`);
      }
      assert.equal(closed, false, 'no outcome-unknown close while ownership moved');
      await waitFor(() => a.server.loadedScopes === 0, { message: 'p0 unloaded the scope' });
      assert.equal(await c.owner(), 'p1');
      const live = await b.server.openScope({ ...ROOM, unloadWhenIdle: 100 });
      assert.equal(xOf(live), writes);
      // What p0 loads again is what p1 stored.
      const ca2 = await TestClient.session(a.port);
      const fetched = await ca2.fetch('room');
      assert.equal(((fetched.state!.fragments as Msg[])[1]!.properties as { x: number }).x, writes);
      await Promise.all([cb.close(), ca2.close(), ca.close()]);
    } finally {
      await c.stop();
    }
  });
});
