// `npm start` on a port that is taken must fail with the reason, not hang without listening.
import assert from 'node:assert/strict';
import { createServer as createTcpServer } from 'node:net';
import { test } from 'node:test';
import { startDemo } from '../../demo/server.js';
import { MemoryStore } from '../../src/store/memory.js';

const silent = { debug() {}, info() {}, warn() {}, error() {} };

test('startDemo rejects with EADDRINUSE when its port is taken', async () => {
  const blocker = createTcpServer();
  const port = await new Promise<number>((resolve) =>
    blocker.listen(0, '127.0.0.1', () => resolve((blocker.address() as { port: number }).port)),
  );
  try {
    await assert.rejects(
      startDemo({ port, host: '127.0.0.1', store: new MemoryStore(), logger: silent as never }),
      (err: NodeJS.ErrnoException) => err.code === 'EADDRINUSE',
    );
  } finally {
    await new Promise((resolve) => blocker.close(resolve));
  }
});
