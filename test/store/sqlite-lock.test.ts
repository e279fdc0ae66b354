// One process serves a SQLite file (docs/persistence.md, "SQLite"): a second store on the same
// file and tables fails to open with a clear message, in this process or in another, and the
// lock goes with the process that held it, kill -9 included.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { SqliteStore } from '../../src/store/index.js';

const dir = mkdtempSync(join(tmpdir(), 'jetstream-sqlite-lock-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const IN_USE = /is in use by another process.*one process serves a SQLite file/;

test('a second store on the same file and tables fails to open; it opens once the first is closed', async () => {
  const filename = join(dir, 'one.db');
  const first = new SqliteStore({ filename });
  await first.open();
  await first.append([{ scope: 's', version: 1, fragments: [] }]);
  const second = new SqliteStore({ filename, busyTimeoutMs: 100 });
  await assert.rejects(second.open(), IN_USE);
  // Other tables of the same file are another store: not locked.
  const other = new SqliteStore({ filename, tablePrefix: 'other_' });
  await other.open();
  await other.close();
  await first.close();
  await second.open();
  assert.equal((await second.load('s'))?.version, 1);
  await second.close();
});

test('a store held by another process: refused while it lives, free once it is killed with SIGKILL', async () => {
  const filename = join(dir, 'two.db');
  const holder = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      '-e',
      `const { SqliteStore } = require(${JSON.stringify(join(__dirname, '../../src/store/index.ts'))});
       new SqliteStore({ filename: ${JSON.stringify(filename)} }).open().then(() => console.log('OPEN'));
       setInterval(() => {}, 1000);`,
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  try {
    await new Promise<void>((resolve, reject) => {
      holder.stdout!.on('data', (d: Buffer) => {
        if (d.toString().includes('OPEN')) resolve();
      });
      holder.once('exit', (code) => reject(new Error(`the holder exited with ${code}`)));
    });
    const store = new SqliteStore({ filename, busyTimeoutMs: 100 });
    await assert.rejects(store.open(), IN_USE);
    const exited = new Promise((resolve) => holder.once('exit', resolve));
    holder.kill('SIGKILL');
    await exited;
    await store.open();
    await store.append([{ scope: 's', version: 1, fragments: [] }]);
    await store.close();
  } finally {
    holder.kill('SIGKILL');
  }
});
