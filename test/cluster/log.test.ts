// The change log on a real Redis (src/cluster/log.ts, docs/cluster.md "Fan-out").
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, test } from 'node:test';
import { type LogEntry, LogReader, LogWriter, readLog } from '../../src/cluster/log.js';
import { type TestRedis, testRedis } from '../helpers/redis.js';
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
    assert.deepEqual(all, [entry(1), entry(2, 'p1:7'), entry(3)]);
    assert.deepEqual(await readLog(conn, 'room', 2, 1000, redis.prefix), [entry(3)]);
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
});
