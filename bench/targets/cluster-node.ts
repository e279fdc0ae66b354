// One server process of a durable target (targets/cluster.ts forks it): this server with the
// PostgreSQL store, and with BENCH_REDIS_URL a cluster process (docs/cluster.md). It serves the
// Canvas scopes of BENCH_SCOPES in two steps so that ownership is known in advance: first the
// scopes i with i % BENCH_PROCESSES == BENCH_PROCESS_INDEX (their first opener takes the lease,
// docs/cluster.md "Ownership"), then, when told, every other scope (a replica of each).
//
// IPC with its parent: → {type:'owned', port} once its own scopes are open; ← {type:'open-rest'}
// → {type:'opened'}; ← {type:'gc'} → {type:'gc', heapUsed, rss}; ← {type:'stop'}.
import { Canvas, Shape } from '../../demo/models.js';
import type { ModelObject } from '../../src/model/model-object.js';
import { createServer } from '../../src/server/server.js';
import { PostgresStore } from '../../src/store/postgres.js';
import { scopeNames, shapeCount, shapeValues } from './common.js';

export type NodeCommand = { type: 'open-rest' } | { type: 'gc' } | { type: 'stop' };
export type NodeEvent =
  | { type: 'owned'; port: number }
  | { type: 'opened' }
  | { type: 'gc'; heapUsed: number; rss: number };

const env = (name: string): string => {
  const v = process.env[name];
  if (v === undefined) throw new Error(`${name} is not set`);
  return v;
};

function canvasRoot(shapes: number): ModelObject {
  const canvas = new Canvas({ name: 'bench' });
  const list = [];
  for (let i = 0; i < shapes; i++) list.push(new Shape(shapeValues(i)));
  (canvas as unknown as { shapes: { setAsArray(v: unknown[]): void } }).shapes.setAsArray(list);
  return canvas;
}

/** Warnings and errors go to stderr (a few: a replica reload or a lost lease is worth seeing). */
function logger(id: string) {
  let lines = 0;
  const line = (level: string) => (details: unknown, message?: string) => {
    if (++lines > 20) return;
    const d = details instanceof Error ? details.message : JSON.stringify(details, errorJson)?.slice(0, 300);
    process.stderr.write(`[bench ${id}] ${level}: ${message ?? ''} ${d ?? ''}\n`);
  };
  return { debug: () => {}, info: () => {}, warn: line('warn'), error: line('error') };
}

function errorJson(_key: string, value: unknown): unknown {
  return value instanceof Error ? { error: value.message } : value;
}

function send(event: NodeEvent): void {
  process.send?.(event);
}

async function main(): Promise<void> {
  const index = Number(env('BENCH_PROCESS_INDEX'));
  const processes = Number(env('BENCH_PROCESSES'));
  const processId = env('BENCH_PROCESS_ID');
  const redis = process.env.BENCH_REDIS_URL;
  const shapes = shapeCount();
  const server = await createServer({
    port: 0,
    store: new PostgresStore({ connectionString: env('BENCH_PG_URL'), schema: env('BENCH_PG_SCHEMA') }),
    logger: logger(processId),
    // As targets/jetstream.ts: the flow scenarios' writers go past the default per-session rates,
    // which are a fairness policy, not a capacity.
    sessionLimits: {
      messages: { perSecond: 1e6, burst: 1e6 },
      fragments: { perSecond: 1e7, burst: 1e7 },
    },
    ...(redis ? { cluster: { redis, prefix: env('BENCH_REDIS_PREFIX'), processId } } : {}),
  });
  const names = scopeNames();
  const open = (mine: boolean) =>
    Promise.all(
      names
        .filter((_, i) => (i % processes === index) === mine)
        .map((name) => server.openScope({ name, root: () => canvasRoot(shapes) })),
    );
  await open(true);
  process.on('message', (msg: NodeCommand) => {
    if (msg.type === 'open-rest') {
      open(false).then(
        () => send({ type: 'opened' }),
        (e: Error) => {
          process.stderr.write(`[bench ${processId}] opening replicas failed: ${e.stack}\n`);
          process.exit(1);
        },
      );
    } else if (msg.type === 'gc') {
      const gc = (globalThis as { gc?: () => void }).gc;
      gc?.();
      gc?.();
      const m = process.memoryUsage();
      send({ type: 'gc', heapUsed: m.heapUsed, rss: m.rss });
    } else if (msg.type === 'stop') {
      // Closing releases this process's leases at once (docs/cluster.md), so the others do not
      // wait for them while they close too.
      void server.close().finally(() => process.exit(0));
      setTimeout(() => process.exit(0), 5000).unref();
    }
  });
  process.on('disconnect', () => process.exit(0));
  send({ type: 'owned', port: server.port! });
}

main().catch((e: Error) => {
  process.stderr.write(`[bench node] ${e.stack}\n`);
  process.exit(1);
});
