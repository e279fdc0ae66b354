// A store that fails (disk full, database down) over real sockets: the affected
// changesets get a `store-failed` error, never an ack; nobody receives the unstored change;
// reads keep working; once the store answers again the scope is restored from it, every holder
// gets a fresh ScopeState, and changesets are accepted again.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Canvas } from '../../demo/models.js';
import { createServer } from '../../src/server/server.js';
import { StoreError } from '../../src/store/errors.js';
import { MemoryStore } from '../../src/store/memory.js';
import type { ChangeRecord, LoadedScope } from '../../src/store/types.js';
import { withTwoClients } from '../helpers/two-clients.js';
import type { Msg } from '../helpers/ws-client.js';

/** A MemoryStore that is down (appends and loads fail) while `failing` is set. */
class FlakyStore extends MemoryStore {
  failing = false;
  override append(records: ChangeRecord[]): Promise<void> {
    if (this.failing) return Promise.reject(new StoreError('disk full (simulated)'));
    return super.append(records);
  }
  override load(scope: string): Promise<LoadedScope | null> {
    if (this.failing) return Promise.reject(new StoreError('database down (simulated)'));
    return super.load(scope);
  }
}

test('a failing store: store-failed replies, no broadcast, reads served, then restore and recovery', async () => {
  const store = new FlakyStore();
  const server = await createServer({ port: 0, store });
  const scope = await server.openScope({ name: 'Canvas', root: () => new Canvas({ name: 'stored' }) });
  const rootUUID = scope.root!.uuid;
  try {
    await withTwoClients(server.port!, async ({ a, b }) => {
      const rename = (name: string) => [
        { type: 'change', uuid: rootUUID, clsName: 'Canvas', properties: { name } },
      ];

      store.failing = true;
      const failed = await a.sync(0, rename('lost'));
      assert.equal(failed.fragmentReplies.length, 1);
      assert.equal(
        failed.fragmentReplies[0].error.type,
        'store-failed',
        'never an ack for something not stored',
      );
      assert.match(failed.fragmentReplies[0].error.message, /could not be stored/);

      // While the store is down: further changesets are refused with a clear error, reads work.
      const refused = await a.sync(0, rename('also lost'));
      assert.equal(refused.fragmentReplies[0].error.type, 'store-failed');
      const reread = await b.fetch('Canvas');
      assert.equal(reread.reply.scopeIndex, 0, 'fetches are still answered');
      assert.equal(
        b.messages.filter((m: Msg) => m.type === 'ScopeSync').length,
        0,
        'the unstored change was broadcast to nobody',
      );

      // The store comes back: the scope is restored from it and every holder gets its state.
      const seenA = a.messages.length;
      const seenB = b.messages.length;
      store.failing = false;
      const stateA = await a.waitFor((m) => m.type === 'ScopeState', seenA);
      const stateB = await b.waitFor((m) => m.type === 'ScopeState', seenB);
      for (const st of [stateA, stateB]) {
        assert.equal(st.rootUUID, rootUUID);
        assert.equal(st.fragments[0].properties.name, 'stored', 'the state is what the store holds');
      }
      assert.equal(scope.root!.get('name'), 'stored');

      // And changesets are accepted, stored and broadcast again.
      const ok = await a.sync(0, rename('after recovery'));
      assert.deepEqual(ok.fragmentReplies, [{}]);
      const sync = await b.waitFor((m) => m.type === 'ScopeSync', seenB);
      assert.equal(sync.fragments[0].properties.name, 'after recovery');
      await server.drain();
      const loaded = await store.load('Canvas');
      const last = loaded!.changes.at(-1)!;
      assert.equal(last.fragments[0]!.properties.name, 'after recovery');
      assert.ok(
        loaded!.changes.every((c) => c.fragments.every((f) => f.properties.name !== 'lost')),
        'nothing unacknowledged reached the store',
      );
    });
  } finally {
    await server.close();
  }
});
