import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RateLimiter } from '../../src/server/rate-limit.js';
import { startServer } from '../e2e/fixture.js';
import { reasonOf, TestClient } from '../helpers/ws-client.js';

test('RateLimiter: a burst passes, then attempts refill at the configured rate, per address', () => {
  const rl = new RateLimiter({ perSecond: 2, burst: 3 });
  const t0 = 1_000_000;
  assert.equal(rl.take('a', t0), true);
  assert.equal(rl.take('a', t0), true);
  assert.equal(rl.take('a', t0), true);
  assert.equal(rl.take('a', t0), false, 'the burst is spent');
  assert.equal(rl.take('b', t0), true, 'another address has its own bucket');
  assert.equal(rl.take('a', t0 + 499), false, 'not yet one token back');
  assert.equal(rl.take('a', t0 + 500), true, 'half a second at 2/s gives one attempt');
  assert.equal(rl.take('a', t0 + 500), false);
  assert.equal(rl.take('a', t0 + 60_000), true, 'the bucket never holds more than the burst');
  assert.equal(rl.take('a', t0 + 60_000), true);
  assert.equal(rl.take('a', t0 + 60_000), true);
  assert.equal(rl.take('a', t0 + 60_000), false);
});

test('RateLimiter rejects nonsense options', () => {
  assert.throws(() => new RateLimiter({ perSecond: 0 }), /perSecond/);
  assert.throws(() => new RateLimiter({ burst: 0 }), /burst/);
});

test('connections beyond the rate limit are closed with 4096 rate-limited; the others keep working', async () => {
  const fx = await startServer({ sessionRateLimit: { perSecond: 0.001, burst: 2 } });
  try {
    const a = await TestClient.session(fx.port);
    const b = await TestClient.session(fx.port);
    const c = await TestClient.connect(fx.port);
    const info = await c.waitForClose();
    assert.equal(info.code, 4096);
    assert.equal(reasonOf(info).type, 'rate-limited');
    const { reply } = await a.fetch('Canvas');
    assert.equal(reply.scopeIndex, 0, 'sessions created within the limit are unaffected');
    await a.close();
    await b.close();
  } finally {
    await fx.server.close();
  }
});
