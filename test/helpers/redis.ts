// A Redis for tests: REDIS_URL when set, else the machine's server at redis://127.0.0.1:6379
// (CI starts it, see .ci/run). When neither answers this throws: the cluster tests fail, they
// never skip. Each caller gets its own key prefix, so tests never see each other's keys, and
// cleanup() deletes them.
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';

export const LOCAL_REDIS_URL = 'redis://127.0.0.1:6379';

export interface TestRedis {
  url: string;
  /** A unique key prefix for this test. */
  prefix: string;
  /** A new connection (closed by cleanup()). */
  connect(): Redis;
  /** Deletes every key under the prefix and closes the connections. */
  cleanup(): Promise<void>;
}

export async function testRedis(): Promise<TestRedis> {
  const url = process.env.REDIS_URL || LOCAL_REDIS_URL;
  const prefix = `jetstream-test:${randomBytes(6).toString('hex')}:`;
  const clients: Redis[] = [];
  const connect = () => {
    const r = new Redis(url, { lazyConnect: false, maxRetriesPerRequest: 1 });
    r.on('error', () => {}); // connection errors surface as rejected commands
    clients.push(r);
    return r;
  };
  const admin = connect();
  try {
    await admin.ping();
  } catch (err) {
    admin.disconnect();
    throw new Error(
      `Redis is not reachable at ${url} (start it, or set REDIS_URL): ${(err as Error).message}`,
    );
  }
  return {
    url,
    prefix,
    connect,
    async cleanup() {
      let cursor = '0';
      do {
        const [next, keys] = await admin.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
        if (keys.length) await admin.del(...keys);
        cursor = next;
      } while (cursor !== '0');
      for (const c of clients) c.disconnect();
    },
  };
}
