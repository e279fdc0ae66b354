// Presence in the demo page, in a real browser (Debian's chromium driven by playwright-core, as in
// demo.test.ts): two pages see each other's pointer and selected shape on the canvas, with name
// and colour, and the chat lists who is online now, dropping a page that goes away. Fails (never
// skips) when chromium is not installed. Screenshots go to test-results/ (not committed).
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { BrowserContext, Page } from 'playwright-core';
import { type DemoBrowser, launchDemoBrowser, RESULTS } from '../helpers/demo-browser.js';

describe('presence in the demo page, in chromium', { timeout: 90_000 }, () => {
  let env: DemoBrowser;
  let one: Page;
  let two: Page;
  let oneContext: BrowserContext;

  before(async () => {
    env = await launchDemoBrowser();
    const [a, b] = await Promise.all([env.open(), env.open()]);
    [one, two, oneContext] = [a.page, b.page, a.context];
  });

  after(async () => {
    await env?.close();
  });

  /** Page one names itself in the chat's name field (its presence name in both scopes). */
  const nameOne = async (name: string) => {
    await one.click('.tab[data-view="chat"]');
    await one.fill('#chat-name', name);
    await one.click('.tab[data-view="canvas"]');
  };

  test('page two sees page one’s pointer on the canvas, with its name and colour', async () => {
    await nameOne('Ada');
    const box = (await one.locator('#canvas').boundingBox())!;
    await one.mouse.move(box.x + 150, box.y + 100);
    await one.mouse.move(box.x + 200, box.y + 150, { steps: 5 });
    const cursor = two.locator('.cursor', { hasText: 'Ada' });
    await cursor.waitFor();
    await two.waitForFunction(() => {
      const c = Array.from(document.querySelectorAll<HTMLElement>('.cursor')).find(
        (n) => n.textContent === 'Ada',
      );
      return c?.style.left === '200px' && c.style.top === '150px';
    });
    // Its colour is the one page one shows for itself in the chat's list.
    const colour = await cursor.evaluate((n) => getComputedStyle(n).color);
    const own = await one.locator('#users li.me .dot').evaluate((n) => getComputedStyle(n).backgroundColor);
    assert.equal(colour, own);
    assert.equal(await one.locator('.cursor').count(), 0, 'a page does not draw its own pointer');
    // The pointer leaves the canvas: it disappears from the other page.
    await one.mouse.move(box.x + 200, box.y - 40);
    await two.waitForFunction(() => document.querySelectorAll('.cursor').length === 0);
    await one.mouse.move(box.x + 220, box.y + 160);
    await cursor.waitFor();
  });

  test('page two sees which shape page one selected, labelled with its name', async () => {
    await one.click('#add-shape');
    const uuid = (await one.locator('.shape.selected').getAttribute('data-uuid'))!;
    const shape = two.locator(`.shape[data-uuid="${uuid}"]`);
    await two.waitForSelector(`.shape[data-uuid="${uuid}"].remote-selected`);
    assert.equal(await shape.locator('.selection-label').textContent(), 'Ada');
    // Page one's pointer next to its shape, for the screenshot.
    const area = (await one.locator('#canvas').boundingBox())!;
    const near = (await one.locator('.shape.selected').boundingBox())!;
    // Beside the shape, on the side where the canvas has room (the shape is placed at random).
    const right = near.x + near.width + 30;
    const x = right < area.x + area.width - 2 ? right : Math.max(area.x + 2, near.x - 30);
    const at = { x: Math.round(x - area.x), y: Math.round(near.y + 10 - area.y) };
    await one.mouse.move(area.x + at.x, area.y + at.y, { steps: 3 });
    await two.waitForFunction(({ x, y }) => {
      const c = document.querySelector<HTMLElement>('.cursor');
      return c?.style.left === `${x}px` && c.style.top === `${y}px`;
    }, at);
    await two.screenshot({ path: join(RESULTS, 'presence-canvas.png') });
    // Deselecting (a click on the empty canvas) clears it on the other page.
    const box = (await one.locator('#canvas').boundingBox())!;
    await one.mouse.click(box.x + 5, box.y + box.height - 5);
    await two.waitForSelector(`.shape[data-uuid="${uuid}"]:not(.remote-selected)`);
    assert.equal(await shape.locator('.selection-label').count(), 0);
  });

  test('the chat lists who is online now, and drops a page that closes', async () => {
    await two.click('.tab[data-view="chat"]');
    const guest = (await two.locator('#users li.me .name').textContent())!;
    assert.match(guest, /^Guest \d{3}$/);
    await two.waitForFunction(() =>
      Array.from(document.querySelectorAll('#users li:not(.me) .name')).some((n) => n.textContent === 'Ada'),
    );
    await one.click('.tab[data-view="chat"]');
    await one.waitForFunction(
      (g) =>
        Array.from(document.querySelectorAll('#users li:not(.me) .name')).some((n) => n.textContent === g),
      guest,
    );
    // Renaming shows at once on the other page.
    await one.fill('#chat-name', 'Ada L.');
    await two.waitForFunction(() =>
      Array.from(document.querySelectorAll('#users li .name')).some((n) => n.textContent === 'Ada L.'),
    );
    await two.screenshot({ path: join(RESULTS, 'presence-chat.png') });
    // Page one goes away: it leaves page two's list and canvas, without waiting for an expiry.
    await oneContext.close();
    await two.waitForFunction(() => document.querySelectorAll('#users li').length === 1);
    assert.equal(await two.locator('#users li.me .name').textContent(), guest);
    assert.equal(await two.locator('.cursor').count(), 0);
    assert.equal(await two.locator('.shape.remote-selected').count(), 0);
  });
});
