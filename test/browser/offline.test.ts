// Offline edits that survive a reload, in a real browser (docs/client.md, "Offline edits"):
// Debian's chromium driven by playwright-core, as in demo.test.ts. The page
// (fixtures/offline/, bundled here with esbuild) keeps its record in IndexedDB. Going offline
// blocks the page's WebSocket (Playwright routes it: while offline, every socket the page opens
// is closed at once and the open ones are cut), so pages and scripts still load. A second page,
// in its own browser context, must see the edit; the server counts how often it applied it.
// Fails (never skips) when chromium is missing: `apt-get install -y chromium`.
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { build } from 'esbuild';
import { type Browser, chromium, type Page, type WebSocketRoute } from 'playwright-core';
import { Canvas } from '../../demo/models.js';
import { Scope } from '../../src/scope/index.js';
import { createServer } from '../../src/server/index.js';
import type { Server } from '../../src/server/server.js';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const FIXTURE = join(__dirname, 'fixtures', 'offline');
const silent = { debug() {}, info() {}, warn() {}, error() {} };

/** The fixture page and its bundled script, and the Jetstream server on the same port. */
async function startSite(): Promise<{ http: HttpServer; server: Server; scope: Scope; port: number }> {
  const bundle = await build({
    entryPoints: [join(FIXTURE, 'app.ts')],
    bundle: true,
    write: false,
    format: 'esm',
    platform: 'browser', // fails on any Node built-in: the client must run in a browser as is
    target: 'es2022',
  });
  const js = bundle.outputFiles[0]!.contents;
  const html = readFileSync(join(FIXTURE, 'index.html'));
  const http = createHttpServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/app.js') res.writeHead(200, { 'content-type': 'text/javascript' }).end(js);
    else if (path === '/') res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(html);
    else res.writeHead(404).end();
  });
  const scope = new Scope({ name: 'Canvas' });
  scope.setRoot(new Canvas({ name: 'Offline test' }));
  const server = await createServer({ server: http, scopes: [scope], logger: silent as never });
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  const address = http.address();
  return { http, server, scope, port: typeof address === 'object' && address ? address.port : 0 };
}

type Shapes = { shapes: { toArray(): { uuid: string }[] } };

describe('offline edits in chromium', { timeout: 120_000 }, () => {
  let site: Awaited<ReturnType<typeof startSite>>;
  let browser: Browser;
  let one: Page; // the page that goes offline and reloads
  let two: Page; // another user's page
  /** Times the server applied a changeset that added each uuid. */
  const adds = new Map<string, number>();
  let offline = false;
  const routes = new Set<WebSocketRoute>();

  const goOffline = async () => {
    offline = true;
    for (const r of routes) await r.close({ code: 4000, reason: 'offline' });
    routes.clear();
    await one.waitForSelector('#status[data-connected="false"]');
  };

  const open = async (route: boolean) => {
    const context = await browser.newContext();
    const page = await context.newPage();
    page.on('pageerror', (err) => console.error('page error:', err));
    if (route) {
      await page.routeWebSocket(/^ws:/, (ws) => {
        if (offline) {
          void ws.close({ code: 4000, reason: 'offline' });
          return;
        }
        routes.add(ws);
        ws.connectToServer();
      });
    }
    await page.goto(`http://127.0.0.1:${site.port}/`);
    await page.waitForSelector('body[data-ready="true"]');
    return page;
  };

  before(async () => {
    assert.ok(
      existsSync(CHROMIUM),
      `${CHROMIUM} is missing: apt-get install -y chromium (or set CHROMIUM_PATH)`,
    );
    site = await startSite();
    site.server.on('changeset', (r) => {
      r.fragments.forEach((f, k) => {
        if (f.type === 'add' && r.results[k] === null) adds.set(f.uuid, (adds.get(f.uuid) ?? 0) + 1);
      });
    });
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking'],
    });
    one = await open(true);
    two = await open(false);
  });

  after(async () => {
    await browser?.close();
    await site?.server.close();
    await new Promise<void>((resolve) => (site ? site.http.close(() => resolve()) : resolve()));
  });

  /** Offline: add a shape, reload; the shape shows at once, still offline. Returns its uuid. */
  async function editOfflineAndReload(x: number, whileOffline: () => void = () => {}): Promise<string> {
    await goOffline();
    const uuid = await one.evaluate((x) => window.offlineApp.addShape(x), x);
    await one.evaluate(() => window.offlineApp.client.persisted());
    whileOffline();
    await one.reload();
    await one.waitForSelector('body[data-ready="true"]');
    // No wait: the reloaded page has it from its record before any server answer.
    assert.equal(await one.locator(`li[data-uuid="${uuid}"][data-x="${x}"]`).count(), 1, 'shown at once');
    assert.equal(await one.getAttribute('#status', 'data-connected'), 'false');
    assert.equal(await one.getAttribute('#status', 'data-pending'), '1');
    const onServer = (site.scope.root as unknown as Shapes).shapes.toArray().map((s) => s.uuid);
    assert.ok(!onServer.includes(uuid), 'the server does not have it yet');
    assert.equal(adds.get(uuid) ?? 0, 0);
    return uuid;
  }

  /** Back online: the edit reaches the server once, and the other page. */
  async function backOnlineAndCheck(uuid: string, x: number): Promise<void> {
    offline = false;
    await one.waitForSelector('#status[data-connected="true"][data-pending="0"]');
    await two.waitForSelector(`li[data-uuid="${uuid}"][data-x="${x}"]`);
    assert.equal(adds.get(uuid), 1, 'applied once');
    const onServer = (site.scope.root as unknown as Shapes).shapes.toArray().map((s) => s.uuid);
    assert.equal(onServer.filter((u) => u === uuid).length, 1);
    const listed = async (p: Page) =>
      p.locator('li').evaluateAll((li) => li.map((n) => n.getAttribute('data-uuid')));
    assert.deepEqual(await listed(one), onServer);
    assert.deepEqual(await listed(two), onServer);
  }

  test('offline, edit, reload, online: the edit shows at once, arrives once in the resumed session, the other page sees it', async () => {
    const sessions = site.server.sessions.length;
    const uuid = await editOfflineAndReload(11);
    await backOnlineAndCheck(uuid, 11);
    assert.equal(await one.getAttribute('#status', 'data-sessions'), '0', 'resumed: no session created');
    assert.equal(site.server.sessions.length, sessions, 'the same sessions as before');
  });

  test('the same, when the server forgot the session meanwhile: sent once in a new session', async () => {
    const token = await one.evaluate(() => window.offlineApp.client.sessionToken);
    const uuid = await editOfflineAndReload(22, () => {
      site.server.sessions.find((s) => s.token === token)!.close();
    });
    await backOnlineAndCheck(uuid, 22);
    assert.equal(await one.getAttribute('#status', 'data-sessions'), '1', 'a new session was created');
  });

  test('a second tab of the same browser gets its own record and session, and leaves the first alone', async () => {
    const tab = await one.context().newPage();
    await tab.goto(`http://127.0.0.1:${site.port}/`);
    await tab.waitForSelector('body[data-ready="true"]');
    const [mine, its] = await Promise.all(
      [one, tab].map((p) => p.evaluate(() => window.offlineApp.client.sessionToken)),
    );
    assert.ok(mine && its && mine !== its, 'two sessions');
    const keys = await tab.evaluate(
      () =>
        new Promise<string[]>((resolve, reject) => {
          const open = indexedDB.open('jetstream-offline');
          open.onerror = () => reject(open.error);
          open.onsuccess = () => {
            const all = open.result.transaction('records').objectStore('records').getAllKeys();
            all.onsuccess = () => resolve((all.result as string[]).sort());
          };
        }),
    );
    const url = `ws://127.0.0.1:${site.port}/`;
    assert.deepEqual(keys, [url, `${url}~2`]);
    const uuid = await tab.evaluate(() => window.offlineApp.addShape(33));
    await one.waitForSelector(`li[data-uuid="${uuid}"][data-x="33"]`);
    assert.equal(
      await one.getAttribute('#status', 'data-connected'),
      'true',
      'the first tab kept its socket',
    );
    assert.equal(adds.get(uuid), 1);
  });
});
