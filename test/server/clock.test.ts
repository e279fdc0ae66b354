// Session expiry and keep-alive pings follow the server's `clock` option, so tests move time by
// hand instead of waiting for it (docs/protocol.md §3, §4).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { startServer } from '../e2e/fixture.js';
import { ManualClock } from '../helpers/clock.js';
import { TestClient } from '../helpers/ws-client.js';

describe('the server clock', () => {
  test('a session expires when the clock passes sessionExpiry with no inbound message, not before', async () => {
    const clock = new ManualClock();
    const f = await startServer({ clock, sessionExpiry: 60_000 });
    const c = await TestClient.session(f.port);
    try {
      clock.advance(59_000);
      // Several ticks of the server's interval pass during a round trip; still alive.
      assert.equal((await c.fetch('Canvas')).reply.scopeIndex, 0);
      assert.equal(c.closeInfo, null);
      // The fetch was inbound activity: the next 59 s are fine again, 61 s are not.
      clock.advance(61_000);
      const closed = await c.closed;
      assert.equal(closed.code, 4097);
      assert.deepEqual(JSON.parse(closed.reason), { message: 'Session expired', type: 'session-expired' });
    } finally {
      await c.close();
      await f.server.close();
    }
  });

  test('keep-alive pings are due by the clock', async () => {
    const clock = new ManualClock();
    const f = await startServer({ clock, pingInterval: 10_000, pingVariance: 0 });
    const c = await TestClient.session(f.port);
    try {
      clock.advance(10_001);
      const ping = await c.waitFor((m) => m.type === 'Ping');
      assert.deepEqual(ping, { type: 'Ping', index: 0, ack: 0, resendMissing: false });
    } finally {
      await c.close();
      await f.server.close();
    }
  });
});
