// The client against one real server over WebSockets: the SDK suite (e2e-suite.ts: convergence,
// a lost socket mid-edit, an expired session, rejections) and what only concerns one process's
// sockets: the connect timeout and how a resume presents its token. The same suite runs against
// a cluster in test/cluster/conformance.test.ts.
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import WebSocket from 'ws';
import { Canvas } from '../../demo/models.js';
import { type Client, connect } from '../../src/client/index.js';
import { waitFor } from '../helpers/wait.js';
import { clientSuite } from './e2e-suite.js';
import { flakySocket, startServer } from './helpers.js';

const clients: Client[] = [];
after(() => {
  for (const c of clients) c.close();
});

clientSuite(
  async () => {
    const { server, canvas, url } = await startServer();
    return { urls: [url], servers: [server], serverScope: async () => canvas, close: () => server.close() };
  },
  () => {
    test('connectTimeout: connect() rejects (connect-timeout) when no server answers, and closes the client', async () => {
      const { createServer: createTcp } = await import('node:net');
      const port = await new Promise<number>((resolve) => {
        const probe = createTcp().listen(0, '127.0.0.1', () => {
          const p = (probe.address() as { port: number }).port;
          probe.close(() => resolve(p)); // nothing listens there any more
        });
      });
      await assert.rejects(
        connect(`ws://127.0.0.1:${port}/`, { WebSocket, connectTimeout: 300, minReconnectDelay: 50 }),
        (err: Error & { type?: string }) =>
          err.type === 'connect-timeout' && /No session within 300 ms/.test(err.message),
      );
    });

    test('a resume presents the token in a header with ws, never in the URL; in the query when asked', async () => {
      const { server, url } = await startServer();
      try {
        for (const mode of ['header', 'query'] as const) {
          const { FlakySocket, sockets, opened } = flakySocket();
          const client = await connect(url, {
            WebSocket: FlakySocket,
            minReconnectDelay: 5,
            maxReconnectDelay: 50,
            ...(mode === 'query' ? { sessionTokenIn: 'query' as const } : {}),
          });
          clients.push(client);
          await client.fetch('Canvas', Canvas);
          const sessions = server.sessions.length;
          sockets.at(-1)!.terminate();
          await waitFor(() => opened.length >= 2 && client.status.connected, { message: 'reconnected' });
          const resume = opened[1]!;
          const token = server.sessions.at(-1)!.token;
          if (mode === 'header') {
            assert.equal(resume.headers['X-Jetstream-SessionToken'], token);
            assert.ok(!resume.url.includes('sessiontoken'), resume.url);
          } else {
            assert.ok(resume.url.includes(`x-jetstream-sessiontoken=${token}`), resume.url);
            assert.equal(resume.headers['X-Jetstream-SessionToken'], undefined);
          }
          assert.equal(server.sessions.length, sessions, 'the session was resumed, not replaced');
          assert.equal(client.status.sessions, 1);
          client.close();
        }
      } finally {
        await server.close();
      }
    });
  },
);
