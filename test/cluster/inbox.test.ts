// Requests between processes on a real Redis (src/cluster/inbox.ts).
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, test } from 'node:test';
import { Inbox, RequestTimeoutError } from '../../src/cluster/inbox.js';
import { type TestRedis, testRedis } from '../helpers/redis.js';

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
