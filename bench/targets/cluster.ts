// A durable target of several server processes: BENCH_PROCESSES forked processes of this server
// (targets/cluster-node.ts) on one fresh PostgreSQL schema and, with BENCH_CLUSTER=1, one random
// Redis key prefix, as a cluster (docs/cluster.md). With one process and no cluster it is the
// single-process PostgreSQL baseline of the cluster scenarios: the same store, the same process
// layout, no Redis. Scope i is owned by process i % BENCH_PROCESSES (checked against the leases
// in Redis), so that the load generator can place each session on its scope's owner or not.
//
// Each server process is a child of this one, so that its CPU and memory are read from /proc on
// its own pid; this process only starts and stops them (it idles during the measurement). The
// schema and the Redis keys are removed when the target stops.
import { join } from 'node:path';
import { clusterKeys } from '../../src/cluster/keys.js';
import { Child } from '../lib/child.js';
import {
  connectRedis,
  deleteKeys,
  dropSchema,
  postgresUrl,
  probePostgres,
  randomRedisPrefix,
  randomSchemaName,
  redisUrl,
} from '../lib/services.js';
import type { NodeCommand, NodeEvent } from './cluster-node.js';
import { runTarget, scopeNames } from './common.js';

type Node = Child<NodeCommand, NodeEvent>;

/** Waits for `type` from a server process. */
async function expect<T extends NodeEvent['type']>(node: Node, type: T, what: string): Promise<void> {
  const m = await node.next(120_000, what);
  if (m.type !== type) throw new Error(`server process sent ${m.type}, expected ${type}`);
}

void runTarget(
  async () => {
    const processes = Number(process.env.BENCH_PROCESSES ?? 2);
    const cluster = process.env.BENCH_CLUSTER === '1';
    const pg = postgresUrl();
    const schema = randomSchemaName();
    const redisAt = redisUrl();
    const prefix = randomRedisPrefix();
    await probePostgres(pg);
    const redis = cluster ? await connectRedis(redisAt) : null;
    // --cpu-prof of the suite: every server process writes its own profile (one directory each,
    // since tsx's loader thread writes one beside the main one).
    const profDir = process.env.BENCH_CPU_PROF_DIR;
    const nodes: Node[] = [];
    const close = async () => {
      await Promise.all(nodes.map((n) => n.stop({ type: 'stop' }, 8000)));
      await dropSchema(pg, schema).catch((e: Error) =>
        process.stderr.write(`[bench cluster] dropping schema ${schema}: ${e.message}\n`),
      );
      if (redis) {
        await deleteKeys(redis, prefix).catch((e: Error) =>
          process.stderr.write(`[bench cluster] deleting ${prefix}*: ${e.message}\n`),
        );
        redis.disconnect();
      }
    };
    try {
      const ids = Array.from({ length: processes }, (_, i) => `bench-${process.pid}-${i}`);
      for (let i = 0; i < processes; i++) {
        nodes.push(
          new Child(join(__dirname, 'cluster-node.ts'), {
            env: {
              BENCH_PROCESS_INDEX: String(i),
              BENCH_PROCESSES: String(processes),
              BENCH_PROCESS_ID: ids[i]!,
              BENCH_PG_URL: pg,
              BENCH_PG_SCHEMA: schema,
              ...(cluster ? { BENCH_REDIS_URL: redisAt, BENCH_REDIS_PREFIX: prefix } : {}),
            },
            execArgv: [
              '--import',
              'tsx',
              '--expose-gc',
              ...(profDir ? ['--cpu-prof', `--cpu-prof-dir=${join(profDir, `process-${i}`)}`] : []),
            ],
          }),
        );
      }
      const ports: number[] = [];
      for (const [i, n] of nodes.entries()) {
        const m = await n.next(120_000, `server process ${i}`);
        if (m.type !== 'owned') throw new Error(`server process ${i} sent ${m.type}`);
        ports.push(m.port);
      }
      // BENCH_OWNED_ONLY (suite.ts): no replicas, every session is on its scope's owner.
      if (processes > 1 && process.env.BENCH_OWNED_ONLY !== '1') {
        for (const n of nodes) n.send({ type: 'open-rest' });
        for (const [i, n] of nodes.entries()) await expect(n, 'opened', `server process ${i} replicas`);
      }
      if (redis) {
        // The load generator places sessions by this ownership: make sure it holds.
        const keys = clusterKeys(prefix);
        const names = scopeNames();
        for (const [i, name] of names.entries()) {
          const owner = await redis.get(keys.lease(name));
          if (owner !== ids[i % processes])
            throw new Error(`scope ${name} is owned by ${owner}, expected ${ids[i % processes]}`);
        }
      }
      return {
        port: ports[0]!,
        processes: nodes.map((n, i) => ({ port: ports[i]!, pid: n.pid })),
        close,
        gc: async () => {
          for (const n of nodes) n.send({ type: 'gc' });
          let heapUsed = 0;
          let rss = 0;
          for (const [i, n] of nodes.entries()) {
            const m = await n.next(30_000, `server process ${i} gc`);
            if (m.type !== 'gc') throw new Error(`server process ${i} sent ${m.type}, expected gc`);
            heapUsed += m.heapUsed;
            rss += m.rss;
          }
          return { heapUsed, rss };
        },
      };
    } catch (e) {
      await close();
      throw e;
    }
  },
  { closeGraceMs: 15_000 },
);
