// `npm start` runs compiled JavaScript (demo/build/, from `npm run build`), so it needs no
// devDependency at run time: here it runs from an install holding only the package's runtime
// dependencies and the SQLite driver (no tsx, esbuild or TypeScript), serves the page, the
// prebuilt script and the demo's scopes, honours PORT and JETSTREAM_DATA_DIR, and stops on
// SIGTERM. With DATABASE_URL or REDIS_URL and the matching driver missing, it exits with one
// line naming the package to install.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { TestClient } from '../helpers/ws-client.js';
import { installBuilt, pkg, root } from './install.js';

/** package.json's start script, as the arguments of `node`. */
function startArgs(): string[] {
  const [command, ...args] = pkg.scripts.start!.split(' ');
  assert.equal(command, 'node');
  return args;
}

describe('npm start', () => {
  test('is node on the compiled demo; the tools that compile it are devDependencies only', () => {
    const args = startArgs();
    assert.deepEqual(args, ['demo/build/server.js'], 'no loader (tsx), no TypeScript');
    for (const tool of ['tsx', 'esbuild', 'typescript']) {
      assert.equal(pkg.dependencies[tool], undefined, `${tool} is not a runtime dependency`);
      assert.equal(typeof pkg.devDependencies[tool], 'string', `${tool} is a devDependency`);
    }
  });

  test('runs without devDependencies: page, prebuilt script, scopes, PORT, data dir, SIGTERM', async () => {
    const install = installBuilt({ extra: ['better-sqlite3'], demo: true });
    const dataDir = mkdtempSync(join(tmpdir(), 'jetstream-start-'));
    const child = spawn(process.execPath, startArgs(), {
      cwd: install.packageDir,
      env: { ...process.env, NODE_OPTIONS: '', PORT: '0', JETSTREAM_DATA_DIR: dataDir, LOG_LEVEL: 'info' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => (stderr += d));
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    let client: TestClient | null = null;
    try {
      // PORT=0: the log line says which port it got (JSON lines: stdout is not a terminal).
      const port = await new Promise<number>((resolve, reject) => {
        child.stdout!.on('data', (d: Buffer) => {
          stdout += d;
          const m = /Jetstream demo listening on http:\/\/localhost:(\d+)/.exec(stdout);
          if (m) resolve(Number(m[1]));
        });
        void exited.then((code) => reject(new Error(`npm start exited (${code}): ${stderr}`)));
      });
      assert.match(stdout, /"store":"sqlite"/);
      const get = async (path: string) => {
        const res = await fetch(`http://127.0.0.1:${port}${path}`);
        return { status: res.status, type: res.headers.get('content-type'), body: await res.text() };
      };
      const page = await get('/');
      assert.equal(page.status, 200);
      assert.match(page.body, /<script[^>]+src="\/?app\.js"/);
      const app = await get('/app.js');
      assert.equal(app.status, 200);
      assert.equal(app.type, 'text/javascript; charset=utf-8');
      assert.equal(app.body, readFileSync(join(root, 'demo', 'build', 'public', 'app.js'), 'utf8'));
      assert.equal((await get('/style.css')).status, 200);
      assert.equal((await get('/readyz')).status, 200);

      client = await TestClient.connect(port);
      await client.handshake({});
      const { state } = await client.fetch('Canvas');
      assert.equal((state!.fragments[0] as { clsName: string }).clsName, 'Canvas');
      assert.ok(existsSync(join(dataDir, 'jetstream.db')), 'the SQLite file is under JETSTREAM_DATA_DIR');
    } finally {
      await client?.close();
      child.kill('SIGTERM');
      const code = await exited;
      rmSync(dataDir, { recursive: true, force: true });
      install.remove();
      assert.equal(code, 0, `stopped cleanly on SIGTERM; stderr: ${stderr}`);
    }
    assert.equal(stderr, '');
  });

  test('a driver that is missing for the configuration is one line naming the package', async () => {
    const withoutDrivers = installBuilt({ demo: true });
    const withPg = installBuilt({ extra: ['pg'], demo: true });
    const dataDir = mkdtempSync(join(tmpdir(), 'jetstream-start-'));
    const run = async (install: typeof withPg, env: Record<string, string>) => {
      const out = await install.node(startArgs(), {
        cwd: install.packageDir,
        env: {
          PORT: '0',
          JETSTREAM_DATA_DIR: dataDir,
          DATABASE_URL: '',
          REDIS_URL: '',
          LOG_LEVEL: 'info',
          ...env,
        },
      });
      assert.equal(out.code, 1, out.stderr);
      return out.stderr;
    };
    try {
      assert.equal(
        await run(withoutDrivers, {}),
        'jetstream: The SQLite store needs the package better-sqlite3, which is not installed: run `npm install better-sqlite3@^12.11.1`\n',
      );
      assert.equal(
        await run(withoutDrivers, { DATABASE_URL: 'postgres://jetstream@127.0.0.1:1/jetstream' }),
        'jetstream: The PostgreSQL store needs the package pg, which is not installed: run `npm install pg@^8.23.1`\n',
      );
      assert.equal(
        await run(withPg, {
          DATABASE_URL: 'postgres://jetstream@127.0.0.1:1/jetstream',
          REDIS_URL: 'redis://127.0.0.1:1',
        }),
        'jetstream: A cluster (the `cluster.redis` option as a URL) needs the package ioredis, which is not installed: run `npm install ioredis@^5.11.1`\n',
      );
    } finally {
      withoutDrivers.remove();
      withPg.remove();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
