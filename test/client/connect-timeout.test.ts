// connect() gives up after `connectTimeout` ms (default 10 s) when no server answers, and says
// why; once a session opened, the client reconnects with backoff for as long as it is open.
// Real sockets: a port nothing listens on (refused), a TCP server that accepts and never answers
// the WebSocket upgrade, and a real Jetstream server that goes away and comes back. The default
// is checked through a mocked clock, so no test waits 10 s.
import assert from 'node:assert/strict';
import { createServer as createTcpServer, type Socket, type Server as TcpServer } from 'node:net';
import { after, describe, mock, test } from 'node:test';
import WebSocket from 'ws';
import { Canvas } from '../../demo/models.js';
import {
  type Client,
  connect,
  DEFAULT_CONNECT_TIMEOUT,
  ErrorCode,
  JetstreamClientError,
} from '../../src/client/index.js';
import { createServer, type Server } from '../../src/server/index.js';
import { waitFor } from '../helpers/wait.js';
import { startServer } from './helpers.js';

const cleanup: (() => unknown)[] = [];
after(async () => {
  for (const fn of cleanup.reverse()) await fn();
});

/** A port that refuses connections: it was free a moment ago and nothing listens on it. */
async function refusingPort(): Promise<number> {
  return new Promise<number>((resolve) => {
    const probe = createTcpServer().listen(0, '127.0.0.1', () => {
      const port = (probe.address() as { port: number }).port;
      probe.close(() => resolve(port));
    });
  });
}

/** A TCP server that accepts every connection, reads what comes and never writes a byte. */
async function silentServer(): Promise<{
  port: number;
  sockets: Socket[];
  closed: Set<Socket>;
  server: TcpServer;
}> {
  const sockets: Socket[] = [];
  const closed = new Set<Socket>();
  const server = createTcpServer((socket) => {
    sockets.push(socket);
    socket.on('error', () => {});
    socket.on('close', () => closed.add(socket));
    socket.resume(); // the upgrade request is read and ignored
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanup.push(
    () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  );
  return { port: (server.address() as { port: number }).port, sockets, closed, server };
}

/** A `ws` WebSocket class that lists its instances, to see what the client opened and closed. */
function recordingSocket() {
  const sockets: WebSocket[] = [];
  class Recording extends WebSocket {
    constructor(url: string, protocols?: string | string[], options?: { headers?: Record<string, string> }) {
      super(url, protocols, options);
      sockets.push(this);
    }
  }
  return { Recording, sockets };
}

function isTimeout(err: unknown, pattern: RegExp): boolean {
  return (
    err instanceof JetstreamClientError &&
    err.code === ErrorCode.CLIENT_CONNECT_TIMEOUT &&
    err.type === 'connect-timeout' &&
    pattern.test(err.message)
  );
}

describe('connect(): connectTimeout', () => {
  test('a refused port: rejects with connect-timeout, saying every attempt failed', async () => {
    const port = await refusingPort();
    const url = `ws://127.0.0.1:${port}/`;
    const { Recording, sockets } = recordingSocket();
    await assert.rejects(
      connect(url, {
        WebSocket: Recording,
        connectTimeout: 300,
        minReconnectDelay: 20,
        maxReconnectDelay: 40,
      }),
      (err) =>
        isTimeout(
          err,
          new RegExp(`^No session within 300 ms \\(connectTimeout\\) from ${url}: every attempt failed`),
        ),
    );
    // It did retry meanwhile (backoff), and stopped: the last socket is closed or closing.
    assert.ok(sockets.length >= 2, `attempts: ${sockets.length}`);
    assert.ok(sockets.at(-1)!.readyState >= WebSocket.CLOSING);
  });

  test('a server that accepts TCP but never answers the upgrade: rejects, and drops the socket', async () => {
    const { port, sockets, closed } = await silentServer();
    const url = `ws://127.0.0.1:${port}/`;
    await assert.rejects(connect(url, { WebSocket, connectTimeout: 300 }), (err) =>
      isTimeout(err, /No session within 300 ms \(connectTimeout\).*did not answer the WebSocket handshake/),
    );
    assert.equal(sockets.length, 1, 'one attempt, still waiting for its handshake when the time ran out');
    // The client closed the connection it was waiting on.
    await waitFor(() => closed.has(sockets[0]!), { message: 'the socket closed' });
  });

  test('the default limit is 10 000 ms (mocked clock: the rejection comes at 10 000 ms, not before)', async (t) => {
    assert.equal(DEFAULT_CONNECT_TIMEOUT, 10_000);
    t.mock.timers.enable({ apis: ['setTimeout'] });
    t.after(() => mock.timers.reset());
    // A socket that never opens and never fails: the client waits for it.
    const opened: string[] = [];
    class Silent {
      readyState = 0;
      onopen = null;
      onmessage = null;
      onclose = null;
      onerror = null;
      constructor(url: string) {
        opened.push(url);
      }
      send(): void {}
      close(): void {
        this.readyState = 3;
      }
    }
    let outcome: unknown = 'pending';
    const done = connect('ws://example.invalid/', { WebSocket: Silent }).then(
      () => {
        outcome = 'resolved';
      },
      (err: unknown) => {
        outcome = err;
      },
    );
    t.mock.timers.tick(DEFAULT_CONNECT_TIMEOUT - 1);
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(outcome, 'pending');
    t.mock.timers.tick(1);
    await done;
    assert.ok(isTimeout(outcome, /^No session within 10000 ms \(connectTimeout\)/), String(outcome));
    assert.deepEqual(opened, ['ws://example.invalid/']);
  });

  test('connectTimeout: 0 means no limit; a negative or NaN value is a RangeError', async (t) => {
    t.mock.timers.enable({ apis: ['setTimeout'] });
    t.after(() => mock.timers.reset());
    class Silent {
      readyState = 0;
      onopen = null;
      onmessage = null;
      onclose = null;
      onerror = null;
      send(): void {}
      close(): void {}
    }
    let settled = false;
    void connect('ws://example.invalid/', { WebSocket: Silent, connectTimeout: 0 }).then(
      () => {
        settled = true;
      },
      () => {
        settled = true;
      },
    );
    t.mock.timers.tick(24 * 3600 * 1000);
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(settled, false);
    await assert.rejects(
      connect('ws://example.invalid/', { WebSocket: Silent, connectTimeout: -1 }),
      RangeError,
    );
    await assert.rejects(
      connect('ws://example.invalid/', { WebSocket: Silent, connectTimeout: Number.NaN }),
      RangeError,
    );
  });

  test('after a first session, the client keeps reconnecting past connectTimeout, and resumes', async () => {
    const first = await startServer();
    const port = first.server.port;
    const { Recording, sockets } = recordingSocket();
    const client: Client = await connect(first.url, {
      WebSocket: Recording,
      connectTimeout: 200,
      minReconnectDelay: 50,
      maxReconnectDelay: 50,
    });
    cleanup.push(() => client.close());
    await client.fetch('Canvas', Canvas);
    await first.server.close();
    // Each retry waits at least 25 ms (half the 50 ms delay, jitter): ten retries outlast the
    // 200 ms limit, and the client is still trying.
    await waitFor(() => sockets.length >= 12, { timeout: 20_000, message: 'ten reconnect attempts' });
    assert.equal(client.status.state, 'reconnecting');
    const second: Server = await createServer({ port, scopes: [first.canvas, first.chat] });
    cleanup.push(() => second.close());
    await waitFor(() => client.status.connected, { timeout: 20_000, message: 'reconnected' });
    assert.equal(client.status.state, 'connected');
  });
});
