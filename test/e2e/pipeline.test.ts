// The changeset pipeline is the server's only way to apply a client's changeset: a server
// loaded from src/server/server.ts alone (without the package entry) still runs named
// procedures, so a changeset that names one can never bypass its constraints
// (docs/protocol.md §7 step 2, §9).
import assert from 'node:assert/strict';
import { createServer as createHttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { model } from '../../src/model/model-object.js';
import { hasNewValuePropertyConstraint } from '../../src/procedures/constraints.js';
import { defineProcedure } from '../../src/procedures/procedure.js';
import { Scope } from '../../src/scope/scope.js';
import { createServer, type Server } from '../../src/server/server.js';
import { TestClient } from '../helpers/ws-client.js';

const Note = model('PipelineNote', function () {
  this.has('title', String);
  this.has('locked', Boolean);
});
defineProcedure(Note, 'rename', {
  constraints: [
    { type: 'change', clsName: 'PipelineNote', properties: { title: hasNewValuePropertyConstraint() } },
  ],
});

describe('the changeset pipeline', () => {
  let server: Server;
  let scope: Scope;
  let note: InstanceType<typeof Note>;
  before(async () => {
    note = new Note({ title: 'first', locked: true });
    scope = new Scope({ name: 'Notes' });
    scope.setRoot(note);
    server = await createServer({ port: 0, scopes: [scope] });
  });
  after(() => server.close());

  test('a changeset that violates its procedure constraints is rejected and applies nothing', async () => {
    const c = await TestClient.session(server.port!);
    try {
      await c.fetch('Notes');
      const reply = await c.sync(
        0,
        [{ type: 'change', uuid: note.uuid, clsName: 'PipelineNote', properties: { locked: false } }],
        { procedure: 'PipelineNote.rename', atomic: false },
      );
      assert.equal(reply.fragmentReplies.length, 1);
      assert.equal(reply.fragmentReplies[0].error?.type, 'could-not-apply-sync-message');
      assert.equal(note.locked, true, 'nothing applied');
    } finally {
      await c.close();
    }
  });

  test('a changeset that meets the constraints applies', async () => {
    const c = await TestClient.session(server.port!);
    try {
      await c.fetch('Notes');
      const reply = await c.sync(
        0,
        [{ type: 'change', uuid: note.uuid, clsName: 'PipelineNote', properties: { title: 'second' } }],
        { procedure: 'PipelineNote.rename', atomic: false },
      );
      assert.deepEqual(reply.fragmentReplies, [{}]);
      assert.equal(note.title, 'second');
    } finally {
      await c.close();
    }
  });
});

describe("the server's logger", () => {
  test("receives the procedures' log lines: a downstream failure with its address, which the client never sees", async () => {
    const http = createHttpServer();
    await new Promise<void>((r) => http.listen(0, '127.0.0.1', r));
    const { port } = http.address() as AddressInfo;
    await new Promise<void>((r) => http.close(() => r()));
    const Room = model('PipelineRoom', function () {
      this.has('topic', String);
    });
    defineProcedure(Room, 'retitle', {
      constraints: [
        { type: 'change', clsName: 'PipelineRoom', properties: { topic: hasNewValuePropertyConstraint() } },
      ],
      remote: { type: 'http', url: `http://127.0.0.1:${port}/topic`, method: 'POST' },
    });
    const room = new Room({ topic: 'a' });
    const scope = new Scope({ name: 'Rooms' });
    scope.setRoot(room);
    const lines: { level: string; details: Record<string, unknown>; message?: string }[] = [];
    const at =
      (level: string) =>
      (details: unknown, message?: string): void => {
        lines.push({ level, details: details as Record<string, unknown>, message });
      };
    const logger = { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
    const server = await createServer({ port: 0, scopes: [scope], logger });
    const c = await TestClient.session(server.port!);
    try {
      await c.fetch('Rooms');
      const reply = await c.sync(
        0,
        [{ type: 'change', uuid: room.uuid, clsName: 'PipelineRoom', properties: { topic: 'b' } }],
        { procedure: 'PipelineRoom.retitle', atomic: false },
      );
      const error = reply.fragmentReplies[0].error;
      assert.equal(error.message, 'Could not apply SyncMessage: Downstream service refused the connection');
      assert.ok(!JSON.stringify(reply).includes(String(port)), 'the address is not sent to the client');
      const warn = lines.find((l) => l.level === 'warn' && l.details.url !== undefined);
      assert.ok(warn, `a warning with the address; logged: ${JSON.stringify(lines)}`);
      assert.equal(warn.details.url, `http://127.0.0.1:${port}/topic`);
      assert.match(warn.message ?? '', /PipelineRoom\.retitle/);
      assert.equal(room.topic, 'a', 'nothing applied');
    } finally {
      await c.close();
      await server.close();
    }
  });
});
