// End to end over real sockets: the handshake, the application hooks, tokens, resume, expiry,
// keep-alive pings and every close code (docs/protocol.md §4, §8, §12).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ErrorType } from '../../src/errors.js';
import type { IncomingConnection } from '../../src/server/server.js';
import type { Session } from '../../src/server/session.js';
import { ManualClock } from '../helpers/clock.js';
import { reasonOf, TestClient } from '../helpers/ws-client.js';
import { startServer } from './fixture.js';

describe('handshake', () => {
  test('SessionCreate → token: 64 alphanumeric characters (≥ 256 bits), unique per session', async () => {
    const f = await startServer();
    try {
      const tokens = new Set<string>();
      for (let i = 0; i < 5; i++) {
        const c = await TestClient.session(f.port);
        assert.match(c.token!, /^[A-Za-z0-9]{64}$/);
        tokens.add(c.token!);
        await c.close();
      }
      assert.equal(tokens.size, 5);
    } finally {
      await f.server.close();
    }
  });

  test('the browser client version 0.1.0 and a bare SessionCreate without params are accepted', async () => {
    const f = await startServer();
    const seen: unknown[] = [];
    f.server.on('session', (s: Session, _params: unknown, cb: () => void) => {
      seen.push([s.version, s.params]);
      cb();
    });
    try {
      const c = await TestClient.connect(f.port);
      c.send({ type: 'SessionCreate', index: 0, version: '0.1.0' });
      const reply = await c.waitFor((m) => m.type === 'SessionCreateReply');
      assert.equal(typeof reply.sessionToken, 'string');
      assert.deepEqual(seen, [['0.1.0', {}]]);
      await c.close();
    } finally {
      await f.server.close();
    }
  });

  test('messages sent right behind SessionCreate (before the accept) are kept, not lost', async () => {
    const f = await startServer();
    f.server.on('session', (_s: Session, _p: unknown, cb: () => void) => {
      setTimeout(cb, 20); // a slow authentication
    });
    try {
      const c = await TestClient.connect(f.port);
      c.send({ type: 'SessionCreate', index: 0, version: '0.2.0', params: {} });
      c.send({ type: 'ScopeFetch', index: 1, name: 'Canvas', params: {} });
      const reply = await c.waitFor((m) => m.type === 'ScopeFetchReply');
      assert.equal(reply.scopeIndex, 0);
      assert.deepEqual(
        c.messages.map((m) => m.type),
        ['SessionCreateReply', 'ScopeFetchReply', 'ScopeState'],
      );
      await c.close();
    } finally {
      await f.server.close();
    }
  });

  const handshakeCases: [string, unknown, RegExp, string | undefined][] = [
    ['not JSON', '{"type":"SessionCreate",', /not JSON/, 'invalid-message'],
    [
      'an array [SessionCreate]',
      [{ type: 'SessionCreate', index: 0, version: '0.2.0' }],
      /Unrecognized handshake/,
      'unrecognized-handshake',
    ],
    [
      'a Ping first',
      { type: 'Ping', index: 0, ack: 0, resendMissing: true },
      /Unrecognized handshake/,
      'unrecognized-handshake',
    ],
    [
      'a ScopeFetch first',
      { type: 'ScopeFetch', index: 1, name: 'Canvas' },
      /Unrecognized handshake/,
      'unrecognized-handshake',
    ],
    ['a number', 42, /Unrecognized handshake/, 'unrecognized-handshake'],
    ['an invalid version', { type: 'SessionCreate', index: 0, version: 'one' }, /version/, 'invalid-message'],
    ['no version', { type: 'SessionCreate', index: 0 }, /version/, 'invalid-message'],
    [
      'params not an object',
      { type: 'SessionCreate', index: 0, version: '0.2.0', params: 5 },
      /params/,
      'invalid-message',
    ],
  ];
  for (const [name, frame, message, type] of handshakeCases) {
    test(`first frame ${name}: close 4096 with the JSON reason`, async () => {
      const f = await startServer();
      try {
        const c = await TestClient.connect(f.port);
        c.send(typeof frame === 'string' ? frame : JSON.stringify(frame));
        const info = await c.waitForClose();
        assert.equal(info.code, 4096);
        assert.ok(Buffer.byteLength(info.reason) <= 123);
        const reason = reasonOf(info);
        assert.match(reason.message, message);
        assert.equal(reason.type, type);
        assert.equal(f.server.sessions.length, 0);
        // The server is unaffected.
        const other = await TestClient.session(f.port);
        assert.equal((await other.fetch('Canvas')).reply.scopeIndex, 0);
        await other.close();
      } finally {
        await f.server.close();
      }
    });
  }

  test('no first frame within establishSessionTimeout: close 4096 session-establish-timedout', async () => {
    const f = await startServer({ establishSessionTimeout: 100 });
    try {
      const c = await TestClient.connect(f.port);
      const info = await c.waitForClose();
      assert.equal(info.code, 4096);
      assert.deepEqual(reasonOf(info), {
        message: 'Session establish timed out',
        type: 'session-establish-timedout',
      });
    } finally {
      await f.server.close();
    }
  });
});

describe('hooks', () => {
  test('connection hook denies on a header or a query parameter (close 4096, rejected)', async () => {
    const f = await startServer();
    const seen: Record<string, string>[] = [];
    f.server.on('connection', (conn: IncomingConnection) => {
      seen.push({ ...conn.params });
      if (conn.params.apikey !== 'secret' && conn.params.apiKey !== 'secret') conn.deny('Bad API key');
    });
    try {
      const bad = await TestClient.connect(f.port, { headers: { 'X-Jetstream-ApiKey': 'wrong' } });
      const info = await bad.waitForClose();
      assert.equal(info.code, 4096);
      assert.deepEqual(reasonOf(info), { message: 'Bad API key', type: 'rejected' });
      const noKey = await TestClient.connect(f.port);
      assert.equal((await noKey.waitForClose()).code, 4096);

      const byHeader = await TestClient.session(f.port, {}, { headers: { 'X-Jetstream-ApiKey': 'secret' } });
      assert.equal(typeof byHeader.token, 'string');
      const byQuery = await TestClient.session(f.port, {}, { query: 'x-jetstream-apiKey=secret&other=1' });
      assert.equal(typeof byQuery.token, 'string');
      assert.deepEqual(seen[2], { apikey: 'secret' }); // header names lowercased
      assert.deepEqual(seen[3], { apiKey: 'secret' }); // query keys keep their case
      await byHeader.close();
      await byQuery.close();
    } finally {
      await f.server.close();
    }
  });

  test('connection hook: deny() without a reason, a throw, a rejection and a hang all deny with a clear error', async () => {
    const f = await startServer({ hookTimeout: 100 });
    f.server.on('connection', (conn: IncomingConnection) => {
      const mode = conn.params.mode;
      if (mode === 'plain') conn.deny();
      if (mode === 'throw') throw new Error('hook threw');
      if (mode === 'reject') return Promise.reject(new Error('hook rejected'));
      if (mode === 'async') return new Promise<void>((r) => setTimeout(r, 10));
      if (mode === 'hang') return new Promise<void>(() => {});
      return undefined;
    });
    try {
      const expect = async (mode: string, message: string) => {
        const c = await TestClient.connect(f.port, { headers: { 'x-jetstream-mode': mode } });
        const info = await c.waitForClose();
        assert.equal(info.code, 4096);
        assert.deepEqual(reasonOf(info), { message, type: 'rejected' });
      };
      await expect('plain', 'Connection was rejected');
      await expect('throw', 'hook threw');
      await expect('reject', 'hook rejected');
      await expect('hang', 'The application did not answer in time'); // after hookTimeout
      const ok = await TestClient.session(f.port, {}, { headers: { 'x-jetstream-mode': 'async' } });
      assert.equal(typeof ok.token, 'string');
      await ok.close();
    } finally {
      await f.server.close();
    }
  });

  test("session hook in the README's form (session, params, callback) accepts and denies", async () => {
    const f = await startServer();
    f.server.on(
      'session',
      (session: Session, params: Record<string, unknown>, callback: (e?: unknown) => void) => {
        assert.equal(session.params, params);
        if (params.user === 'mallory') return callback(new Error('Unknown user'));
        session.data.user = params.user;
        callback();
      },
    );
    try {
      const ok = await TestClient.connect(f.port);
      const accepted = await ok.handshake({ user: 'alice' });
      assert.equal(typeof accepted.sessionToken, 'string');
      assert.equal(f.server.sessions[0]!.data.user, 'alice');

      const bad = await TestClient.connect(f.port);
      const denied = await bad.handshake({ user: 'mallory' });
      assert.deepEqual(denied, {
        type: 'SessionCreateReply',
        index: 0,
        error: { message: 'Unknown user', type: 'rejected' },
      });
      // The denied socket is closed after the reply (the original server left it open).
      const info = await bad.waitForClose();
      assert.equal(info.code, 4096);
      assert.deepEqual(reasonOf(info), { message: 'Unknown user', type: 'rejected' });
      assert.equal(f.server.sessions.length, 1);
      await ok.close();
    } finally {
      await f.server.close();
    }
  });

  test('session hook in the original form (session, connection, params, callback)', async () => {
    const f = await startServer();
    f.server.on(
      'session',
      (_s: Session, conn: IncomingConnection, params: Record<string, unknown>, cb: (e?: unknown) => void) => {
        assert.equal(typeof conn.deny, 'function');
        cb(params.token === conn.params.token ? undefined : 'Token mismatch');
      },
    );
    try {
      const ok = await TestClient.connect(f.port, { headers: { 'x-jetstream-token': 't1' } });
      assert.equal(typeof (await ok.handshake({ token: 't1' })).sessionToken, 'string');
      const bad = await TestClient.connect(f.port, { headers: { 'x-jetstream-token': 't1' } });
      assert.deepEqual((await bad.handshake({ token: 't2' })).error, {
        message: 'Token mismatch',
        type: 'rejected',
      });
      assert.equal((await bad.waitForClose()).code, 4096);
      await ok.close();
    } finally {
      await f.server.close();
    }
  });

  test('session hooks answering by promise: async functions of either form, resolve accepts, reject denies', async () => {
    const f = await startServer();
    f.server.on('session', async (_s: Session, conn: IncomingConnection, params: Record<string, unknown>) => {
      assert.equal(typeof conn.params, 'object');
      if (params.deny) throw new Error('Async denial');
    });
    f.server.on('session', async (_s: Session, params: Record<string, unknown>) => {
      if (params.deny2) throw new Error('Second hook denial');
    });
    try {
      const ok = await TestClient.connect(f.port);
      assert.equal(typeof (await ok.handshake({})).sessionToken, 'string');
      const bad = await TestClient.connect(f.port);
      assert.equal((await bad.handshake({ deny: true })).error.message, 'Async denial');
      const bad2 = await TestClient.connect(f.port);
      assert.equal((await bad2.handshake({ deny2: true })).error.message, 'Second hook denial');
      await ok.close();
    } finally {
      await f.server.close();
    }
  });

  test('a session hook that throws synchronously or never answers denies that request only', async () => {
    const f = await startServer({ hookTimeout: 100 });
    f.server.on('session', (_s: Session, params: Record<string, unknown>, cb: () => void) => {
      if (params.mode === 'throw') throw new TypeError('broken hook');
      if (params.mode === 'hang') return;
      cb();
    });
    try {
      const thrower = await TestClient.connect(f.port);
      const r1 = await thrower.handshake({ mode: 'throw' });
      // A TypeError is a bug in the hook: its message is not sent (it may hold internal details).
      assert.deepEqual(r1.error, { message: 'Session creation denied', type: 'rejected' });
      const hanger = await TestClient.connect(f.port);
      const r2 = await hanger.handshake({ mode: 'hang' });
      assert.equal(r2.error.type, 'rejected');
      assert.match(r2.error.message, /did not answer/);
      const ok = await TestClient.session(f.port, { mode: 'ok' });
      assert.equal((await ok.fetch('Canvas')).reply.scopeIndex, 0);
      await ok.close();
    } finally {
      await f.server.close();
    }
  });

  test('the README flow: session hook installs session.on("fetch") and gates the scope name', async () => {
    const f = await startServer({ scopes: [] });
    f.server.on('session', (session: Session, _params: unknown, callback: () => void) => {
      callback();
      session.on('fetch', (name: string, _p: unknown, cb: (e: unknown, s?: unknown) => void) => {
        if (name !== f.scope.name) return cb(new Error('No such scope'));
        cb(null, f.scope);
      });
    });
    try {
      const c = await TestClient.session(f.port);
      assert.deepEqual((await c.fetch('Other')).reply.error, { message: 'No such scope', type: 'rejected' });
      assert.equal((await c.fetch('Canvas')).reply.scopeIndex, 0);
      await c.close();
    } finally {
      await f.server.close();
    }
  });
});

describe('resume, expiry and close codes', () => {
  test('unknown token (header or query): close 4096 session-token-unrecognized', async () => {
    const f = await startServer();
    try {
      for (const via of ['header', 'query'] as const) {
        const c = await TestClient.resume(f.port, 'x'.repeat(64), via);
        const info = await c.waitForClose();
        assert.equal(info.code, 4096);
        assert.deepEqual(reasonOf(info), {
          message: 'Session token unrecognized',
          type: ErrorType.sessionTokenUnrecognized,
        });
      }
    } finally {
      await f.server.close();
    }
  });

  test('inactivity expiry closes the attached socket with 4097 and forgets the token', async () => {
    const clock = new ManualClock();
    const f = await startServer({ sessionExpiry: 60_000, clock });
    const expired: string[] = [];
    f.server.on('session', (s: Session, _p: unknown, cb: () => void) => {
      s.on('expire', () => expired.push(s.token));
      cb();
    });
    try {
      const c = await TestClient.session(f.port);
      await c.fetch('Canvas');
      clock.advance(60_000);
      const info = await c.waitForClose();
      assert.equal(info.code, 4097);
      assert.equal(reasonOf(info).type, 'session-expired');
      assert.deepEqual(expired, [c.token]);
      assert.equal(f.server.sessions.length, 0);
      const again = await TestClient.resume(f.port, c.token!);
      const info2 = await again.waitForClose();
      assert.equal(info2.code, 4096);
      assert.equal(reasonOf(info2).type, 'session-token-unrecognized');
    } finally {
      await f.server.close();
    }
  });

  test('a detached session expires too; a resume after that is unrecognized', async () => {
    const clock = new ManualClock();
    const f = await startServer({ sessionExpiry: 60_000, clock });
    try {
      const c = await TestClient.session(f.port);
      const session = f.server.sessions[0]!;
      const expired = new Promise<void>((resolve) => session.on('expire', () => resolve()));
      await c.close();
      clock.advance(60_000);
      await expired;
      const again = await TestClient.resume(f.port, c.token!);
      assert.equal((await again.waitForClose()).code, 4096);
    } finally {
      await f.server.close();
    }
  });

  test('client pings keep a session alive past the expiry period', async () => {
    const clock = new ManualClock();
    const f = await startServer({ sessionExpiry: 60_000, clock });
    try {
      const c = await TestClient.session(f.port);
      const session = f.server.sessions[0]!;
      // Three expiry periods pass, with a ping every 20 s of the server's time and no other
      // message. A resendMissing ping is answered, so the loop knows each one arrived.
      for (let i = 0; i < 9; i++) {
        clock.advance(20_000);
        const mark = c.messages.length;
        c.ping(true);
        await c.waitFor((m) => m.type === 'Ping' && m.resendMissing === true, mark);
      }
      assert.equal(session.expired, false);
      assert.equal(c.closeInfo, null);
      await c.close();
    } finally {
      await f.server.close();
    }
  });

  test('keep-alive: the server pings every pingInterval with resendMissing:false and the client index as ack', async () => {
    const f = await startServer({ pingInterval: 50 });
    try {
      const c = await TestClient.session(f.port);
      await c.fetch('Canvas');
      const mark = c.messages.length;
      const ping = await c.waitFor((m) => m.type === 'Ping', mark);
      assert.deepEqual(ping, { type: 'Ping', index: 0, ack: 1, resendMissing: false });
      const second = await c.waitFor((m) => m.type === 'Ping', c.messages.indexOf(ping) + 1);
      assert.equal(second.resendMissing, false);
      await c.close();
    } finally {
      await f.server.close();
    }
  });

  test('server.close() closes sessions (1001) and stops listening', async () => {
    const f = await startServer();
    const c = await TestClient.session(f.port);
    await f.server.close();
    const info = await c.waitForClose();
    assert.equal(info.code, 1001);
    await assert.rejects(TestClient.connect(f.port));
    await f.server.close(); // idempotent
  });

  test('session.close() from application code: 4097', async () => {
    const f = await startServer();
    try {
      const c = await TestClient.session(f.port);
      f.server.sessions[0]!.close();
      const info = await c.waitForClose();
      assert.equal(info.code, 4097);
    } finally {
      await f.server.close();
    }
  });
});
