// Transports: connection parameters, the in-memory transport, and the WebSocket transport on
// its own (no server): options, frames in both directions, close codes, size limit.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { connect as connectTcp } from 'node:net';
import { describe, test } from 'node:test';
import { WebSocket } from 'ws';
import { Canvas } from '../../demo/models.js';
import { Scope } from '../../src/scope/scope.js';
import { createServer } from '../../src/server/server.js';
import { MemoryTransport } from '../../src/transport/memory.js';
import { connectionParams } from '../../src/transport/params.js';
import type { Connection, InboundData } from '../../src/transport/types.js';
import { WebsocketTransport } from '../../src/transport/websocket.js';
import { waitFor } from '../helpers/wait.js';

describe('connection parameters', () => {
  test('x-jetstream-* headers (lowercased) and query keys (case kept), prefix removed', () => {
    const p = connectionParams(
      {
        'X-Jetstream-SessionToken': 'T',
        'x-jetstream-multi': ['a', 'b'],
        host: 'h',
        'x-jetstream-': 'empty',
      },
      '/path?x-jetstream-UserId=42&X-JETSTREAM-other=1&plain=2',
    );
    assert.deepEqual({ ...p }, { sessiontoken: 'T', multi: 'a, b', UserId: '42', other: '1' });
  });

  test('prototype-polluting keys are dropped; the params object has no prototype', () => {
    const p = connectionParams(
      { 'x-jetstream-__proto__': 'x', 'x-jetstream-constructor': 'y' },
      '/?x-jetstream-prototype=z',
    );
    assert.deepEqual(Object.keys(p), []);
    assert.equal(Object.getPrototypeOf(p), null);
  });
});

describe('MemoryTransport', () => {
  test('a whole session over the in-memory transport, params from the url', async () => {
    const root = new Canvas();
    root.name = 'mem';
    const scope = new Scope({ name: 'Canvas' });
    scope.setRoot(root);
    const transport = new MemoryTransport();
    const server = await createServer({ transports: [transport], scopes: [scope] });
    const seen: Record<string, string>[] = [];
    server.on('connection', (c) => {
      seen.push({ ...c.params });
    });
    try {
      const socket = transport.connect({
        url: '/?x-jetstream-user=u1',
        headers: { 'X-Jetstream-Device': 'd' },
      });
      const frames: string[] = [];
      socket.on('message', (d) => frames.push(d));
      socket.send(JSON.stringify({ type: 'SessionCreate', index: 0, version: '0.2.0' }));
      assert.equal(frames.length, 0, 'delivery is asynchronous, as on a socket');
      await waitFor(() => frames[0], { message: 'SessionCreateReply' });
      const token = JSON.parse(frames[0]!)[0].sessionToken as string;
      socket.send(JSON.stringify({ type: 'ScopeFetch', index: 1, name: 'Canvas' }));
      await waitFor(() => frames[1], { message: 'fetch reply' });
      assert.deepEqual(
        JSON.parse(frames[1]!).map((m: { type: string }) => m.type),
        ['ScopeFetchReply', 'ScopeState'],
      );
      assert.deepEqual(seen, [{ device: 'd', user: 'u1' }]);

      // Resume on a second memory socket: the first is closed by the server.
      let closed: [number, string] | null = null;
      socket.on('close', (code, reason) => (closed = [code, reason]));
      const again = transport.connect({ headers: { 'x-jetstream-sessiontoken': token } });
      await waitFor(() => closed, { message: 'old socket closed' });
      assert.equal(closed![0], 1000);
      const frames2: string[] = [];
      again.on('message', (d) => frames2.push(d));
      again.send(JSON.stringify({ type: 'Ping', index: 0, ack: 0, resendMissing: true }));
      await waitFor(() => frames2[0], { message: 'resend' });
      assert.deepEqual(
        JSON.parse(frames2[0]!).map((m: { type: string }) => m.type),
        ['Ping', 'ScopeFetchReply', 'ScopeState'],
      );

      // Unknown token: closed with 4096.
      const bad = transport.connect({ url: '/?x-jetstream-sessiontoken=nope' });
      let badClose: number | null = null;
      bad.on('close', (code) => (badClose = code));
      await waitFor(() => badClose, { message: 'bad token close' });
      assert.equal(badClose, 4096);
    } finally {
      await server.close();
    }
    assert.throws(() => transport.connect(), /not listening/);
  });

  test('closing either end closes both; sends after close are no-ops', async () => {
    const transport = new MemoryTransport();
    let conn: Connection | null = null;
    await transport.listen((c) => (conn = c));
    const socket = transport.connect();
    const got: InboundData[] = [];
    let serverSaw: number | null = null;
    conn!.setHandler({ onMessage: (_c, d) => got.push(d), onClose: (_c, code) => (serverSaw = code) });
    socket.close(4000, 'bye');
    assert.equal(conn!.isOpen, false);
    socket.send('late');
    conn!.send('late');
    await waitFor(() => serverSaw, { message: 'close' });
    assert.equal(serverSaw, 4000);
    assert.deepEqual(got, []);
    await transport.close();
  });
});

describe('WebsocketTransport', () => {
  test('configure requires exactly one of port and server, and a valid port', () => {
    assert.throws(() => WebsocketTransport.configure({}), /exactly one/);
    assert.throws(() => WebsocketTransport.configure({ port: -1 }), /Invalid port/);
    assert.throws(() => WebsocketTransport.configure({ port: 1.5 }), /Invalid port/);
    assert.equal(WebsocketTransport.configure({ port: 0 }).port, undefined, 'no port before listen');
  });

  test('text and binary frames in, text frames out, close codes and reasons, maxPayload, path', async () => {
    const t = new WebsocketTransport({ port: 0, host: '127.0.0.1', path: '/sync', maxPayload: 1000 });
    const conns: Connection[] = [];
    await t.listen((c) => conns.push(c));
    try {
      const refused = new WebSocket(`ws://127.0.0.1:${t.port}/other`);
      await new Promise((resolve) => refused.on('error', resolve));

      const ws = new WebSocket(`ws://127.0.0.1:${t.port}/sync?x-jetstream-a=1`, {
        headers: { 'X-Jetstream-B': '2' },
      });
      const received: string[] = [];
      ws.on('message', (d, isBinary) => received.push(`${isBinary}:${d.toString()}`));
      await new Promise((r) => ws.on('open', r));
      const conn = await waitFor(() => conns[0], { message: 'connection' });
      assert.deepEqual({ ...conn.params }, { b: '2', a: '1' });
      assert.equal(conn.headers['x-jetstream-b'], '2');
      assert.equal(typeof conn.remoteAddress, 'string');
      const inbound: InboundData[] = [];
      conn.setHandler({ onMessage: (_c, d) => inbound.push(d), onClose: () => {} });
      ws.send('text');
      ws.send(Buffer.from('bin'));
      await waitFor(() => inbound.length === 2, { message: 'inbound' });
      assert.equal(inbound[0], 'text');
      assert.equal(Buffer.from(inbound[1] as Uint8Array).toString(), 'bin');
      conn.send('[1]');
      await waitFor(() => received[0], { message: 'outbound' });
      assert.equal(received[0], 'false:[1]');

      let closeCode: number | null = null;
      ws.on('close', (code) => (closeCode = code));
      ws.send('x'.repeat(2000)); // over maxPayload
      await waitFor(() => closeCode, { message: 'close 1009' });
      assert.equal(closeCode, 1009);
      assert.equal(conn.isOpen, false);
      conn.send('after close'); // a no-op
      conn.close(4096, 'again'); // a no-op

      const ws2 = new WebSocket(`ws://127.0.0.1:${t.port}/sync`);
      await new Promise((r) => ws2.on('open', r));
      const conn2 = await waitFor(() => conns[1], { message: 'second connection' });
      let info: [number, string] | null = null;
      ws2.on('close', (code, reason) => (info = [code, reason.toString()]));
      conn2.close(4097, '{"message":"Session closed"}');
      await waitFor(() => info, { message: 'close 4097' });
      assert.deepEqual(info, [4097, '{"message":"Session closed"}']);
    } finally {
      await t.close();
    }
    await t.close(); // idempotent
  });

  test('close() closes open sockets with 1001 after their handshake; one that never answers is cut', async () => {
    const t = new WebsocketTransport({ port: 0 });
    await t.listen(() => {});
    const port = t.port!;
    // A client that keeps writing while the server shuts down still sees a clean 1001.
    const ws = new WebSocket(`ws://127.0.0.1:${port}/`);
    await new Promise((r) => ws.on('open', r));
    const closed = new Promise<number>((r) => ws.on('close', (code) => r(code)));
    const writing = setInterval(() => ws.readyState === ws.OPEN && ws.send('[]'), 1);
    // A client that upgrades and then never reads nor answers the close frame.
    const silent = connectTcp(port, '127.0.0.1');
    silent.write(
      `GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
    );
    await new Promise((r) => silent.once('data', r)); // 101 Switching Protocols
    silent.pause();
    const silentClosed = new Promise((r) => silent.once('close', r));
    try {
      await t.close();
      assert.equal(await closed, 1001);
      silent.resume();
      await silentClosed; // cut by the server after the grace period
      // Nothing listens any more.
      const refused = new WebSocket(`ws://127.0.0.1:${port}/`);
      await new Promise<void>((resolve) => refused.on('error', () => resolve()));
    } finally {
      clearInterval(writing);
      silent.destroy();
    }
  });
});
