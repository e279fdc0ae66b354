// The server's log events (docs/operations.md, "Logs"): each event worth knowing is one line with
// stable fields, through the `logger` option, and no line ever carries a session token.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createServer } from '../../src/server/server.js';
import { canvasScope } from '../e2e/fixture.js';
import { type Msg, TestClient } from '../helpers/ws-client.js';

interface Line {
  level: string;
  fields: Record<string, unknown>;
  message: string;
}

/** A pino-like logger that keeps every line (debug included). */
function capture(): { lines: Line[]; logger: Record<string, unknown> } {
  const lines: Line[] = [];
  const at =
    (level: string) =>
    (fields: unknown, message = '') => {
      lines.push({ level, fields: (fields ?? {}) as Record<string, unknown>, message });
    };
  return {
    lines,
    logger: {
      debug: at('debug'),
      info: at('info'),
      warn: at('warn'),
      error: at('error'),
      isLevelEnabled: () => true,
    },
  };
}

test('session, changeset, denial and shutdown events: one line each, stable fields, never a token', async () => {
  const { lines, logger } = capture();
  const { scope } = canvasScope('Logged');
  const server = await createServer({ port: 0, scopes: [scope], logger: logger as never });
  const find = (message: string) => lines.find((l) => l.message === message);

  const client = await TestClient.session(server.port!);
  const created = find('session created')!;
  assert.equal(created.level, 'info');
  assert.match(String(created.fields.session), /^s[0-9a-z]+$/);
  assert.match(String(created.fields.address), /127\.0\.0\.1$/); // or its IPv6-mapped form
  assert.equal(created.fields.version, '0.2.0');
  const id = created.fields.session;

  const { state } = await client.fetch('Logged');
  assert.equal(find('fetch')?.fields.scope, 'Logged');
  assert.equal(find('fetch')?.fields.session, id);
  const root = state!.rootUUID as string;
  await client.sync(0, [{ type: 'change', uuid: root, clsName: 'Canvas', properties: { name: 'x' } }]);
  await client.sync(0, [{ type: 'change', uuid: root, clsName: 'Canvas', properties: { name: 5 } }]);
  assert.deepEqual(find('changeset accepted'), {
    level: 'debug',
    fields: { session: id, scope: 'Logged', fragments: 1, rejected: 0, procedure: undefined },
    message: 'changeset accepted',
  });
  assert.equal(find('changeset rejected')?.fields.rejected, 1);

  const denied = await TestClient.resume(server.port!, 'not-a-token');
  await denied.waitForClose();
  const deniedLine = find('connection denied')!;
  assert.match(String(deniedLine.fields.address), /127\.0\.0\.1$/);
  assert.equal(deniedLine.fields.reason, 'session-token-unrecognized');
  assert.equal(deniedLine.fields.message, 'Session token unrecognized');

  const token = client.token!;
  await server.close();
  const ended = find('session ended')!;
  assert.equal(ended.fields.session, id);
  assert.equal(ended.fields.code, 1001);
  assert.equal(typeof ended.fields.durationMs, 'number');
  assert.deepEqual(find('shutting down')?.fields, { sessions: 1 });
  assert.equal(typeof find('shut down')?.fields.durationMs, 'number');
  const all = JSON.stringify(lines);
  assert.ok(!all.includes(token), 'no log line carries the session token');
  assert.ok(!all.includes(token.slice(0, 6)), 'nor a piece of it');
  assert.ok((client.messages as Msg[]).length > 0);
});
