// The server process of the soak test (bench/soak.ts): this server (src/) with the demo models,
// SOAK_ROOMS Canvas scopes named `room-0` … `room-<n-1>`, each with SOAK_SHAPES shapes, served by
// name to every session. In memory unless SOAK_STORE=sqlite (a fresh database in SOAK_DB_DIR,
// scopes opened with `server.openScope`). Forked with --expose-gc; talks to the parent over IPC:
//   → {type: 'ready', port}            once listening
//   ← {type: 'stats'}  → {type: 'stats', …}   session counts, pending bytes, heap, event-loop delay
//   ← {type: 'gc'}     → {type: 'gc', heapUsed, rss}   after two forced collections
//   ← {type: 'stop'}   closes the server and exits
// Nothing here changes the server's defaults except `sessionExpiry` (SOAK_SESSION_EXPIRY_MS, when
// set): sessions that leave stay detached until they expire, see bench/README.md, "Soak".
import { monitorEventLoopDelay, PerformanceObserver } from 'node:perf_hooks';
import { Canvas, Shape } from '../demo/models.js';
import { Scope } from '../src/scope/scope.js';
import type { ServerOptions } from '../src/server/options.js';
import { createServer } from '../src/server/server.js';
import { createStore } from '../src/store/factory.js';

const rooms = Number(process.env.SOAK_ROOMS ?? 100);
const shapes = Number(process.env.SOAK_SHAPES ?? 4);
const storeKind = process.env.SOAK_STORE ?? 'none';
const expiry = process.env.SOAK_SESSION_EXPIRY_MS ? Number(process.env.SOAK_SESSION_EXPIRY_MS) : undefined;

function roomRoot(name: string): InstanceType<typeof Canvas> {
  const canvas = new Canvas();
  const list = [];
  for (let i = 0; i < shapes; i++) {
    const s = new Shape();
    s.assign({ x: i, y: 0, width: 0, height: 10, type: 0 });
    list.push(s);
  }
  canvas.assign({ name, shapes: list });
  return canvas;
}

async function main(): Promise<void> {
  const options: ServerOptions = { port: 0 };
  if (expiry !== undefined) options.sessionExpiry = expiry;
  if (storeKind === 'sqlite') {
    const dir = process.env.SOAK_DB_DIR;
    if (!dir) throw new Error('SOAK_STORE=sqlite needs SOAK_DB_DIR');
    options.store = createStore({ kind: 'sqlite', filename: `${dir}/soak.db` });
  } else if (storeKind !== 'none') {
    throw new Error(`unknown SOAK_STORE ${storeKind}`);
  }
  const scopes: Scope[] = [];
  if (!options.store) {
    for (let r = 0; r < rooms; r++) {
      const scope = new Scope({ name: `room-${r}` });
      scope.setRoot(roomRoot(`room-${r}`));
      scopes.push(scope);
    }
    options.scopes = scopes;
  }
  const server = await createServer(options);
  if (options.store) {
    for (let r = 0; r < rooms; r++)
      await server.openScope({ name: `room-${r}`, root: () => roomRoot(`room-${r}`) });
  }

  const loop = monitorEventLoopDelay({ resolution: 10 });
  loop.enable();
  // GC pauses, and event-loop stalls over 250 ms with the time they ended (epoch ms), so that a
  // stall can be told apart from a collection and placed against the client's activity.
  let gcMax = 0;
  let gcTotal = 0;
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      gcTotal += e.duration;
      if (e.duration > gcMax) gcMax = e.duration;
    }
  }).observe({ entryTypes: ['gc'] });
  let stalls: { endedAt: number; ms: number }[] = [];
  let lastTick = performance.now();
  setInterval(() => {
    const now = performance.now();
    const late = now - lastTick - 50;
    if (late > 250 && stalls.length < 100) stalls.push({ endedAt: Date.now(), ms: Math.round(late) });
    lastTick = now;
  }, 50).unref();

  process.on('message', (msg: { type?: string }) => {
    if (msg?.type === 'stats') {
      let detached = 0;
      let pendingBytes = 0;
      let unacknowledged = 0;
      const sessions = server.sessions;
      for (const s of sessions) {
        if (s.connection === null) detached++;
        pendingBytes += s.pendingBytes;
        unacknowledged += s.unacknowledged;
      }
      const m = process.memoryUsage();
      process.send?.({
        type: 'stats',
        sessions: sessions.length,
        detached,
        pendingBytes,
        unacknowledged,
        loadedScopes: server.loadedScopes,
        heapUsed: m.heapUsed,
        external: m.external,
        arrayBuffers: m.arrayBuffers,
        // The histogram's values include its 10 ms sampling interval: subtract it.
        loopP99: Math.max(0, loop.percentile(99) / 1e6 - 10),
        loopMax: Math.max(0, loop.max / 1e6 - 10),
        gcMax,
        gcTotal,
        stalls,
      });
      loop.reset();
      gcMax = 0;
      gcTotal = 0;
      stalls = [];
    } else if (msg?.type === 'gc') {
      const gc = (globalThis as { gc?: () => void }).gc;
      gc?.();
      gc?.();
      const m = process.memoryUsage();
      process.send?.({ type: 'gc', heapUsed: m.heapUsed, rss: m.rss });
    } else if (msg?.type === 'stop') {
      const exit = setTimeout(() => process.exit(0), 5000);
      exit.unref();
      void server.close().finally(() => process.exit(0));
    }
  });
  process.on('disconnect', () => process.exit(0));
  process.send?.({ type: 'ready', port: server.port });
}

main().catch((err: Error) => {
  process.send?.({ type: 'failed', reason: err.stack ?? err.message });
  process.exit(1);
});
