// `npm start` on a port that is taken must fail with the reason, not hang without listening; a
// configuration mistake is one clear line and exit code 1.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer as createTcpServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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

/** Runs `npm start`'s script in a child process until it exits; its exit code and stderr. */
function runDemo(env: Record<string, string>): Promise<{ code: number | null; stderr: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', join(__dirname, '../../demo/server.ts')], {
    env: { ...process.env, LOG_LEVEL: 'info', PORT: '0', ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  return new Promise((resolve) => child.once('exit', (code) => resolve({ code, stderr })));
}

test('a configuration mistake exits 1 with one line naming it: a bad DATABASE_URL, a SQLite file in use', async () => {
  const bad = await runDemo({ DATABASE_URL: 'mysql://root:secret@db:3306/app' });
  assert.equal(bad.code, 1);
  assert.equal(
    bad.stderr.trim(),
    'jetstream: DATABASE_URL must be a postgres:// or postgresql:// URL (got mysql://db:3306); unset it to use SQLite',
  );

  const dataDir = mkdtempSync(join(tmpdir(), 'jetstream-demo-lock-'));
  const first = await startDemo({ port: 0, host: '127.0.0.1', dataDir, logger: silent as never });
  try {
    const second = await runDemo({ JETSTREAM_DATA_DIR: dataDir, DATABASE_URL: '' });
    assert.equal(second.code, 1);
    assert.equal(second.stderr.trim().split('\n').length, 1, second.stderr);
    assert.match(
      second.stderr,
      /^jetstream: SQLite store: cannot open .*jetstream\.db: .* is in use by another process/,
    );
  } finally {
    await first.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
});
