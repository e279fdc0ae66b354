// The demo page in a real browser: Debian's chromium driven by playwright-core. Two pages share
// the canvas and the chat room. Fails (never skips) when chromium is not installed: install it
// with `apt-get install -y chromium` (.ci/run does). Screenshots go to test-results/ (not committed).
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Page } from 'playwright-core';
import { type DemoBrowser, launchDemoBrowser, RESULTS } from '../helpers/demo-browser.js';

describe('demo page in chromium', { timeout: 90_000 }, () => {
  let env: DemoBrowser;
  let one: Page;
  let two: Page;

  before(async () => {
    env = await launchDemoBrowser();
    [one, two] = (await Promise.all([env.open(), env.open()])).map((o) => o.page) as [Page, Page];
  });

  after(async () => {
    await env?.close();
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
    const before = env.demo.chatApi.requests.length;
    await one.click('#chat-send');
    await two.waitForSelector('.message:has-text("Hello from page one")');
    // Posted through the ChatRoom.postMessage procedure: its downstream saw the message.
    const posted = env.demo.chatApi.requests.slice(before).find((r) => /\/messages$/.test(r.url));
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
