// Fetches beyond the server's state budget (`stateBytes`, docs/server.md "Limits") wait their
// turn: a waiting session's later messages wait behind its fetch and are answered after it, in
// order, while the other sessions go on. The budget runs on the server's clock: here a clock that
// only moves when the test says, with a bucket of one byte, so that after one state the bucket
// stays in debt until the test moves the clock, and each move lets exactly one state through.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ManualClock } from '../helpers/clock.js';
import { waitFor } from '../helpers/wait.js';
import { type Msg, TestClient } from '../helpers/ws-client.js';
import { type Fixture, startServer } from './fixture.js';

async function server(clock: ManualClock): Promise<Fixture> {
  return startServer({ clock, stateBytes: { perSecond: 1000, burst: 1 } });
}

/** A change of the canvas's first shape's x. */
function move(state: Msg, x: number): Msg[] {
  const shape = (state.fragments as Msg[])[1]!;
  return [{ type: 'change', uuid: shape.uuid, clsName: 'Shape', properties: { x } }];
}

/** The x of the canvas's first shape in a ScopeState. */
function xOf(state: Msg): unknown {
  return ((state.fragments as Msg[])[1]!.properties as Msg).x;
}

describe('fetches waiting for the state budget', () => {
  test('a waiting fetch is answered in order, the messages behind it after it, and others go on', async () => {
    const clock = new ManualClock();
    const f = await server(clock);
    try {
      const budget = f.server.options.stateBudget;
      const other = await TestClient.session(f.port);
      const { state } = await other.fetch('Canvas'); // goes out at once; the bucket is in debt now
      const shape = (state!.fragments as Msg[])[1]!.uuid as string;
      const change = (index: number, x: number) => ({
        type: 'ScopeSync',
        index,
        scopeIndex: 0,
        atomic: false,
        fragments: [{ type: 'change', uuid: shape, clsName: 'Shape', properties: { x } }],
      });

      const late = await TestClient.session(f.port);
      // One frame: the fetch, then a change of the scope it fetches (answerable only after it);
      // then later frames, sent at once (the server reads them with the first, or after it).
      late.send([{ type: 'ScopeFetch', index: 1, name: 'Canvas', params: {} }, change(2, 11)]);
      late.send(change(3, 12));
      late.send({ type: 'Ping', index: 0, ack: 0 });
      await waitFor(() => budget.waiting === 1, { message: 'the fetch waits' });

      // The other session's round trip is not held up by the waiting fetch.
      assert.deepEqual((await other.sync(0, move(state!, 7))).fragmentReplies, [{}]);
      assert.deepEqual((await other.sync(0, move(state!, 8))).fragmentReplies, [{}]);
      assert.deepEqual(
        late.messages.map((m) => m.type),
        ['SessionCreateReply'],
        'nothing for the waiting session yet',
      );

      clock.advance(10_000);
      await late.waitFor((m) => m.type === 'ScopeSyncReply' && m.replyTo === 3);
      const got = late.indexed().map((m) => [m.type, m.replyTo ?? null]);
      assert.deepEqual(got, [
        ['ScopeFetchReply', 1],
        ['ScopeState', null],
        ['ScopeSyncReply', 2],
        ['ScopeSyncReply', 3],
      ]);
      const [reply, lateState, r2, r3] = late.indexed();
      assert.equal(reply!.scopeIndex, 0);
      // Built when it was sent: it holds the changes made while it waited.
      assert.equal(xOf(lateState!), 8);
      assert.deepEqual(r2!.fragmentReplies, [{}]);
      assert.deepEqual(r3!.fragmentReplies, [{}]);
      // The waiting session's changes reached the other one, in order, after it was answered.
      await other.waitFor((m) => m.type === 'ScopeSync' && m.fragments[0].properties.x === 12);
      const xs = other.messages.filter((m) => m.type === 'ScopeSync').map((m) => m.fragments[0].properties.x);
      assert.deepEqual(xs, [11, 12]);
      assert.equal(budget.waiting, 0);
      await late.close();
      await other.close();
    } finally {
      await f.server.close();
    }
  });

  test('waiting fetches are served first come, first served, one state per refill', async () => {
    const clock = new ManualClock();
    const f = await server(clock);
    try {
      const budget = f.server.options.stateBudget;
      const first = await TestClient.session(f.port);
      await first.fetch('Canvas'); // the bucket is in debt from here on
      const waiting: TestClient[] = [];
      for (let i = 0; i < 3; i++) {
        const c = await TestClient.session(f.port);
        c.send({ type: 'ScopeFetch', index: 1, name: 'Canvas', params: {} });
        await waitFor(() => budget.waiting === i + 1, { message: `fetch ${i + 1} waits` });
        waiting.push(c);
      }
      const hasState = (c: TestClient) => c.messages.some((m) => m.type === 'ScopeState');
      for (let served = 1; served <= 3; served++) {
        clock.advance(10_000); // refills to the burst: room for one state, whatever its size
        await waiting[served - 1]!.waitFor((m) => m.type === 'ScopeState');
        assert.equal(budget.waiting, 3 - served);
        // The rest still wait: the bucket is in debt again and the clock stands still.
        assert.deepEqual(
          waiting.map(hasState),
          waiting.map((_, i) => i < served),
        );
      }
      for (const c of waiting) await c.close();
      await first.close();
    } finally {
      await f.server.close();
    }
  });

  test('a session closed while its fetch waits is skipped', async () => {
    const clock = new ManualClock();
    const f = await server(clock);
    try {
      const budget = f.server.options.stateBudget;
      const first = await TestClient.session(f.port);
      await first.fetch('Canvas');
      const gone = await TestClient.session(f.port);
      gone.send({ type: 'ScopeFetch', index: 1, name: 'Canvas', params: {} });
      await waitFor(() => budget.waiting === 1);
      const next = await TestClient.session(f.port);
      next.send({ type: 'ScopeFetch', index: 1, name: 'Canvas', params: {} });
      await waitFor(() => budget.waiting === 2);
      const session = f.server.sessions.find((s) => s.token === gone.token)!;
      session.close();
      await gone.waitForClose();
      // One refill: the closed session's turn costs nothing, so the next one is served with it.
      clock.advance(10_000);
      await next.waitFor((m) => m.type === 'ScopeState');
      assert.equal(budget.waiting, 0);
      assert.equal(session.pendingBytes, 0);
      await next.close();
      await first.close();
    } finally {
      await f.server.close();
    }
  });
});
