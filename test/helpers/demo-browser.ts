// The set-up the demo's browser tests share: the demo server on a free port (in-memory store),
// Debian's chromium through playwright-core, and demo pages opened each in a context of its
// own (separate storage and sessions, as two people would have). Fails, never skips, when
// chromium is missing: `apt-get install -y chromium` (.ci/run does) or set CHROMIUM_PATH.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import {
  type Browser,
  type BrowserContext,
  type BrowserContextOptions,
  chromium,
  type Page,
} from 'playwright-core';
import { startDemo } from '../../demo/server.js';
import { MemoryStore } from '../../src/store/index.js';

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
/** Where screenshots go (not committed). */
export const RESULTS = join(__dirname, '..', '..', 'test-results');
/** The desktop viewport of the demo tests. */
export const DESKTOP = { width: 1100, height: 720 };
const silent = { debug() {}, info() {}, warn() {}, error() {} };

export interface DemoBrowser {
  demo: Awaited<ReturnType<typeof startDemo>>;
  browser: Browser;
  /** A demo page in a new context, loaded and ready (`body[data-ready]`). */
  open(options?: BrowserContextOptions): Promise<{ context: BrowserContext; page: Page }>;
  close(): Promise<void>;
}

export async function launchDemoBrowser(): Promise<DemoBrowser> {
  assert.ok(
    existsSync(CHROMIUM),
    `${CHROMIUM} is missing: apt-get install -y chromium (or set CHROMIUM_PATH)`,
  );
  mkdirSync(RESULTS, { recursive: true });
  const demo = await startDemo({
    port: 0,
    host: '127.0.0.1',
    logger: silent as never,
    store: new MemoryStore(),
  });
  let browser: Browser;
  try {
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking'],
    });
  } catch (err) {
    await demo.close();
    throw err;
  }
  return {
    demo,
    browser,
    async open(options = { viewport: DESKTOP }) {
      const context = await browser.newContext(options);
      const page = await context.newPage();
      page.on('pageerror', (err) => console.error('page error:', err));
      await page.goto(`http://127.0.0.1:${demo.port}/`);
      await page.waitForSelector('body[data-ready="true"]');
      return { context, page };
    },
    async close() {
      await browser.close();
      await demo.close();
    },
  };
}
