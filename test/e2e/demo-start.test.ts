// `npm start` on a port that is taken must fail with the reason, not hang without listening; a
// configuration mistake is one clear line and exit code 1.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
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

const root = join(__dirname, '..', '..');

/**
 * Runs what `npm start` runs (package.json's script: `node` and the compiled demo, built by
 * `npm run build`, which `npm install` and `npm test` run) until it exits; its exit code and stderr.
 */
function runDemo(env: Record<string, string>): Promise<{ code: number | null; stderr: string }> {
  const start = (
    JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { scripts: { start: string } }
  ).scripts.start;
  const [command, ...args] = start.split(' ');
  assert.equal(command, 'node', `npm start runs node: ${start}`);
  assert.ok(existsSync(join(root, args.at(-1)!)), `${args.at(-1)} is missing: run \`npm run build\``);
  const child = spawn(process.execPath, args, {
    cwd: root,
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

test('/healthz answers 200 while the process runs; /readyz 200 when ready, 503 once shutting down', async () => {
  const demo = await startDemo({
    port: 0,
    host: '127.0.0.1',
    store: new MemoryStore(),
    logger: silent as never,
  });
  const get = async (path: string) => {
    const res = await fetch(`http://127.0.0.1:${demo.port}${path}`);
    return {
      status: res.status,
      type: res.headers.get('content-type'),
      body: (await res.json()) as Record<string, unknown>,
    };
  };
  try {
    const health = await get('/healthz');
    assert.equal(health.status, 200);
    assert.equal(health.type, 'application/json');
    assert.equal(health.body.status, 'ok');
    const ready = await get('/readyz?verbose');
    assert.equal(ready.status, 200);
    assert.deepEqual(ready.body.checks, { server: 'ok', store: 'ok' });
    assert.equal(ready.body.ready, true);
    assert.equal(ready.body.scopes, 2);
    // Shutting down: not ready, while the HTTP server still answers.
    await demo.server.close();
    const draining = await get('/readyz');
    assert.equal(draining.status, 503);
    assert.deepEqual(draining.body.checks, { server: 'shutting down', store: 'ok' });
  } finally {
    await demo.close();
  }
});

test('/readyz is 503 when the store does not answer', async () => {
  const store = new MemoryStore();
  const demo = await startDemo({ port: 0, host: '127.0.0.1', store, logger: silent as never });
  try {
    await store.close(); // every read now fails
    const res = await fetch(`http://127.0.0.1:${demo.port}/readyz`);
    assert.equal(res.status, 503);
    const body = (await res.json()) as { ready: boolean; checks: { store: string } };
    assert.equal(body.ready, false);
    assert.match(body.checks.store, /^unreachable: /);
  } finally {
    await demo.close();
  }
});
