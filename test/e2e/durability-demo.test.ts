// The demo (`npm start`) is durable: SQLite under its data directory by default; a restart in the
// same directory brings every scope back as it was.
import assert from 'node:assert/strict';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import pino from 'pino';
import { startDemo } from '../../demo/server.js';
import { type Msg, TestClient, uuid } from '../helpers/ws-client.js';

const silent = pino({ level: 'silent' });

describe('durability: the demo server', () => {
  let dir: string;
  // The default store is SQLite only without DATABASE_URL (the PostgreSQL path is the crash test's).
  const databaseUrl = process.env.DATABASE_URL;
  before(async () => {
    delete process.env.DATABASE_URL;
    dir = await mkdtemp(join(tmpdir(), 'jetstream-demo-'));
  });
  after(async () => {
    if (databaseUrl !== undefined) process.env.DATABASE_URL = databaseUrl;
    await rm(dir, { recursive: true, force: true });
  });

  test('stores into <dataDir>/jetstream.db and brings Canvas and ChatRoom back after a restart', async () => {
    const shape = uuid();
    let canvasBefore: Msg;
    let chatBefore: Msg;
    {
      const demo = await startDemo({ port: 0, host: '127.0.0.1', dataDir: dir, logger: silent });
      try {
        assert.equal(demo.server.store?.kind, 'sqlite');
        const c = await TestClient.session(demo.port);
        const { state: canvas } = await c.fetch('Canvas');
        assert.equal(canvas!.fragments[0].properties.name, 'Shapes Demo');
        const reply = await c.sync(canvas!.scopeIndex, [
          { type: 'change', uuid: canvas!.rootUUID, clsName: 'Canvas', properties: { shapes: [shape] } },
          {
            type: 'add',
            uuid: shape,
            clsName: 'Shape',
            properties: { x: 7, y: 8, width: 9, height: 10, type: 2 },
          },
        ]);
        assert.deepEqual(reply.fragmentReplies, [{}, {}]);
        const { state: chat } = await c.fetch('ChatRoom');
        const rename = await c.sync(chat!.scopeIndex, [
          { type: 'change', uuid: chat!.rootUUID, clsName: 'ChatRoom', properties: { name: 'Renamed' } },
        ]);
        assert.deepEqual(rename.fragmentReplies, [{}]);
        canvasBefore = (await c.fetch('Canvas')).state!;
        chatBefore = (await c.fetch('ChatRoom')).state!;
        await c.close();
      } finally {
        await demo.close();
      }
    }
    assert.ok((await stat(join(dir, 'jetstream.db'))).isFile());
    const demo = await startDemo({ port: 0, host: '127.0.0.1', dataDir: dir, logger: silent });
    try {
      const c = await TestClient.session(demo.port);
      const { state: canvas } = await c.fetch('Canvas');
      const { state: chat } = await c.fetch('ChatRoom');
      await c.close();
      const strip = (m: Msg) => ({ rootUUID: m.rootUUID, fragments: m.fragments });
      assert.deepEqual(strip(canvas!), strip(canvasBefore));
      assert.deepEqual(strip(chat!), strip(chatBefore));
      assert.deepEqual(canvas!.fragments.find((f: Msg) => f.uuid === shape)?.properties, {
        x: 7,
        y: 8,
        width: 9,
        height: 10,
        type: 2,
      });
      assert.equal(chat!.fragments[0].properties.name, 'Renamed');
    } finally {
      await demo.close();
    }
  });
});
