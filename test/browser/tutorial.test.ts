// The to-do tutorial of docs/client.md, built and run as the doc says: its files
// (docs/examples/todo/, which the doc shows verbatim: test/docs/code-blocks.test.ts) are copied
// into a fresh project that depends on this package, the doc's own commands bundle the page and
// start the server, and two Chromium pages (Debian's chromium, driven by playwright-core) edit
// the list together. Fails, never skips, when chromium or dist/ is missing.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { cpSync, existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { type Browser, chromium, type Page } from 'playwright-core';
import { parseBlocks, ROOT, roleOf } from '../docs/blocks.js';
import { assertBuilt, type ScratchProject, scratchProject } from '../docs/scratch.js';
import { waitFor } from '../helpers/wait.js';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const EXAMPLE = join(ROOT, 'docs', 'examples', 'todo');
const DOC = 'docs/client.md';

/** The tutorial's section of docs/client.md and its blocks. */
function tutorial() {
  const markdown = readFileSync(join(ROOT, DOC), 'utf8');
  const start = markdown.indexOf('## Five-minute tutorial');
  assert.ok(start >= 0, `${DOC} has no "Five-minute tutorial" section`);
  const end = markdown.indexOf('\n## ', start + 1);
  const offset = markdown.slice(0, start).split('\n').length - 1;
  return parseBlocks(DOC, markdown.slice(start, end === -1 ? undefined : end)).map((b) => ({
    ...b,
    line: b.line + offset,
  }));
}

/** Every file under a folder, relative to it. */
function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => relative(dir, join(e.parentPath, e.name)))
    .sort();
}

/** `npx name args…` as the doc writes it: the package's bin in the project, and the arguments. */
function npx(command: string, dir: string): { bin: string; args: string[] } {
  const [npxWord, name, ...args] = command.trim().split(/\s+/);
  assert.equal(npxWord, 'npx', `not an npx command: ${command}`);
  const pkg = JSON.parse(readFileSync(join(dir, 'node_modules', name!, 'package.json'), 'utf8')) as {
    bin: string | Record<string, string>;
  };
  const bin = typeof pkg.bin === 'string' ? pkg.bin : pkg.bin[name!]!;
  return { bin: join(dir, 'node_modules', name!, bin), args };
}

describe('the to-do tutorial of docs/client.md, in chromium', { timeout: 120_000 }, () => {
  let project: ScratchProject;
  let server: ChildProcess | null = null;
  let output = '';
  let url: string;
  let browser: Browser;
  let one: Page;
  let two: Page;
  const pageErrors: string[] = [];

  before(async () => {
    assert.ok(
      existsSync(CHROMIUM),
      `${CHROMIUM} is missing: apt-get install -y chromium (or set CHROMIUM_PATH)`,
    );
    assertBuilt();
    const blocks = tutorial();
    const shown = blocks.flatMap((b) => {
      const role = roleOf(b);
      return role.kind === 'file' ? [relative(EXAMPLE, join(ROOT, role.path))] : [];
    });
    assert.deepEqual(
      shown.sort(),
      filesUnder(EXAMPLE),
      'the tutorial shows every file of docs/examples/todo/',
    );
    const commands = blocks
      .filter((b) => b.lang === 'sh')
      .flatMap((b) => b.code.split('\n'))
      .filter((l) => l.startsWith('npx '));
    assert.equal(commands.length, 2, `the tutorial's commands: ${commands.join(' / ')}`);
    const [bundleCommand, serveCommand] = commands as [string, string];

    project = scratchProject(['tsx', 'esbuild']);
    cpSync(EXAMPLE, project.dir, { recursive: true });

    // Step 5: bundle the page's script, then start the server (on a free port: PORT=0).
    const bundle = npx(bundleCommand, project.dir);
    const built = spawnSync(bundle.bin, bundle.args, { cwd: project.dir, encoding: 'utf8', timeout: 60_000 });
    assert.equal(built.status, 0, `${bundleCommand}:\n${built.stderr}`);
    const serve = npx(serveCommand, project.dir);
    server = spawn(serve.bin, serve.args, {
      cwd: project.dir,
      env: { ...process.env, PORT: '0' },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true, // its own process group: tsx runs the server in a child process
    });
    server.stdout!.on('data', (d) => (output += d));
    server.stderr!.on('data', (d) => (output += d));
    url = await waitFor(
      () => {
        if (server!.exitCode !== null) throw new Error(`the server exited (${server!.exitCode}): ${output}`);
        return /http:\/\/localhost:\d+\//.exec(output)?.[0];
      },
      { timeout: 30_000, interval: 50, message: () => `the server's address; output: ${output}` },
    );

    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking'],
    });
    const open = async () => {
      const page = await (await browser.newContext()).newPage();
      page.on('pageerror', (err) => pageErrors.push(err.message));
      await page.goto(url);
      await page.waitForFunction(() => document.querySelector('#name')?.textContent === 'Groceries');
      return page;
    };
    [one, two] = await Promise.all([open(), open()]);
  });

  after(async () => {
    await browser?.close();
    if (server?.pid !== undefined && server.exitCode === null) {
      const exited = new Promise((r) => server!.once('exit', r));
      process.kill(-server.pid, 'SIGTERM');
      await exited;
    }
    project?.remove();
  });

  /** The titles of the page's list, each with whether it is shown done. */
  const items = (page: Page) =>
    page.$$eval('#list li', (lis) =>
      lis.map((li) => `${li.querySelector('span')?.textContent}:${li.className}`),
    );
  const saved = (page: Page) =>
    page.waitForFunction(() => document.querySelector('#status')?.textContent === 'Saved');

  test('the page is served by the server, with the list and the sync status', async () => {
    await Promise.all([saved(one), saved(two)]);
    assert.deepEqual(await items(one), []);
    assert.equal(await one.title(), 'To-do');
  });

  test('a to-do added in one page appears in the other; done in the other, crossed out in the first', async () => {
    await one.fill('#title', 'Milk');
    await one.press('#title', 'Enter');
    await two.waitForFunction(() => document.querySelector('#list li span')?.textContent === 'Milk');
    assert.equal(await one.inputValue('#title'), '', 'the field is cleared');
    await two.check('#list li input[type=checkbox]');
    await one.waitForFunction(() => document.querySelector('#list li')?.className === 'done');
    assert.deepEqual(await items(one), ['Milk:done']);
    assert.deepEqual(await items(two), ['Milk:done']);
  });

  test('a title is shown as text in the other page, never as HTML', async () => {
    const title = '<img src=x onerror="document.title=\'pwned\'"><b>bold</b>';
    await one.fill('#title', title);
    await one.press('#title', 'Enter');
    await two.waitForFunction(
      (t) => Array.from(document.querySelectorAll('#list li span')).some((s) => s.textContent === t),
      title,
    );
    assert.equal(await two.locator('#list img, #list b').count(), 0);
    assert.equal(await two.title(), 'To-do');
    assert.deepEqual(await items(two), ['Milk:done', `${title}:`]);
  });

  test('"Clear done" (an atomic transaction) removes the done ones, in both pages', async () => {
    await one.click('#clear');
    await two.waitForFunction(() => document.querySelectorAll('#list li').length === 1);
    assert.deepEqual(await items(two), [`${'<img src=x onerror="document.title=\'pwned\'"><b>bold</b>'}:`]);
    assert.deepEqual(await items(one), await items(two));
    await Promise.all([saved(one), saved(two)]);
  });

  test('no page had a script error', () => {
    assert.deepEqual(pageErrors, []);
  });
});
