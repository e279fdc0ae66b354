// The `jetstream` command (docs/operations.md, "CLI"), run as a user runs it: the package's bin
// (bin/jetstream.cjs on the built dist/) in a child process. Help is accurate; serve serves a
// module's models with probes and a graceful SIGTERM; export then import moves a 100,000-object
// scope from SQLite to PostgreSQL exactly (the second export equals the first, byte for byte).
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { HELP } from '../../src/cli/main.js';
import { SqliteStore } from '../../src/store/index.js';
import type { StoredFragment } from '../../src/store/types.js';
import { randomSchemaName, startTestPostgres, type TestPostgres } from '../helpers/postgres.js';
import { type Msg, TestClient } from '../helpers/ws-client.js';

const root = join(__dirname, '..', '..');
const BIN = join(root, 'bin', 'jetstream.cjs');
const MODELS = join(__dirname, 'fixtures', 'models.cjs');
const dir = mkdtempSync(join(tmpdir(), 'jetstream-cli-'));
after(() => rmSync(dir, { recursive: true, force: true }));

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function start(args: string[], env: Record<string, string> = {}): ChildProcess {
  return spawn(process.execPath, [BIN, ...args], {
    cwd: dir,
    env: { ...process.env, DATABASE_URL: '', REDIS_URL: '', LOG_LEVEL: 'info', ...env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
}

/** Runs the command to its end. */
function run(args: string[], input?: string): Promise<Run> {
  const child = start(args);
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => {
    stdout += d.toString();
  });
  child.stderr!.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  child.stdin!.end(input);
  return new Promise((resolve) => child.once('close', (code) => resolve({ code, stdout, stderr })));
}

describe('jetstream CLI', () => {
  test('--help and each command’s --help print their text; each names every option its command takes', async () => {
    for (const [args, text] of [
      [['--help'], HELP.main],
      [[], HELP.main],
      [['serve', '--help'], HELP.serve],
      [['export', '--help'], HELP.export],
      [['import', '-h'], HELP.import],
    ] as const) {
      const r = await run([...args]);
      assert.equal(r.code, 0, args.join(' '));
      assert.equal(r.stdout, `${text}\n`);
    }
    const options: Record<string, string[]> = {
      serve: ['--port', '--host', '--scope', '--store'],
      export: ['--out', '--store'],
      import: ['--as', '--replace', '--store'],
    };
    for (const [command, names] of Object.entries(options)) {
      for (const name of names)
        assert.match(HELP[command]!, new RegExp(`${name} `), `${command} --help names ${name}`);
      assert.match(HELP.main!, new RegExp(`jetstream ${command} `), `the main help lists ${command}`);
    }
    const version = await run(['--version']);
    assert.equal(version.stdout.trim(), JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).version);
  });

  test('mistakes: one line on stderr, exit code 1', async () => {
    for (const [args, message] of [
      [['deploy'], /^jetstream: unknown command "deploy"/],
      [['export'], /^jetstream: export needs one scope name \(see jetstream export --help\)$/],
      [['export', 'Board', '--port', '3'], /^jetstream: export takes no --port/],
      [['export', 'Board', '--bogus'], /^jetstream: Unknown option '--bogus'/],
      [
        ['export', 'Nothing', '--store', `sqlite:${join(dir, 'empty')}`],
        /^jetstream: No scope named "Nothing" in the store \(it is empty\)$/,
      ],
      [
        ['export', 'Board', '--store', 'mysql://h/db'],
        /^jetstream: --store must be sqlite:<path> or a postgres:\/\/ URL/,
      ],
      [['import', join(dir, 'missing.json')], /^jetstream: Cannot read .*missing\.json: ENOENT$/],
      [
        ['serve', MODELS, '--scope', 'Canvas', '--store', `sqlite:${join(dir, 'serve-bad')}`],
        /^jetstream: --scope Canvas: .* exports no model named "Canvas" \(it exports: Note, Board\)$/,
      ],
    ] as const) {
      const r = await run([...args]);
      assert.equal(r.code, 1, args.join(' '));
      assert.equal(r.stderr.trim().split('\n')[0]!.length > 0, true);
      assert.match(r.stderr.trim().split('\n')[0]!, message, r.stderr);
    }
    writeFileSync(join(dir, 'not-export.json'), '{"hello": 1}');
    const notExport = await run(['import', join(dir, 'not-export.json')]);
    assert.equal(notExport.code, 1);
    assert.match(notExport.stderr, /is not a file of jetstream export/);
  });

  test('serve: a module’s model as a scope, probes, a client’s change stored, SIGTERM exits 0', async () => {
    const data = `sqlite:${join(dir, 'served')}`;
    const child = start(['serve', MODELS, '--scope', 'Board', '--port', '0', '--store', data]);
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    try {
      const port = await new Promise<number>((resolve, reject) => {
        let out = '';
        child.stdout!.on('data', (d: Buffer) => {
          out += d.toString();
          const m = /listening on ws:\/\/localhost:(\d+)\//.exec(out);
          if (m) resolve(Number(m[1]));
        });
        void exited.then((code) => reject(new Error(`serve exited with ${code}: ${out}`)));
      });
      const ready = await fetch(`http://127.0.0.1:${port}/readyz`);
      assert.equal(ready.status, 200);
      const client = await TestClient.session(port);
      const { state } = await client.fetch('Board');
      const board = (state!.fragments as Msg[])[0]!;
      assert.equal(board.clsName, 'Board');
      const reply = await client.sync(0, [
        { type: 'change', uuid: board.uuid, clsName: 'Board', properties: { title: 'Sprint' } },
      ]);
      assert.deepEqual(reply.fragmentReplies, [{}]);
      child.kill('SIGTERM');
      assert.equal((await client.closed).code, 1001);
      assert.equal(await exited, 0);
    } finally {
      child.kill('SIGKILL');
    }
    // What it stored is there for the next command.
    const exported = await run(['export', 'Board', '--store', data]);
    assert.equal(exported.code, 0, exported.stderr);
    assert.match(exported.stdout, /"title":"Sprint"/);
  });

  describe('export and import', () => {
    let postgres: TestPostgres;
    before(async () => {
      postgres = await startTestPostgres();
    });
    after(async () => {
      await postgres.stop();
    });

    test('a 100,000-object scope: SQLite → file → PostgreSQL → file, the two files equal', async () => {
      const OBJECTS = 100_000;
      const sqlite = join(dir, 'big');
      const store = new SqliteStore({ filename: join(sqlite, 'jetstream.db') });
      await store.open();
      const note = (i: number) => `20000000-0000-4000-8000-${String(i).padStart(12, '0')}`;
      const boardUUID = '10000000-0000-4000-8000-000000000000';
      const fragments: StoredFragment[] = [
        {
          type: 'change',
          uuid: boardUUID,
          clsName: 'Board',
          properties: { title: 'big', notes: Array.from({ length: OBJECTS }, (_, i) => note(i)) },
        },
      ];
      for (let i = 0; i < OBJECTS; i++)
        fragments.push({
          type: 'add',
          uuid: note(i),
          clsName: 'Note',
          properties: { text: `note ${i} — ✓` },
        });
      await store.writeSnapshot({ scope: 'Big', version: 3, rootUUID: boardUUID, fragments });
      // Changes after the snapshot travel too.
      for (let v = 4; v <= 10; v++)
        await store.append([
          {
            scope: 'Big',
            version: v,
            fragments: [{ type: 'change', uuid: note(v), clsName: 'Note', properties: { text: `v${v}` } }],
          },
        ]);
      await store.close();

      const first = join(dir, 'big-1.json');
      const out = await run(['export', 'Big', '--store', `sqlite:${sqlite}`, '--out', first]);
      assert.equal(out.code, 0, out.stderr);
      assert.equal(out.stderr, `exported Big at version 10 (${OBJECTS + 1 + 7} fragments)\n`);

      const schema = randomSchemaName();
      const pgSpec = `${postgres.connectionString}?schema=${schema}`;
      try {
        const imported = await run(['import', first, '--store', pgSpec]);
        assert.equal(imported.code, 0, imported.stderr);
        assert.equal(imported.stderr, 'imported Big at version 10\n');
        // Again: refused without --replace, accepted with it.
        const again = await run(['import', first, '--store', pgSpec]);
        assert.equal(again.code, 1);
        assert.match(again.stderr, /already has a scope named "Big" \(version 10\): pass --replace/);
        const replaced = await run(
          ['import', '-', '--replace', '--store', pgSpec],
          readFileSync(first, 'utf8'),
        );
        assert.equal(replaced.code, 0, replaced.stderr);

        const second = await run(['export', 'Big', '--store', pgSpec]);
        assert.equal(second.code, 0, second.stderr);
        assert.equal(
          second.stdout,
          readFileSync(first, 'utf8'),
          'the PostgreSQL export equals the SQLite one',
        );
        const doc = JSON.parse(second.stdout);
        assert.equal(doc.snapshot.fragments.length, OBJECTS + 1);
        assert.equal(doc.changes.length, 7);
      } finally {
        const pg = await import('pg');
        const client = new pg.default.Client({ connectionString: postgres.connectionString });
        await client.connect();
        await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
        await client.end();
      }
    });
  });
});
