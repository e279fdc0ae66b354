// Graceful shutdown (docs/server.md, "Shutting down"): `npm start` (the demo) gets SIGTERM while
// clients write as fast as they can. It exits 0; every client sees a clean 1001 close (never
// 1006); every change it acknowledged is in the store when it starts again; and nothing it
// stored was left unacknowledged except what was still in flight (each writer's stored value lies
// between its last acknowledged and its last sent one).
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { type Msg, TestClient, uuid } from '../helpers/ws-client.js';

const dir = mkdtempSync(join(tmpdir(), 'jetstream-shutdown-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const WRITERS = 4;

/** Starts the demo on a free port with its SQLite file in `dir`; resolves with its port. */
async function startDemo(): Promise<{ child: ChildProcess; port: number; exited: Promise<number | null> }> {
  const child = spawn(process.execPath, ['--import', 'tsx', join(__dirname, '../../demo/server.ts')], {
    env: {
      ...process.env,
      PORT: '0',
      JETSTREAM_DATA_DIR: dir,
      DATABASE_URL: '',
      REDIS_URL: '',
      LOG_LEVEL: 'info',
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const port = await new Promise<number>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /listening on http:\/\/localhost:(\d+)/.exec(out);
      if (m) resolve(Number(m[1]));
    });
    void exited.then((code) => reject(new Error(`the demo exited with ${code} before listening:\n${out}`)));
  });
  return { child, port, exited };
}

/** The x of every shape of the Canvas, by uuid, as a new session fetches it. */
async function shapesOf(port: number): Promise<Map<string, number>> {
  const c = await TestClient.session(port);
  const { state } = await c.fetch('Canvas');
  await c.close();
  const xs = new Map<string, number>();
  for (const f of state!.fragments as Msg[]) if (f.clsName === 'Shape') xs.set(f.uuid, f.properties.x);
  return xs;
}

test('SIGTERM under load: exit 0, every client closed with 1001, nothing acknowledged lost', async () => {
  for (let round = 1; round <= 3; round++) {
    const demo = await startDemo();
    try {
      // One shape per writer (added by the first round; later rounds find them).
      let ids = [...(await shapesOf(demo.port)).keys()];
      if (ids.length === 0) {
        const setup = await TestClient.session(demo.port);
        const { state } = await setup.fetch('Canvas');
        ids = Array.from({ length: WRITERS }, () => uuid());
        const reply = await setup.sync(0, [
          ...ids.map((id) => ({ type: 'add', uuid: id, clsName: 'Shape', properties: { x: 0, y: 0 } })),
          { type: 'change', uuid: state!.rootUUID, clsName: 'Canvas', properties: { shapes: ids } },
        ]);
        assert.ok(
          (reply.fragmentReplies as Msg[]).every((r) => r.error === undefined),
          JSON.stringify(reply),
        );
        await setup.close();
      }
      const start = await shapesOf(demo.port);
      const writers = await Promise.all(
        ids.map(async (id) => {
          const client = await TestClient.session(demo.port);
          await client.fetch('Canvas');
          return { id, client, sent: new Map<number, number>(), x: start.get(id)! };
        }),
      );
      // Every writer sends a change every 2 ms, without waiting for replies.
      const pump = setInterval(() => {
        for (const w of writers) {
          if (w.client.closeInfo) continue;
          const index = w.client.nextIndex++;
          w.x++;
          w.sent.set(index, w.x);
          w.client.send({
            type: 'ScopeSync',
            index,
            scopeIndex: 0,
            atomic: false,
            fragments: [{ type: 'change', uuid: w.id, clsName: 'Shape', properties: { x: w.x } }],
          });
        }
      }, 2);
      await new Promise((r) => setTimeout(r, 300));
      demo.child.kill('SIGTERM');
      const closes = await Promise.all(writers.map((w) => w.client.closed));
      clearInterval(pump);
      assert.equal(await demo.exited, 0, 'the demo exits 0');
      for (const c of closes) assert.equal(c.code, 1001, `round ${round}: a clean close, not ${c.code}`);

      const restarted = await startDemo();
      try {
        const stored = await shapesOf(restarted.port);
        for (const w of writers) {
          let acked = start.get(w.id)!;
          let rejected = 0;
          for (const m of w.client.messages) {
            if (m.type !== 'ScopeSyncReply' || !w.sent.has(m.replyTo)) continue;
            if ((m.fragmentReplies as Msg[])[0]?.error) rejected++;
            else acked = Math.max(acked, w.sent.get(m.replyTo)!);
          }
          assert.equal(rejected, 0, 'no change was refused');
          assert.ok(acked > start.get(w.id)!, `round ${round}: the writer got acknowledgements`);
          const x = stored.get(w.id)!;
          assert.ok(x >= acked, `round ${round}: acknowledged x=${acked} is stored (found ${x})`);
          assert.ok(x <= w.x, `round ${round}: stored x=${x} was sent (last sent ${w.x})`);
        }
      } finally {
        restarted.child.kill('SIGTERM');
        assert.equal(await restarted.exited, 0);
      }
    } finally {
      demo.child.kill('SIGKILL');
    }
  }
});
