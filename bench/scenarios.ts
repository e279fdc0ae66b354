// The scenarios of the suite, full size and smoke size. Each runs against every target.
import type { LoadSpec } from './lib/spec.js';

export interface Scenario {
  name: string;
  title: string;
  /** Shapes in the target's Canvas scope. */
  shapes: number;
  spec: LoadSpec;
}

export const TARGETS = ['jetstream', 'original', 'raw'] as const;
export type TargetName = (typeof TARGETS)[number];

export function scenarios(smoke: boolean): Scenario[] {
  const warmupMs = smoke ? 100 : 1000;
  const windowMs = smoke ? 400 : 5000;
  const drainMs = smoke ? 5000 : 20_000;
  const flow = (writers: number, readers: number, rate: number | null, window: number): LoadSpec => ({
    kind: 'flow',
    writers,
    readers,
    rate,
    window,
    warmupMs,
    windowMs,
    drainMs,
  });
  const n = (full: number, small: number) => (smoke ? small : full);
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
  ];
}
