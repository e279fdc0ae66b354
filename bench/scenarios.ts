// The scenarios of the suite, full size and smoke size. Each runs against every target.
import type { AbuseSpec, AttackKind, LoadSpec } from './lib/spec.js';

export const TARGETS = ['jetstream', 'original', 'raw'] as const;
export type TargetName = (typeof TARGETS)[number];

export interface Scenario {
  name: string;
  title: string;
  /** Shapes in the target's Canvas scope. */
  shapes: number;
  spec: LoadSpec;
  /** The targets this scenario runs against (default: all). */
  targets?: readonly TargetName[];
}

/** Whether `s` runs against `target`. */
export const runsOn = (s: Scenario, target: TargetName): boolean => !s.targets || s.targets.includes(target);

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
  ): LoadSpec => ({ kind: 'flow', writers, readers, rate, window, drainMs, ...ack });
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
  ];
}
