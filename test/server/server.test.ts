// Server units: options and their defaults, hook calling, close reasons, and the failure paths
// that must never take the process down (a rejecting applier), over the in-memory transport.
import assert from 'node:assert/strict';
import { createServer as createHttpServer } from 'node:http';
import { describe, test } from 'node:test';
import { Canvas } from '../../demo/models.js';
import { Scope } from '../../src/scope/scope.js';
import { closeReason } from '../../src/server/close-reason.js';
import { callHook, reasonMessage } from '../../src/server/hooks.js';
import { resolveOptions } from '../../src/server/options.js';
import { createServer, Server } from '../../src/server/server.js';
import { createToken } from '../../src/server/token.js';
import { MemoryTransport } from '../../src/transport/memory.js';
import { WebsocketTransport } from '../../src/transport/websocket.js';
import { waitFor } from '../helpers/wait.js';
import { TestClient } from '../helpers/ws-client.js';

describe('options', () => {
  test('safe defaults', () => {
    const o = resolveOptions({});
    assert.equal(o.sessionExpiry, 10 * 60_000);
    assert.equal(o.establishSessionTimeout, 10_000);
    assert.equal(o.pingInterval, 10_000);
    assert.equal(o.pingVariance, 2_000);
    assert.equal(o.hookTimeout, 10_000);
    assert.equal(o.maxInvalidMessages, 20);
    assert.equal(o.limits.maxFrameBytes, 1024 * 1024);
    assert.ok(o.limits.maxFragmentsPerChangeset > 0 && Number.isFinite(o.limits.maxFragmentsPerChangeset));
    assert.ok(o.limits.maxStringLength > 0 && Number.isFinite(o.limits.maxStringLength));
    assert.ok(o.limits.maxArrayLength > 0 && Number.isFinite(o.limits.maxArrayLength));
    // Silent logger by default.
    for (const level of ['debug', 'info', 'warn', 'error'] as const)
      assert.equal(o.logger[level]({}), undefined);
  });

  test("the original's sessionOptions.inactivityExpiryTimeoutDuration is honoured", () => {
    assert.equal(
      resolveOptions({ sessionOptions: { inactivityExpiryTimeoutDuration: 1234 } }).sessionExpiry,
      1234,
    );
    assert.equal(
      resolveOptions({ sessionExpiry: 5, sessionOptions: { inactivityExpiryTimeoutDuration: 1234 } })
        .sessionExpiry,
      5,
    );
  });

  test('invalid values fail at construction with a clear TypeError', () => {
    assert.throws(() => resolveOptions({ sessionExpiry: -1 }), /sessionExpiry/);
    assert.throws(() => resolveOptions({ pingInterval: Number.NaN }), /pingInterval/);
    assert.throws(() => resolveOptions({ establishSessionTimeout: 0 }), /establishSessionTimeout/);
    assert.throws(() => resolveOptions({ maxInvalidMessages: 1.5 }), /maxInvalidMessages/);
    assert.throws(() => resolveOptions({ limits: { maxFrameBytes: -5 } }), /maxFrameBytes/);
    assert.throws(() => new Server({ port: 70000 }), /port/);
    assert.equal(resolveOptions({ pingVariance: 0 }).pingVariance, 0);
  });

  test('a pino-compatible logger receives server events', async () => {
    const lines: [string, unknown, string | undefined][] = [];
    const logger = {
      debug: (o: unknown, m?: string) => lines.push(['debug', o, m]),
      info: (o: unknown, m?: string) => lines.push(['info', o, m]),
      warn: (o: unknown, m?: string) => lines.push(['warn', o, m]),
      error: (o: unknown, m?: string) => lines.push(['error', o, m]),
    };
    const server = await createServer({ port: 0, logger });
    try {
      const c = await TestClient.session(server.port!);
      c.send('garbage');
      await c.barrier();
      assert.ok(lines.some(([level, , m]) => level === 'debug' && m === 'invalid inbound message'));
      await c.close();
    } finally {
      await server.close();
    }
  });
});

describe('transports', () => {
  test('{port} alone gives the default WebSocket transport; {server} attaches to an HTTP server', async () => {
    const a = await createServer({ port: 0 });
    assert.equal(a.transports.length, 1);
    assert.ok(a.transports[0] instanceof WebsocketTransport);
    await a.close();

    const http = createHttpServer((_q, r) => r.end('hi'));
    await new Promise<void>((r) => http.listen(0, '127.0.0.1', r));
    const b = await createServer({ server: http });
    try {
      assert.equal(b.port, (http.address() as { port: number }).port);
      const c = await TestClient.session(b.port!);
      assert.equal(typeof c.token, 'string');
      await c.close();
    } finally {
      await b.close();
      await new Promise((r) => http.close(r));
    }
  });

  test('transports: [WebsocketTransport.configure({port})] as in the README', async () => {
    const t = WebsocketTransport.configure({ port: 0 });
    const server = await createServer({ transports: [t] });
    try {
      assert.equal(server.port, t.port);
      const c = await TestClient.session(server.port!);
      await c.close();
    } finally {
      await server.close();
    }
  });
});

describe('hooks helper', () => {
  test('callback, promise, throw, rejection, timeout; the first answer wins', async () => {
    assert.deepEqual(await callHook((cb) => cb(null, 1), 1000), { ok: true, value: 1 });
    assert.deepEqual(await callHook(() => Promise.resolve(2), 1000), { ok: true, value: 2 });
    const thrown = await callHook(() => {
      throw new Error('t');
    }, 1000);
    assert.equal(thrown.ok, false);
    const rejected = await callHook(() => Promise.reject(undefined), 1000);
    assert.equal(rejected.ok, false);
    // The hook timer is unref'd (it never holds a process open): keep the loop alive meanwhile.
    const keepAlive = setTimeout(() => {}, 5_000);
    const late = await callHook(() => undefined, 20);
    clearTimeout(keepAlive);
    assert.equal(late.ok, false);
    assert.match(reasonMessage(!late.ok && late.error, ''), /did not answer/);
    assert.deepEqual(
      await callHook((cb) => {
        cb(null, 'first');
        cb(new Error('second'));
      }, 1000),
      { ok: true, value: 'first' },
    );
  });

  test('reasonMessage: strings and Error messages, otherwise the fallback', () => {
    assert.equal(reasonMessage('no', 'f'), 'no');
    assert.equal(reasonMessage(new Error('e'), 'f'), 'e');
    assert.equal(reasonMessage({ secret: 1 }, 'f'), 'f');
    assert.equal(reasonMessage(undefined, 'f'), 'f');
  });

  test('reasonMessage never forwards a built-in failure (a hook bug may carry internal details)', () => {
    assert.equal(
      reasonMessage(new TypeError("Cannot read properties of undefined (reading 'pwd')"), 'f'),
      'f',
    );
    assert.equal(reasonMessage(new RangeError('x'), 'f'), 'f');
    class AuthError extends Error {}
    assert.equal(
      reasonMessage(new AuthError('Token expired'), 'f'),
      'Token expired',
      "the app's own subclass",
    );
    const exposed = Object.assign(new TypeError('Bad credentials format'), { expose: true });
    assert.equal(reasonMessage(exposed, 'f'), 'Bad credentials format', 'expose: true opts in');
  });
});

describe('close reasons and tokens', () => {
  test('a close reason is the JSON error, shortened to fit 123 bytes', () => {
    assert.equal(closeReason({ message: 'm', type: 't' }), '{"message":"m","type":"t"}');
    const long = closeReason({ message: 'é'.repeat(300), type: 'rejected' });
    assert.ok(Buffer.byteLength(long) <= 123);
    const parsed = JSON.parse(long);
    assert.equal(parsed.type, 'rejected');
    assert.ok(parsed.message.endsWith('…'));
  });

  test('tokens: 64 characters from [A-Za-z0-9], distinct', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 100; i++) {
      const t = createToken();
      assert.match(t, /^[A-Za-z0-9]{64}$/);
      seen.add(t);
    }
    assert.equal(seen.size, 100);
  });
});

describe('faults stay in their session', () => {
  test('a pipeline that rejects fails that changeset only (no unhandled rejection)', async () => {
    const root = new Canvas();
    root.name = 'r';
    const scope = new Scope({ name: 'Canvas' });
    scope.setRoot(root);
    const transport = new MemoryTransport();
    const server = await createServer({ transports: [transport], scopes: [scope] });
    server.submit = () => Promise.reject(new Error('store down'));
    try {
      const socket = transport.connect();
      const messages: Record<string, unknown>[] = [];
      socket.on('message', (d) => messages.push(...(JSON.parse(d) as Record<string, unknown>[])));
      const message = (type: string) =>
        waitFor(() => messages.find((m) => m.type === type), {
          message: () => `${type}; received ${JSON.stringify(messages)}`,
        });
      socket.send(JSON.stringify({ type: 'SessionCreate', index: 0, version: '0.2.0' }));
      await message('SessionCreateReply');
      socket.send(JSON.stringify({ type: 'ScopeFetch', index: 1, name: 'Canvas' }));
      await message('ScopeState');
      socket.send(
        JSON.stringify({
          type: 'ScopeSync',
          index: 2,
          scopeIndex: 0,
          fragments: [{ type: 'change', uuid: root.uuid, clsName: 'Canvas', properties: { name: 'x' } }],
        }),
      );
      const reply = (await message('ScopeSyncReply')) as {
        fragmentReplies: { error: { type: string } }[];
      };
      assert.equal(reply.fragmentReplies.length, 1);
      assert.equal(reply.fragmentReplies[0]!.error.type, 'could-not-apply-sync-message');
      assert.ok(!JSON.stringify(reply).includes('store down'), 'no internal detail on the wire');
    } finally {
      await server.close();
    }
  });
});
