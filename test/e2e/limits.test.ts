// What one client can make the server spend is bounded (docs/server.md, "Limits"): each attack
// below ends the attacker's session with 4097 and a reason naming the limit, while a
// well-behaved client of the same server keeps working. Limits are set small here so that each
// attack is cheap; the defaults are the same mechanisms with larger numbers.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { defineProcedure, registerRemoteProcedureType } from '../../src/procedures/procedure.js';
import type { SessionLimitsOption } from '../../src/server/options.js';
import type { Session } from '../../src/server/session.js';
import { ManualClock } from '../helpers/clock.js';
import { waitFor } from '../helpers/wait.js';
import { type Msg, reasonOf, TestClient } from '../helpers/ws-client.js';
import { Canvas, type Fixture, startServer } from './fixture.js';

/** The server-side session of a test client. */
function sessionOf(f: Fixture, c: TestClient): Session {
  const s = f.server.sessions.find((x) => x.token === c.token);
  assert.ok(s, 'the session is live');
  return s;
}

/** A shape change on the canvas's first shape. */
function move(state: Msg, x: number): Msg[] {
  const shape = (state.fragments as Msg[])[1]!;
  return [{ type: 'change', uuid: shape.uuid, clsName: 'Shape', properties: { x } }];
}

/**
 * A well-behaved client's round trip still works (its session was not touched). It connects from
 * another loopback address: the attacker's address is in its cooldown.
 */
async function stillServes(f: Fixture): Promise<void> {
  const ok = await TestClient.session(f.port, {}, { localAddress: '127.0.0.2' });
  try {
    const { state } = await ok.fetch('Canvas');
    assert.deepEqual((await ok.sync(0, move(state!, 7))).fragmentReplies, [{}]);
  } finally {
    await ok.close();
  }
}

async function server(limits: SessionLimitsOption): Promise<Fixture> {
  return startServer({ sessionLimits: limits });
}

describe('session limits', () => {
  test('resend amplification: a client that does not read and keeps asking for resends is closed', async () => {
    const f = await server({ resends: { burst: 5, perSecond: 0.01 } });
    try {
      const c = await TestClient.session(f.port);
      await c.fetch('Canvas');
      const session = sessionOf(f, c);
      c.ws.pause(); // stops reading; the server's writes pile up in its socket, then in the session
      for (let i = 0; i < 50; i++) c.send({ type: 'Ping', index: 0, ack: 0, resendMissing: true });
      await waitFor(() => session.expired, { message: 'the session is closed' });
      c.ws.resume();
      const info = await c.waitForClose();
      assert.equal(info.code, 4097);
      assert.deepEqual(reasonOf(info), { message: 'Too many resend requests', type: 'rate-limited' });
      await stillServes(f);
    } finally {
      await f.server.close();
    }
  });

  test('backpressure: a non-reading socket gets nothing more above the high-water mark', async () => {
    const f = await server({ socketHighWaterBytes: 64 * 1024, maxPendingBytes: 1024 * 1024 * 1024 });
    try {
      const reader = await TestClient.session(f.port);
      const { state } = await reader.fetch('Canvas');
      const session = sessionOf(f, reader);
      reader.ws.pause();
      const writer = await TestClient.session(f.port);
      await writer.fetch('Canvas');
      const big = 'x'.repeat(16 * 1024);
      for (let i = 0; i < 200; i++) {
        const shape = (state!.fragments as Msg[])[1]!;
        writer.send({
          type: 'ScopeSync',
          index: writer.nextIndex++,
          scopeIndex: 0,
          atomic: false,
          fragments: [{ type: 'change', uuid: shape.uuid, clsName: 'Shape', properties: { x: i } }],
        });
        writer.send({
          type: 'ScopeSync',
          index: writer.nextIndex++,
          scopeIndex: 0,
          atomic: false,
          fragments: [
            { type: 'change', uuid: state!.rootUUID, clsName: 'Canvas', properties: { name: big + i } },
          ],
        });
      }
      await writer.barrier();
      // Everything is held by the session (3+ MB), but its socket holds at most one frame past
      // the mark: the rest waits until the client reads again.
      assert.ok(session.pendingBytes > 3 * 1024 * 1024, `pending ${session.pendingBytes}`);
      const buffered = session.connection!.bufferedAmount ?? 0;
      assert.ok(buffered < 64 * 1024 + 64 * 1024, `socket buffer ${buffered}`);
      reader.ws.resume();
      // Once it reads, it gets everything, in order.
      const last = await reader.waitFor(
        (m) => m.type === 'ScopeSync' && m.fragments[0]?.properties?.name === big + 199,
      );
      assert.equal(last.type, 'ScopeSync');
      await reader.close();
      await writer.close();
    } finally {
      await f.server.close();
    }
  });

  test('slow consumer: a client that neither reads nor acknowledges is closed; the writer is not', async () => {
    const f = await server({ maxPendingBytes: 256 * 1024, socketHighWaterBytes: 16 * 1024 });
    try {
      const reader = await TestClient.session(f.port);
      await reader.fetch('Canvas');
      const session = sessionOf(f, reader);
      reader.ws.pause();
      const writer = await TestClient.session(f.port);
      const { state } = await writer.fetch('Canvas');
      const name = 'n'.repeat(8 * 1024);
      for (let i = 0; i < 64 && !session.expired; i++) {
        const reply = await writer.sync(0, [
          { type: 'change', uuid: state!.rootUUID, clsName: 'Canvas', properties: { name: name + i } },
        ]);
        assert.deepEqual(reply.fragmentReplies, [{}]);
      }
      assert.equal(session.expired, true, 'the reader was closed');
      reader.ws.resume();
      const info = await reader.waitForClose();
      assert.equal(info.code, 4097);
      assert.equal(reasonOf(info).type, 'slow-consumer');
      assert.deepEqual(
        (await writer.sync(0, move(state!, 3))).fragmentReplies,
        [{}],
        'the writer carries on',
      );
      await writer.close();
    } finally {
      await f.server.close();
    }
  });

  test('a client that reads but never acknowledges is closed the same way', async () => {
    const f = await server({ maxPendingBytes: 128 * 1024 });
    try {
      const reader = await TestClient.session(f.port); // TestClient never pings unless told to
      await reader.fetch('Canvas');
      const session = sessionOf(f, reader);
      const writer = await TestClient.session(f.port);
      const { state } = await writer.fetch('Canvas');
      const name = 'n'.repeat(8 * 1024);
      for (let i = 0; i < 64 && !session.expired; i++) {
        await writer.sync(0, [
          { type: 'change', uuid: state!.rootUUID, clsName: 'Canvas', properties: { name: name + i } },
        ]);
      }
      const info = await reader.waitForClose();
      assert.equal(info.code, 4097);
      assert.equal(reasonOf(info).type, 'slow-consumer');
      await writer.close();
    } finally {
      await f.server.close();
    }
  });

  test('repeated fetches of one scope are rate-limited', async () => {
    const f = await server({ fetches: { burst: 10, perSecond: 0.01 } });
    try {
      const c = await TestClient.session(f.port);
      for (let i = 0; i < 10; i++) await c.fetch('Canvas'); // the burst is served
      for (let i = 0; i < 10; i++)
        c.send({ type: 'ScopeFetch', index: c.nextIndex++, name: 'Canvas', params: {} });
      const info = await c.waitForClose();
      assert.equal(info.code, 4097);
      assert.deepEqual(reasonOf(info), { message: 'Too many fetches', type: 'rate-limited' });
      await stillServes(f);
    } finally {
      await f.server.close();
    }
  });

  test('detached sessions: over the process budget, the ones holding most are ended; their resume starts over', async () => {
    const f = await server({ maxDetachedBytes: 64 * 1024 });
    try {
      const gone: TestClient[] = [];
      for (let i = 0; i < 3; i++) {
        const c = await TestClient.session(f.port);
        await c.fetch('Canvas');
        gone.push(c);
      }
      const sessions = gone.map((c) => sessionOf(f, c));
      for (const c of gone) await c.close();
      const writer = await TestClient.session(f.port);
      const { state } = await writer.fetch('Canvas');
      const name = 'n'.repeat(4 * 1024);
      for (let i = 0; i < 40; i++) {
        await writer.sync(0, [
          { type: 'change', uuid: state!.rootUUID, clsName: 'Canvas', properties: { name: name + i } },
        ]);
      }
      await waitFor(() => sessions.every((s) => s.expired), {
        message: 'every detached session was evicted',
      });
      const detached = f.server.sessions.filter((s) => s.connection === null);
      assert.ok(detached.reduce((n, s) => n + s.pendingBytes, 0) <= 64 * 1024);
      const again = await TestClient.resume(f.port, gone[0]!.token!);
      const info = await again.waitForClose();
      assert.equal(info.code, 4096);
      assert.equal(reasonOf(info).type, 'session-token-unrecognized');
      assert.deepEqual(
        (await writer.sync(0, move(state!, 1))).fragmentReplies,
        [{}],
        'the writer carries on',
      );
      await writer.close();
    } finally {
      await f.server.close();
    }
  });

  test('message flood: over the message rate the session is closed', async () => {
    const f = await server({ messages: { burst: 200, perSecond: 1 } });
    try {
      // Closed once its debt passes 10 s of refill; until the server has read enough of the
      // flood to see that (TCP may hand it over in pieces), it may pause the socket for up to
      // 10 s: the wait for the close allows for that.
      const c = await TestClient.session(f.port, {}, { timeout: 20_000 });
      for (let i = 0; i < 500; i++) c.send({ type: 'Ping', index: 0, ack: 0, resendMissing: false });
      const info = await c.waitForClose();
      assert.equal(info.code, 4097);
      assert.deepEqual(reasonOf(info), { message: 'Too many messages', type: 'rate-limited' });
      await stillServes(f);
    } finally {
      await f.server.close();
    }
  });

  test('a burst over the message rate is throttled, not refused: everything is answered, the session lives', async () => {
    const f = await server({ messages: { burst: 50, perSecond: 200 } });
    try {
      const c = await TestClient.session(f.port);
      const { state } = await c.fetch('Canvas');
      const session = sessionOf(f, c);
      for (let i = 0; i < 150; i++) c.send({ type: 'Ping', index: 0, ack: 0, resendMissing: false });
      // Over the budget by ~100 messages: the socket is not read for ~0.5 s, then everything is.
      const reply = await c.sync(0, move(state!, 12));
      assert.deepEqual(reply.fragmentReplies, [{}]);
      assert.equal(session.expired, false);
      assert.equal(c.closeInfo, null);
      await c.close();
    } finally {
      await f.server.close();
    }
  });

  test('fragment flood: over the fragment rate the session is closed', async () => {
    const f = await server({ fragments: { burst: 100, perSecond: 1 } });
    try {
      const c = await TestClient.session(f.port);
      const { state } = await c.fetch('Canvas');
      for (let i = 0; i < 20; i++) {
        c.send({
          type: 'ScopeSync',
          index: c.nextIndex++,
          scopeIndex: 0,
          atomic: false,
          fragments: Array(10).fill(move(state!, i)[0]),
        });
      }
      const info = await c.waitForClose();
      assert.equal(info.code, 4097);
      assert.deepEqual(reasonOf(info), { message: 'Too many fragments', type: 'rate-limited' });
    } finally {
      await f.server.close();
    }
  });

  test('a message index near 2^53 is refused and does not jam the session', async () => {
    const f = await server({});
    try {
      const c = await TestClient.session(f.port);
      c.send({ type: 'ScopeFetch', index: 2 ** 53 - 1, name: 'Canvas', params: {} });
      const refused = await c.waitFor((m) => m.type === 'ScopeFetchReply');
      assert.equal(refused.replyTo, 2 ** 53 - 1);
      assert.equal(refused.error.type, 'invalid-message');
      const { reply } = await c.fetch('Canvas'); // index 1: still fresh
      assert.equal(reply.scopeIndex, 0);
      await c.close();
    } finally {
      await f.server.close();
    }
  });

  test('a frame of several messages is processed in index order', async () => {
    const f = await server({});
    try {
      const c = await TestClient.session(f.port);
      const { state } = await c.fetch('Canvas');
      const shape = (state!.fragments as Msg[])[1]!;
      const sync = (index: number, x: number) => ({
        type: 'ScopeSync',
        index,
        scopeIndex: 0,
        atomic: false,
        fragments: [{ type: 'change', uuid: shape.uuid, clsName: 'Shape', properties: { x } }],
      });
      c.send([sync(3, 30), sync(2, 20)]);
      const r3 = await c.waitFor((m) => m.type === 'ScopeSyncReply' && m.replyTo === 3);
      const r2 = await c.waitFor((m) => m.type === 'ScopeSyncReply' && m.replyTo === 2);
      assert.deepEqual([r2.fragmentReplies, r3.fragmentReplies], [[{}], [{}]]);
      assert.ok(r2.index < r3.index, 'index 2 was applied first');
      assert.equal(f.scope.get(shape.uuid)!.get('x'), 30, 'the later index wins');
      await c.close();
    } finally {
      await f.server.close();
    }
  });

  test("a burst gets a share of each event-loop turn: another client's message is not kept waiting behind it", async () => {
    // Rates high enough not to throttle: only the turn share is at work.
    const f = await server({
      messages: { burst: 1e6, perSecond: 1e6 },
      fragments: { burst: 1e6, perSecond: 1e6 },
    });
    // Event-loop turns of the server's process, counted by a setImmediate chain.
    let turn = 0;
    let counting = true;
    const tick = () => {
      turn++;
      if (counting) setImmediate(tick);
    };
    setImmediate(tick);
    try {
      const burst = await TestClient.session(f.port);
      const other = await TestClient.session(f.port, {}, { localAddress: '127.0.0.2' });
      const { state } = await burst.fetch('Canvas');
      await other.fetch('Canvas');
      const burstSession = sessionOf(f, burst);
      const perTurn = new Map<number, number>();
      let otherAppliedAfter = -1;
      let burstApplied = 0;
      f.scope.on('changes', (_fragments, context) => {
        if (context.origin === burstSession) {
          burstApplied++;
          perTurn.set(turn, (perTurn.get(turn) ?? 0) + 1);
        } else if (context.origin !== undefined) {
          otherAppliedAfter = burstApplied;
        }
      });
      const N = 3000;
      for (let i = 0; i < N; i++)
        burst.send(
          move(state!, i).map((frag) => ({
            type: 'ScopeSync',
            index: burst.nextIndex++,
            scopeIndex: 0,
            atomic: false,
            fragments: [frag],
          }))[0]!,
        );
      const reply = await other.sync(0, move(state!, -1));
      assert.deepEqual(reply.fragmentReplies, [{}]);
      await waitFor(() => burstApplied === N, { message: 'the whole burst is applied' });
      // One share in the turn that read the socket, one in its check phase: never more.
      const most = Math.max(...perTurn.values());
      assert.ok(most <= 2 * 64, `at most two shares of 64 in one turn, got ${most}`);
      assert.ok(
        otherAppliedAfter < N,
        `the other client's change went in before the burst ended (${otherAppliedAfter})`,
      );
      assert.equal(burstSession.expired, false);
      await Promise.all([burst.close(), other.close()]);
    } finally {
      counting = false;
      await f.server.close();
    }
  });
});

describe('queued changesets', () => {
  let f: Fixture;
  // Remote steps wait until the test lets them all through.
  let released = false;
  const waiting: (() => void)[] = [];
  const release = () => {
    released = true;
    for (const go of waiting.splice(0)) go();
  };
  before(async () => {
    registerRemoteProcedureType(
      'limits-held',
      class {
        execute(): Promise<undefined> {
          if (released) return Promise.resolve(undefined);
          return new Promise((resolve) => waiting.push(() => resolve(undefined)));
        }
      },
    );
    defineProcedure(Canvas, 'slowRename', {
      constraints: [{ type: 'change', clsName: 'Canvas', allowAdditionalProperties: true }],
      remote: { type: 'limits-held' },
    });
    f = await server({ maxQueuedChangesets: 4 });
  });
  after(() => f.server.close());

  test('a session with too many changesets waiting (procedures in flight) is closed; others carry on', async () => {
    const c = await TestClient.session(f.port);
    const { state } = await c.fetch('Canvas');
    for (let i = 0; i < 6; i++) {
      c.send({
        type: 'ScopeSync',
        index: c.nextIndex++,
        scopeIndex: 0,
        atomic: false,
        procedure: 'Canvas.slowRename',
        fragments: [
          { type: 'change', uuid: state!.rootUUID, clsName: 'Canvas', properties: { name: `n${i}` } },
        ],
      });
    }
    const info = await c.waitForClose();
    assert.equal(info.code, 4097);
    assert.deepEqual(reasonOf(info), { message: 'Too many changesets waiting', type: 'rate-limited' });
    release();
    await stillServes(f);
  });
});

describe('limit cooldown', () => {
  test('after a session is closed for a limit, its address may not connect again until the cooldown ends', async () => {
    const clock = new ManualClock();
    const f = await startServer({
      clock,
      sessionLimits: { messages: { burst: 50, perSecond: 1 }, limitCooldown: 10_000 },
    });
    try {
      const attacker = await TestClient.session(f.port);
      for (let i = 0; i < 100; i++) attacker.send({ type: 'Ping', index: 0, ack: 0, resendMissing: false });
      assert.equal((await attacker.waitForClose()).code, 4097);
      // A new session from the same address brings no fresh budget: refused.
      const again = await TestClient.connect(f.port);
      const refused = await again.waitForClose();
      assert.equal(refused.code, 4096);
      assert.deepEqual(reasonOf(refused), { message: 'Too many connection attempts', type: 'rate-limited' });
      // Another address is not affected.
      await stillServes(f);
      // Once the cooldown is over, the address is welcome again.
      clock.advance(10_001);
      const later = await TestClient.session(f.port);
      assert.equal(typeof later.token, 'string');
      await later.close();
    } finally {
      await f.server.close();
    }
  });
});
