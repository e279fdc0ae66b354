// Requests between processes on a real Redis (src/cluster/inbox.ts).
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, test } from 'node:test';
import { Redis } from 'ioredis';
import { Inbox, RequestTimeoutError } from '../../src/cluster/inbox.js';
import { freePort } from '../helpers/postgres.js';
import { startOwnRedis, type TestRedis, testRedis } from '../helpers/redis.js';

describe('Inbox', () => {
  let redis: TestRedis;
  const inboxes: Inbox[] = [];
  const inbox = (id: string, timeoutMs?: number) => {
    const i = new Inbox(redis.connect(), redis.connect(), id, { prefix: redis.prefix, timeoutMs });
    inboxes.push(i);
    return i;
  };
  beforeEach(async () => {
    redis = await testRedis();
  });
  afterEach(async () => {
    for (const i of inboxes.splice(0)) await i.close();
    await redis.cleanup();
  });

  test('a request is answered by the other process, in order, errors included', async () => {
    const a = inbox('a');
    const b = inbox('b');
    const seen: unknown[] = [];
    await a.start(async () => null);
    await b.start(async (from, body) => {
      seen.push(body);
      const n = (body as { n: number }).n;
      if (n < 0) throw new Error(`negative: ${n}`);
      return { from, double: n * 2 };
    });
    const answers = await Promise.all([1, 2, 3].map((n) => a.request('b', { n })));
    assert.deepEqual(
      answers,
      [1, 2, 3].map((n) => ({ from: 'a', double: n * 2 })),
    );
    assert.deepEqual(seen, [{ n: 1 }, { n: 2 }, { n: 3 }], 'handled in the order sent');
    await assert.rejects(a.request('b', { n: -1 }), /negative: -1/);
    const ttl = await redis.connect().pttl(`${redis.prefix}inbox:b`);
    assert.ok(ttl > 0, 'an inbox expires once its process stops getting messages');
  });

  test('a request to a process that does not answer times out', async () => {
    const a = inbox('a', 300);
    await a.start(async () => null);
    await assert.rejects(a.request('nobody', { n: 1 }), RequestTimeoutError);
  });

  test('a request whose send fails after its timeout rejects once, with nothing left unhandled', async () => {
    // Redis away: the send waits in the client's offline queue past the request's timeout, then
    // fails. Only the send's error reaches the caller; the timeout's is not an unhandled rejection.
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    const away = new Redis(`redis://127.0.0.1:${await freePort()}`, {
      maxRetriesPerRequest: 1,
      retryStrategy: () => 100,
    });
    away.on('error', () => {});
    try {
      const a = new Inbox(redis.connect(), away, 'a', { prefix: redis.prefix, timeoutMs: 1 });
      await assert.rejects(a.request('b', 'x'), (err: Error) => !(err instanceof RequestTimeoutError));
      await new Promise((r) => setTimeout(r, 50));
      assert.deepEqual(unhandled, []);
    } finally {
      process.off('unhandledRejection', onUnhandled);
      away.disconnect();
    }
  });

  test('requests are answered again after Redis restarted empty (the inboxes are gone)', async () => {
    const own = await startOwnRedis();
    const conns: Redis[] = [];
    const connect = () => {
      const c = new Redis(own.url);
      c.on('error', () => {});
      conns.push(c);
      return c;
    };
    const a = new Inbox(connect(), connect(), 'a', { timeoutMs: 5000 });
    const b = new Inbox(connect(), connect(), 'b', { timeoutMs: 5000 });
    try {
      await a.start(async () => null);
      await b.start(async (_from, body) => body);
      assert.equal(await a.request('b', 'before'), 'before');
      await own.kill();
      await own.start();
      assert.equal(await a.request('b', 'after'), 'after');
    } finally {
      await a.close();
      await b.close();
      for (const c of conns) c.disconnect();
      await own.kill();
    }
  });

  test('requests sent before the receiver started are not handled (at most once)', async () => {
    const a = inbox('a', 300);
    await a.start(async () => null);
    const late = a.request('b', 'early');
    await assert.rejects(late, RequestTimeoutError);
    const b = inbox('b');
    const seen: unknown[] = [];
    await b.start(async (_from, body) => {
      seen.push(body);
      return 'ok';
    });
    assert.equal(await a.request('b', 'now'), 'ok');
    assert.deepEqual(seen, ['now']);
  });
});
