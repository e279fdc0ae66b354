// What every benchmark target process shares: it is forked by the suite, builds a Canvas scope
// with BENCH_SHAPES shapes, listens on a free port and tells the parent over IPC; it answers
// `gc` (collect, then report memory) and `stop`.
import { randomUUID } from 'node:crypto';

export interface TargetHandle {
  port: number;
  /**
   * A target of several server processes (the cluster): every process's port and pid, in
   * process order. The suite and the load generator read CPU and memory per process and sum them.
   */
  processes?: { port: number; pid: number }[];
  close(): Promise<void>;
  /** Collects garbage in every server process and sums their memory (default: this process). */
  gc?(): Promise<{ heapUsed: number; rss: number }>;
  /** What the server saw, where the target can tell (our server, with BENCH_SERVER_STATS=1). */
  stats?(): ServerStats;
}

/** Our server's view of an abuse scenario, sampled every 100 ms inside the target. */
export interface ServerStats {
  /** Most sessions alive at once, and most of them detached (no socket). */
  maxSessions: number;
  maxDetached: number;
  /** Largest `pendingBytes` of one session, and of all detached sessions together. */
  maxPendingBytes: number;
  maxDetachedBytes: number;
  /** The server's log lines at info level and above, by message (and limit). */
  log: Record<string, number>;
  /** When each kind of log line was first written (ms since the epoch). */
  logFirstAt: Record<string, number>;
}

/** The messages a target sends to the suite. */
export type TargetEvent =
  | { type: 'ready'; port: number; processes?: { port: number; pid: number }[] }
  | { type: 'unavailable'; reason: string }
  | { type: 'gc'; heapUsed: number; rss: number }
  | { type: 'stats'; stats: ServerStats | null };

/** The i-th shape of the benchmark canvas: the same values for every target. */
export function shapeValues(i: number): {
  x: number;
  y: number;
  width: number;
  height: number;
  type: number;
} {
  return { x: i % 1000, y: Math.floor(i / 1000), width: 10 + (i % 7), height: 10 + (i % 5), type: i % 4 };
}

export const CANVAS_NAME = 'Canvas';
export const shapeCount = (): number => Number(process.env.BENCH_SHAPES ?? 32);

/** The name of scope i of `count` (FlowSpec.scopes): `Canvas` alone, else `Canvas-<i>`. */
export const scopeName = (i: number, count: number): string =>
  count <= 1 ? CANVAS_NAME : `${CANVAS_NAME}-${i}`;

/** The scopes a target serves (BENCH_SCOPES, default 1). */
export const scopeNames = (): string[] => {
  const n = Number(process.env.BENCH_SCOPES ?? 1);
  return Array.from({ length: n }, (_, i) => scopeName(i, n));
};
export { randomUUID };

function send(event: TargetEvent): void {
  process.send?.(event);
}

/**
 * Runs a target: `start` builds it, then the target answers the suite until `stop`, when
 * `handle.close()` has `closeGraceMs` to finish (the cluster drops its schema and Redis keys).
 */
export async function runTarget(
  start: (shapes: number) => Promise<TargetHandle | string>,
  { closeGraceMs = 2000 }: { closeGraceMs?: number } = {},
): Promise<void> {
  const handle = await start(shapeCount());
  if (typeof handle === 'string') {
    send({ type: 'unavailable', reason: handle });
    process.disconnect?.();
    return;
  }
  process.on('message', (msg: { type?: string }) => {
    if (msg?.type === 'gc' && handle.gc) {
      void handle.gc().then((m) => send({ type: 'gc', ...m }));
    } else if (msg?.type === 'gc') {
      const gc = (globalThis as { gc?: () => void }).gc;
      gc?.();
      gc?.();
      const m = process.memoryUsage();
      send({ type: 'gc', heapUsed: m.heapUsed, rss: m.rss });
    } else if (msg?.type === 'stats') {
      send({ type: 'stats', stats: handle.stats?.() ?? null });
    } else if (msg?.type === 'stop') {
      void handle.close().finally(() => process.exit(0));
      setTimeout(() => process.exit(0), closeGraceMs).unref();
    }
  });
  process.on('disconnect', () => process.exit(0));
  send({ type: 'ready', port: handle.port, ...(handle.processes ? { processes: handle.processes } : {}) });
}
