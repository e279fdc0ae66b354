// The change log on a real Redis (src/cluster/log.ts, docs/cluster.md "Fan-out").
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, test } from 'node:test';
import { Redis } from 'ioredis';
import { type LogEntry, LogReader, LogWriter, readLog } from '../../src/cluster/log.js';
import { startOwnRedis, type TestRedis, testRedis } from '../helpers/redis.js';
import { waitFor } from '../helpers/wait.js';

const entry = (version: number, origin?: string): LogEntry => ({
  version,
  epoch: 1,
  fragments: JSON.stringify([{ type: 'change', uuid: 'u', clsName: 'C', properties: { n: version } }]),
  ...(origin === undefined ? {} : { origin }),
});

describe('change log', () => {
  let redis: TestRedis;
  const readers: LogReader[] = [];
  beforeEach(async () => {
    redis = await testRedis();
  });
  afterEach(async () => {
    for (const r of readers.splice(0)) await r.close();
    await redis.cleanup();
  });
  const reader = () => {
    const r = new LogReader(redis.connect(), redis.connect(), { prefix: redis.prefix });
    readers.push(r);
    return r;
  };

  test('entries are kept in version order, each version once', async () => {
    const conn = redis.connect();
    const writer = new LogWriter(conn, { prefix: redis.prefix });
    await writer.append('room', [entry(1), entry(2, 'p1:7')]);
    await writer.append('room', [entry(3)]);
    await assert.rejects(
      writer.append('room', [entry(3)]),
      /equal or smaller/,
      'a version already logged is refused',
    );
    await assert.rejects(writer.append('room', [entry(2)]), /equal or smaller/, 'so is an older one');
    const all = await readLog(conn, 'room', 0, 1000, redis.prefix);
    // Each entry carries when it was appended (a replica's lag is measured from it).
    for (const e of all) assert.ok(Math.abs(Date.now() - e.at!) < 60_000, `append time ${e.at}`);
    const untimed = (entries: LogEntry[]) => entries.map(({ at: _at, ...rest }) => rest);
    assert.deepEqual(untimed(all), [entry(1), entry(2, 'p1:7'), entry(3)]);
    assert.deepEqual(untimed(await readLog(conn, 'room', 2, 1000, redis.prefix)), [entry(3)]);
    assert.deepEqual(await readLog(conn, 'nothing', 0, 1000, redis.prefix), []);
    assert.ok((await conn.pttl(`${redis.prefix}{room}:log`)) > 0, 'an idle log expires');
  });

  test('the log is trimmed to about maxEntries', async () => {
    const conn = redis.connect();
    const writer = new LogWriter(conn, { prefix: redis.prefix, maxEntries: 10 });
    for (let v = 1; v <= 1000; v += 100) {
      await writer.append(
        'room',
        Array.from({ length: 100 }, (_, i) => entry(v + i)),
      );
    }
    const length = await conn.xlen(`${redis.prefix}{room}:log`);
    assert.ok(length < 1000 && length >= 10, `trimmed to ${length}`);
    const kept = await readLog(conn, 'room', 0, 2000, redis.prefix);
    assert.equal(kept.at(-1)!.version, 1000, 'the newest entries are the ones kept');
    assert.ok(kept[0]!.version > 1, 'a reader from version 0 sees that the start is gone');
  });

  test('a reader follows many scopes, each in order, from where it asks', async () => {
    const writer = new LogWriter(redis.connect(), { prefix: redis.prefix });
    await writer.append('a', [entry(1), entry(2)]);
    const r = reader();
    const got: Record<string, number[]> = { a: [], b: [] };
    r.follow('a', 1, (entries) => got.a!.push(...entries.map((e) => e.version)));
    r.follow('b', 0, (entries) => got.b!.push(...entries.map((e) => e.version)));
    for (let v = 3; v <= 50; v++) await writer.append('a', [entry(v)]);
    for (let v = 1; v <= 20; v++) await writer.append('b', [entry(v)]);
    await waitFor(() => got.a!.length === 49 && got.b!.length === 20, { message: () => JSON.stringify(got) });
    assert.deepEqual(
      got.a,
      Array.from({ length: 49 }, (_, i) => i + 2),
    );
    assert.deepEqual(
      got.b,
      Array.from({ length: 20 }, (_, i) => i + 1),
    );
    assert.equal(r.position('a'), 50);
    r.unfollow('a');
    await writer.append('a', [entry(51)]);
    await writer.append('b', [entry(21)]);
    await waitFor(() => got.b!.length === 21);
    assert.equal(got.a!.length, 49, 'an unfollowed scope is not delivered');
  });

  test('a reader whose Redis connection drops catches up after reconnecting', async () => {
    const writer = new LogWriter(redis.connect(), { prefix: redis.prefix });
    const blocking = redis.connect();
    const r = new LogReader(blocking, redis.connect(), { prefix: redis.prefix });
    readers.push(r);
    const got: number[] = [];
    r.follow('room', 0, (entries) => got.push(...entries.map((e) => e.version)));
    await writer.append('room', [entry(1)]);
    await waitFor(() => got.length === 1);
    blocking.disconnect(true); // ioredis reconnects on its own
    await writer.append('room', [entry(2), entry(3)]);
    await waitFor(() => got.length === 3, { timeout: 15_000, message: () => `got ${got}` });
    assert.deepEqual(got, [1, 2, 3]);
  });

  test('after Redis restarted, a reader never interrupts a connection by its id from before', async () => {
    // Redis numbers connections anew when it restarts: the reader's old id may now be another
    // client's (another process's inbox reader, another application's), which must not be
    // unblocked when a scope is followed.
    const own = await startOwnRedis();
    const conns: Redis[] = [];
    const connect = (name?: string) => {
      const c = new Redis(own.url, name === undefined ? {} : { connectionName: name });
      c.on('error', () => {});
      conns.push(c);
      return c;
    };
    // Connections made and closed first, so that the ids from before the restart are high.
    for (let i = 0; i < 20; i++) await connect().quit();
    const control = connect();
    const unblocked: number[] = [];
    const spy = new Proxy(control, {
      get(target, key) {
        if (key === 'client')
          return (...args: [string, number]) => {
            if (args[0] === 'UNBLOCK') unblocked.push(Number(args[1]));
            return target.client(...(args as ['UNBLOCK', number]));
          };
        const value = Reflect.get(target, key);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
    const blocking = connect('log-reader');
    const r = new LogReader(blocking, spy);
    try {
      r.follow('a', 0, () => {});
      await new Promise((resolve) => setTimeout(resolve, 200)); // blocked in its read now
      const back = new Promise((resolve) => blocking.once('ready', resolve));
      await own.kill();
      await own.start();
      await back;
      unblocked.length = 0;
      r.follow('b', 0, () => {}); // interrupts the read it has in flight, if it knows its id
      await new Promise((resolve) => setTimeout(resolve, 100));
      const list = String(await connect().client('LIST'));
      const id = Number(/id=(\d+) [^\n]*name=log-reader/.exec(list)?.[1]);
      assert.ok(id > 0, list);
      assert.deepEqual(
        unblocked.filter((u) => u !== id),
        [],
        `interrupted by its id now (${id}) or not at all`,
      );
    } finally {
      await r.close();
      for (const c of conns) c.disconnect();
      await own.kill();
    }
  });

  test('a reader goes on after Redis restarted empty: the recreated log is followed from where it was', async () => {
    // A Redis of its own, killed and restarted: its streams are gone, and the owner appends the
    // next versions to a new one (docs/cluster.md, "Faults").
    const own = await startOwnRedis();
    const conns: Redis[] = [];
    const connect = () => {
      const c = new Redis(own.url);
      c.on('error', () => {});
      conns.push(c);
      return c;
    };
    const r = new LogReader(connect(), connect());
    try {
      const writer = new LogWriter(connect());
      const got: number[] = [];
      r.follow('room', 0, (entries) => got.push(...entries.map((e) => e.version)));
      await writer.append('room', [entry(1), entry(2)]);
      await waitFor(() => got.length === 2);
      await own.kill();
      await own.start();
      await writer.append('room', [entry(3), entry(4)]);
      await waitFor(() => got.length === 4, { timeout: 15_000, message: () => `got ${got}` });
      assert.deepEqual(got, [1, 2, 3, 4]);
    } finally {
      await r.close();
      for (const c of conns) c.disconnect();
      await own.kill();
    }
  });
});
