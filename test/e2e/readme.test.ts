// The seed README's server example runs as written against the package, and a client fetches
// `Canvas` from it; the ESM face of the package works too. Both run as child processes with
// `node`, so that `jetstream` resolves to this package through package.json "exports" (dist/,
// which `npm test` builds first). The README code lives in fixtures/readme-example.js.txt
// (a .txt so that the formatter never touches it) and runs with `node -e`.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { waitFor } from '../helpers/wait.js';
import { type Msg, TestClient } from '../helpers/ws-client.js';

const root = join(__dirname, '..', '..');
const fixtures = join(__dirname, 'fixtures');

/** These tests need dist/ (npm test builds it first); without it they fail, never skip. */
function assertBuilt(): void {
  const built = existsSync(join(root, 'dist', 'main.cjs')) && existsSync(join(root, 'dist', 'index.mjs'));
  assert.ok(built, 'dist/ is missing: run `npm run build` (npm test does)');
}

/** A free TCP port (bound then released). */
async function freePort(): Promise<number> {
  const { createServer } = await import('node:net');
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}

/** Connects, retrying (bounded) while the child process starts listening. */
function connectWhenUp(port: number, child: ChildProcess, stderr: () => string): Promise<TestClient> {
  let last: unknown;
  return waitFor(
    async () => {
      if (child.exitCode !== null) throw new Error(`README server exited (${child.exitCode}): ${stderr()}`);
      try {
        return await TestClient.connect(port);
      } catch (err) {
        last = err;
        return undefined;
      }
    },
    {
      timeout: 15_000,
      interval: 50,
      message: () => `the README server on port ${port} (last error: ${String(last)}); stderr: ${stderr()}`,
    },
  );
}

test('the README server example runs as written and serves Canvas', async () => {
  assertBuilt();
  const source = readFileSync(join(fixtures, 'readme-example.js.txt'), 'utf8');
  assert.equal(source.split('{port: 3000}').length, 2, 'the example listens on {port: 3000}');
  const port = await freePort();
  // `node -e` resolves require() from the working directory: the package root, so
  // `require('jetstream')` is the package's self-reference.
  const child = spawn(process.execPath, ['-e', source.replace('{port: 3000}', `{port: ${port}}`)], {
    cwd: root,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (d) => (stderr += d));
  let c: TestClient | null = null;
  try {
    c = await connectWhenUp(port, child, () => stderr);
    const created = await c.handshake({});
    assert.equal(typeof created.sessionToken, 'string');
    const denied = await c.fetch('Other');
    assert.deepEqual(denied.reply.error, { message: 'No such scope', type: 'rejected' });
    const { reply, state } = await c.fetch('Canvas');
    assert.equal(reply.scopeIndex, 0);
    const rootFragment = state!.fragments[0] as Msg;
    assert.equal(rootFragment.clsName, 'Canvas');
    assert.equal(rootFragment.uuid, state!.rootUUID);
    assert.equal(rootFragment.properties.name, 'Shapes Demo');
    assert.deepEqual(rootFragment.properties.shapes, []);
    // And a change round-trips.
    const r = await c.sync(0, [
      { type: 'change', uuid: state!.rootUUID, clsName: 'Canvas', properties: { name: 'x' } },
    ]);
    assert.deepEqual(r.fragmentReplies, [{}]);
  } finally {
    await c?.close();
    child.kill();
    await new Promise((r) => (child.exitCode !== null ? r(null) : child.once('exit', r)));
  }
  assert.equal(stderr, '');
});

test('ESM: default export, named exports, createServer({port}) and await close()', () => {
  assertBuilt();
  const r = spawnSync(process.execPath, [join(fixtures, 'esm-api.mjs')], {
    cwd: root,
    encoding: 'utf8',
    timeout: 30_000,
  });
  assert.equal(r.status, 0, r.stderr);
  const checks = JSON.parse(r.stdout) as [string, boolean][];
  for (const [name, ok] of checks) assert.ok(ok, name);
  assert.equal(checks.length, 8);
});

test('CommonJS: require("jetstream") is the callable; jetstream({port}) starts a server', () => {
  assertBuilt();
  const script = `
    const jetstream = require('jetstream');
    const server = jetstream({ port: 0 });
    server.on('listening', async () => {
      const ok = typeof server.port === 'number' && server.port > 0 && typeof jetstream.createServer === 'function';
      await server.close();
      process.stdout.write(ok ? 'ok' : 'bad');
    });`;
  const r = spawnSync(process.execPath, ['-e', script], { cwd: root, encoding: 'utf8', timeout: 30_000 });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, 'ok');
});

test("this README's five-minute tutorial runs as written (ESM, against the built package)", () => {
  assertBuilt();
  const readme = readFileSync(join(root, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('## Five-minute tutorial'));
  const match = /```ts\n([\s\S]*?)```/.exec(section);
  assert.ok(match, 'the tutorial has a ts code block');
  const code = match[1]!;
  assert.equal(code.split('port: 3000').length, 2, 'the tutorial listens on port 3000');
  // Plain JavaScript as written; only the port changes, and the script reports and closes.
  const script =
    code.replace('port: 3000', 'port: 0') +
    `
await new Promise((r) => setImmediate(r));
console.log(JSON.stringify({ name: canvas.name, shapes: canvas.shapes.length, objects: scope.size, port: server.port }));
await server.close();
`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
    cwd: root,
    encoding: 'utf8',
    timeout: 30_000,
  });
  assert.equal(r.status, 0, r.stderr);
  const out = JSON.parse(r.stdout.trim().split('\n').at(-1)!);
  assert.deepEqual(
    { ...out, port: typeof out.port },
    { name: 'Shapes', shapes: 1, objects: 2, port: 'number' },
  );
});
