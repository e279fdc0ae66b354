// Durability on every durable store: each scenario below runs once on SQLite and once on
// PostgreSQL (test/helpers/postgres.ts: fails, never skips, when there is none; each storage is a
// fresh directory or schema, removed afterwards).
//   - A durable server in a child process, several writers over real sockets, `kill -9` mid-load,
//     restart: every acknowledged changeset must be there, no atomic changeset half applied, every
//     object reachable from the root. Twice, so the second round starts from a restored scope
//     (snapshot + change log; the fixture snapshots every 7 changesets).
//   - A process appending to the store directly, `kill -9`: every acknowledged append is stored.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import pg from 'pg';
import { crashScenario, WAIT_MS } from '../fixtures/crash-harness.js';
import { storeFromArgv } from '../fixtures/store-args.js';
import { randomSchemaName, startTestPostgres, type TestPostgres } from '../helpers/postgres.js';
import { waitFor } from '../helpers/wait.js';

interface Backend {
  name: string;
  /** Store options (test/fixtures/store-args.ts) of a new, empty storage for one scenario. */
  fresh(label: string): Promise<string[]>;
  /** Extra options of crash-writer.ts: the weakest setting that must survive a process kill. */
  writerArgs: string[];
  /** Removes every storage fresh() made. */
  cleanUp(): Promise<void>;
}

function sqlite(): Backend {
  let dir: string | undefined;
  return {
    name: 'SQLite',
    async fresh(label) {
      dir ??= await mkdtemp(join(tmpdir(), 'jetstream-durability-'));
      const sub = join(dir, label);
      await mkdir(sub);
      return ['--store', 'sqlite', '--dir', sub];
    },
    // synchronous NORMAL: a commit is in the WAL but not fsynced; that survives a process kill.
    writerArgs: ['--synchronous', 'NORMAL'],
    async cleanUp() {
      if (dir) await rm(dir, { recursive: true, force: true });
    },
  };
}

function postgres(): Backend {
  let server: TestPostgres | undefined;
  const schemas: string[] = [];
  return {
    name: 'PostgreSQL',
    async fresh(label) {
      server ??= await startTestPostgres(); // throws without a server: the scenario fails
      const schema = randomSchemaName(`jetstream_${label.replaceAll('-', '_')}`);
      schemas.push(schema);
      return ['--store', 'postgres', '--url', server.connectionString, '--schema', schema];
    },
    writerArgs: [],
    async cleanUp() {
      if (!server) return;
      const client = new pg.Client({ connectionString: server.connectionString });
      client.on('error', () => {});
      try {
        await client.connect();
        for (const schema of schemas) await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      } finally {
        await client.end().catch(() => {});
        await server.stop();
      }
    },
  };
}

for (const backend of [sqlite(), postgres()]) {
  describe(`durability: ${backend.name}`, () => {
    after(() => backend.cleanUp());

    test('server killed (kill -9) mid-load: every acknowledged change survives, atomic changesets are whole, the scope is consistent', async () => {
      const rounds = await crashScenario({
        args: await backend.fresh('crash'),
        writers: 4,
        killAfter: 80,
        rounds: 2,
      });
      assert.equal(rounds.length, 2);
      console.log(JSON.stringify(rounds));
      for (const r of rounds) assert.ok(r.acked > 0 && r.stored > 0);
    });

    test('store writer killed (kill -9): every acknowledged append survives', async () => {
      const args = await backend.fresh('writer');
      const child = spawn(
        process.execPath,
        [
          '--import',
          'tsx',
          join(__dirname, '..', 'fixtures', 'crash-writer.ts'),
          ...args,
          ...backend.writerArgs,
        ],
        { stdio: ['ignore', 'pipe', 'inherit'] },
      );
      // 'close': the process is gone and everything it printed has been read.
      const gone = new Promise((resolve) => child.once('close', resolve));
      let acknowledged = 0;
      let buffer = '';
      child.stdout.on('data', (chunk: Buffer) => {
        buffer += chunk.toString();
        const lines = buffer.split('\n');
        buffer = lines.pop()!;
        for (const line of lines) acknowledged = Number(line);
      });
      try {
        await waitFor(
          () => {
            if (child.exitCode !== null || child.signalCode !== null)
              throw new Error(`the writer exited by itself (${child.exitCode ?? child.signalCode})`);
            return acknowledged >= 200;
          },
          { timeout: WAIT_MS, message: () => `200 acknowledged appends (got ${acknowledged})` },
        );
      } finally {
        child.kill('SIGKILL');
        await gone;
      }
      // Whatever the child printed before it died was acknowledged, also after the 200th.
      for (const line of buffer.split('\n')) if (line) acknowledged = Math.max(acknowledged, Number(line));
      const store = storeFromArgv(args)!;
      await store.open();
      const loaded = await store.load('crash');
      await store.close();
      assert.ok(loaded!.version >= acknowledged, `stored ${loaded!.version}, acknowledged ${acknowledged}`);
      assert.deepEqual(
        loaded!.changes.map((c) => c.version),
        Array.from({ length: loaded!.version }, (_, i) => i + 1),
      );
    });
  });
}
