// One conformance suite for every Transport (docs/architecture.md: adapters behind interfaces, one shared
// suite). A transport under test comes with a way to open a client end to it; everything the
// server relies on is checked here, the same way for each implementation.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Connection, ConnectionHandler, InboundData, Transport } from '../../src/transport/types.js';
import { waitFor } from '../helpers/wait.js';

/** The client end of a connection, as the suite drives it. */
export interface ClientEnd {
  send(text: string): void;
  close(code: number, reason: string): void;
  /** Frames received from the server, as text, in order. */
  readonly received: string[];
  /** Set once the client end saw the close. */
  readonly closed: { code: number; reason: string } | null;
}

export interface TransportUnderTest {
  transport: Transport;
  /** Opens a client end with these upgrade headers and this URL path + query. */
  open(headers: Record<string, string>, path: string): Promise<ClientEnd>;
  close(): Promise<void>;
}

/** A handler that records what a connection delivers. */
function recorder(): ConnectionHandler & { frames: InboundData[]; closes: [number, string][] } {
  const frames: InboundData[] = [];
  const closes: [number, string][] = [];
  return {
    frames,
    closes,
    onMessage: (_c, data) => frames.push(data),
    onClose: (_c, code, reason) => closes.push([code, reason]),
  };
}

const text = (d: InboundData) =>
  typeof d === 'string' ? d : new TextDecoder().decode(d instanceof Uint8Array ? d : new Uint8Array(d));

export function runTransportConformance(name: string, make: () => Promise<TransportUnderTest>): void {
  describe(`Transport conformance: ${name}`, () => {
    async function withConnection(
      headers: Record<string, string>,
      path: string,
      fn: (conn: Connection, client: ClientEnd) => Promise<void>,
    ): Promise<void> {
      const t = await make();
      const conns: Connection[] = [];
      await t.transport.listen((c) => conns.push(c));
      try {
        const client = await t.open(headers, path);
        const conn = await waitFor(() => conns[0], { message: 'the connection' });
        await fn(conn, client);
      } finally {
        await t.close();
      }
    }

    test('parameters from x-jetstream-* headers and query; headers until releaseHandshake()', () =>
      withConnection(
        { 'X-Jetstream-Token': 'abc', Other: 'x' },
        '/?x-jetstream-UserId=7&plain=1',
        async (conn) => {
          assert.deepEqual({ ...conn.params }, { token: 'abc', UserId: '7' });
          assert.equal(conn.headers['x-jetstream-token'], 'abc');
          assert.equal(conn.isOpen, true);
          conn.releaseHandshake();
          assert.deepEqual(conn.headers, {});
          assert.deepEqual({ ...conn.params }, { token: 'abc', UserId: '7' }, 'params stay');
        },
      ));

    test('frames arrive in order in both directions', () =>
      withConnection({}, '/', async (conn, client) => {
        const r = recorder();
        conn.setHandler(r);
        for (let i = 0; i < 20; i++) client.send(`c${i}`);
        for (let i = 0; i < 20; i++) conn.send(`s${i}`);
        await waitFor(() => r.frames.length === 20, { message: 'client frames' });
        await waitFor(() => client.received.length === 20, { message: 'server frames' });
        assert.deepEqual(
          r.frames.map(text),
          Array.from({ length: 20 }, (_, i) => `c${i}`),
        );
        assert.deepEqual(
          client.received,
          Array.from({ length: 20 }, (_, i) => `s${i}`),
        );
      }));

    test('one handler at a time: after setHandler, frames go to the new one only', () =>
      withConnection({}, '/', async (conn, client) => {
        const first = recorder();
        const second = recorder();
        conn.setHandler(first);
        client.send('one');
        await waitFor(() => first.frames.length === 1, { message: 'first frame' });
        conn.setHandler(second);
        client.send('two');
        client.close(4000, 'bye');
        await waitFor(() => second.closes.length === 1, { message: 'close on the second handler' });
        assert.deepEqual(first.frames.map(text), ['one']);
        assert.deepEqual(second.frames.map(text), ['two']);
        assert.deepEqual(first.closes, []);
      }));

    test('the server closes with a code and reason; the client sees them; sends afterwards are no-ops', () =>
      withConnection({}, '/', async (conn, client) => {
        const r = recorder();
        conn.setHandler(r);
        conn.close(4096, '{"message":"denied","type":"rejected"}');
        const closed = await waitFor(() => client.closed, { message: 'client close' });
        assert.equal(closed.code, 4096);
        assert.equal(closed.reason, '{"message":"denied","type":"rejected"}');
        await waitFor(() => !conn.isOpen, { message: 'closed state' });
        conn.send('late');
        conn.close(4097, 'again');
        await new Promise((res) => setTimeout(res, 20));
        assert.deepEqual(client.received, []);
      }));

    test('the client closes; the handler hears the code once', () =>
      withConnection({}, '/', async (conn, client) => {
        const r = recorder();
        conn.setHandler(r);
        client.close(4000, 'bye');
        await waitFor(() => r.closes.length === 1, { message: 'close seen by the server' });
        assert.equal(r.closes[0]![0], 4000);
        assert.equal(conn.isOpen, false);
        await new Promise((res) => setTimeout(res, 20));
        assert.equal(r.closes.length, 1);
      }));

    test('close() stops the transport and closes open connections', async () => {
      const t = await make();
      const conns: Connection[] = [];
      await t.transport.listen((c) => conns.push(c));
      const client = await t.open({}, '/');
      const conn = await waitFor(() => conns[0], { message: 'the connection' });
      conn.setHandler(recorder());
      await t.close();
      await waitFor(() => client.closed, { message: 'client sees the close' });
      assert.equal(conn.isOpen, false);
    });
  });
}
