// End to end over real sockets, one process: the sync suite (sync-suite.ts: fetch, sync, fan-out,
// atomic, server-side edits, indices and batching, dedupe, acknowledgement and resend after a
// reconnect; docs/protocol.md §2, §3, §5, §7) against one server, and the fetch hook's answers.
// The same suite runs against a cluster in test/cluster/conformance.test.ts.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Scope } from '../../src/scope/scope.js';
import { createServer } from '../../src/server/server.js';
import { TestClient } from '../helpers/ws-client.js';
import { canvasScope, startServer } from './fixture.js';
import { syncSuite } from './sync-suite.js';

/** Checks that the server's indexed messages count 1, 2, 3… without a gap, in arrival order. */
function assertContiguous(c: TestClient, from = 1): void {
  const indices = c.indexed().map((m) => m.index);
  assert.deepEqual(
    indices,
    indices.map((_, i) => from + i),
    `indices ${indices.join(',')}`,
  );
}

syncSuite(
  async () => {
    const f = await startServer();
    return {
      ports: [f.port],
      server: () => f.server,
      serverScope: async () => f.scope,
      cluster: false,
      close: () => f.server.close(),
    };
  },
  {
    // The fetch hook's answers: about one process's hooks, not about syncing.
    fetch: () =>
      test('rootless scope, non-scope answer, denial, throw and rejection: error replies, the session lives on', async () => {
        const rootless = new Scope({ name: 'Rootless' });
        const { scope } = canvasScope();
        const server = await createServer({ port: 0 });
        server.on('session', (session, _params, cb) => {
          session.on('fetch', (name: string, _p: unknown, callback: (e?: unknown, s?: unknown) => void) => {
            if (name === 'Rootless') return callback(null, rootless);
            if (name === 'NotAScope') return callback(null, { name: 'x' });
            if (name === 'Denied') return callback(new Error('You may not'));
            if (name === 'Throws') throw new Error('boom');
            if (name === 'Rejects') return Promise.reject(new Error('async boom'));
            if (name === 'Promise') return Promise.resolve(scope);
            callback(null, scope);
          });
          cb();
        });
        const c = await TestClient.session(server.port!);
        try {
          const rootlessReply = (await c.fetch('Rootless')).reply;
          assert.match(rootlessReply.error.message, /no root/);
          assert.equal(
            (await c.fetch('NotAScope')).reply.error.message,
            'Server tried to accept with non-scope',
          );
          assert.equal((await c.fetch('Denied')).reply.error.message, 'You may not');
          assert.equal((await c.fetch('Throws')).reply.error.message, 'boom');
          assert.equal((await c.fetch('Rejects')).reply.error.message, 'async boom');
          const ok = await c.fetch('Promise');
          assert.equal(ok.reply.scopeIndex, 0);
          assert.equal(ok.state!.rootUUID, scope.root!.uuid);
          assertContiguous(c);
        } finally {
          await c.close();
          await server.close();
        }
      }),
  },
);
