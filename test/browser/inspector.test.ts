// The inspector (docs/operations.md, "Inspector") on the demo, in Debian's chromium: it lists the
// demo's scopes and sessions, browses a scope's objects, and shows a client's change (and a
// rejected one) without a reload. Without the admin token every inspector path answers 401 and
// no scope data. Fails (never skips) when chromium is missing, like demo.test.ts.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { type Browser, chromium } from 'playwright-core';
import { startDemo } from '../../demo/server.js';
import { MemoryStore } from '../../src/store/index.js';
import { TestClient } from '../helpers/ws-client.js';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const TOKEN = 'inspector-test-token-0123456789';
const silent = { debug() {}, info() {}, warn() {}, error() {} };

describe('inspector', { timeout: 90_000 }, () => {
  let demo: Awaited<ReturnType<typeof startDemo>>;
  let browser: Browser;
  let base = '';

  before(async () => {
    assert.ok(
      existsSync(CHROMIUM),
      `${CHROMIUM} is missing: apt-get install -y chromium (or set CHROMIUM_PATH)`,
    );
    demo = await startDemo({
      port: 0,
      host: '127.0.0.1',
      logger: silent as never,
      store: new MemoryStore(),
      adminToken: TOKEN,
    });
    base = `http://127.0.0.1:${demo.port}`;
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking'],
    });
  });

  after(async () => {
    await browser?.close();
    await demo?.close();
  });

  test('without the admin token: 401 and no scope data, on the page and on every data endpoint', async () => {
    for (const path of ['/inspect', '/inspect/', '/inspect/api/overview', '/inspect/api/scope?name=Canvas']) {
      for (const auth of [
        {},
        { authorization: 'Bearer wrong-token-wrong-token' },
        { authorization: TOKEN },
      ] as Record<string, string>[]) {
        const res = await fetch(`${base}${path}`, { headers: auth });
        assert.equal(res.status, 401, `${path} ${JSON.stringify(auth)}`);
        const body = await res.text();
        assert.doesNotMatch(body, /Canvas|ChatRoom|Shapes Demo/);
      }
      const wrongQuery = await fetch(`${base}${path}${path.includes('?') ? '&' : '?'}token=nope`);
      assert.equal(wrongQuery.status, 401);
    }
    // With it: data, read-only.
    const ok = await fetch(`${base}/inspect/api/overview`, { headers: { authorization: `Bearer ${TOKEN}` } });
    assert.equal(ok.status, 200);
    const overview = (await ok.json()) as { scopes: { name: string; unstored: number }[] };
    assert.deepEqual(overview.scopes.map((s) => s.name).sort(), ['Canvas', 'ChatRoom']);
    assert.deepEqual(
      overview.scopes.map((s) => s.unstored),
      [0, 0],
      'nothing waits to be stored',
    );
    const post = await fetch(`${base}/inspect/api/overview?token=${TOKEN}`, { method: 'POST' });
    assert.equal(post.status, 405);
    // The demo's own paths are not the inspector's.
    assert.equal((await fetch(`${base}/inspector-not`)).status, 200);
  });

  test('the page lists the scopes and sessions, browses a scope, and shows a client’s changes live', async () => {
    const page = await (await browser.newContext()).newPage();
    page.on('pageerror', (err) => console.error('page error:', err));
    await page.goto(demo.inspector.url(base));
    await page.waitForSelector('body[data-ready="true"]');
    assert.equal(new URL(page.url()).search, '', 'the token leaves the address bar');
    await page.waitForSelector('#scopes tr[data-scope="Canvas"]');
    await page.waitForSelector('#scopes tr[data-scope="ChatRoom"]');

    const client = await TestClient.session(demo.port);
    const { state } = await client.fetch('Canvas');
    const rootUUID = state!.rootUUID as string;
    client.ping(); // acknowledges what it has: the page shows when
    // The session appears, holding Canvas, with its last acknowledgement.
    await page.waitForFunction(() =>
      Array.from(document.querySelectorAll('#sessions tbody tr')).some(
        (tr) => tr.textContent?.includes('Canvas') && !tr.textContent.includes('never'),
      ),
    );
    await page.waitForFunction(() =>
      Array.from(document.querySelectorAll('#sessions tbody tr')).some((tr) =>
        tr.textContent?.includes('Canvas'),
      ),
    );

    await page.click('#scopes tr[data-scope="Canvas"]');
    await page.waitForFunction(() => document.querySelector('#tree')?.textContent?.includes('Shapes Demo'));
    // A client renames the canvas: the tree and the changesets show it without a reload.
    const reply = await client.sync(0, [
      {
        type: 'change',
        uuid: rootUUID,
        clsName: 'Canvas',
        properties: { name: '<b>Renamed</b> by a client' },
      },
    ]);
    assert.deepEqual(reply.fragmentReplies, [{}]);
    await page.waitForFunction(() =>
      document.querySelector('#tree')?.textContent?.includes('<b>Renamed</b> by a client'),
    );
    assert.equal(await page.locator('#tree b').count(), 0, 'scope data is shown as text, never as markup');
    await page.waitForFunction(
      (uuid) =>
        Array.from(document.querySelectorAll('#changesets .ok')).some((d) => d.textContent?.includes(uuid)),
      rootUUID,
    );
    // A rejected fragment is listed with its reason.
    const rejected = await client.sync(0, [
      { type: 'change', uuid: rootUUID, clsName: 'Canvas', properties: { name: 42 } },
    ]);
    assert.ok((rejected.fragmentReplies as { error?: unknown }[])[0]!.error);
    await page.waitForFunction(() =>
      Array.from(document.querySelectorAll('#changesets .error')).some((d) =>
        d.textContent?.includes('Canvas'),
      ),
    );
    await client.close();
  });
});
