// Durable scopes loaded on first use: a fetch hook opens the scope named by the
// client; concurrent first fetches share one Scope (one writer per stored scope), and a restart
// brings each room back from the store.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ChatRoom } from '../../demo/models.js';
import { createServer, type Server } from '../../src/server/server.js';
import type { Session } from '../../src/server/session.js';
import { MemoryStore, MemoryStoreData } from '../../src/store/memory.js';
import { withTwoClients } from '../helpers/two-clients.js';
import { waitFor } from '../helpers/wait.js';
import { TestClient } from '../helpers/ws-client.js';

async function roomServer(
  data: MemoryStoreData,
  unloadWhenIdle?: number,
): Promise<{ server: Server; opened: string[] }> {
  const opened: string[] = [];
  // One session opens hundreds of rooms here: more fetches than a client's default budget.
  const server = await createServer({
    port: 0,
    store: new MemoryStore({ data }),
    sessionLimits: { fetches: { burst: 1_000 } },
  });
  server.on('session', (session: Session, _params: unknown, accept: () => void) => {
    accept();
    session.on('fetch', (name: string) => {
      if (!/^room-\d+$/.test(name)) throw new Error('No such room');
      opened.push(name);
      return server.openScope({ name, root: () => new ChatRoom({ name }), unloadWhenIdle });
    });
  });
  return { server, opened };
}

test('a fetch hook opens durable scopes on first use; one Scope per name; they survive a restart', async () => {
  const data = new MemoryStoreData();
  const first = await roomServer(data);
  let rootUUID = '';
  try {
    // Both sessions ask for room-1 at once: one scope, the same root for both.
    await withTwoClients(
      first.server.port!,
      { scope: 'room-1', concurrent: true },
      async ({ a, b, stateA, stateB }) => {
        rootUUID = stateA.rootUUID;
        assert.equal(stateB.rootUUID, rootUUID, 'one Scope for one name');
        assert.deepEqual(first.opened.sort(), ['room-1', 'room-1']);
        const denied = await a.fetch('lobby');
        assert.deepEqual(denied.reply.error, { message: 'No such room', type: 'rejected' });
        // A change through one session reaches the other and is stored.
        const reply = await a.sync(0, [
          { type: 'change', uuid: rootUUID, clsName: 'ChatRoom', properties: { name: 'Renamed' } },
        ]);
        assert.deepEqual(reply.fragmentReplies, [{}]);
        await b.waitFor((m) => m.type === 'ScopeSync' && m.fragments[0].properties.name === 'Renamed');
        await first.server.drain();
      },
    );
  } finally {
    await first.server.close();
  }

  // A new server on the same stored data: room-1 comes back as it was.
  const second = await roomServer(data);
  const c = await TestClient.session(second.server.port!);
  try {
    const { state } = await c.fetch('room-1');
    assert.equal(state!.rootUUID, rootUUID);
    assert.equal(state!.fragments[0].properties.name, 'Renamed');
  } finally {
    await c.close();
    await second.server.close();
  }
});

test('idle scopes are unloaded after their grace period and come back, as stored, on the next fetch', async () => {
  const data = new MemoryStoreData();
  const { server } = await roomServer(data, 20);
  try {
    // Many rooms opened, changed and left: memory goes back to no room at all.
    const rooms = 200;
    const c = await TestClient.session(server.port!);
    const roots: string[] = [];
    for (let i = 0; i < rooms; i++) {
      const { state } = await c.fetch(`room-${i}`);
      roots.push(state!.rootUUID);
      const reply = await c.sync(i, [
        { type: 'change', uuid: state!.rootUUID, clsName: 'ChatRoom', properties: { name: `Room ${i}` } },
      ]);
      assert.deepEqual(reply.fragmentReplies, [{}]);
    }
    assert.equal(server.loadedScopes, rooms, 'held by the session');
    const scopeOfFirst = server.sessions[0]!.scopes[0]!;
    await c.close();
    server.sessions[0]?.close(); // the detached session lets go of its rooms
    await waitFor(() => server.loadedScopes === 0, { message: 'every idle room unloaded' });
    assert.throws(() => {
      scopeOfFirst.root!.assign({ name: 'late edit' });
    }, /was unloaded/);

    // Reopened on demand, each with what was stored.
    const again = await TestClient.session(server.port!);
    for (const i of [0, 137, rooms - 1]) {
      const { state } = await again.fetch(`room-${i}`);
      assert.equal(state!.rootUUID, roots[i]);
      assert.equal(state!.fragments[0].properties.name, `Room ${i}`);
    }
    assert.equal(server.loadedScopes, 3);
    await again.close();
  } finally {
    await server.close();
  }
});
