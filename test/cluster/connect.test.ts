// The Redis connections of a cluster process (src/cluster/connect.ts).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { clusterConnections } from '../../src/cluster/connect.js';
import { silentLogger } from '../../src/util/logger.js';
import { freePort } from '../helpers/postgres.js';
import { startOwnRedis } from '../helpers/redis.js';

describe('cluster connections', () => {
  test('while Redis is away, a command fails after forwardTimeoutMs instead of waiting for Redis', async () => {
    // Without the bound, ioredis keeps it queued until its reconnection attempts give up (~10 s).
    const url = `redis://127.0.0.1:${await freePort()}`;
    const c = clusterConnections({ redis: url, forwardTimeoutMs: 200 }, silentLogger);
    try {
      await assert.rejects(c.redis.get('x'), /Command timed out/);
      // The blocking connections are not bounded: a blocking read waits as long as it asks to.
      assert.equal(c.connect().options.commandTimeout, undefined);
    } finally {
      await c.close();
    }
  });

  test('a command sent while Redis restarts is answered once it is back', async () => {
    const redis = await startOwnRedis();
    const c = clusterConnections({ redis: redis.url, forwardTimeoutMs: 5000 }, silentLogger);
    try {
      await c.redis.set('k', '1');
      await redis.kill();
      const pending = c.redis.get('k');
      await redis.start();
      assert.equal(await pending, null, 'answered by the new, empty Redis');
    } finally {
      await c.close();
      await redis.kill();
    }
  });
});
