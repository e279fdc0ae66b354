// The demo page on a phone-sized screen, in a real browser (Debian's chromium driven by
// playwright-core, as in demo.test.ts): a 390 × 844 mobile viewport (deviceScaleFactor 3, touch)
// next to a desktop page. Layout is measured from the DOM; touch input goes through Chromium's
// own input pipeline (CDP Input.dispatchTouchEvent), so panning and touch-action are real. Fails
// (never skips) when chromium is not installed. Screenshots go to test-results/ (not committed).
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { CDPSession, Page } from 'playwright-core';
import { type DemoBrowser, launchDemoBrowser, RESULTS } from '../helpers/demo-browser.js';

const PHONE = { width: 390, height: 844 };

interface Point {
  x: number;
  y: number;
}
interface Rect {
  left: number;
  top: number;
  right: number;
  bottom: number;
}

/** The element's box in viewport coordinates. */
const rectOf = (page: Page, selector: string): Promise<Rect> =>
  page.locator(selector).evaluate((n) => {
    const r = n.getBoundingClientRect();
    return { left: r.left, top: r.top, right: r.right, bottom: r.bottom };
  });

const centre = (r: Rect): Point => ({ x: (r.left + r.right) / 2, y: (r.top + r.bottom) / 2 });

/**
 * What sticks out sideways: the document's and window's widths, and every element (outside the
 * canvas's scrolling content, which scrolls by design) whose box leaves the window horizontally
 * or whose own scroll area is wider than it (a clipped or sideways-scrolling region).
 */
// (Functions run in the page declare no named helpers: tsx would wrap them in its `__name`.)
function measureOverflow(page: Page) {
  return page.evaluate(() => {
    const viewport = document.querySelector('#canvas-viewport')!;
    const offenders: string[] = [];
    for (const n of Array.from(document.body.querySelectorAll('*'))) {
      if (viewport.contains(n) && n !== viewport) continue;
      const name = `${n.tagName.toLowerCase()}${n.id ? `#${n.id}` : ''}${Array.from(n.classList, (c) => `.${c}`).join('')}`;
      const r = n.getBoundingClientRect();
      if (r.width === 0 && r.height === 0) continue; // not displayed
      if (r.left < -0.5 || r.right > innerWidth + 0.5) {
        offenders.push(`${name} spans ${Math.round(r.left)}..${Math.round(r.right)}`);
      }
      // Inputs scroll their own text, the canvas viewport scrolls the canvas, .sr-only clips its text.
      if (n === viewport || n.matches('input, .sr-only')) continue;
      if (getComputedStyle(n).overflowX !== 'visible' && n.scrollWidth > n.clientWidth) {
        offenders.push(`${name} scrolls sideways (${n.scrollWidth} > ${n.clientWidth})`);
      }
    }
    return {
      innerWidth,
      clientWidth: document.documentElement.clientWidth,
      scrollWidth: document.documentElement.scrollWidth,
      offenders,
    };
  });
}

/** Asserts that nothing on the page is wider than `width` (see measureOverflow). */
async function assertFits(page: Page, width: number): Promise<void> {
  const m = await measureOverflow(page);
  assert.equal(
    m.innerWidth,
    width,
    'the layout viewport is not widened (a mobile page zooms out to fit overflow)',
  );
  assert.equal(m.clientWidth, width);
  assert.ok(m.scrollWidth <= width, `document scrollWidth ${m.scrollWidth} > ${width}`);
  assert.deepEqual(m.offenders, []);
}

/** Asserts that `inner` lies entirely within `outer`. */
function assertInside(inner: Rect, outer: Rect, what: string): void {
  const ok =
    inner.left >= outer.left - 0.5 &&
    inner.right <= outer.right + 0.5 &&
    inner.top >= outer.top - 0.5 &&
    inner.bottom <= outer.bottom + 0.5;
  assert.ok(ok, `${what} ${JSON.stringify(inner)} is not within ${JSON.stringify(outer)}`);
}

/** Asserts that the element at `selector` is the one a tap at its centre reaches (not covered). */
async function assertReachable(page: Page, selector: string): Promise<void> {
  const hit = await page.locator(selector).evaluate((n) => {
    const r = n.getBoundingClientRect();
    const at = document.elementFromPoint((r.left + r.right) / 2, (r.top + r.bottom) / 2);
    return at !== null && (at === n || n.contains(at));
  });
  assert.ok(hit, `${selector} is covered at its centre`);
}

/** A one-finger drag from `from` to `to`, through Chromium's touch input. */
async function touchDrag(cdp: CDPSession, from: Point, to: Point, steps = 12): Promise<void> {
  await cdp.send('Input.dispatchTouchEvent', { type: 'touchStart', touchPoints: [from] });
  for (let i = 1; i <= steps; i++) {
    const at = { x: from.x + ((to.x - from.x) * i) / steps, y: from.y + ((to.y - from.y) * i) / steps };
    await cdp.send('Input.dispatchTouchEvent', { type: 'touchMove', touchPoints: [at] });
  }
  await cdp.send('Input.dispatchTouchEvent', { type: 'touchEnd', touchPoints: [] });
}

/** Waits until the canvas viewport's scroll position holds still for a few frames (a fling ended). */
const scrollSettled = (page: Page) =>
  page.evaluate(async () => {
    const v = document.querySelector('#canvas-viewport')!;
    let last = `${v.scrollLeft},${v.scrollTop}`;
    for (let still = 0; still < 5; ) {
      await new Promise((frame) => requestAnimationFrame(frame));
      const now = `${v.scrollLeft},${v.scrollTop}`;
      still = now === last ? still + 1 : 0;
      last = now;
    }
  });

/**
 * Waits until every local change of the page is acknowledged. Two animation frames first: the
 * page applies a drag's or resize's last position on the next frame (app.ts, perFrame).
 */
const saved = async (page: Page) => {
  await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
  await page.waitForFunction(
    () =>
      document.querySelector('#status')?.getAttribute('data-state') === 'connected' &&
      document.querySelector('#status')?.getAttribute('data-pending') === '0',
  );
};

/** A shape's size in the page's copy of the model. */
const sizeOf = (page: Page, uuid: string) =>
  page.evaluate((u) => {
    const s = (
      window as never as { jetstream: { canvas: { get(u: string): { width: number; height: number } } } }
    ).jetstream.canvas.get(u);
    return { width: s.width, height: s.height };
  }, uuid);

/** Waits until the page draws the shape at this size. */
const drawnAt = (page: Page, uuid: string, size: { width: number; height: number }) =>
  page.waitForFunction(
    ([u, w, h]) => {
      const n = document.querySelector<HTMLElement>(`.shape[data-uuid="${u}"]`);
      return n !== null && n.style.width === `${w}px` && n.style.height === `${h}px`;
    },
    [uuid, size.width, size.height] as const,
  );

describe('demo page on a 390 px phone screen, in chromium', { timeout: 120_000 }, () => {
  let env: DemoBrowser;
  let desk: Page;
  let phone: Page;
  let touch: CDPSession;
  /** The shape both resize tests work on. */
  let uuid: string;

  before(async () => {
    env = await launchDemoBrowser();
    const [d, p] = await Promise.all([
      env.open(),
      env.open({ viewport: PHONE, deviceScaleFactor: 3, isMobile: true, hasTouch: true }),
    ]);
    [desk, phone] = [d.page, p.page];
    touch = await p.context.newCDPSession(phone);
  });

  after(async () => {
    await env?.close();
  });

  test('at 390 px the header, toolbar and canvas fit the width, the status badge whole', async () => {
    await saved(phone);
    await assertFits(phone, PHONE.width);
    const window = { left: 0, top: 0, right: PHONE.width, bottom: PHONE.height };
    assertInside(await rectOf(phone, '#status'), window, 'the status badge');
    const badge = await phone
      .locator('#status')
      .evaluate((n) => ({ text: n.textContent, scroll: n.scrollWidth, client: n.clientWidth }));
    assert.equal(badge.text, 'Connected · saved');
    assert.ok(badge.scroll <= badge.client, 'the badge text is not clipped');
    for (const control of ['#add-shape', '#delete-shape', '.swatch[data-type="5"]']) {
      assertInside(await rectOf(phone, control), window, control);
    }
    // The canvas takes the width of the screen (less the page's padding), not more.
    const canvas = await rectOf(phone, '#canvas-viewport');
    assertInside(canvas, { ...window, bottom: Number.POSITIVE_INFINITY }, 'the canvas viewport');
    assert.ok(canvas.right - canvas.left >= PHONE.width - 40, 'the canvas spans the screen');
    await phone.screenshot({ path: join(RESULTS, 'demo-mobile-canvas.png') });
  });

  test('a selected shape is resized by its corner handle with the mouse; the phone sees the new size', async () => {
    await desk.click('#add-shape');
    const shape = desk.locator('.shape.selected');
    uuid = (await shape.getAttribute('data-uuid'))!;
    // Moved to the top-left corner first, so that the resize has room (a resize stays in the canvas).
    const box = (await shape.boundingBox())!;
    const area = (await desk.locator('#canvas').boundingBox())!;
    await desk.mouse.move(box.x + 10, box.y + 10);
    await desk.mouse.down();
    await desk.mouse.move(area.x + 2, area.y + 2, { steps: 5 });
    await desk.mouse.up();
    await saved(desk);
    const handle = desk.locator('.shape.selected .resize-handle');
    assert.ok(await handle.isVisible(), 'the selected shape shows its resize handle');
    assert.equal(await desk.locator('.shape:not(.selected) .resize-handle:visible').count(), 0);
    const before = await sizeOf(desk, uuid);
    const grip = centre(await rectOf(desk, '.shape.selected .resize-handle'));
    await desk.mouse.move(grip.x, grip.y);
    await desk.mouse.down();
    await desk.mouse.move(grip.x + 50, grip.y + 30, { steps: 6 });
    await desk.mouse.up();
    await saved(desk);
    const after = await sizeOf(desk, uuid);
    assert.deepEqual(after, { width: before.width + 50, height: before.height + 30 });
    await drawnAt(phone, uuid, after);
    assert.deepEqual(await sizeOf(phone, uuid), after);
  });

  test('on the phone a finger resizes the shape by its handle; the desktop sees the new size', async () => {
    const node = `.shape[data-uuid="${uuid}"]`;
    await phone.touchscreen.tap(centre(await rectOf(phone, node)).x, centre(await rectOf(phone, node)).y);
    await phone.waitForSelector(`${node}.selected .resize-handle`);
    // Large enough for a finger on a touch screen (style.css, pointer: coarse).
    const grip = await rectOf(phone, `${node} .resize-handle`);
    assert.ok(grip.right - grip.left >= 28 && grip.bottom - grip.top >= 28, 'the handle is finger-sized');
    const before = await sizeOf(phone, uuid);
    const from = centre(grip);
    await touchDrag(touch, from, { x: from.x + 40, y: from.y + 25 });
    await saved(phone);
    const after = await sizeOf(phone, uuid);
    assert.deepEqual(after, { width: before.width + 40, height: before.height + 25 });
    // The finger resized the shape instead of panning the canvas.
    assert.deepEqual(
      await phone.locator('#canvas-viewport').evaluate((v) => [v.scrollLeft, v.scrollTop]),
      [0, 0],
    );
    await drawnAt(desk, uuid, after);
    assert.deepEqual(await sizeOf(desk, uuid), after);
  });

  test('a shape beyond the phone’s screen is reached by panning the canvas with a finger', async () => {
    // The desktop adds a shape and drags it against the right edge of its wide canvas.
    await desk.click('#add-shape');
    // The new shape is the last one, selected once the page has drawn it.
    await desk.waitForSelector(`.shape.selected:not([data-uuid="${uuid}"])`);
    const far = desk.locator('.shape.selected');
    const farId = (await far.getAttribute('data-uuid'))!;
    const box = (await far.boundingBox())!;
    await desk.mouse.move(box.x + 10, box.y + 10);
    await desk.mouse.down();
    await desk.mouse.move(1095, box.y + 10, { steps: 6 });
    await desk.mouse.up();
    await saved(desk);
    const farNode = `.shape[data-uuid="${farId}"]`;
    const [x, right, edge] = await desk
      .locator(farNode)
      .evaluate((n: HTMLElement) => [
        Number(n.dataset.x),
        Number(n.dataset.x) + n.offsetWidth,
        document.querySelector('#canvas')!.clientWidth,
      ]);
    // The whole drag arrived, up to the edge (a drag among several shapes keeps its pointer capture).
    assert.equal(right, edge, 'the shape was dragged against the right edge');
    assert.equal(await desk.locator(`${farNode}.dragging`).count(), 0, 'the drag ended');
    await phone.waitForFunction(
      ([sel, x]) => document.querySelector<HTMLElement>(sel)?.dataset.x === String(x),
      [farNode, x] as const,
    );
    const view = await rectOf(phone, '#canvas-viewport');
    const start = await rectOf(phone, farNode);
    assert.ok(start.left > view.right, `the shape starts out of view: ${JSON.stringify({ x, start, view })}`);
    // The canvas is wider than the phone's viewport onto it: it scrolls, the page does not.
    const scroll = await phone.locator('#canvas-viewport').evaluate((v) => [v.scrollWidth, v.clientWidth]);
    assert.ok(scroll[0]! > scroll[1]!, `canvas scrollWidth ${scroll[0]} > clientWidth ${scroll[1]}`);
    // Pan right to left along the canvas's bottom edge, clear of every shape, until it is in view.
    const lane = view.bottom - 12;
    for (let pan = 0; pan < 8; pan++) {
      const free = await phone.evaluate(
        ([x1, x2, y]) => [x1, x2].every((x) => document.elementFromPoint(x!, y!)?.id === 'canvas'),
        [view.right - 20, view.left + 20, lane] as const,
      );
      assert.ok(free, 'the pan starts and ends on the empty canvas');
      await touchDrag(touch, { x: view.right - 20, y: lane }, { x: view.left + 20, y: lane });
      await scrollSettled(phone);
      const r = await rectOf(phone, farNode);
      if (r.left >= view.left && r.right <= view.right) break;
    }
    const reached = await rectOf(phone, farNode);
    assertInside(reached, view, 'the far shape after panning');
    await assertFits(phone, PHONE.width);
    // A tap selects it there, and the desktop sees the phone's selection.
    await assertReachable(phone, farNode);
    await phone.touchscreen.tap(centre(reached).x, centre(reached).y);
    await phone.waitForSelector(`${farNode}.selected`);
    await desk.waitForSelector(`${farNode}.remote-selected`);
    await phone.screenshot({ path: join(RESULTS, 'demo-mobile-canvas-panned.png') });
  });

  test('the empty chat shows a placeholder, gone with the first message', async () => {
    await Promise.all([desk, phone].map((p) => p.click('.tab[data-view="chat"]')));
    for (const page of [desk, phone]) {
      const empty = page.locator('#chat-empty');
      assert.ok(await empty.isVisible(), 'the placeholder is shown');
      assert.match((await empty.textContent())!, /No messages yet/);
      assert.equal(await page.locator('#messages').isVisible(), false);
    }
    await phone.fill('#chat-name', 'Ada');
    await phone.fill('#chat-text', 'First!');
    const send = centre(await rectOf(phone, '#chat-send'));
    await phone.touchscreen.tap(send.x, send.y);
    await desk.waitForSelector('.message:has-text("First!")');
    await phone.waitForSelector('.message:has-text("First!")');
    for (const page of [desk, phone]) {
      assert.equal(await page.locator('#chat-empty').isVisible(), false, 'the placeholder is gone');
    }
  });

  test('at 390 px the chat fits with long unbroken messages and names; composer and Send stay usable', async () => {
    const name = 'W'.repeat(32); // the longest name the field takes, without a space
    await phone.fill('#chat-name', name);
    for (let i = 0; i < 3; i++) {
      const text = `${i}${'x'.repeat(499)}`;
      await phone.fill('#chat-text', text);
      const send = centre(await rectOf(phone, '#chat-send'));
      await phone.touchscreen.tap(send.x, send.y);
      await desk.waitForSelector(`.message:has-text("${text}")`);
      await phone.waitForSelector(`.message:has-text("${text}")`);
    }
    await saved(phone);
    assert.equal(await phone.locator('.message .author').last().textContent(), name);
    await phone.waitForFunction(
      (n) => Array.from(document.querySelectorAll('#users .name')).some((e) => e.textContent === n),
      name,
    );
    await assertFits(phone, PHONE.width);
    // The messages scroll inside the room; the message box and Send stay on screen and on top.
    const window = { left: 0, top: 0, right: PHONE.width, bottom: PHONE.height };
    for (const control of ['#chat-name', '#chat-text', '#chat-send']) {
      assertInside(await rectOf(phone, control), window, control);
      await assertReachable(phone, control);
    }
    const list = await phone.locator('#messages').evaluate((n) => [n.scrollHeight, n.clientHeight]);
    assert.ok(list[0]! > list[1]!, 'the message list scrolls within the room');
    assertInside(await rectOf(phone, '#status'), window, 'the status badge');
    await phone.screenshot({ path: join(RESULTS, 'demo-mobile-chat.png') });
  });

  test('on a desktop screen the layout is unchanged: one header row, users beside the room', async () => {
    await assertFits(desk, 1100);
    const [title, status] = [await rectOf(desk, 'h1'), await rectOf(desk, '#status')];
    assert.ok(status.top < title.bottom && title.top < status.bottom, 'the badge is on the title’s row');
    const [users, room] = [await rectOf(desk, '.users'), await rectOf(desk, '.room')];
    assert.ok(users.right <= room.left, 'the users list is beside the room');
    const [nameField, text, send] = await Promise.all(
      ['#chat-name', '#chat-text', '#chat-send'].map((s) => rectOf(desk, s)),
    );
    assert.ok(nameField!.right <= text!.left && text!.right <= send!.left, 'the composer is one row');
    assert.ok(nameField!.top < text!.bottom && text!.top < nameField!.bottom);
    await desk.click('.tab[data-view="canvas"]');
    await assertFits(desk, 1100);
    // A shape against the canvas's right edge does not make the desktop canvas scroll.
    const canvas = await desk.locator('#canvas-viewport').evaluate((v) => ({
      width: v.clientWidth,
      scroll: v.scrollWidth,
      height: v.clientHeight,
      // what reaches past the viewport's right edge, to say what went wrong
      beyond: Array.from(v.querySelectorAll('*'))
        .filter((n) => n.getBoundingClientRect().right > v.getBoundingClientRect().right)
        .map((n) => `${n.className} ${JSON.stringify(n.getBoundingClientRect())}`),
    }));
    assert.equal(canvas.scroll, canvas.width, canvas.beyond.join('\n'));
    assert.ok(canvas.width >= 1000 && canvas.height >= 480, `canvas ${canvas.width}×${canvas.height}`);
  });
});
