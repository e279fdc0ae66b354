// This server (src/), with the demo models: a Canvas scope of BENCH_SHAPES shapes, served by name
// to every session. Reports `unavailable` when the server module cannot be loaded, so the suite
// still runs (and says so) while the server is being written.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { constants, PerformanceObserver } from 'node:perf_hooks';
import v8 from 'node:v8';
import { runTarget, type ServerStats, scopeNames, shapeValues } from './common.js';

interface OurSession {
  connection: unknown;
  pendingBytes: number;
}
interface OurServer {
  port?: number;
  sessions?: OurSession[];
  metrics?: { text(): Promise<unknown> } | null;
  close(): Promise<void>;
}
type Log = (details: unknown, message?: string) => void;
type CreateServer = (options: {
  port: number;
  scopes: unknown[];
  logger?: { debug: Log; info: Log; warn: Log; error: Log };
  sessionLimits?: Record<string, { perSecond: number; burst: number }>;
  metrics?: boolean;
}) => Promise<OurServer>;

void runTarget(async (shapes) => {
  let createServer: CreateServer | undefined;
  try {
    const entry = (await import('../../src/index.js')) as unknown as { createServer?: CreateServer };
    createServer = entry.createServer;
    if (!createServer) {
      const server = (await import('../../src/server/index.js')) as unknown as {
        createServer?: CreateServer;
      };
      createServer = server.createServer;
    }
  } catch (e) {
    return `cannot load src/: ${(e as Error).message}`;
  }
  if (!createServer) return 'src/ exports no createServer yet';

  const { Canvas, Shape } = await import('../../demo/models.js');
  const { scope: createScope } = await import('../../src/scope/index.js');
  // One Canvas per scope name (BENCH_SCOPES; one, `Canvas`, but for the multi-scope scenarios).
  const scopes = scopeNames().map((name) => {
    const canvas = new Canvas({ name: 'bench' });
    const list = [];
    for (let i = 0; i < shapes; i++) list.push(new Shape(shapeValues(i)));
    (canvas as unknown as { shapes: { setAsArray(v: unknown[]): void } }).shapes.setAsArray(list);
    const scope = createScope({ name });
    scope.setRoot(canvas);
    return scope;
  });

  heapDiagnostics();

  // BENCH_SERVER_STATS=1 (the abuse scenarios): count the server's log lines (limits hit,
  // sessions evicted) and sample its sessions every 100 ms. Off otherwise: nothing extra runs.
  if (process.env.BENCH_SERVER_STATS !== '1') {
    // The flow scenarios measure throughput: their writers go as fast as the window lets them,
    // past the default per-session rates (3,000 messages/s), which are a fairness policy, not a
    // capacity. The abuse scenarios below keep every default.
    const sessionLimits = {
      messages: { perSecond: 1e6, burst: 1e6 },
      fragments: { perSecond: 1e7, burst: 1e7 },
    };
    const metrics = process.env.BENCH_METRICS === '1';
    const server = await createServer({
      port: 0,
      scopes,
      sessionLimits,
      ...(metrics ? { metrics: true } : {}),
    });
    // Scraped every second, as Prometheus would do at most, so that collection costs count too.
    const scrape = metrics ? setInterval(() => void server.metrics?.text(), 1000) : null;
    scrape?.unref();
    if (typeof server.port !== 'number') return 'the server reports no port';
    return { port: server.port, close: () => server.close() };
  }
  const stats: ServerStats = {
    maxSessions: 0,
    maxDetached: 0,
    maxPendingBytes: 0,
    maxDetachedBytes: 0,
    log: {},
    logFirstAt: {},
  };
  const count: Log = (details, message = '') => {
    const limit = (details as { limit?: unknown } | null)?.limit;
    const key = typeof limit === 'string' ? `${message}: ${limit}` : message;
    stats.log[key] = (stats.log[key] ?? 0) + 1;
    stats.logFirstAt[key] ??= Date.now();
  };
  const server = await createServer({
    port: 0,
    scopes,
    logger: { debug: () => {}, info: count, warn: count, error: count },
  });
  if (typeof server.port !== 'number') return 'the server reports no port';
  const sample = setInterval(() => {
    const sessions = server.sessions ?? [];
    let detached = 0;
    let detachedBytes = 0;
    for (const s of sessions) {
      if (s.pendingBytes > stats.maxPendingBytes) stats.maxPendingBytes = s.pendingBytes;
      if (s.connection === null) {
        detached++;
        detachedBytes += s.pendingBytes;
      }
    }
    stats.maxSessions = Math.max(stats.maxSessions, sessions.length);
    stats.maxDetached = Math.max(stats.maxDetached, detached);
    stats.maxDetachedBytes = Math.max(stats.maxDetachedBytes, detachedBytes);
  }, 100);
  sample.unref();
  return { port: server.port, close: () => server.close(), stats: () => stats };
});

/**
 * Opt-in memory diagnostics, off unless set (nothing extra runs otherwise):
 * - BENCH_HEAP_DIAG=<dir>: samples RSS, the heap spaces and external memory every 100 ms and, when
 *   the process exits, writes the sample taken at the highest RSS, with the GC pauses of the run
 *   by kind, to `<dir>/heap-peak-<pid>.json`;
 * - BENCH_HEAP_SNAPSHOT_MS=<ms> (with BENCH_HEAP_DIAG): writes one heap snapshot into <dir> that
 *   many ms after the server is ready.
 */
function heapDiagnostics(): void {
  const dir = process.env.BENCH_HEAP_DIAG;
  if (!dir) return;
  mkdirSync(dir, { recursive: true });
  const t0 = Date.now();
  let peak: Record<string, unknown> = { rss: 0 };
  const sample = setInterval(() => {
    const m = process.memoryUsage();
    if (m.rss <= (peak.rss as number)) return;
    const spaces: Record<string, { size: number; used: number }> = {};
    for (const s of v8.getHeapSpaceStatistics())
      spaces[s.space_name] = { size: s.space_size, used: s.space_used_size };
    peak = { atMs: Date.now() - t0, ...m, heap: v8.getHeapStatistics(), spaces };
  }, 100);
  sample.unref();
  // GC pauses by kind: count, total and longest (ms), over the whole run.
  const kinds: Record<number, string> = {
    [constants.NODE_PERFORMANCE_GC_MINOR]: 'minor',
    [constants.NODE_PERFORMANCE_GC_MAJOR]: 'major',
    [constants.NODE_PERFORMANCE_GC_INCREMENTAL]: 'incremental',
    [constants.NODE_PERFORMANCE_GC_WEAKCB]: 'weakcb',
  };
  const gc: Record<string, { n: number; totalMs: number; maxMs: number }> = {};
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      const kind = kinds[(e as { detail?: { kind?: number } }).detail?.kind ?? 0] ?? 'other';
      const g = (gc[kind] ??= { n: 0, totalMs: 0, maxMs: 0 });
      g.n++;
      g.totalMs += e.duration;
      g.maxMs = Math.max(g.maxMs, e.duration);
    }
  }).observe({ entryTypes: ['gc'] });
  process.on('exit', () => {
    writeFileSync(join(dir, `heap-peak-${process.pid}.json`), JSON.stringify({ ...peak, gc }, null, 1));
  });
  const at = Number(process.env.BENCH_HEAP_SNAPSHOT_MS ?? 0);
  if (at > 0) {
    setTimeout(() => {
      const file = v8.writeHeapSnapshot(join(dir, `heap-${process.pid}-${at}ms.heapsnapshot`));
      process.stderr.write(`heap snapshot: ${file}\n`);
    }, at).unref();
  }
}
