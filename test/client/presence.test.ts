// The SDK's presence (docs/client.md, "Presence") against real servers: this one, and the original
// Jetstream server, which does not speak the extension and must still work with an SDK that asks.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import WebSocket from 'ws';
import { Canvas } from '../../demo/models.js';
import { demoScopes } from '../../demo/server.js';
import {
  type Client,
  type ClientScope,
  connect,
  ErrorCode,
  JetstreamError,
  type ModelObject,
  model,
  type PresencePeer,
} from '../../src/client/index.js';
import { ScopePresence } from '../../src/client/presence.js';
import {
  decodeServerFrame,
  encodeClientPresence,
  encodeSessionCreate,
} from '../../src/protocol/client-codec.js';
import type { ServerPresence } from '../../src/protocol/messages.js';
import { createServer, type Server } from '../../src/server/index.js';
import type { ServerOptions } from '../../src/server/options.js';
import { flakySocket, until } from './helpers.js';

/** The state the tests share: a typed presence. */
interface Cursor {
  name: string;
  x?: number;
  y?: number;
  away?: boolean;
}

const clients: Client[] = [];
after(() => {
  for (const c of clients) c.close();
});

async function start(options: ServerOptions = {}): Promise<{ server: Server; url: string }> {
  const { canvas, chat } = demoScopes();
  const server = await createServer({ port: 0, scopes: [canvas, chat], ...options });
  return { server, url: `ws://127.0.0.1:${server.port}/` };
}

/** A client (quick to reconnect) and its Canvas scope, with a typed presence. */
async function open(url: string, options: Parameters<typeof connect>[1] = {}) {
  const client = await connect(url, { WebSocket, minReconnectDelay: 5, maxReconnectDelay: 50, ...options });
  clients.push(client);
  const scope = await client.fetch<ModelObject, Cursor>('Canvas', Canvas);
  return { client, scope };
}

/** Presence messages a FlakySocket wrote. */
function presenceSent(texts: string[]): Record<string, unknown>[] {
  return texts
    .filter((t) => t.includes('"type":"Presence"'))
    .map((t) => (JSON.parse(t) as { state: Record<string, unknown> }).state);
}

describe('presence in the SDK', () => {
  test('two clients see each other’s typed state; join, change and leave events', async () => {
    const { server, url } = await start();
    try {
      const a = await open(url);
      const b = await open(url);
      assert.equal(a.scope.presence.available, true);
      const joined: PresencePeer<Cursor>[] = [];
      const left: PresencePeer<Cursor>[] = [];
      let changes = 0;
      b.scope.presence.on('join', (p) => joined.push(p));
      b.scope.presence.on('leave', (p) => left.push(p));
      b.scope.presence.on('change', () => changes++);

      a.scope.presence.set({ name: 'Ada', x: 1, y: 2 });
      assert.deepEqual(a.scope.presence.state, { name: 'Ada', x: 1, y: 2 });
      await until(() => b.scope.presence.others.length === 1);
      const [ada] = b.scope.presence.others;
      const name: string = ada!.state.name; // typed: Cursor
      assert.equal(name, 'Ada');
      assert.deepEqual(joined, [ada]);
      assert.equal(b.scope.presence.get(ada!.sessionId)?.x, 1);
      assert.deepEqual(a.scope.presence.others, [], 'a does not see itself');

      a.scope.presence.update({ x: 5 });
      await until(() => b.scope.presence.get(ada!.sessionId)?.x === 5);
      assert.deepEqual(b.scope.presence.get(ada!.sessionId), { name: 'Ada', x: 5, y: 2 });
      assert.ok(changes >= 2);

      a.client.close();
      await until(() => b.scope.presence.others.length === 0);
      assert.deepEqual(
        left.map((p) => p.state.name),
        ['Ada'],
      );
    } finally {
      await server.close();
    }
  });

  test('many quick changes: at most one message now and one at the end of the period, the latest wins', async () => {
    const { server, url } = await start({ presence: { rate: 5 } });
    try {
      const written: string[] = [];
      const { FlakySocket } = flakySocket({
        dropOut: (text) => {
          written.push(text);
          return false;
        },
      });
      const a = await open(url, { WebSocket: FlakySocket });
      const b = await open(url);
      for (let x = 0; x < 100; x++) a.scope.presence.set({ name: 'Ada', x });
      await until(() => b.scope.presence.others[0]?.state.x === 99);
      assert.deepEqual(presenceSent(written), [
        { name: 'Ada', x: 0 },
        { name: 'Ada', x: 99 },
      ]);
      // Setting what the server already holds sends nothing.
      a.scope.presence.set({ name: 'Ada', x: 99 });
      await b.scope.settled();
      assert.equal(presenceSent(written).length, 2);
    } finally {
      await server.close();
    }
  });

  test('a state larger than the server accepts throws JS_ERR_INVALID_VALUE and is not sent', async () => {
    const { server, url } = await start({ presence: { maxStateBytes: 100 } });
    try {
      const a = await open(url);
      a.scope.presence.set({ name: 'Ada' });
      assert.throws(
        () => a.scope.presence.set({ name: 'x'.repeat(200) }),
        (err: unknown) => err instanceof JetstreamError && err.code === ErrorCode.INVALID_VALUE,
      );
      assert.deepEqual(a.scope.presence.state, { name: 'Ada' }, 'the previous state stays');
      assert.throws(() => a.scope.presence.set([1] as never), TypeError);
    } finally {
      await server.close();
    }
  });

  test('a lost socket: the others see the client leave and come back; it gets what it missed', async () => {
    const { server, url } = await start();
    try {
      const a = await open(url, { minReconnectDelay: 400, maxReconnectDelay: 400 });
      const b = await open(url);
      a.scope.presence.set({ name: 'Ada' });
      b.scope.presence.set({ name: 'Bob' });
      await until(() => b.scope.presence.others.length === 1 && a.scope.presence.others.length === 1);
      const left: string[] = [];
      b.scope.presence.on('leave', (p) => left.push(p.state.name));
      // The server drops a's socket (not its session): the client resumes on its own.
      const token = a.client.sessionToken;
      server.sessions.find((s) => s.token === token)!.connection!.close(1011, 'Socket lost');
      await until(() => left.length === 1);
      b.scope.presence.set({ name: 'Bob', away: true }); // while a is away
      await until(() => a.client.status.connected && b.scope.presence.others.length === 1);
      assert.equal(a.client.status.sessions, 1, 'resumed, not a new session');
      assert.equal(b.scope.presence.others[0]!.state.name, 'Ada', 'a sent its state again');
      await until(() => a.scope.presence.others[0]?.state.away === true);
    } finally {
      await server.close();
    }
  });

  test('a session the server ended: the new session fetches again, and presence comes back', async () => {
    const { server, url } = await start();
    try {
      const a = await open(url);
      const b = await open(url);
      a.scope.presence.set({ name: 'Ada' });
      await until(() => b.scope.presence.others.length === 1);
      const before = b.scope.presence.others[0]!.sessionId;
      const token = a.client.sessionToken;
      server.sessions.find((s) => s.token === token)!.close();
      await until(() => a.client.status.sessions === 2 && b.scope.presence.others[0]?.sessionId !== before);
      assert.deepEqual(
        b.scope.presence.others.map((p) => p.state),
        [{ name: 'Ada' }],
      );
    } finally {
      await server.close();
    }
  });

  test('presence: false asks for nothing: nothing is sent or received, and the state stays local', async () => {
    const { server, url } = await start();
    try {
      const written: string[] = [];
      const { FlakySocket } = flakySocket({
        dropOut: (text) => {
          written.push(text);
          return false;
        },
      });
      const b = await open(url);
      b.scope.presence.set({ name: 'Bob' });
      const c = await open(url, { WebSocket: FlakySocket, presence: false });
      assert.equal(c.scope.presence.available, false);
      assert.ok(!written[0]!.includes('extensions'), written[0]);
      c.scope.presence.set({ name: 'Cy' });
      assert.deepEqual(c.scope.presence.state, { name: 'Cy' });
      b.scope.presence.set({ name: 'Bob', x: 1 });
      await until(() => b.scope.presence.state?.x === 1);
      // A round trip of c's after b's change: anything for c would have come before its reply.
      const shapes = (c.scope.root as ModelObject & { name: string | null }).name;
      await c.scope.transaction(() => {
        (c.scope.root as ModelObject & { name: string | null }).name = `${shapes}!`;
      });
      assert.deepEqual(c.scope.presence.others, []);
      assert.deepEqual(presenceSent(written), []);
      assert.deepEqual(b.scope.presence.others, []);
    } finally {
      await server.close();
    }
  });
});

// The original server's shapes models (see interop.test.ts).
const OShape = model('Shape', function () {
  this.has('x', Number);
  this.has('y', Number);
  this.has('color', Number);
});
const OCanvas = model('Canvas', function () {
  this.has('name', String);
  this.has('shapes', [OShape]);
});

describe('presence against the original Jetstream server', () => {
  test('the request is ignored: presence is unavailable, set() stays local, sync works', {
    timeout: 30_000,
  }, async () => {
    const child = spawn(process.execPath, [join(__dirname, 'original-server.cjs')], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const exited = new Promise((r) => child.once('exit', r));
    try {
      const port = await new Promise<number>((resolve, reject) => {
        let out = '';
        child.stdout.on('data', (d: Buffer) => {
          out += d.toString();
          if (out.includes('\n')) resolve(Number(out.trim()));
        });
        child.on('exit', (code) => reject(new Error(`original server exited (${code})`)));
      });
      const url = `ws://127.0.0.1:${port}/`;
      const a = await connect(url, { WebSocket });
      const b = await connect(url, { WebSocket });
      clients.push(a, b);
      type Shapes = ModelObject & { shapes: { push(s: ModelObject): number; length: number } };
      const sa = (await a.fetch('Canvas', OCanvas)) as unknown as ClientScope<Shapes>;
      const sb = (await b.fetch('Canvas', OCanvas)) as unknown as ClientScope<Shapes>;
      assert.equal(sa.presence.available, false);
      sa.presence.set({ name: 'Ada' });
      sa.root!.shapes.push(new OShape({ x: 1, y: 2, color: 3 }));
      await until(() => sb.root!.shapes.length === sa.root!.shapes.length);
      assert.deepEqual(sb.presence.others, []);
      assert.equal(a.status.sessions, 1);
    } finally {
      child.kill();
      await exited;
    }
  });
});

describe('the client side of the wire', () => {
  test('encoders: SessionCreate asks for presence only when told; Presence is index 0', () => {
    assert.deepEqual(JSON.parse(encodeSessionCreate('0.2.0', {})), {
      type: 'SessionCreate',
      index: 0,
      version: '0.2.0',
      params: {},
    });
    assert.deepEqual(JSON.parse(encodeSessionCreate('0.2.0', {}, { presence: 1 })).extensions, {
      presence: 1,
    });
    assert.deepEqual(JSON.parse(encodeClientPresence(2, '{"x":1}')), {
      type: 'Presence',
      index: 0,
      scopeIndex: 2,
      state: { x: 1 },
    });
  });

  test('decodeServerFrame reads Presence messages and the grant; malformed ones are dropped', () => {
    const frame = JSON.stringify([
      { type: 'SessionCreateReply', index: 0, sessionToken: 't', extensions: { presence: { version: 1 } } },
      { type: 'Presence', index: 0, scopeIndex: 1, entries: [{ session: 's1', state: { x: 1 } }] },
      { type: 'Presence', index: 0, scopeIndex: 1, snapshot: true, entries: [] },
      { type: 'Presence', index: 3, scopeIndex: 1, entries: [] },
      { type: 'Presence', index: 0, scopeIndex: 1, entries: [{ session: 1, state: null }] },
      { type: 'Presence', index: 0, scopeIndex: 1, entries: [{ session: 's1', state: [1] }] },
      { type: 'Presence', index: 0, scopeIndex: 1, snapshot: 'yes', entries: [] },
      { type: 'Presence', index: 0, entries: [] },
    ]);
    const result = decodeServerFrame(frame);
    assert.ok(result.ok);
    assert.deepEqual(result.messages, [
      { type: 'SessionCreateReply', index: 0, sessionToken: 't', extensions: { presence: { version: 1 } } },
      {
        type: 'Presence',
        index: 0,
        scopeIndex: 1,
        snapshot: false,
        entries: [{ session: 's1', state: { x: 1 } }],
      },
      { type: 'Presence', index: 0, scopeIndex: 1, snapshot: true, entries: [] },
    ]);
    assert.deepEqual(
      result.dropped.map((e) => e.message.replace(/:.*/, '')),
      ['Presence', 'Presence', 'Presence', 'Presence', 'Presence'],
    );
  });

  test('ScopePresence: a snapshot replaces the others, changes apply in order, null means gone', () => {
    const presence = new ScopePresence<{ n: number }>({
      scopeIndex: () => 0,
      grant: () => ({ version: 1, maxStateBytes: 100, rate: 20 }),
      send: () => true,
    });
    const events: string[] = [];
    presence.on('join', (p) => events.push(`join ${p.sessionId}`));
    presence.on('leave', (p) => events.push(`leave ${p.sessionId} ${p.state.n}`));
    presence.on('change', (others) => events.push(`change ${others.map((o) => o.sessionId).join(',')}`));
    const message = (snapshot: boolean, entries: ServerPresence['entries']): ServerPresence => ({
      type: 'Presence',
      index: 0,
      scopeIndex: 0,
      snapshot,
      entries,
    });
    presence._receive(
      message(true, [
        { session: 'a', state: { n: 1 } },
        { session: 'b', state: { n: 2 } },
      ]),
    );
    presence._receive(
      message(false, [
        { session: 'a', state: { n: 3 } },
        { session: 'c', state: null },
      ]),
    );
    presence._receive(message(false, [{ session: 'b', state: null }]));
    presence._receive(message(true, [{ session: 'd', state: { n: 4 } }]));
    presence._receive(message(true, [{ session: 'd', state: { n: 4 } }]));
    presence._receive(message(true, []));
    assert.deepEqual(events, [
      'join a',
      'join b',
      'change a,b',
      'change a,b',
      'leave b 2',
      'change a',
      'leave a 3',
      'join d',
      'change d',
      'change d',
      'leave d 4',
      'change ',
    ]);
    assert.deepEqual(presence.others, []);
  });
});
