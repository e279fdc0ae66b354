// The same client scenario against this server and against the original Jetstream server
// (npm jetstream@0.13.4, installed as `jetstream-original`): two clients converge on a canvas,
// and a client whose socket dies resumes its session with the token in the query string.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import WebSocket from 'ws';
import { type Client, type ClientScope, connect } from '../../src/client/index.js';
import { type ModelObject, model, walkTree } from '../../src/model/index.js';
import { Scope } from '../../src/scope/index.js';
import { createServer } from '../../src/server/index.js';
import { flakySocket, until } from './helpers.js';

// The original's shapes demo models, for our side (client, and our server).
const Shape = model('Shape', function () {
  this.has('x', Number);
  this.has('y', Number);
  this.has('color', Number);
});
const Canvas = model('Canvas', function () {
  this.has('name', String);
  this.has('shapes', [Shape]);
});

type ShapeObj = ModelObject & { x: number; y: number; color: number };
type CanvasObj = ModelObject & {
  shapes: {
    toArray(): ShapeObj[];
    push(s: ModelObject): number;
    remove(s: ModelObject): number;
    length: number;
  };
};

interface Running {
  url: string;
  close(): Promise<void>;
}

async function ours(): Promise<Running> {
  const scope = new Scope({ name: 'Canvas' });
  scope.setRoot(new Canvas({ name: 'ours' }));
  const server = await createServer({ port: 0, scopes: [scope] });
  return { url: `ws://127.0.0.1:${server.port}/`, close: () => server.close() };
}

/** The original server runs in a child process (it keeps timers alive; it cannot be stopped). */
async function original(): Promise<Running> {
  const child = spawn(process.execPath, [join(__dirname, 'original-server.cjs')], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const port = await new Promise<number>((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('\n')) resolve(Number(out.trim()));
    });
    child.on('exit', (code) => reject(new Error(`original server exited (${code})`)));
  });
  return {
    url: `ws://127.0.0.1:${port}/`,
    close: async () => {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill();
      await exited;
    },
  };
}

/** A tree as the original's getValues() shows it: uuids for references. */
function valuesTree(root: ModelObject | null): string[] {
  if (!root) return [];
  return walkTree(root)
    .map((o) => `${o.uuid} ${o.typeName} ${JSON.stringify(o.getValues())}`)
    .sort();
}

for (const [label, start] of [
  ['this server', ours],
  ['the original Jetstream server', original],
] as const) {
  describe(`client against ${label}`, { timeout: 30_000 }, () => {
    test('two clients converge; a lost socket resumes with the token', async () => {
      const server = await start();
      const clients: Client[] = [];
      try {
        const { FlakySocket, sockets } = flakySocket();
        const a = await connect(server.url, {
          WebSocket: FlakySocket,
          minReconnectDelay: 5,
          maxReconnectDelay: 50,
        });
        const b = await connect(server.url, { WebSocket, version: '0.1.0' });
        clients.push(a, b);
        const sa = (await a.fetch('Canvas', Canvas)) as unknown as ClientScope<CanvasObj>;
        const sb = (await b.fetch('Canvas', Canvas)) as unknown as ClientScope<CanvasObj>;
        const s1 = new Shape({ x: 1, y: 2, color: 0xff0000 }) as ShapeObj;
        const s2 = new Shape({ x: 3, y: 4, color: 0x00ff00 }) as ShapeObj;
        sa.root!.shapes.push(s1);
        sa.root!.shapes.push(s2);
        await until(() => sb.size === 3);
        (sb.get(s1.uuid) as ShapeObj).x = 100;
        await until(() => s1.x === 100);
        // The socket dies; edits made meanwhile go out after the session resumes.
        sockets.at(-1)!.terminate();
        s2.y = 44;
        sa.root!.shapes.remove(s1);
        await sa.settled();
        await until(() => sb.size === 2 && (sb.get(s2.uuid) as ShapeObj | null)?.y === 44);
        assert.equal(a.status.sessions, 1, 'resumed, not re-created');
        assert.ok(sockets.length >= 2);
        assert.deepEqual(valuesTree(sa.root), valuesTree(sb.root));
        // A newcomer's full state is the server's picture.
        const c = await connect(server.url, { WebSocket });
        clients.push(c);
        const sc = await c.fetch('Canvas', Canvas);
        assert.deepEqual(valuesTree(sc.root), valuesTree(sa.root));
        assert.deepEqual(
          (sc.root as CanvasObj).shapes.toArray().map((s) => [s.uuid, s.x, s.y, s.color]),
          [[s2.uuid, 3, 44, 0x00ff00]],
        );
      } finally {
        for (const c of clients) c.close();
        await server.close();
      }
    });
  });
}
