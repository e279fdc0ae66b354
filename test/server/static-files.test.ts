// The server option `static` (docs/server.md, "Serving a page"): files of one folder over plain
// HTTP on the sync port, next to the WebSocket endpoint, never anything outside that folder.
// Requests go over real sockets with node:http, whose `path` is sent as written (fetch() would
// normalise `..` away before it left the client).
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Canvas } from '../../demo/models.js';
import { Scope } from '../../src/scope/scope.js';
import { createServer, type Server } from '../../src/server/server.js';
import { safeSegments } from '../../src/server/static-files.js';
import { TestClient } from '../helpers/ws-client.js';

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** One HTTP request with `path` sent exactly as given. */
function get(port: number, path: string, method = 'GET'): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('server option static', () => {
  // <tmp>/secret.txt and <tmp>/outside/ lie next to the served folder <tmp>/public/.
  let tmp: string;
  let server: Server;
  let port: number;

  before(async () => {
    tmp = mkdtempSync(join(tmpdir(), 'jetstream-static-'));
    const pub = join(tmp, 'public');
    mkdirSync(join(pub, 'sub'), { recursive: true });
    mkdirSync(join(tmp, 'outside'));
    writeFileSync(join(tmp, 'secret.txt'), 'SECRET');
    writeFileSync(join(tmp, 'outside', 'index.html'), 'SECRET INDEX');
    writeFileSync(join(pub, 'index.html'), '<!doctype html><title>home</title>');
    writeFileSync(join(pub, 'app.js'), 'console.log(1);');
    writeFileSync(join(pub, 'style.css'), 'body{}');
    writeFileSync(join(pub, 'sub', 'index.html'), 'sub index');
    writeFileSync(join(pub, 'sub', 'data.bin'), Buffer.from([1, 2, 3]));
    writeFileSync(join(pub, '.env'), 'SECRET=1');
    symlinkSync(join(tmp, 'secret.txt'), join(pub, 'link-out.txt'));
    symlinkSync(join(tmp, 'outside'), join(pub, 'dir-out'));
    symlinkSync(join(pub, 'app.js'), join(pub, 'link-in.js'));
    const scope = new Scope({ name: 'Canvas' });
    scope.setRoot(new Canvas());
    server = await createServer({ port: 0, scopes: [scope], static: pub });
    port = server.port!;
  });

  after(async () => {
    await server?.close();
    rmSync(tmp, { recursive: true, force: true });
  });

  test('serves the folder: / and folders answer index.html, files get their content type', async () => {
    const home = await get(port, '/');
    assert.equal(home.status, 200);
    assert.equal(home.body, '<!doctype html><title>home</title>');
    assert.equal(home.headers['content-type'], 'text/html; charset=utf-8');
    assert.equal(home.headers['x-content-type-options'], 'nosniff');
    const js = await get(port, '/app.js?v=2');
    assert.deepEqual(
      [js.status, js.body, js.headers['content-type']],
      [200, 'console.log(1);', 'text/javascript; charset=utf-8'],
    );
    assert.equal((await get(port, '/style.css')).headers['content-type'], 'text/css; charset=utf-8');
    assert.equal((await get(port, '/sub/')).body, 'sub index');
    assert.equal((await get(port, '/sub')).body, 'sub index');
    const bin = await get(port, '/sub/data.bin');
    assert.equal(bin.headers['content-type'], 'application/octet-stream');
    assert.equal(bin.headers['content-length'], '3');
    const head = await get(port, '/app.js', 'HEAD');
    assert.deepEqual([head.status, head.body, head.headers['content-length']], [200, '', '15']);
    assert.equal((await get(port, '/link-in.js')).body, 'console.log(1);', 'a link inside the folder');
  });

  test('the WebSocket endpoint shares the port', async () => {
    const c = await TestClient.connect(port);
    try {
      await c.handshake({});
      const { reply, state } = await c.fetch('Canvas');
      assert.equal(reply.scopeIndex, 0);
      assert.equal(state!.fragments[0].clsName, 'Canvas');
    } finally {
      await c.close();
    }
  });

  test('nothing outside the folder, and no hidden files: 404', async () => {
    for (const path of [
      '/../secret.txt',
      '/sub/../../secret.txt',
      '/%2e%2e/secret.txt',
      '/%2E%2E/secret.txt',
      '/..%2fsecret.txt',
      '/sub/%2e%2e/%2e%2e/secret.txt',
      '/..%5csecret.txt',
      '/%2e%2e%5csecret.txt',
      '/app.js%00.html',
      '/.env',
      '/%2eenv',
      '/sub/.%2e/.%2e/secret.txt',
      '/link-out.txt',
      '/dir-out/',
      '/dir-out/index.html',
      '/missing.html',
      '/%E0%A4%A',
    ]) {
      const a = await get(port, path);
      assert.equal(a.status, 404, `${path} answered ${a.status}`);
      assert.ok(!a.body.includes('SECRET'), path);
    }
  });

  test('other methods answer 405', async () => {
    const a = await get(port, '/index.html', 'POST');
    assert.equal(a.status, 405);
    assert.equal(a.headers.allow, 'GET, HEAD');
  });

  test('safeSegments: the decoded segments of a servable path, else null', () => {
    assert.deepEqual(safeSegments('/a/b%20c/d.js?x=1#y'), ['a', 'b c', 'd.js']);
    assert.deepEqual(safeSegments('/'), []);
    assert.deepEqual(safeSegments(undefined), []);
    for (const bad of ['/a/../b', '/%2e%2e', '/a%2f..%2fb', '/.git/config', '/a%00', 'relative', '/%zz'])
      assert.equal(safeSegments(bad), null, bad);
  });
});

describe('server option static: configuration', () => {
  test('a folder that does not exist fails at construction with a TypeError', async () => {
    await assert.rejects(
      createServer({ port: 0, static: join(tmpdir(), 'jetstream-no-such-folder-9f3e') }),
      (err: Error) => err instanceof TypeError && /is not a directory/.test(err.message),
    );
  });

  test('with `server` or `transports` it is refused: those answer their own HTTP requests', async () => {
    const http = createHttpServer();
    await assert.rejects(
      createServer({ server: http, static: tmpdir() }),
      (err: Error) => err instanceof TypeError && /cannot be combined/.test(err.message),
    );
  });

  test('close() frees the port, open keep-alive connections included', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'jetstream-static-'));
    writeFileSync(join(dir, 'index.html'), 'x');
    try {
      const server = await createServer({ port: 0, static: dir });
      const port = server.port!;
      // A keep-alive connection that stays open after its answer, as a browser's does.
      const answered = await new Promise<number>((resolve, reject) => {
        const req = request({ host: '127.0.0.1', port, path: '/', headers: { connection: 'keep-alive' } });
        req.on('response', (res) => {
          res.resume();
          resolve(res.statusCode!);
        });
        req.on('error', reject);
        req.end();
      });
      assert.equal(answered, 200);
      await server.close();
      const again = await createServer({ port, static: dir });
      assert.equal(again.port, port);
      await again.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('without it, a plain HTTP request on the port answers 426 as before', async () => {
    const server = await createServer({ port: 0 });
    try {
      assert.equal((await get(server.port!, '/')).status, 426);
    } finally {
      await server.close();
    }
  });
});
