// How long a snapshot of a big durable scope blocks the server's event loop.
//
// A server with a store opens a Canvas scope of 100,000 shapes, then applies small changesets
// (one shape moved each) at a steady pace, as clients would, until a snapshot is due (every
// max(snapshotEvery, objects / 4) stored changesets: ~25,000 here) and written. Two phases of the
// same load are measured: the first 20,000 changesets (no snapshot), then on until the snapshot
// is written and 3,000 changesets after it. For each phase: the longest event-loop block, as the
// largest gap between two turns of a 1 ms probe timer, as the maximum of
// perf_hooks.monitorEventLoopDelay (1 ms resolution), and, on Linux, as the largest gap less the
// time the thread waited for a CPU in it (which tells the event loop's own work from a machine
// whose cores were all taken); and the slowest commit (from a change to the end of the append
// that stored it: what its acknowledgement waits for; no change is made
// while the loop is blocked, so a block does not show here, where clients would see it).
//
// Paths: `new` lets the store compact (Store.compact: the snapshot is folded and written from
// what is stored, in a worker thread); `old` hides compact from the server, which then captures
// the state on its event loop (scope.getState) and hands it to writeSnapshot, as before. For the
// figures of the code before compaction (SQLite then wrote on the event loop too), run this
// script with `--path old` in a checkout of that code.
// Stores: SQLite (a file in a temp dir, synchronous FULL), and PostgreSQL when DATABASE_URL or the
// local server at 127.0.0.1:5432/test answers (own schema, dropped after).
//
// Each case runs in a fresh child process, so that no case collects another's garbage.
//
//   node --import tsx bench/snapshot-block.ts [--path old|new|both] [--store sqlite|postgres|both]
//                                            [--objects 100000] [--rounds 1]
// Not a test: figures go to stdout (a table, then one JSON line).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { Canvas, Shape } from '../demo/models.js';
import { createServer } from '../src/server/server.js';
import { DelegatingStore } from '../src/store/delegating.js';
import { PostgresStore } from '../src/store/postgres.js';
import { SqliteStore } from '../src/store/sqlite.js';
import type { ChangeRecord, Snapshot, Store } from '../src/store/types.js';

const { values: args } = parseArgs({
  options: {
    path: { type: 'string', default: 'both' },
    store: { type: 'string', default: 'both' },
    objects: { type: 'string', default: '100000' },
    rounds: { type: 'string', default: '1' },
    /** Internal: run one case in this process and print its result as JSON. */
    child: { type: 'string' },
    url: { type: 'string' },
    dir: { type: 'string' },
  },
});
const OBJECTS = Number(args.objects);
/** Changesets per event-loop turn of the load, and the pause between turns. */
const PER_TURN = 20;
const TURN_MS = 1;
const QUIET_CHANGESETS = 20_000;
const AFTER_SNAPSHOT = 3_000;

interface PhaseFigures {
  changesets: number;
  /** The largest gap between two turns of the 1 ms probe, minus the 1 ms it waits. */
  maxBlockMs: number;
  /** monitorEventLoopDelay's maximum over the phase. */
  maxDelayMs: number;
  /** The largest probe gap less the time this thread waited for a CPU in it (Linux). */
  maxOnCpuMs: number;
  /** The longest wait of a change for its commit (what its acknowledgement waits for). */
  maxCommitMs: number;
}

interface Result {
  store: string;
  path: string;
  quiet: PhaseFigures;
  /** `snapshots`: every snapshot written in the phase (one more may follow the first at once, when the load stored enough changes meanwhile). */
  snapshot: PhaseFigures & { snapshots: { version: number; ms: number }[] };
}

/** The store under test, timing appends and snapshot writes; `compact` only when `withCompact`. */
class Instrumented extends DelegatingStore {
  /** When each version was emitted by the scope, until it is stored. */
  readonly emitted = new Map<number, number>();
  /** The longest time from a change to the end of the append that stored it. */
  commitMax = 0;
  /** Every snapshot written (a compaction, or a state handed over): its version and duration. */
  readonly snapshots: { version: number; ms: number }[] = [];

  constructor(inner: Store, withCompact: boolean) {
    super(inner);
    if (!withCompact) {
      delete this.compact; // the old path: the server captures the state itself
    } else {
      if (!inner.compact) throw new Error(`${inner.kind} cannot compact`);
      this.compact = async (scope, version, schema) => {
        const t0 = performance.now();
        await inner.compact!(scope, version, schema);
        this.snapshots.push({ version, ms: performance.now() - t0 });
      };
    }
  }
  override async append(records: ChangeRecord[]) {
    await this.inner.append(records);
    const now = performance.now();
    for (const r of records) {
      const t = this.emitted.get(r.version);
      if (t === undefined) continue;
      this.emitted.delete(r.version);
      this.commitMax = Math.max(this.commitMax, now - t);
    }
  }
  override async writeSnapshot(snapshot: Snapshot) {
    // The old path captured the state when the group closed, before this call: not counted.
    const t0 = performance.now();
    await this.inner.writeSnapshot(snapshot);
    if (snapshot.version > 0) this.snapshots.push({ version: snapshot.version, ms: performance.now() - t0 });
  }
}

/** The longest gap between two turns of a 1 ms timer, and the event-loop delay histogram. */
class Probe {
  #last = performance.now();
  #lastWait = runqueueWait();
  #max = 0;
  #maxOnCpu = 0;
  #timer: NodeJS.Timeout;
  #histogram = monitorEventLoopDelay({ resolution: 1 });

  constructor() {
    this.#timer = setInterval(() => {
      const now = performance.now();
      const wait = runqueueWait();
      const gap = now - this.#last - 1;
      this.#max = Math.max(this.#max, gap);
      this.#maxOnCpu = Math.max(this.#maxOnCpu, gap - (wait - this.#lastWait));
      this.#last = now;
      this.#lastWait = wait;
    }, 1);
    this.#histogram.enable();
  }

  /** The figures since the last call, then starts over. */
  take(): { maxBlockMs: number; maxDelayMs: number; maxOnCpuMs: number } {
    const out = {
      maxBlockMs: this.#max,
      maxDelayMs: this.#histogram.max / 1e6,
      maxOnCpuMs: Number.isNaN(this.#lastWait) ? Number.NaN : this.#maxOnCpu,
    };
    this.#max = 0;
    this.#maxOnCpu = 0;
    this.#histogram.reset();
    return out;
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#histogram.disable();
  }
}

/**
 * How long this thread has waited for a CPU, in ms (Linux: /proc/thread-self/schedstat); NaN
 * elsewhere. A gap of the probe minus this wait is time the event loop itself was busy: on a
 * machine with few cores, a gap also counts the time other threads (the store's worker, a
 * database server on the same machine) held every core.
 */
function runqueueWait(): number {
  try {
    return Number(readFileSync('/proc/thread-self/schedstat', 'utf8').split(' ')[1]) / 1e6;
  } catch {
    return Number.NaN;
  }
}

async function measure(label: string, inner: Store, path: 'old' | 'new'): Promise<Result> {
  const store = new Instrumented(inner, path === 'new');
  const say = (details: unknown, msg?: string) =>
    process.stderr.write(`${msg} ${String((details as { err?: Error })?.err ?? '')}\n`);
  const logger = { debug() {}, info() {}, warn: say, error: say };
  const server = await createServer({ port: 0, store, logger });
  const name = `Big-${path}-${Date.now()}`;
  const shapes = Array.from(
    { length: OBJECTS - 1 },
    (_, i) => new Shape({ x: i, y: i % 1000, width: 10, height: 10, type: i % 5 }),
  );
  const root = () => new Canvas({ name: 'big', shapes });
  // Opening stores the initial state (on this event loop either way): not measured.
  const scope = await server.openScope({ name, root });
  const uuids = shapes.map((s) => s.uuid);
  await server.drain();
  scope.on('changes', () => {
    store.emitted.set(scope.version, performance.now());
  });
  let sent = 0;
  const probe = new Probe();
  /** Applies `n` one-shape changesets, PER_TURN per turn, one turn per TURN_MS. */
  const drive = async (until: () => boolean) => {
    while (!until()) {
      for (let i = 0; i < PER_TURN; i++, sent++) {
        const uuid = uuids[(sent * 7919) % uuids.length]!;
        scope.applyChangeset([{ type: 'change', uuid, clsName: 'Shape', properties: { x: sent } }]);
      }
      await new Promise((r) => setTimeout(r, TURN_MS));
    }
  };
  probe.take();
  await drive(() => sent >= QUIET_CHANGESETS);
  await server.drain();
  const quiet = { changesets: sent, ...probe.take(), maxCommitMs: store.commitMax };
  if (store.snapshots.length !== 0) throw new Error('a snapshot was written in the quiet phase');
  store.commitMax = 0;
  let stopAt = Number.POSITIVE_INFINITY;
  await drive(() => {
    if (store.snapshots.length !== 0 && stopAt === Number.POSITIVE_INFINITY) stopAt = sent + AFTER_SNAPSHOT;
    return sent >= stopAt || sent > 200_000;
  });
  await server.drain();
  const snapshot = {
    changesets: sent - quiet.changesets,
    ...probe.take(),
    maxCommitMs: store.commitMax,
    snapshots: store.snapshots,
  };
  probe.stop();
  await server.close();
  await store.inner.deleteScope(name);
  return { store: label, path, quiet, snapshot };
}

async function reachablePostgres(): Promise<string | null> {
  for (const url of [process.env.DATABASE_URL, 'postgres://postgres@127.0.0.1:5432/test']) {
    if (!url) continue;
    const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2000 });
    client.on('error', () => {});
    try {
      await client.connect();
      await client.query('SELECT 1');
      return url;
    } catch {
      // next
    } finally {
      await client.end().catch(() => {});
    }
  }
  return null;
}

const ms = (n: number) => (Number.isFinite(n) ? n.toFixed(1) : '-');

/** One case in this process (`--child store:path`): prints its Result as one JSON line. */
async function child(spec: string): Promise<void> {
  const [kind, path] = spec.split(':') as [string, 'old' | 'new'];
  const store =
    kind === 'sqlite'
      ? new SqliteStore({ filename: join(args.dir!, `${path}-${process.pid}.db`) })
      : new PostgresStore({ connectionString: args.url!, schema: `jetstream_bench_${process.pid}` });
  await store.open();
  try {
    console.log(JSON.stringify(await measure(kind, store, path)));
  } finally {
    if (store instanceof PostgresStore) await store.drop();
    await store.close();
  }
}

async function main(): Promise<void> {
  const paths = (args.path === 'both' ? ['old', 'new'] : [args.path]) as ('old' | 'new')[];
  const stores = args.store === 'both' ? ['sqlite', 'postgres'] : [args.store!];
  const results: Result[] = [];
  const dir = mkdtempSync(join(tmpdir(), 'jetstream-snapshot-block-'));
  const url = stores.includes('postgres') ? await reachablePostgres() : null;
  if (stores.includes('postgres') && url === null) {
    process.stderr.write('PostgreSQL: neither DATABASE_URL nor 127.0.0.1:5432/test answers; skipped\n');
  }
  try {
    for (let round = 0; round < Number(args.rounds); round++) {
      for (const kind of stores) {
        if (kind === 'postgres' && url === null) continue;
        for (const path of paths) {
          const out = execFileSync(
            process.execPath,
            [
              ...process.execArgv,
              __filename,
              '--child',
              `${kind}:${path}`,
              '--dir',
              dir,
              '--objects',
              String(OBJECTS),
              ...(url ? ['--url', url] : []),
            ],
            { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 1 << 24 },
          );
          results.push(JSON.parse(out.trim().split('\n').at(-1)!));
        }
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  console.log(
    `\nScope of ${OBJECTS.toLocaleString('en')} objects; ${PER_TURN} one-shape changesets per turn, a turn every ${TURN_MS} ms.`,
  );
  console.log(
    '| store | path | longest block, no snapshot (probe / histogram / less CPU wait) | longest block, with snapshot (probe / histogram / less CPU wait) | first snapshot written in | slowest commit, no snapshot / with |',
  );
  console.log('|---|---|---|---|---|---|');
  for (const r of results) {
    console.log(
      `| ${r.store} | ${r.path} | ${ms(r.quiet.maxBlockMs)} / ${ms(r.quiet.maxDelayMs)} / ${ms(r.quiet.maxOnCpuMs)} ms | ${ms(r.snapshot.maxBlockMs)} / ${ms(r.snapshot.maxDelayMs)} / ${ms(r.snapshot.maxOnCpuMs)} ms | ${ms(r.snapshot.snapshots[0]?.ms ?? Number.NaN)} ms (v${r.snapshot.snapshots[0]?.version}${r.snapshot.snapshots.length > 1 ? `, ${r.snapshot.snapshots.length} in all` : ''}) | ${ms(r.quiet.maxCommitMs)} / ${ms(r.snapshot.maxCommitMs)} ms |`,
    );
  }
  console.log(JSON.stringify({ objects: OBJECTS, results }));
}

(args.child ? child(args.child) : main()).catch((err) => {
  console.error(err);
  process.exit(1);
});
