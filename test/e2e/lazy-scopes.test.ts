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
import { TestClient } from '../helpers/ws-client.js';

async function roomServer(data: MemoryStoreData): Promise<{ server: Server; opened: string[] }> {
  const opened: string[] = [];
  const server = await createServer({ port: 0, store: new MemoryStore({ data }) });
  server.on('session', (session: Session, _params: unknown, accept: () => void) => {
    accept();
    session.on('fetch', (name: string) => {
      if (!/^room-\d+$/.test(name)) throw new Error('No such room');
      opened.push(name);
      return server.openScope({ name, root: () => new ChatRoom({ name }) });
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
