// The presence extension over real sockets (docs/protocol.md §17), with raw protocol clients:
// the negotiation, who receives what and when, coalescing, leaving, resuming, invalid input, and
// that sessions which did not ask see nothing of it and keep their indexed stream intact.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ErrorType } from '../../src/errors.js';
import type { ServerOptions } from '../../src/server/options.js';
import { type Msg, reasonOf, TestClient, uuid } from '../helpers/ws-client.js';
import { startServer } from './fixture.js';

/** A session that asks for presence (or not), with the reply. */
async function session(port: number, ask = true): Promise<{ c: TestClient; reply: Msg }> {
  const c = await TestClient.connect(port);
  c.send({
    type: 'SessionCreate',
    index: 0,
    version: '0.2.0',
    params: {},
    ...(ask ? { extensions: { presence: 1 } } : {}),
  });
  const reply = await c.waitFor((m) => m.type === 'SessionCreateReply');
  c.token = reply.sessionToken as string;
  return { c, reply };
}

/** A presence session that fetched the Canvas scope (scopeIndex 0). */
async function member(port: number): Promise<TestClient> {
  const { c } = await session(port);
  await c.fetch('Canvas');
  return c;
}

const presence = (scopeIndex: number, state: unknown) => ({ type: 'Presence', index: 0, scopeIndex, state });

/** Every presence entry `c` received so far, flattened, from position `from` of its messages. */
function entriesOf(c: TestClient, from = 0): Msg[] {
  return c.messages.slice(from).flatMap((m) => (m.type === 'Presence' ? (m.entries as Msg[]) : []));
}

/** Waits for an entry whose state matches `pred` (null states included). */
function entry(c: TestClient, pred: (e: Msg) => boolean): Promise<Msg> {
  return c
    .waitFor((m) => m.type === 'Presence' && (m.entries as Msg[]).some(pred))
    .then((m) => (m.entries as Msg[]).find(pred)!);
}

async function withServer(options: ServerOptions, fn: (port: number) => Promise<void>): Promise<void> {
  const f = await startServer(options);
  try {
    await fn(f.port);
  } finally {
    await f.server.close();
  }
}

describe('presence negotiation', () => {
  test('a client that asks gets the grant in SessionCreateReply; one that does not gets the v1 reply', async () => {
    await withServer({ presence: { rate: 10, maxStateBytes: 1000 } }, async (port) => {
      const asked = await session(port);
      assert.deepEqual(Object.keys(asked.reply).sort(), ['extensions', 'index', 'sessionToken', 'type']);
      assert.deepEqual(asked.reply.extensions, { presence: { version: 1, maxStateBytes: 1000, rate: 10 } });
      const plain = await session(port, false);
      assert.deepEqual(Object.keys(plain.reply).sort(), ['index', 'sessionToken', 'type']);
      // Names the server does not know, and versions that are not positive integers, are not asked for.
      const odd = await TestClient.connect(port);
      odd.send({
        type: 'SessionCreate',
        index: 0,
        version: '0.2.0',
        extensions: { presence: 0, cursors: 1 },
      });
      const reply = await odd.waitFor((m) => m.type === 'SessionCreateReply');
      assert.deepEqual(Object.keys(reply).sort(), ['index', 'sessionToken', 'type']);
      for (const c of [asked.c, plain.c, odd]) await c.close();
    });
  });

  test('a server with presence: false grants nothing', async () => {
    await withServer({ presence: false }, async (port) => {
      const { c, reply } = await session(port);
      assert.equal(reply.extensions, undefined);
      assert.equal(typeof reply.sessionToken, 'string');
      await c.close();
    });
  });

  test('an extensions value that is not an object fails the handshake like a bad params', async () => {
    await withServer({}, async (port) => {
      const c = await TestClient.connect(port);
      c.send({ type: 'SessionCreate', index: 0, version: '0.2.0', extensions: [1] });
      const info = await c.waitForClose();
      assert.equal(info.code, 4096);
      assert.deepEqual(reasonOf(info), {
        message: 'Invalid extensions: must be an object',
        type: ErrorType.invalidMessage,
      });
    });
  });
});

describe('presence messages', () => {
  test('a fetch brings a snapshot of the others after the reply and the state; changes follow; never one’s own', async () => {
    await withServer({}, async (port) => {
      const a = await member(port);
      a.send(presence(0, { name: 'Ada', cursor: { x: 1, y: 2 } }));
      // a's state was on the wire before b's socket opened: the room holds it when b joins.
      const { c: b } = await session(port);
      const { reply, state } = await b.fetch('Canvas');
      const snapshot = await b.waitFor((m) => m.type === 'Presence' && m.snapshot === true);
      assert.equal(snapshot.index, 0);
      assert.equal(snapshot.scopeIndex, reply.scopeIndex);
      assert.ok(b.messages.indexOf(snapshot) > b.messages.indexOf(state!), 'after the ScopeState');
      assert.equal(snapshot.entries.length, 1);
      assert.deepEqual(snapshot.entries[0].state, { name: 'Ada', cursor: { x: 1, y: 2 } });
      const adaId = snapshot.entries[0].session as string;
      assert.match(adaId, /^s[0-9a-z]+$/);

      b.send(presence(0, { name: 'Bob' }));
      const bob = await entry(a, (e) => e.state?.name === 'Bob');
      assert.notEqual(bob.session, adaId);
      a.send(presence(0, { name: 'Ada', cursor: { x: 5, y: 6 } }));
      await entry(b, (e) => e.session === adaId && e.state?.cursor?.x === 5);
      assert.equal(
        entriesOf(a).filter((e) => e.session === adaId).length,
        0,
        'a never receives its own state',
      );
      assert.ok(entriesOf(b).every((e) => e.session !== bob.session));
      await a.close();
      await b.close();
    });
  });

  test('a burst of states from one session reaches the others once, with the latest', async () => {
    await withServer({}, async (port) => {
      const a = await member(port);
      const b = await member(port);
      const from = b.messages.length;
      // One frame of 50 states: processed in one turn, so the room sends once.
      a.send(Array.from({ length: 50 }, (_, i) => presence(0, { i })));
      await entry(b, (e) => e.state?.i === 49);
      a.send(presence(0, { done: true }));
      await entry(b, (e) => e.state?.done === true);
      const states = entriesOf(b, from).map((e) => e.state);
      assert.deepEqual(states, [{ i: 49 }, { done: true }]);
      await a.close();
      await b.close();
    });
  });

  test('a session that did not ask never receives presence, and every indexed stream stays gap-free', async () => {
    await withServer({}, async (port) => {
      const a = await member(port);
      const b = await member(port);
      const { c } = await session(port, false);
      await c.fetch('Canvas');
      for (let i = 0; i < 5; i++) {
        a.send(presence(0, { i }));
        b.send(presence(0, { i }));
        const shape = uuid();
        const rootUUID = (await c.waitFor((m) => m.type === 'ScopeState')).rootUUID as string;
        await a.sync(0, [
          { type: 'add', uuid: shape, clsName: 'Shape', properties: { x: i, y: i } },
          {
            type: 'change',
            uuid: rootUUID,
            clsName: 'Canvas',
            properties: { shapes: [shape] },
          },
        ]);
      }
      await entry(b, (e) => e.state?.i === 4);
      await entry(a, (e) => e.state?.i === 4);
      await c.waitFor((m) => m.type === 'ScopeSync' && m.fragments[0].properties.x === 4);
      await c.barrier();
      assert.equal(c.messages.filter((m) => m.type === 'Presence').length, 0);
      for (const client of [a, b, c]) {
        const indices = client.indexed().map((m) => m.index as number);
        assert.deepEqual(
          indices,
          indices.map((_, k) => k + 1),
          'server indices 1, 2, 3… with presence messages outside them',
        );
      }
      assert.ok(a.messages.some((m) => m.type === 'Presence'));
      for (const client of [a, b, c]) await client.close();
    });
  });

  test('leaving: a null state, a lost socket, a resume and the end of the session', async () => {
    await withServer({}, async (port) => {
      const a = await member(port);
      const b = await member(port);
      b.send(presence(0, { name: 'Bob' }));
      a.send(presence(0, { name: 'Ada' }));
      const ada = await entry(b, (e) => e.state?.name === 'Ada');
      await entry(a, (e) => e.state?.name === 'Bob');

      a.send(presence(0, null));
      await entry(b, (e) => e.session === ada.session && e.state === null);
      a.send(presence(0, { name: 'Ada' }));
      await entry(b, (e) => e.session === ada.session && e.state !== null);

      // The socket goes: the others see a leave at once, not at the session's expiry.
      let from = b.messages.length;
      const ack = a.highestIndex();
      a.terminate();
      await b.waitFor(
        (m) =>
          m.type === 'Presence' && m.entries.some((e: Msg) => e.session === ada.session && e.state === null),
        from,
      );
      // Meanwhile b's state changes; a misses it.
      b.send(presence(0, { name: 'Bob', away: true }));
      const resumed = await TestClient.resume(port, a.token!);
      resumed.send({ type: 'Ping', index: 0, ack, resendMissing: true });
      const frame = (await resumed.waitForFrames(1)) as Msg[];
      // One frame: the Ping, the indexed messages not acknowledged, then presence, as a snapshot.
      assert.equal(frame[0]!.type, 'Ping');
      const firstPresence = frame.findIndex((m) => m.type === 'Presence');
      assert.ok(firstPresence > 0);
      assert.ok(frame.slice(firstPresence).every((m) => m.type === 'Presence' && m.index === 0));
      assert.deepEqual(frame[firstPresence], {
        type: 'Presence',
        index: 0,
        scopeIndex: 0,
        snapshot: true,
        entries: [
          {
            session: (await entry(a, (e) => e.state?.name === 'Bob')).session,
            state: { name: 'Bob', away: true },
          },
        ],
      });
      // Its own state is gone with the socket: the client sends it again.
      from = b.messages.length;
      resumed.send(presence(0, { name: 'Ada', back: true }));
      await b.waitFor(
        (m) => m.type === 'Presence' && m.entries.some((e: Msg) => e.state?.back === true),
        from,
      );

      // The server ends the session: the others see it leave.
      from = b.messages.length;
      await resumed.close();
      await b.waitFor(
        (m) =>
          m.type === 'Presence' && m.entries.some((e: Msg) => e.session === ada.session && e.state === null),
        from,
      );
      await b.close();
    });
  });

  test('a session that expires leaves', async () => {
    await withServer({ sessionExpiry: 300, pingInterval: 60_000 }, async (port) => {
      const a = await member(port);
      const b = await member(port);
      a.send(presence(0, { name: 'Ada' }));
      const ada = await entry(b, (e) => e.state?.name === 'Ada');
      // b keeps its session alive; a says nothing more and expires.
      const keepAlive = setInterval(() => b.ping(), 50);
      try {
        const info = await a.waitForClose();
        assert.equal(info.code, 4097);
        await entry(b, (e) => e.session === ada.session && e.state === null);
      } finally {
        clearInterval(keepAlive);
      }
      await b.close();
    });
  });
});

describe('invalid presence input', () => {
  const cases: [string, boolean, unknown][] = [
    ['from a session that did not ask', false, presence(0, { x: 1 })],
    ['for a scopeIndex the session does not hold', true, presence(7, { x: 1 })],
    ['over maxStateBytes', true, presence(0, { text: 'x'.repeat(100) })],
    ['a state that is not an object', true, presence(0, [1, 2])],
    ['a state that is missing', true, { type: 'Presence', index: 0, scopeIndex: 0 }],
    ['a non-zero index', true, { ...presence(0, { x: 1 }), index: 3 }],
    ['a state nested deeper than maxParamsDepth', true, presence(0, { a: { b: { c: 1 } } })],
  ];
  for (const [name, ask, message] of cases) {
    test(`${name}: dropped and counted as invalid; the others see nothing`, async () => {
      await withServer(
        { maxInvalidMessages: 1, presence: { maxStateBytes: 64 }, limits: { maxParamsDepth: 2 } },
        async (port) => {
          const observer = await member(port);
          const { c } = await session(port, ask);
          await c.fetch('Canvas');
          c.send(message);
          const info = await c.waitForClose();
          assert.equal(info.code, 4096);
          assert.equal(reasonOf(info).type, ErrorType.tooManyInvalidMessages);
          await observer.barrier();
          assert.deepEqual(
            entriesOf(observer).filter((e) => e.state !== null),
            [],
          );
          await observer.close();
        },
      );
    });
  }
});
