// The original Jetstream browser client (npm jetstream@0.13.4, folder client/, installed as
// `jetstream-original`) against this server, unchanged: session, fetch and ScopeState, a shape
// added by the client (add + change), a server-side edit and another client's edit arriving.
// The client is browser code: it needs a global WebSocket (ws) and `window.DEBUG`.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import WebSocket from 'ws';
import { Canvas, Shape } from '../../demo/models.js';
import { Scope } from '../../src/scope/scope.js';
import { createServer } from '../../src/server/server.js';
import { waitFor } from '../helpers/wait.js';
import { TestClient } from '../helpers/ws-client.js';

// biome-ignore lint/suspicious/noExplicitAny: the original client is untyped JavaScript
type Any = any;

let models: { OShape: Any; OCanvas: Any } | null = null;
/** The original client's own model definitions, with the same names and properties (defined once: its registry is global). */
function originalModels(Jetstream: Any): { OShape: Any; OCanvas: Any } {
  if (!models) {
    const OShape = Jetstream.model('Shape', function (this: Any) {
      for (const p of ['x', 'y', 'width', 'height', 'type']) this.has(p, Number);
    });
    const OCanvas = Jetstream.model('Canvas', function (this: Any) {
      this.has('name', String);
      this.has('shapes', [OShape]);
    });
    models = { OShape, OCanvas };
  }
  return models;
}

/**
 * The original client with a Canvas root of its own, connected to `port` and having fetched the
 * Canvas scope (its fetch callback answered without an error).
 */
async function connectOriginal(Jetstream: Any, port: number): Promise<{ client: Any; root: Any }> {
  const { OCanvas } = originalModels(Jetstream);
  const oscope = Jetstream.scope({ name: 'Canvas' });
  const root = new OCanvas();
  root.setScopeAndMakeRootModel(oscope);
  const client = Jetstream({ transport: Jetstream.transport.WebSocket({ url: `ws://127.0.0.1:${port}` }) });
  const fetched = new Promise<unknown>((resolve) => {
    client.once('session', (session: Any) => session.fetch(oscope, resolve));
  });
  client.connect();
  assert.equal(await fetched, undefined, 'fetch answered without error');
  return { client, root };
}

/** Waits (bounded) for a condition. */
async function until(cond: () => boolean, what: string): Promise<void> {
  await waitFor(cond, { timeout: 4_000, message: what });
}

test('the original browser client works against this server unchanged', async () => {
  const g = globalThis as Any;
  g.window = { DEBUG: false };
  g.WebSocket = WebSocket;
  const Jetstream = require('jetstream-original/client');

  const canvas = new Canvas({ name: 'Shapes Demo' });
  canvas.shapes.push(new Shape({ x: 1, y: 2, width: 10, height: 10, type: 0 }));
  const scope = new Scope({ name: 'Canvas' });
  scope.setRoot(canvas);
  const server = await createServer({ port: 0, scopes: [scope] });
  const other = await TestClient.session(server.port!);
  let client: Any = null;
  try {
    await other.fetch('Canvas');

    const { OShape } = originalModels(Jetstream);
    let root: Any;
    ({ client, root } = await connectOriginal(Jetstream, server.port!));

    // ScopeState applied: the root took the server's uuid and values, the shape exists.
    await until(() => root.get('name') === 'Shapes Demo', 'the ScopeState');
    assert.equal(root.uuid, canvas.uuid);
    assert.equal(root.get('shapes').length, 1);
    assert.equal(root.get('shapes').at(0).get('x'), 1);

    // A shape added by the original client: accepted, applied, forwarded to the other client.
    const shape = new OShape();
    shape.set({ x: 42, y: 1, width: 5, height: 5, type: 2 });
    root.get('shapes').push(shape);
    await until(() => canvas.shapes.length === 2, 'the add on the server');
    assert.equal(canvas.shapes.at(1)!.uuid, shape.uuid);
    assert.equal(canvas.shapes.at(1)!.x, 42);
    const forwarded = await other.waitFor((m) => m.type === 'ScopeSync');
    assert.deepEqual(
      forwarded.fragments.map((f: Any) => [f.type, f.clsName]),
      [
        ['add', 'Shape'],
        ['change', 'Canvas'],
      ],
    );

    // A server-side edit and another client's edit reach the original client.
    canvas.name = 'from server';
    await until(() => root.get('name') === 'from server', 'the server-side edit');
    const first = canvas.shapes.at(0)!;
    const reply = await other.sync(0, [
      { type: 'change', uuid: first.uuid, clsName: 'Shape', properties: { x: 77 } },
    ]);
    assert.deepEqual(reply.fragmentReplies, [{}]);
    await until(() => root.get('shapes').at(0).get('x') === 77, "the other client's edit");
  } finally {
    client?.disconnect();
    await other.close();
    await server.close();
  }
});

test('the original browser client, granted read-only, cannot change the scope', async () => {
  const g = globalThis as Any;
  const received: string[] = [];
  g.WebSocket = class SpyWebSocket extends WebSocket {
    constructor(...args: ConstructorParameters<typeof WebSocket>) {
      super(...args);
      this.on('message', (data) => received.push(String(data)));
    }
  };
  const Jetstream = require('jetstream-original/client');
  const canvas = new Canvas({ name: 'Read only' });
  canvas.shapes.push(new Shape({ x: 1, y: 2, width: 10, height: 10, type: 0 }));
  const scope = new Scope({ name: 'Canvas' });
  scope.setRoot(canvas);
  const server = await createServer({ port: 0 });
  server.on('session', (session, _params, accept) => {
    session.on('fetch', (_name, _p, callback) => callback(null, { scope, readOnly: true }));
    accept();
  });
  const other = await TestClient.session(server.port!);
  let client: Any = null;
  try {
    await other.fetch('Canvas');
    let root: Any;
    ({ client, root } = await connectOriginal(Jetstream, server.port!));
    await until(() => root.get('name') === 'Read only', 'the ScopeState');

    // Its edit reaches the server and is refused: nothing applied, nothing forwarded.
    const changes: unknown[] = [];
    scope.on('changes', (fragments) => changes.push(fragments));
    root.set('name', 'changed by a viewer');
    const replyOf = () => received.find((text) => text.includes('"ScopeSyncReply"'));
    await until(() => replyOf() !== undefined, 'the ScopeSyncReply');
    const reply = (JSON.parse(replyOf()!) as Any[]).find((m) => m.type === 'ScopeSyncReply');
    assert.equal(reply.fragmentReplies.length, 1);
    assert.equal(reply.fragmentReplies[0].error.type, 'rejected');
    assert.match(reply.fragmentReplies[0].error.message, /read-only/);
    assert.equal(canvas.name, 'Read only');
    assert.equal(changes.length, 0);
    await other.barrier();
    assert.equal(other.messages.filter((m) => m.type === 'ScopeSync').length, 0);
  } finally {
    client?.disconnect();
    await other.close();
    await server.close();
  }
});
