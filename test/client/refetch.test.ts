// The client when its scope is fetched again after a new session and the server answers
// `store-failed` (it is rebuilding the scope from its store, docs/protocol.md: nothing was lost,
// it passes; a cluster process does it after it lost a scope's lease, docs/cluster.md): the
// client asks again, and the edit waiting for the scope is re-applied and sent, not dropped.
// Against a scripted server that speaks the wire protocol, so the case happens every time.
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import WebSocket, { WebSocketServer } from 'ws';
import { Canvas, Shape } from '../../demo/models.js';
import { type ClientScope, connect } from '../../src/client/index.js';
import type { ModelObject } from '../../src/model/index.js';
import { waitFor } from '../helpers/wait.js';
import type { Msg } from '../helpers/ws-client.js';

const ROOT = '0b7c2d0e-6a0c-4a8e-9c2f-4f7e4b1d9a10';
const state = (index: number) => ({
  type: 'ScopeState',
  index,
  scopeIndex: 0,
  rootUUID: ROOT,
  fragments: [{ type: 'change', uuid: ROOT, clsName: 'Canvas', properties: { name: 'Shapes', shapes: [] } }],
});

const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
const listening = new Promise((resolve) => wss.once('listening', resolve));
after(() => wss.close());

test('a fetch answered store-failed after a new session is asked again; the waiting edit is sent', async () => {
  /** Every message the clients sent, by connection. */
  const received: Msg[][] = [];
  let connection = 0;
  wss.on('connection', (ws) => {
    const n = connection++;
    const got: Msg[] = [];
    received.push(got);
    let fetches = 0;
    ws.on('message', (data) => {
      // A frame holds a message, or several (the SDK sends a ScopeSync with a Ping in front).
      const parsed = JSON.parse(String(data)) as Msg | Msg[];
      for (const m of Array.isArray(parsed) ? parsed : [parsed]) answer(m);
    });
    const answer = (m: Msg) => {
      got.push(m);
      const send = (...msgs: unknown[]) => ws.send(JSON.stringify(msgs));
      if (m.type === 'SessionCreate') send({ type: 'SessionCreateReply', index: 0, sessionToken: `t${n}` });
      if (m.type === 'ScopeFetch' && n === 0) {
        send({ type: 'ScopeFetchReply', index: 1, replyTo: m.index, scopeIndex: 0 }, state(2));
      }
      // The first session's changeset is never answered: the session ends (outcome unknown).
      if (m.type === 'ScopeSync' && n === 0) ws.close(4097, JSON.stringify({ message: 'gone' }));
      if (m.type === 'ScopeFetch' && n === 1) {
        fetches++;
        if (fetches === 1) {
          const error = { message: 'the scope is being restored', type: 'store-failed' };
          send({ type: 'ScopeFetchReply', index: 1, replyTo: m.index, error });
        } else send({ type: 'ScopeFetchReply', index: 2, replyTo: m.index, scopeIndex: 0 }, state(3));
      }
      if (m.type === 'ScopeSync' && n === 1) {
        const fragmentReplies = (m.fragments as Msg[]).map(() => ({}));
        send({ type: 'ScopeSyncReply', index: 4, replyTo: m.index, fragmentReplies });
      }
    };
  });
  await listening;
  const port = (wss.address() as { port: number }).port;
  const client = await connect(`ws://127.0.0.1:${port}/`, {
    WebSocket,
    minReconnectDelay: 5,
    maxReconnectDelay: 50,
  });
  try {
    const errors: string[] = [];
    client.on('error', (e) => errors.push(e.message));
    const scope = (await client.fetch('Canvas', Canvas)) as unknown as ClientScope<
      ModelObject & { shapes: { push(s: ModelObject): number; length: number } }
    >;
    const shape = new Shape({ x: 1 });
    scope.root!.shapes.push(shape);
    const result = await scope.flush();
    assert.equal(result.status, 'completed', JSON.stringify(result));
    assert.equal(client.status.sessions, 2);
    const second = received[1]!;
    assert.deepEqual(
      second.filter((m) => m.type !== 'Ping').map((m) => [m.type, m.index]),
      [
        ['SessionCreate', 0],
        ['ScopeFetch', 1],
        ['ScopeFetch', 2],
        ['ScopeSync', 3],
      ],
      'the fetch is asked again, then the edit is re-sent',
    );
    const sync = second.find((m) => m.type === 'ScopeSync')!;
    assert.ok((sync.fragments as Msg[]).some((f) => f.type === 'add' && f.uuid === shape.uuid));
    assert.deepEqual(errors, ['the scope is being restored']);
    await waitFor(() => scope.scopeIndex === 0, { message: 'the scope is live again' });
    assert.equal(scope.root!.shapes.length, 1);
  } finally {
    client.close();
  }
});
