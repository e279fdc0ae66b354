// Offline edits that survive a reload (docs/client.md, "Offline edits"), against the real server
// over WebSockets, with the memory store and the file store. A "reload" is a client closed and
// a new one made on the same store. "Offline" is a WebSocket class that refuses to connect and
// kills its sockets; a lost reply is a ScopeSyncReply that kills the socket when it arrives
// (the server applied the changeset, the client never learns it). Each edit is counted where
// the server reports applied changesets ('changeset' event), so "once" is checked directly; and
// a later edit by someone else shows that a replay would have overwritten it.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import WebSocket from 'ws';
import { Canvas, Shape } from '../../demo/models.js';
import {
  type Client,
  type ClientScope,
  type ConnectOptions,
  connect,
  FileOfflineStore,
  MemoryOfflineStore,
  type OfflineRecord,
  type OfflineStore,
} from '../../src/client/index.js';
import type { Server } from '../../src/server/server.js';
import type { CanvasObj, ShapeObj } from './e2e-suite.js';
import { startServer, tree, until } from './helpers.js';

type Root = CanvasObj & { name: string };
type Canvasy = ClientScope<Root>;

const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** A client's network: `off()` kills its sockets and refuses new ones until `online` is true again. */
class Net {
  online = true;
  /** When true, the first ScopeSyncReply to arrive kills the socket and takes the network down. */
  loseNextReply = false;
  /** Every frame the client wrote, in order. */
  readonly written: string[] = [];
  /** The WebSocket class to give the client. */
  readonly Socket: unknown;

  constructor() {
    const net = this;
    const sockets: WebSocket[] = [];
    this.off = () => {
      net.online = false;
      for (const s of sockets) s.terminate();
    };
    this.Socket = class NetSocket extends WebSocket {
      constructor(url: string, protocols?: string | string[], options?: WebSocket.ClientOptions) {
        if (!net.online) throw new Error('offline');
        super(url, protocols, options);
        sockets.push(this);
      }
      override send(data: unknown, ...rest: unknown[]): void {
        net.written.push(String(data));
        (super.send as (...a: unknown[]) => void).apply(this, [data, ...rest]);
      }
      override emit(event: string | symbol, ...args: unknown[]): boolean {
        if (event === 'message' && net.loseNextReply && String(args[0]).includes('"ScopeSyncReply"')) {
          net.loseNextReply = false;
          net.off();
          return false;
        }
        return super.emit(event, ...args);
      }
    };
  }

  readonly off: () => void;
}

/** Counts, per object uuid, the applied changesets that added it (the server's own report). */
function countAdds(server: Server): (uuid: string) => number {
  const adds = new Map<string, number>();
  server.on('changeset', (r) => {
    r.fragments.forEach((f, k) => {
      if (f.type === 'add' && r.results[k] === null) adds.set(f.uuid, (adds.get(f.uuid) ?? 0) + 1);
    });
  });
  return (uuid) => adds.get(uuid) ?? 0;
}

const stores: [string, () => OfflineStore][] = [
  ['memory store', () => new MemoryOfflineStore()],
  [
    'file store',
    () => {
      const dir = mkdtempSync(join(tmpdir(), 'jetstream-offline-'));
      dirs.push(dir);
      return new FileOfflineStore(join(dir, 'records'));
    },
  ],
];

for (const [kind, makeStore] of stores) {
  describe(`offline edits (${kind})`, { timeout: 60_000 }, () => {
    const clients: Client[] = [];
    after(() => {
      for (const c of clients) c.close();
    });

    async function open(
      url: string,
      store: OfflineStore | null,
      net = new Net(),
      extra: ConnectOptions = {},
    ) {
      const options: ConnectOptions = {
        WebSocket: net.Socket,
        minReconnectDelay: 5,
        maxReconnectDelay: 50,
        ...extra,
      };
      if (store) options.offline = { store, ...extra.offline };
      const client = await connect(url, options);
      clients.push(client);
      const scope = (await client.fetch('Canvas', Canvas)) as unknown as Canvasy;
      return { client, scope, net };
    }

    /** Closes a client the way a page goes away: what it had is saved, the session stays on the server. */
    async function reload(client: Client): Promise<void> {
      client.close();
      await client.persisted();
    }

    test('an edit made offline shows at once after a reload and arrives once, in the resumed session', async () => {
      const { server, canvas, url } = await startServer();
      const adds = countAdds(server);
      try {
        const store = makeStore();
        const a = await open(url, store);
        const watcher = await open(url, null);
        a.net.off();
        const s = new Shape({ x: 7, y: 8 }) as ShapeObj;
        a.scope.root!.shapes.push(s);
        // Sealed now; its promise settles only when the server answers (never, for this client).
        void a.scope.flush();
        await a.client.persisted();
        await reload(a.client);

        // The new page, still offline: the record alone shows the edit.
        const net = new Net();
        net.online = false;
        const b = await open(url, store, net);
        assert.equal(b.client.status.connected, false);
        const shown = b.scope.get(s.uuid) as ShapeObj | null;
        assert.ok(shown, 'the pending edit is shown before the server answered');
        assert.equal(shown.x, 7);
        assert.equal(b.scope.pendingCount, 1);
        assert.equal((canvas.root as CanvasObj).shapes.length, 0, 'the server does not have it yet');

        net.online = true;
        await until(() => b.client.status.connected);
        await b.scope.settled();
        assert.deepEqual(
          (canvas.root as CanvasObj).shapes.toArray().map((x) => x.uuid),
          [s.uuid],
        );
        assert.equal(adds(s.uuid), 1, 'applied once');
        assert.equal(b.client.status.sessions, 0, 'the stored session was resumed, no new one created');
        assert.equal(server.sessions.length, 2, "a's (resumed by b) and the watcher's");
        await until(() => watcher.scope.get(s.uuid) !== null);
        await until(() => tree(b.scope.root).join() === tree(canvas.root).join());
        assert.equal(b.scope.pendingCount, 0);
      } finally {
        await server.close();
      }
    });

    test('a reply lost before the reload: the resumed session gets it again, nothing is applied twice', async () => {
      const { server, canvas, url } = await startServer();
      const adds = countAdds(server);
      try {
        const store = makeStore();
        const a = await open(url, store);
        const watcher = await open(url, null);
        a.net.loseNextReply = true;
        const s = new Shape({ x: 1 }) as ShapeObj;
        void a.scope.transaction(() => {
          a.scope.root!.shapes.push(s);
          a.scope.root!.name = 'from a';
        });
        await until(() => !a.net.online && adds(s.uuid) === 1);
        await reload(a.client);
        const stored = (await store.load(url)) as OfflineRecord;
        assert.equal(stored.scopes[0]!.pending.length, 1);
        assert.equal(
          typeof stored.scopes[0]!.pending[0]!.index,
          'number',
          'kept as in flight in the session',
        );
        // Someone renames the canvas after a's change was applied.
        watcher.scope.root!.name = 'from the watcher';
        await watcher.scope.settled();

        const b = await open(url, store);
        await b.scope.settled();
        await until(() => b.scope.pendingCount === 0 && b.client.status.connected);
        await until(() => tree(b.scope.root).join() === tree(canvas.root).join());
        assert.equal(adds(s.uuid), 1, 'applied once');
        assert.equal((canvas.root as Root).name, 'from the watcher', 'a later edit was not overwritten');
        assert.equal(b.scope.root!.name, 'from the watcher');
        assert.equal(b.client.status.sessions, 0);
      } finally {
        await server.close();
      }
    });

    test('a reply lost before the reload, and the server forgot the session: applied once all the same', async () => {
      const { server, canvas, url } = await startServer();
      const adds = countAdds(server);
      try {
        const store = makeStore();
        const a = await open(url, store);
        const watcher = await open(url, null);
        a.net.loseNextReply = true;
        const s = new Shape({ x: 1 }) as ShapeObj;
        void a.scope.transaction(() => {
          a.scope.root!.shapes.push(s);
          a.scope.root!.name = 'from a';
        });
        await until(() => !a.net.online && adds(s.uuid) === 1);
        await reload(a.client);
        watcher.scope.root!.name = 'from the watcher';
        await watcher.scope.settled();
        const token = a.client.sessionToken;
        server.sessions.find((x) => x.token === token)!.close();

        const b = await open(url, store);
        const restarted = new Promise<void>((r) => b.client.once('sessionRestarted', r));
        await restarted;
        await b.scope.settled();
        await until(() => tree(b.scope.root).join() === tree(canvas.root).join());
        assert.equal(b.client.status.sessions, 1, 'a new session');
        assert.equal(adds(s.uuid), 1, 'its added shape on the server proves it applied: not sent again');
        assert.equal((canvas.root as Root).name, 'from the watcher', 'so a later edit was not overwritten');
        assert.deepEqual(
          (canvas.root as CanvasObj).shapes.toArray().map((x) => x.uuid),
          [s.uuid],
        );
      } finally {
        await server.close();
      }
    });

    test('an edit made offline, then the server forgot the session: sent once in a new session', async () => {
      const { server, canvas, url } = await startServer();
      const adds = countAdds(server);
      try {
        const store = makeStore();
        const a = await open(url, store);
        const token = a.client.sessionToken;
        a.net.off();
        const s = new Shape({ x: 3 }) as ShapeObj;
        a.scope.root!.shapes.push(s);
        a.scope.root!.name = 'offline name';
        await a.client.persisted();
        await reload(a.client);
        server.sessions.find((x) => x.token === token)!.close();

        const b = await open(url, store);
        assert.equal(b.scope.root!.name, 'offline name', 'shown at once');
        await until(() => b.client.status.sessions === 1 && b.client.status.connected);
        await b.scope.settled();
        await until(() => adds(s.uuid) === 1 && b.scope.pendingCount === 0);
        assert.equal((canvas.root as Root).name, 'offline name');
        assert.deepEqual(
          (canvas.root as CanvasObj).shapes.toArray().map((x) => x.uuid),
          [s.uuid],
        );
        assert.deepEqual(tree(b.scope.root), tree(canvas.root));
      } finally {
        await server.close();
      }
    });

    test('without the state kept, the pending edit shows once the server state arrives, and arrives once', async () => {
      const { server, canvas, url } = await startServer();
      const adds = countAdds(server);
      try {
        const store = makeStore();
        const offline = { store, state: false };
        const a = await open(url, store, new Net(), { offline });
        a.net.off();
        const s = new Shape({ x: 4 }) as ShapeObj;
        a.scope.root!.shapes.push(s);
        await a.client.persisted();
        await reload(a.client);
        const stored = (await store.load(url)) as OfflineRecord;
        assert.equal(stored.scopes[0]!.state, null);
        assert.equal(stored.scopes[0]!.pending.length, 1);

        const b = await open(url, store, new Net(), { offline });
        assert.ok(b.scope.get(s.uuid), 'shown with the first state');
        await b.scope.settled();
        await until(() => adds(s.uuid) === 1 && b.scope.pendingCount === 0);
        assert.deepEqual(tree(b.scope.root), tree(canvas.root));
      } finally {
        await server.close();
      }
    });
  });
}

describe('offline edits: the store', { timeout: 60_000 }, () => {
  test('while the store cannot save, nothing new is sent; once it can, the edit goes out once', async () => {
    const { server, url } = await startServer();
    const adds = countAdds(server);
    const store = new FailingStore();
    const net = new Net();
    const client = await connect(url, {
      WebSocket: net.Socket,
      minReconnectDelay: 5,
      maxReconnectDelay: 50,
      offline: { store },
    });
    try {
      const scope = (await client.fetch('Canvas', Canvas)) as unknown as Canvasy;
      const failed = new Promise<Error & { code?: string }>((r) => client.once('error', r));
      store.failing = true;
      const s = new Shape({ x: 1 });
      scope.root!.shapes.push(s);
      const err = await failed;
      assert.equal(err.code, 'JS_ERR_CLIENT_OFFLINE_STORE');
      assert.match(err.message, /Offline store: could not save the record: disk full/);
      // The changeset was never written: writes wait for a save that lists it.
      assert.equal(net.written.filter((t) => t.includes('"ScopeSync"')).length, 0);
      assert.equal(adds(s.uuid), 0);
      assert.equal(scope.pendingCount, 1);
      store.failing = false;
      await scope.settled();
      await until(() => adds(s.uuid) === 1);
      assert.equal(scope.pendingCount, 0);
    } finally {
      client.close();
      await server.close();
    }
  });

  test('a page that dies before its last save resumes from the older record: the server still has what it lacks', async () => {
    const { server, canvas, url } = await startServer();
    const adds = countAdds(server);
    // The store keeps the first record that lists the changeset in flight, and then stops
    // saving (its saves never finish): the page "dies" with everything after it unsaved.
    const store = new FreezingStore((r) => r.scopes.some((sc) => sc.pending.some((pc) => pc.index !== null)));
    const net = new Net();
    const a = await connect(url, {
      WebSocket: net.Socket,
      minReconnectDelay: 5,
      maxReconnectDelay: 50,
      pingInterval: 20,
      offline: { store },
    });
    const watcher = await connect(url, { WebSocket });
    try {
      const sa = (await a.fetch('Canvas', Canvas)) as unknown as Canvasy;
      const sw = (await watcher.fetch('Canvas', Canvas)) as unknown as Canvasy;
      const s = new Shape({ x: 1 });
      sa.root!.shapes.push(s);
      await sa.settled(); // answered in memory; the store froze before saving that
      assert.ok(store.frozen);
      // More for a's session, received and acknowledged by its pings (only as far as saved).
      sw.root!.name = 'seen by a';
      await until(() => sa.root!.name === 'seen by a');
      const session = server.sessions.find((x) => x.token === a.sessionToken)!;
      const seen = Date.now();
      await until(() => (session.lastAckAt ?? 0) > seen + 40);
      net.off(); // the page dies
      sw.root!.name = 'after a died';
      await sw.settled();
      store.thaw();

      const b = await connect(url, {
        WebSocket,
        minReconnectDelay: 5,
        maxReconnectDelay: 50,
        offline: { store },
      });
      try {
        const sb = (await b.fetch('Canvas', Canvas)) as unknown as Canvasy;
        await sb.settled();
        await until(() => tree(sb.root).join() === tree(canvas.root).join());
        assert.equal(b.status.sessions, 0, 'resumed');
        assert.equal(adds(s.uuid), 1);
        assert.equal(sb.root!.name, 'after a died');
      } finally {
        b.close();
      }
    } finally {
      a.close();
      watcher.close();
      await server.close();
    }
  });

  test('a session resumed from the store keeps the extensions the server granted it (presence)', async () => {
    const { server, url } = await startServer();
    const store = new MemoryOfflineStore();
    try {
      const a = await connect(url, { WebSocket, offline: { store } });
      const sa = await a.fetch('Canvas', Canvas);
      assert.equal(sa.presence.available, true);
      a.close();
      await a.persisted();
      const b = await connect(url, { WebSocket, offline: { store } });
      try {
        const sb = await b.fetch('Canvas', Canvas);
        await until(() => b.status.connected);
        assert.equal(b.status.sessions, 0, 'resumed');
        assert.equal(sb.presence.available, true);
      } finally {
        b.close();
      }
    } finally {
      await server.close();
    }
  });

  test('two live clients on one store get their own keys (and so their own sessions)', async () => {
    const { server, url } = await startServer();
    const store = new MemoryOfflineStore();
    const one = await connect(url, { WebSocket, offline: { store } });
    const two = await connect(url, { WebSocket, offline: { store } });
    try {
      await one.fetch('Canvas', Canvas);
      await two.fetch('Canvas', Canvas);
      await one.persisted();
      await two.persisted();
      assert.deepEqual(store.keys.sort(), [url, `${url}~2`]);
      assert.notEqual(one.sessionToken, two.sessionToken);
      assert.equal(server.sessions.length, 2);
      const records = await Promise.all(store.keys.map((k) => store.load(k)));
      assert.deepEqual(
        records.map((r) => r!.session.token).sort(),
        [one.sessionToken, two.sessionToken].sort(),
      );
    } finally {
      one.close();
      two.close();
      await server.close();
    }
  });
});

/** A memory store whose saves fail while `failing` is set. */
class FailingStore extends MemoryOfflineStore {
  failing = false;
  override async save(key: string, record: OfflineRecord): Promise<void> {
    if (this.failing) throw new Error('disk full');
    return super.save(key, record);
  }
}

/**
 * A store that saves until a record matches `last`, keeps that one, and then freezes: its later
 * saves never finish, as when a page dies. `thaw()` lets the next client's saves through. No
 * claim (a dead page's key is free again).
 */
class FreezingStore implements OfflineStore {
  frozen = false;
  readonly #inner = new MemoryOfflineStore();
  constructor(private last: (record: OfflineRecord) => boolean) {}
  load(key: string): Promise<OfflineRecord | null> {
    return this.#inner.load(key);
  }
  async save(key: string, record: OfflineRecord): Promise<void> {
    if (this.frozen) return new Promise<void>(() => {});
    await this.#inner.save(key, record);
    if (this.last(record)) this.frozen = true;
  }
  remove(key: string): Promise<void> {
    return this.#inner.remove(key);
  }
  thaw(): void {
    this.frozen = false;
    this.last = () => false;
  }
}
