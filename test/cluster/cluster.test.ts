// Two servers, one PostgreSQL database and one Redis (docs/cluster.md): clients of either
// process see every change, in the same order; a changeset sent to the process that does not
// own the scope is forwarded to the owner and answered once the sender's process shows it.
// In one test process for speed; the child-process and kill -9 tests are in cluster-processes.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, test } from 'node:test';
import { Canvas, Shape } from '../../demo/models.js';
import { encodeFragments } from '../../src/protocol/codec.js';
import type { Scope } from '../../src/scope/scope.js';
import { createServer, type Server } from '../../src/server/server.js';
import { PostgresStore } from '../../src/store/index.js';
import { MemoryStore } from '../../src/store/memory.js';
import { useServices } from '../helpers/services.js';
import { waitFor } from '../helpers/wait.js';
import { type Msg, TestClient, uuid } from '../helpers/ws-client.js';

const services = useServices();

interface Node {
  server: Server;
  scope: Scope;
  port: number;
}

/** A cluster of `n` servers on one database schema, each serving the scope `room`. */
/** The schema of the last cluster() (the test reads what it stored). */
let lastSchema = '';

async function cluster(n: number): Promise<Node[]> {
  const schema = services.schema();
  lastSchema = schema;
  const prefix = `${services.redis.prefix}${randomBytes(3).toString('hex')}:`;
  const nodes: Node[] = [];
  for (let i = 0; i < n; i++) {
    const store = new PostgresStore({ connectionString: services.postgres.connectionString, schema });
    const server = await createServer({
      port: 0,
      store,
      cluster: { redis: services.redis.url, prefix, processId: `p${i}`, leaseTtlMs: 1000 },
    });
    const scope = await server.openScope({
      name: 'room',
      root: () => {
        const canvas = new Canvas();
        canvas.assign({ name: 'shared', shapes: [new Shape()] });
        return canvas;
      },
    });
    nodes.push({ server, scope, port: server.port! });
  }
  return nodes;
}

async function stop(nodes: Node[]): Promise<void> {
  for (const n of nodes) {
    await n.server.close();
    await n.server.store!.close();
  }
}

const stateOf = (scope: Scope) => encodeFragments(scope.getState().fragments);

function move(state: Msg, x: number): Msg[] {
  const shape = (state.fragments as Msg[])[1]!;
  return [{ type: 'change', uuid: shape.uuid, clsName: 'Shape', properties: { x } }];
}

describe('cluster', () => {
  test('a cluster needs the PostgreSQL store', async () => {
    await assert.rejects(
      createServer({ port: 0, store: new MemoryStore(), cluster: { redis: services.redis.url } }),
      /A cluster needs the PostgreSQL store/,
    );
    await assert.rejects(
      createServer({ port: 0, cluster: { redis: services.redis.url } }),
      /A cluster needs a store/,
    );
  });

  test('both processes serve one scope: forwarded writes, one order, one state', async () => {
    const nodes = await cluster(2);
    try {
      const [a, b] = nodes as [Node, Node];
      assert.equal(stateOf(a.scope), stateOf(b.scope), 'both loaded the state the owner created');
      const ca = await TestClient.session(a.port);
      const cb = await TestClient.session(b.port);
      const { state } = await ca.fetch('room');
      await cb.fetch('room');
      // Whichever process owns it, one of the two writes is forwarded.
      const writes = 20;
      for (let i = 1; i <= writes; i++) {
        const [client, other] = i % 2 ? [ca, cb] : [cb, ca];
        const reply = await client.sync(0, move(state!, i));
        assert.deepEqual(reply.fragmentReplies, [{}], `write ${i} is acknowledged`);
        // The other client sees it (through the log when it is on the other process).
        await other.waitFor((m) => m.type === 'ScopeSync' && (m.fragments as Msg[])[0]?.properties?.x === i);
      }
      await waitFor(() => a.scope.version === b.scope.version, { message: 'the replica catches up' });
      assert.equal(stateOf(a.scope), stateOf(b.scope));
      const x = (s: Scope) => (s.getState().fragments[1]!.properties as { x: number }).x;
      assert.equal(x(a.scope), writes);
      assert.equal(x(b.scope), writes);
      // What is stored is what both serve.
      const store = new PostgresStore({
        connectionString: services.postgres.connectionString,
        schema: lastSchema,
      });
      await store.open();
      const loaded = await store.load('room');
      await store.close();
      assert.equal(loaded!.version, a.scope.version);
      await Promise.all([ca.close(), cb.close()]);
    } finally {
      await stop(nodes);
    }
  });

  test('concurrent appends to one collection from both processes both survive (a forward carries its base)', async () => {
    const nodes = await cluster(2);
    try {
      const [a, b] = nodes as [Node, Node];
      // Whichever process owns the scope, one of the two clients' changesets is forwarded.
      const ca = await TestClient.session(a.port);
      const cb = await TestClient.session(b.port);
      const { state: sa } = await ca.fetch('room');
      await cb.fetch('room');
      const root = sa!.rootUUID as string;
      const base = ((sa!.fragments as Msg[]).find((f) => f.uuid === root)!.properties as { shapes: string[] })
        .shapes;
      const add = (id: string): Msg => ({
        type: 'add',
        uuid: id,
        clsName: 'Shape',
        properties: { x: 1, y: 1, width: 5, height: 5, type: 0 },
      });
      const setShapes = (shapes: string[]): Msg => ({
        type: 'change',
        uuid: root,
        clsName: 'Canvas',
        properties: { shapes },
      });
      // Each edit is made on the list both clients fetched, acknowledged in the same frame (as
      // the SDK sends it): B's changeset reaches the scope after A's, against the older base.
      const sync = (c: TestClient, ack: number, fragments: Msg[]) => {
        const index = c.nextIndex++;
        c.send([
          { type: 'Ping', index: 0, ack, resendMissing: false },
          { type: 'ScopeSync', index, scopeIndex: 0, atomic: false, fragments },
        ]);
        return c.waitFor((m) => m.type === 'ScopeSyncReply' && m.replyTo === index);
      };
      const x = uuid();
      const y = uuid();
      const ackB = cb.highestIndex();
      const ra = await sync(ca, ca.highestIndex(), [add(x), setShapes([...base, x])]);
      assert.deepEqual(ra.fragmentReplies, [{}, {}]);
      const rb = await sync(cb, ackB, [add(y), setShapes([...base, y])]);
      assert.deepEqual(rb.fragmentReplies, [{}, {}]);
      const merged = [...base, x, y];
      const shapes = (s: Scope) =>
        (s.getState().fragments.find((f) => f.uuid === root)!.properties as { shapes: string[] }).shapes;
      await waitFor(() => a.scope.version === b.scope.version, { message: 'the replica catches up' });
      assert.deepEqual(shapes(a.scope), merged);
      assert.deepEqual(shapes(b.scope), merged);
      // B, whose list the owner merged into another, gets the merged list right after its reply.
      const correction = await cb.waitFor((m) => m.index === rb.index + 1);
      assert.equal(correction.type, 'ScopeSync');
      assert.deepEqual(correction.fragments, [
        { type: 'change', uuid: root, clsName: 'Canvas', properties: { shapes: merged } },
      ]);
      await Promise.all([ca.close(), cb.close()]);
    } finally {
      await stop(nodes);
    }
  });

  test('when the owner shuts down, the other process takes the scope over at once', async () => {
    const nodes = await cluster(2);
    const [a, b] = nodes as [Node, Node];
    try {
      const cb = await TestClient.session(b.port);
      const { state } = await cb.fetch('room');
      assert.deepEqual((await cb.sync(0, move(state!, 1))).fragmentReplies, [{}]);
      await a.server.close(); // the first opener owned the scope; it hands it over
      await a.server.store!.close();
      assert.deepEqual((await cb.sync(0, move(state!, 2))).fragmentReplies, [{}]);
      const x = (b.scope.getState().fragments[1]!.properties as { x: number }).x;
      assert.equal(x, 2);
      await cb.close();
    } finally {
      await b.server.close();
      await b.server.store!.close();
    }
  });
});
