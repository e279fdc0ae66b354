// The bad-input table (docs/protocol.md §14), over real sockets: one row per malformed input. Each
// row runs on a fresh session that holds the Canvas scope, next to an observer session that
// holds it too. Each row checks the reply (or that nothing came back, or the close code), then
// that the sender still works (unless closed), that the observer saw no change and still works,
// and that the scope is untouched.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { type Msg, TestClient, uuid } from '../helpers/ws-client.js';
import { type Fixture, startServer } from './fixture.js';

type Ctx = { root: string; shape: string };
type Expect =
  /** No reply; the session continues. */
  | { dropped: true }
  /** A reply matching `check`, addressed to `replyTo`. */
  | { reply: 'ScopeFetchReply' | 'ScopeSyncReply'; replyTo: number; check: (m: Msg) => void }
  /** The socket is closed with `code` (and the JSON reason's `type`, when given). */
  | { close: number; type?: string };

interface Row {
  name: string;
  /** Frames to send: objects are JSON-encoded, strings and Buffers go as they are. */
  send: (ctx: Ctx) => unknown[];
  expect: Expect;
}

const LIMITS = {
  maxFrameBytes: 8192,
  maxFragmentsPerChangeset: 5,
  maxStringLength: 100,
  maxArrayLength: 10,
  maxParamsDepth: 8,
};
const MAX_INVALID = 6;

const sync = (index: number, fragments: unknown, extra: Record<string, unknown> = {}) => ({
  type: 'ScopeSync',
  index,
  scopeIndex: 0,
  ...extra,
  fragments,
});
const change = (ctx: Ctx, properties: unknown, extra: Record<string, unknown> = {}) => ({
  type: 'change',
  uuid: ctx.shape,
  clsName: 'Shape',
  properties,
  ...extra,
});

/** Every entry of a ScopeSyncReply is an error of `type` (and there are `n` entries). */
const allErrors = (n: number, type?: string, message?: RegExp) => (m: Msg) => {
  assert.equal(m.fragmentReplies.length, n);
  for (const r of m.fragmentReplies) {
    assert.equal(typeof r.error?.message, 'string', JSON.stringify(m));
    if (type) assert.equal(r.error.type, type);
    if (message) assert.match(r.error.message, message);
  }
};
const fetchError = (message: RegExp) => (m: Msg) => {
  assert.equal(m.scopeIndex, undefined);
  assert.equal(m.error.type, 'invalid-message');
  assert.match(m.error.message, message);
};
const nested = (depth: number): unknown => (depth === 0 ? 1 : { a: nested(depth - 1) });

const rows: Row[] = [
  // ---- not a message at all: dropped and counted
  { name: 'not JSON', send: () => ['{"type":"ScopeFetch",'], expect: { dropped: true } },
  { name: 'empty text frame', send: () => [''], expect: { dropped: true } },
  { name: 'a JSON number', send: () => ['42'], expect: { dropped: true } },
  { name: 'a JSON string', send: () => ['"ScopeFetch"'], expect: { dropped: true } },
  { name: 'JSON null', send: () => ['null'], expect: { dropped: true } },
  { name: 'an array of non-objects', send: () => [[1, 'two', null]], expect: { dropped: true } },
  { name: 'an empty array', send: () => [[]], expect: { dropped: true } },
  { name: 'no type', send: () => [{ index: 5, name: 'Canvas' }], expect: { dropped: true } },
  { name: 'type of the wrong type', send: () => [{ type: 7, index: 5 }], expect: { dropped: true } },
  {
    name: 'unknown type',
    send: () => [{ type: 'ScopeDelete', index: 5, scopeIndex: 0 }],
    expect: { dropped: true },
  },
  { name: 'type "__proto__"', send: () => [{ type: '__proto__', index: 5 }], expect: { dropped: true } },
  {
    name: 'binary frame, invalid UTF-8',
    send: () => [Buffer.from([0xff, 0xfe, 0x7b, 0x80])],
    expect: { dropped: true },
  },
  // ---- requests without a usable index: dropped (the client cannot be answered)
  {
    name: 'ScopeFetch, negative index',
    send: () => [{ type: 'ScopeFetch', index: -1, name: 'Canvas' }],
    expect: { dropped: true },
  },
  {
    name: 'ScopeFetch, string index',
    send: () => [{ type: 'ScopeFetch', index: '5', name: 'Canvas' }],
    expect: { dropped: true },
  },
  {
    name: 'ScopeFetch, fractional index',
    send: () => [{ type: 'ScopeFetch', index: 5.5, name: 'Canvas' }],
    expect: { dropped: true },
  },
  {
    name: 'ScopeSync, no index',
    send: (c) => [{ type: 'ScopeSync', scopeIndex: 0, fragments: [change(c, { x: 1 })] }],
    expect: { dropped: true },
  },
  // ---- pings and other messages with wrong fields: dropped
  {
    name: 'Ping, ack a string',
    send: () => [{ type: 'Ping', index: 0, ack: 'all', resendMissing: true }],
    expect: { dropped: true },
  },
  {
    name: 'Ping, negative ack',
    send: () => [{ type: 'Ping', index: 0, ack: -3 }],
    expect: { dropped: true },
  },
  {
    name: 'Ping, resendMissing a string',
    send: () => [{ type: 'Ping', index: 0, ack: 0, resendMissing: 'yes' }],
    expect: { dropped: true },
  },
  {
    name: 'SessionCreate after the handshake',
    send: () => [{ type: 'SessionCreate', index: 0, version: '0.2.0' }],
    expect: { dropped: true },
  },
  {
    name: 'Reply (parsed and ignored)',
    send: () => [{ type: 'Reply', index: 5, replyTo: 1 }],
    expect: { dropped: true },
  },
  // ---- ScopeFetch with a usable index: an error reply
  {
    name: 'ScopeFetch, name a number',
    send: () => [{ type: 'ScopeFetch', index: 5, name: 42 }],
    expect: { reply: 'ScopeFetchReply', replyTo: 5, check: fetchError(/name/) },
  },
  {
    name: 'ScopeFetch, no name',
    send: () => [{ type: 'ScopeFetch', index: 5 }],
    expect: { reply: 'ScopeFetchReply', replyTo: 5, check: fetchError(/name/) },
  },
  {
    name: 'ScopeFetch, params an array',
    send: () => [{ type: 'ScopeFetch', index: 5, name: 'Canvas', params: [1] }],
    expect: { reply: 'ScopeFetchReply', replyTo: 5, check: fetchError(/params/) },
  },
  {
    name: 'ScopeFetch, params nested too deep',
    send: () => [{ type: 'ScopeFetch', index: 5, name: 'Canvas', params: nested(50) }],
    expect: { reply: 'ScopeFetchReply', replyTo: 5, check: fetchError(/depth|deep|nest/i) },
  },
  {
    name: 'ScopeFetch, name too long',
    send: () => [{ type: 'ScopeFetch', index: 5, name: 'n'.repeat(101) }],
    expect: { reply: 'ScopeFetchReply', replyTo: 5, check: fetchError(/maxStringLength/) },
  },
  // ---- ScopeSync with a usable index: one error entry per fragment
  {
    name: 'ScopeSync, fragments not an array',
    send: () => [sync(5, { 0: 1 })],
    expect: { reply: 'ScopeSyncReply', replyTo: 5, check: allErrors(0) },
  },
  {
    name: 'ScopeSync, scopeIndex a string',
    send: (c) => [{ ...sync(5, [change(c, { x: 1 })]), scopeIndex: '0' }],
    expect: { reply: 'ScopeSyncReply', replyTo: 5, check: allErrors(1, 'invalid-message', /scopeIndex/) },
  },
  {
    name: 'ScopeSync, unknown scopeIndex',
    send: (c) => [{ ...sync(5, [change(c, { x: 1 }), change(c, { y: 1 })]), scopeIndex: 99 }],
    expect: { reply: 'ScopeSyncReply', replyTo: 5, check: allErrors(2, 'scope-index-not-found', /99/) },
  },
  {
    name: 'ScopeSync, atomic null',
    send: (c) => [sync(5, [change(c, { x: 1 })], { atomic: null })],
    expect: { reply: 'ScopeSyncReply', replyTo: 5, check: allErrors(1, 'invalid-message', /atomic/) },
  },
  {
    name: 'ScopeSync, procedure without atomic',
    send: (c) => [sync(5, [change(c, { x: 1 })], { procedure: 'Canvas.rename' })],
    expect: { reply: 'ScopeSyncReply', replyTo: 5, check: allErrors(1, 'invalid-message', /atomic/i) },
  },
  {
    name: 'ScopeSync, procedure without a dot',
    send: (c) => [sync(5, [change(c, { x: 1 })], { atomic: true, procedure: 'rename' })],
    expect: { reply: 'ScopeSyncReply', replyTo: 5, check: allErrors(1, 'invalid-message', /procedure/i) },
  },
  {
    name: 'fragment uuid not a uuid',
    send: (c) => [sync(5, [change(c, { x: 1 }, { uuid: 'not-a-uuid' })])],
    expect: { reply: 'ScopeSyncReply', replyTo: 5, check: allErrors(1, 'invalid-fragment', /uuid/) },
  },
  {
    name: 'fragment uuid a number',
    send: (c) => [sync(5, [change(c, { x: 1 }, { uuid: 12 })])],
    expect: { reply: 'ScopeSyncReply', replyTo: 5, check: allErrors(1, 'invalid-fragment') },
  },
  {
    name: 'fragment type "remove"',
    send: (c) => [sync(5, [change(c, { x: 1 }, { type: 'remove' })])],
    expect: { reply: 'ScopeSyncReply', replyTo: 5, check: allErrors(1, 'invalid-fragment', /type/) },
  },
  {
    name: 'fragment without clsName',
    send: (c) => [sync(5, [{ type: 'change', uuid: c.shape, properties: { x: 1 } }])],
    expect: { reply: 'ScopeSyncReply', replyTo: 5, check: allErrors(1, 'invalid-fragment', /clsName/) },
  },
  {
    name: 'fragment not an object',
    send: () => [sync(5, ['change'])],
    expect: { reply: 'ScopeSyncReply', replyTo: 5, check: allErrors(1, 'invalid-fragment') },
  },
  {
    name: 'properties an array',
    send: (c) => [sync(5, [change(c, [1, 2])])],
    expect: { reply: 'ScopeSyncReply', replyTo: 5, check: allErrors(1, 'invalid-fragment', /properties/) },
  },
  {
    name: '"__proto__" property key',
    send: (c) => [
      `{"type":"ScopeSync","index":5,"scopeIndex":0,"fragments":[{"type":"change","uuid":"${c.shape}","clsName":"Shape","properties":{"__proto__":{"x":1}}}]}`,
    ],
    expect: { reply: 'ScopeSyncReply', replyTo: 5, check: allErrors(1, 'invalid-fragment', /__proto__/) },
  },
  {
    name: '"constructor" property key',
    send: (c) => [sync(5, [change(c, { constructor: 1 })])],
    expect: { reply: 'ScopeSyncReply', replyTo: 5, check: allErrors(1, 'invalid-fragment', /constructor/) },
  },
  {
    name: 'property value an object',
    send: (c) => [sync(5, [change(c, { x: { $gt: 1 } })])],
    expect: { reply: 'ScopeSyncReply', replyTo: 5, check: allErrors(1, 'invalid-fragment', /"x"|x/) },
  },
  {
    name: 'property value deeply nested arrays',
    send: (c) => [sync(5, [change(c, { x: [[[[[[1]]]]]] })])],
    expect: { reply: 'ScopeSyncReply', replyTo: 5, check: allErrors(1, 'invalid-fragment') },
  },
  {
    name: 'string over maxStringLength',
    send: (c) => [sync(5, [change(c, { x: 's'.repeat(101) })])],
    expect: {
      reply: 'ScopeSyncReply',
      replyTo: 5,
      check: allErrors(1, 'invalid-fragment', /maxStringLength/),
    },
  },
  {
    name: 'array over maxArrayLength',
    send: (c) => [
      sync(5, [
        {
          type: 'change',
          uuid: c.root,
          clsName: 'Canvas',
          properties: { shapes: Array.from({ length: 11 }, () => uuid()) },
        },
      ]),
    ],
    expect: {
      reply: 'ScopeSyncReply',
      replyTo: 5,
      check: allErrors(1, 'invalid-fragment', /maxArrayLength/),
    },
  },
  {
    name: 'more fragments than maxFragmentsPerChangeset',
    send: (c) => [
      sync(
        5,
        Array.from({ length: 6 }, () => change(c, { x: 1 })),
      ),
    ],
    expect: {
      reply: 'ScopeSyncReply',
      replyTo: 5,
      // One error for the whole refused list: a reply never grows with the size of bad input.
      check: allErrors(1, undefined, /maxFragmentsPerChangeset/),
    },
  },
  // ---- well-formed, refused by the scope: per-fragment errors, nothing applied
  {
    name: 'change of an unknown uuid',
    send: (c) => [sync(5, [change(c, { x: 1 }, { uuid: uuid() })])],
    expect: { reply: 'ScopeSyncReply', replyTo: 5, check: allErrors(1) },
  },
  {
    name: 'change with the wrong clsName',
    send: (c) => [sync(5, [change(c, { x: 1 }, { clsName: 'Canvas' })])],
    expect: { reply: 'ScopeSyncReply', replyTo: 5, check: allErrors(1) },
  },
  {
    name: 'add of an unknown class',
    send: () => [sync(5, [{ type: 'add', uuid: uuid(), clsName: 'Circle', properties: {} }])],
    expect: { reply: 'ScopeSyncReply', replyTo: 5, check: allErrors(1) },
  },
  {
    name: 'add without a parent',
    send: () => [sync(5, [{ type: 'add', uuid: uuid(), clsName: 'Shape', properties: { x: 1 } }])],
    expect: { reply: 'ScopeSyncReply', replyTo: 5, check: allErrors(1, undefined, /parent/) },
  },
  {
    name: 'reference to a missing object',
    send: (c) => [
      sync(5, [{ type: 'change', uuid: c.root, clsName: 'Canvas', properties: { shapes: [uuid()] } }]),
    ],
    expect: { reply: 'ScopeSyncReply', replyTo: 5, check: allErrors(1) },
  },
  {
    name: 'Number property NaN-ish (a string)',
    send: (c) => [sync(5, [change(c, { x: '1' })])],
    expect: { reply: 'ScopeSyncReply', replyTo: 5, check: allErrors(1, undefined, /x/) },
  },
  {
    name: 'unknown property',
    send: (c) => [sync(5, [change(c, { color: 1 })])],
    expect: { reply: 'ScopeSyncReply', replyTo: 5, check: allErrors(1, undefined, /color/) },
  },
  // ---- size: over the codec's limit is dropped; over the transport's, the socket closes
  {
    name: 'frame over maxFrameBytes',
    send: (c) => [
      JSON.stringify(sync(5, [change(c, { x: 1 })])).replace(
        '"index"',
        `"pad":"${'p'.repeat(8200)}","index"`,
      ),
    ],
    expect: { dropped: true },
  },
  { name: 'huge frame (10 MB)', send: () => ['x'.repeat(10 * 1024 * 1024)], expect: { close: 1009 } },
  // ---- persistent garbage closes the session's socket
  {
    name: 'too many invalid messages',
    send: () => Array.from({ length: MAX_INVALID }, () => '{nope'),
    expect: { close: 4096, type: 'too-many-invalid-messages' },
  },
];

describe('bad input table (docs/protocol.md §14)', () => {
  let f: Fixture;
  let observer: TestClient;
  let ctx: Ctx;
  let before0: string;

  before(async () => {
    f = await startServer({ limits: LIMITS, maxInvalidMessages: MAX_INVALID });
    observer = await TestClient.session(f.port);
    const state = (await observer.fetch('Canvas')).state!;
    ctx = { root: state.rootUUID, shape: state.fragments[1].uuid };
    before0 = JSON.stringify(f.scope.getState());
  });
  after(async () => {
    await observer.close();
    await f.server.close();
  });

  for (const row of rows) {
    test(row.name, async () => {
      const c = await TestClient.session(f.port);
      try {
        await c.fetch('Canvas'); // client index 1; the bad input uses 5
        const mark = c.messages.length;
        const observerMark = observer.messages.length;
        for (const frame of row.send(ctx))
          c.send(typeof frame === 'string' || Buffer.isBuffer(frame) ? frame : JSON.stringify(frame));
        const e = row.expect;
        if ('close' in e) {
          const info = await c.waitForClose();
          assert.equal(info.code, e.close);
          if (e.type) assert.equal(JSON.parse(info.reason).type, e.type);
        } else {
          if ('reply' in e) {
            const reply = await c.waitFor((m) => m.type === e.reply && m.replyTo === e.replyTo, mark);
            e.check(reply);
          }
          // The sender's session still works, and nothing else came back for the bad input.
          c.nextIndex = 6;
          await c.barrier();
          const got = c.messages.slice(mark).map((m) => m.type);
          assert.deepEqual(
            got,
            'reply' in e ? [e.reply, 'ScopeSyncReply'] : ['ScopeSyncReply'],
            `got ${c.rawFrames.slice(-2).join(' ')}`,
          );
          assert.equal(f.server.sessions.find((s) => s.token === c.token)?.expired, false);
        }
        // The observer is unaffected: it saw no change and is still served.
        await observer.barrier();
        assert.deepEqual(
          observer.messages.slice(observerMark).map((m) => m.type),
          ['ScopeSyncReply'],
        );
        assert.equal(JSON.stringify(f.scope.getState()), before0, 'the scope is untouched');
        assert.equal(({} as Record<string, unknown>).x, undefined, 'no prototype pollution');
      } finally {
        await c.close();
      }
    });
  }

  test('a fragment without properties is treated as {} (accepted; the original server crashed)', async () => {
    const c = await TestClient.session(f.port);
    try {
      await c.fetch('Canvas');
      const reply = await c.sync(0, [{ type: 'change', uuid: ctx.shape, clsName: 'Shape' }]);
      assert.deepEqual(reply.fragmentReplies, [{}]);
    } finally {
      await c.close();
    }
  });

  test('a binary frame holding a valid message is decoded as UTF-8 and answered', async () => {
    const c = await TestClient.session(f.port);
    try {
      c.send(Buffer.from(JSON.stringify({ type: 'ScopeFetch', index: 1, name: 'Canvas', params: {} })));
      const reply = await c.waitFor((m) => m.type === 'ScopeFetchReply');
      assert.equal(reply.scopeIndex, 0);
    } finally {
      await c.close();
    }
  });

  test('"__proto__", "constructor" and "prototype" keys in params never reach a prototype', async () => {
    const seen: Record<string, unknown>[] = [];
    const g = await startServer({ scopes: [] });
    g.server.on('session', (session, params: Record<string, unknown>, cb: () => void) => {
      seen.push(params);
      session.on(
        'fetch',
        (_name: string, p: Record<string, unknown>, callback: (e: unknown, s?: unknown) => void) => {
          seen.push(p);
          callback(null, g.scope);
        },
      );
      cb();
    });
    try {
      const c = await TestClient.connect(g.port);
      c.send(
        '{"type":"SessionCreate","index":0,"version":"0.2.0","params":{"__proto__":{"polluted":1},"user":"u","nested":{"constructor":{"prototype":{"polluted":2}}}}}',
      );
      await c.waitFor((m) => m.type === 'SessionCreateReply' && typeof m.sessionToken === 'string');
      c.send(
        '{"type":"ScopeFetch","index":1,"name":"Canvas","params":{"__proto__":{"polluted":3},"id":"c1"}}',
      );
      assert.equal((await c.waitFor((m) => m.type === 'ScopeFetchReply')).scopeIndex, 0);
      assert.equal(seen.length, 2);
      for (const p of seen) {
        assert.equal(Object.getPrototypeOf(p), Object.prototype);
        assert.equal((p as Record<string, unknown>).polluted, undefined);
        assert.ok(!Object.hasOwn(p, '__proto__'));
      }
      assert.equal(seen[0]!.user, 'u');
      assert.deepEqual(seen[0]!.nested, {});
      assert.equal(seen[1]!.id, 'c1');
      assert.equal(({} as Record<string, unknown>).polluted, undefined);
      await c.close();
    } finally {
      await g.server.close();
    }
  });

  test('frames up to maxFrameBytes are accepted; the limit is configurable end to end', async () => {
    const g = await startServer({
      limits: { maxFrameBytes: 4 * 1024 * 1024, maxStringLength: 3 * 1024 * 1024 },
    });
    try {
      const c = await TestClient.session(g.port);
      const st = (await c.fetch('Canvas')).state!;
      // 2 MiB: over the default limits (1 MiB; the transport's 1 MiB + 1 KiB), under the configured one.
      const big = 'b'.repeat(2 * 1024 * 1024);
      const reply = await c.sync(0, [
        { type: 'change', uuid: st.rootUUID, clsName: 'Canvas', properties: { name: big } },
      ]);
      assert.deepEqual(reply.fragmentReplies, [{}]);
      await c.close();
    } finally {
      await g.server.close();
    }
  });
});
