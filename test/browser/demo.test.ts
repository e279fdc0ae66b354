// The demo page in a real browser: Debian's chromium driven by playwright-core. Two pages share
// the canvas and the chat room. Fails (never skips) when chromium is not installed: install it
// with `apt-get install -y chromium` (.ci/run does). Screenshots go to test-results/ (not committed).
import assert from 'node:assert/strict';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { type Browser, chromium, type Page } from 'playwright-core';
import { startDemo } from '../../demo/server.js';
import { MemoryStore } from '../../src/store/index.js';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const RESULTS = join(__dirname, '..', '..', 'test-results');
const silent = { debug() {}, info() {}, warn() {}, error() {} };

describe('demo page in chromium', { timeout: 90_000 }, () => {
  let demo: Awaited<ReturnType<typeof startDemo>>;
  let browser: Browser;
  let one: Page;
  let two: Page;

  before(async () => {
    assert.ok(
      existsSync(CHROMIUM),
      `${CHROMIUM} is missing: apt-get install -y chromium (or set CHROMIUM_PATH)`,
    );
    demo = await startDemo({ port: 0, host: '127.0.0.1', logger: silent as never, store: new MemoryStore() });
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking'],
    });
    const open = async () => {
      const context = await browser.newContext({ viewport: { width: 1100, height: 720 } });
      const page = await context.newPage();
      page.on('pageerror', (err) => console.error('page error:', err));
      await page.goto(`http://127.0.0.1:${demo.port}/`);
      await page.waitForSelector('body[data-ready="true"]');
      return page;
    };
    [one, two] = await Promise.all([open(), open()]);
    mkdirSync(RESULTS, { recursive: true });
  });

  after(async () => {
    await browser?.close();
    await demo?.close();
  });

  /** Waits until every local change of the page is acknowledged. */
  const saved = (page: Page) =>
    page.waitForFunction(() => document.querySelector('#status')?.getAttribute('data-pending') === '0');

  test('a shape added and dragged in one page appears at the same position in the other', async () => {
    await one.click('#add-shape');
    const shape = one.locator('.shape').last();
    const uuid = (await shape.getAttribute('data-uuid'))!;
    const box = (await shape.boundingBox())!;
    await one.mouse.move(box.x + 10, box.y + 10);
    await one.mouse.down();
    await one.mouse.move(box.x + 10 + 123, box.y + 10 + 45, { steps: 8 });
    await one.mouse.up();
    await one.click('.swatch[data-type="4"]');
    await one.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
    await saved(one);
    const [x, y, type] = await one.evaluate((u) => {
      const s = (
        window as never as { jetstream: { canvas: { get(u: string): Record<string, number> } } }
      ).jetstream.canvas.get(u);
      return [s.x, s.y, s.type];
    }, uuid);
    assert.notEqual(`${x},${y}`, `${box.x},${box.y}`);
    assert.equal(type, 4);
    await two.waitForFunction(
      ([u, x, y]) => {
        const n = document.querySelector<HTMLElement>(`.shape[data-uuid="${u}"]`);
        return n !== null && n.dataset.x === String(x) && n.dataset.y === String(y);
      },
      [uuid, x, y] as const,
    );
    const [a, b] = await Promise.all(
      [one, two].map((p) =>
        p
          .locator(`.shape[data-uuid="${uuid}"]`)
          .evaluate((n) => [n.style.left, n.style.top, n.style.background]),
      ),
    );
    assert.deepEqual(a, b);
    await two.screenshot({ path: join(RESULTS, 'demo-canvas.png') });
  });

  test('a chat message posted in one page appears in the other', async () => {
    await one.click('.tab[data-view="chat"]');
    await two.click('.tab[data-view="chat"]');
    await one.fill('#chat-name', 'Ada');
    await one.fill('#chat-text', 'Hello from page one');
    const before = demo.chatApi.requests.length;
    await one.click('#chat-send');
    await two.waitForSelector('.message:has-text("Hello from page one")');
    // Posted through the ChatRoom.postMessage procedure: its downstream saw the message.
    const posted = demo.chatApi.requests.slice(before).find((r) => /\/messages$/.test(r.url));
    assert.ok(posted, 'the downstream service received POST /room/:id/messages');
    assert.equal(posted.method, 'POST');
    assert.equal((posted.body as { text?: string }).text, 'Hello from page one');
    assert.equal(await two.locator('.message .author').last().textContent(), 'Ada');
    assert.equal(await one.locator('#chat-error').textContent(), '');
    await two.fill('#chat-name', 'Grace');
    await two.fill('#chat-text', 'Hi Ada');
    await two.press('#chat-text', 'Enter');
    await one.waitForSelector('.message:has-text("Hi Ada")');
    await two.screenshot({ path: join(RESULTS, 'demo-chat.png') });
  });
});
