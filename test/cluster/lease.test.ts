// Scope leases on a real Redis (src/cluster/lease.ts, docs/cluster.md "Ownership").
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, test } from 'node:test';
import { Leases } from '../../src/cluster/lease.js';
import { type TestRedis, testRedis } from '../helpers/redis.js';
import { waitFor } from '../helpers/wait.js';

describe('Leases', () => {
  let redis: TestRedis;
  const open: Leases[] = [];
  const leases = (id: string, ttlMs = 2000, renewEveryMs?: number) => {
    const l = new Leases(redis.connect(), id, { ttlMs, renewEveryMs, prefix: redis.prefix });
    open.push(l);
    return l;
  };

  beforeEach(async () => {
    redis = await testRedis();
  });
  afterEach(async () => {
    for (const l of open.splice(0)) await l.close();
    await redis.cleanup();
  });

  test('one owner at a time; each new lease has a greater epoch', async () => {
    const a = leases('a');
    const b = leases('b');
    assert.equal(await a.acquire('room'), 1);
    assert.equal(await b.acquire('room'), null, 'b cannot take a held scope');
    assert.equal(await a.acquire('room'), 1, 'the holder acquiring again keeps its epoch');
    assert.equal(await b.owner('room'), 'a');
    assert.ok(a.holds('room'));
    assert.equal(b.holds('room'), false);
    await a.release('room');
    assert.equal(a.holds('room'), false);
    assert.equal(await b.acquire('room'), 2);
    assert.equal(b.epoch('room'), 2);
    assert.equal(await a.owner('room'), 'b');
    assert.equal(await a.acquire('other'), 1, 'epochs are per scope');
  });

  test('renewal keeps a lease alive past its time to live', async () => {
    const a = leases('a', 300, 50);
    const b = leases('b', 300, 50);
    assert.equal(await a.acquire('room'), 1);
    await new Promise((r) => setTimeout(r, 900));
    assert.ok(a.holds('room'), 'still held after three times its time to live');
    assert.equal(await b.acquire('room'), null);
  });

  test('a lease taken over is lost: the old holder hears it and stops holding it', async () => {
    const a = leases('a', 400, 50);
    const b = leases('b', 400, 50);
    await a.acquire('room');
    const lost: string[] = [];
    a.on('lost', (scope) => lost.push(scope));
    // As if it had expired while a was paused: the key goes, and b takes the scope.
    await redis.connect().del(`${redis.prefix}{room}:lease`);
    assert.equal(await b.acquire('room'), 2);
    await waitFor(() => lost.length > 0, { message: 'a hears that it lost the lease' });
    assert.deepEqual(lost, ['room']);
    assert.equal(a.holds('room'), false);
    assert.equal(a.epoch('room'), null);
    assert.equal(await a.owner('room'), 'b');
  });

  test('a holder that cannot reach Redis stops holding before its lease can expire', async () => {
    const conn = redis.connect();
    const a = new Leases(conn, 'a', { ttlMs: 300, renewEveryMs: 50, prefix: redis.prefix });
    open.push(a);
    const b = leases('b', 300, 50);
    await a.acquire('room');
    const lost: string[] = [];
    a.on('lost', (scope) => lost.push(scope));
    conn.disconnect(); // renewals now fail
    await waitFor(() => lost.length > 0, { message: 'a gives the scope up' });
    assert.equal(a.holds('room'), false);
    // Only once its key has expired in Redis can b take it: a stopped first.
    await waitFor(async () => (await b.acquire('room')) !== null, { message: 'b takes the scope' });
    assert.equal(b.epoch('room'), 2);
  });

  test('close() hands every lease over at once', async () => {
    const a = leases('a', 60_000);
    const b = leases('b', 60_000);
    await a.acquire('r1');
    await a.acquire('r2');
    await a.close();
    assert.equal(await b.acquire('r1'), 2);
    assert.equal(await b.acquire('r2'), 2);
  });

  test('options are checked', () => {
    const conn = redis.connect();
    assert.throws(() => new Leases(conn, 'a', { ttlMs: 10 }), /ttlMs/);
    assert.throws(() => new Leases(conn, 'a', { ttlMs: 1000, renewEveryMs: 950 }), /renewEveryMs/);
  });
});
