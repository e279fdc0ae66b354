// The scenarios of the suite, full size and smoke size. Each runs against every target.
import type { AbuseSpec, AttackKind, FlowSpec, LoadSpec } from './lib/spec.js';

export const TARGETS = ['jetstream', 'original', 'raw', 'postgres', 'cluster', 'metrics'] as const;
export type TargetName = (typeof TARGETS)[number];

/**
 * The targets of a scenario that names none: this server in memory, the original and the raw
 * broadcaster. `postgres` (this server, one process, PostgreSQL store) and `cluster` (two such
 * processes as a cluster, Redis) run only the cluster scenarios, which name them.
 */
export const DEFAULT_TARGETS: readonly TargetName[] = ['jetstream', 'original', 'raw'];

/**
 * How a target is started: its file in targets/ and its environment. `postgres` and `cluster`
 * are both targets/cluster.ts, which forks one server process per BENCH_PROCESSES.
 */
export const TARGET_PROCESS: Record<TargetName, { file: string; env?: Record<string, string> }> = {
  jetstream: { file: 'jetstream.ts' },
  original: { file: 'original.ts' },
  raw: { file: 'raw.ts' },
  postgres: { file: 'cluster.ts', env: { BENCH_PROCESSES: '1', BENCH_CLUSTER: '0' } },
  cluster: { file: 'cluster.ts', env: { BENCH_PROCESSES: '2', BENCH_CLUSTER: '1' } },
  // This server with its Prometheus metrics on (createServer({metrics: true})).
  metrics: { file: 'jetstream.ts', env: { BENCH_METRICS: '1' } },
};

/** The targets that start several processes of their own (CPU and memory summed over them). */
export const isDurable = (t: TargetName): boolean => TARGET_PROCESS[t].file === 'cluster.ts';

export interface Scenario {
  name: string;
  title: string;
  /** Shapes in the target's Canvas scope. */
  shapes: number;
  spec: LoadSpec;
  /** The targets this scenario runs against (default: DEFAULT_TARGETS). */
  targets?: readonly TargetName[];
}

/** Whether `s` runs against `target`. */
export const runsOn = (s: Scenario, target: TargetName): boolean =>
  (s.targets ?? DEFAULT_TARGETS).includes(target);

/**
 * The cluster scenarios (docs/cluster.md) and their baselines in the same run: the cluster of 2
 * processes, one process with the same PostgreSQL store (the ratio measures the cluster), and
 * this server in memory (for context).
 */
export const CLUSTER_TARGETS: readonly TargetName[] = ['cluster', 'postgres', 'jetstream'];

export function scenarios(smoke: boolean): Scenario[] {
  const warmupMs = smoke ? 50 : 1000;
  const windowMs = smoke ? 300 : 5000;
  const drainMs = smoke ? 5000 : 20_000;
  const n = (full: number, small: number) => (smoke ? small : full);
  const flow = (
    writers: number,
    readers: number,
    rate: number | null,
    window: number,
    ack: { ackEveryMs: number; warmupMs: number; windowMs: number } = { ackEveryMs: 250, warmupMs, windowMs },
  ): FlowSpec => ({ kind: 'flow', writers, readers, rate, window, drainMs, ...ack });
  // Acknowledgements every 10 s, as the original iOS and browser clients send them: the window
  // spans more than one whole ack period, so the memory held between two acks is in it.
  const ack10s = { ackEveryMs: n(10_000, 200), warmupMs: n(2000, 50), windowMs: n(12_000, 300) };
  // Abuse: one attacker, one well-behaved probe (bench/abuse.ts), against our server only: the
  // original and the raw broadcaster have no limits to test.
  const abuse = (attack: AttackKind, extra: Partial<AbuseSpec> = {}): AbuseSpec => ({
    kind: 'abuse',
    attack,
    shapes: n(5000, 200),
    baselineMs: n(5000, 200),
    attackMs: n(8000, 300),
    probeRate: 200,
    writerRate: 0,
    floodRate: 0,
    sessions: 0,
    reconnect: true,
    ...extra,
  });
  const big = n(5000, 200).toLocaleString('en-US');
  const abuseScenarios: { name: string; title: string; spec: AbuseSpec }[] = [
    {
      name: 'abuse-resend',
      title: `Resend amplification: fetch ${big} shapes, stop reading, Ping{resendMissing} flat out`,
      spec: abuse('resend'),
    },
    {
      name: 'abuse-slow-consumer',
      title: `Slow consumer: fetch ${big} shapes, stop reading; a writer at ${n(2000, 200)} changes/s`,
      spec: abuse('slow-consumer', { writerRate: n(2000, 200) }),
    },
    {
      name: 'abuse-refetch',
      title: `Repeated fetch of ${big} shapes, flat out (reading, never acking)`,
      spec: abuse('refetch'),
    },
    {
      name: 'abuse-flood',
      title: `Message flood: ScopeSync at ${n(50_000, 2000).toLocaleString('en-US')}/s`,
      spec: abuse('flood', { floodRate: n(50_000, 2000) }),
    },
    {
      name: 'abuse-detached',
      title: `Detached sessions: ${n(3000, 20).toLocaleString('en-US')} sessions fetch ${big} shapes, acknowledge them and drop; then a writer at 200 changes/s`,
      spec: abuse('detached', { sessions: n(3000, 20), writerRate: 200 }),
    },
  ];
  return [
    {
      name: 'fanout-2000',
      title: `Fan-out, 1 writer → ${n(100, 3)} readers, ${n(2000, 200)} fragments/s`,
      shapes: 32,
      spec: flow(1, n(100, 3), n(2000, 200), 1000),
    },
    {
      name: 'fanout-2000-metrics',
      title: `Fan-out as fanout-2000, this server with metrics on and off (their cost)`,
      shapes: 32,
      targets: ['jetstream', 'metrics'],
      spec: flow(1, n(100, 3), n(2000, 200), 1000),
    },
    {
      name: 'fanout-unlimited',
      title: `Fan-out, 1 writer → ${n(100, 3)} readers, unlimited (window 16)`,
      shapes: 32,
      spec: flow(1, n(100, 3), null, 16),
    },
    {
      name: 'contention',
      title: `Contention, ${n(20, 3)} writers + ${n(20, 3)} readers, unlimited (window 8)`,
      shapes: 32,
      spec: flow(n(20, 3), n(20, 3), null, 8),
    },
    {
      name: 'fetch-10k',
      title: `Large state: fetch ${n(10_000, 500)} shapes`,
      shapes: n(10_000, 500),
      spec: { kind: 'fetch', fetches: n(20, 2), shapes: n(10_000, 500), timeoutMs: 60_000 },
    },
    {
      name: 'fetch-100k',
      title: `Large state: fetch ${n(100_000, 2000)} shapes`,
      shapes: n(100_000, 2000),
      spec: { kind: 'fetch', fetches: n(2, 1), shapes: n(100_000, 2000), timeoutMs: 120_000 },
    },
    {
      name: 'idle',
      title: `Idle: ${n(1000, 20)} connected sessions`,
      shapes: 32,
      spec: { kind: 'idle', sessions: n(1000, 20) },
    },
    {
      name: 'scale-10',
      title: `Scale: 1 writer → ${n(10, 2)} readers, unlimited (window 16)`,
      shapes: 32,
      spec: flow(1, n(10, 2), null, 16),
    },
    {
      name: 'scale-1000',
      title: `Scale: 1 writer → ${n(1000, 10)} readers, unlimited (window 16)`,
      shapes: 32,
      spec: flow(1, n(1000, 10), null, 16),
    },
    {
      name: 'fanout-2000-ack10s',
      title: `Fan-out, 1 writer → ${n(100, 3)} readers, ${n(2000, 200)} fragments/s, acks every ${n(10, 0.2)} s`,
      shapes: 32,
      targets: ['jetstream', 'raw'],
      spec: flow(1, n(100, 3), n(2000, 200), 1000, ack10s),
    },
    {
      name: 'contention-ack10s',
      title: `Contention, ${n(20, 3)} writers + ${n(20, 3)} readers, unlimited (window 8), acks every ${n(10, 0.2)} s`,
      shapes: 32,
      targets: ['jetstream', 'raw'],
      spec: flow(n(20, 3), n(20, 3), null, 8, ack10s),
    },
    ...abuseScenarios.map((a) => ({ ...a, shapes: a.spec.shapes, targets: ['jetstream'] as const })),
    // Cross-process fan-out: the writer on the scope's owner, every reader on the other process
    // (with one process, all on it).
    {
      name: 'cluster-fanout-2000',
      title: `Cluster fan-out, 1 writer on the owner → ${n(100, 3)} readers on the other process, ${n(2000, 200)} fragments/s`,
      shapes: 32,
      targets: CLUSTER_TARGETS,
      spec: {
        ...flow(1, n(100, 3), n(2000, 200), 1000),
        placement: { writers: 'owner', readers: 'other' },
      },
    },
    // Aggregate throughput over many scopes (scope i owned by process i % 2), one writer (window
    // 8) and one reader each: writers on the owner, or spread as a load balancer would (half of
    // them on the other process, their changesets forwarded); each reader on the process its
    // writer is not on.
    ...(['owner', 'mixed'] as const).map((writers) => ({
      name: `cluster-throughput-${writers}`,
      title: `Cluster throughput, ${n(32, 4)} scopes × (1 writer ${writers === 'owner' ? 'on the owner' : 'on either process (half forwarded)'} + 1 reader on the other process than its writer), unlimited (window 8)`,
      shapes: 32,
      targets: CLUSTER_TARGETS,
      spec: {
        ...flow(n(32, 4), n(32, 4), null, 8),
        scopes: n(32, 4),
        placement: { writers, readers: 'other' as const },
      },
    })),
    // The same with every session of a scope on its owner (a balancer that routes by scope):
    // no replicas, no forwards; what two processes add when nothing is shared between them.
    {
      name: 'cluster-throughput-local',
      title: `Cluster throughput, ${n(32, 4)} scopes × (1 writer + 1 reader, both on the scope's owner), unlimited (window 8)`,
      shapes: 32,
      targets: CLUSTER_TARGETS,
      spec: {
        ...flow(n(32, 4), n(32, 4), null, 8),
        scopes: n(32, 4),
        placement: { writers: 'owner' as const, readers: 'owner' as const },
      },
    },
  ];
}
