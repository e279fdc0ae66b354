// Turns a suite result into the Markdown tables of BENCHMARKS.md: the performance goals as ratios
// of this server to the raw broadcaster and to the original, then every raw figure.
import type { AbuseResult, FetchResultSummary, FlowResult } from './lib/spec.js';
import type { TargetName } from './scenarios.js';
import type { RunRecord, SuiteResult } from './suite.js';

type Pick = (r: RunRecord) => number | undefined;

const flow = (r: RunRecord): FlowResult | undefined => (r.result?.kind === 'flow' ? r.result : undefined);
const fetch = (r: RunRecord): FetchResultSummary | undefined =>
  r.result?.kind === 'fetch' ? r.result : undefined;
const abuse = (r: RunRecord): AbuseResult | undefined => (r.result?.kind === 'abuse' ? r.result : undefined);

/** The run of (scenario, target) to report: the median by `metric` when there were several rounds. */
function chosen(res: SuiteResult, scenario: string, target: TargetName, metric: Pick): RunRecord | undefined {
  const runs = res.runs.filter((r) => r.scenario === scenario && r.target === target && !r.unavailable);
  if (runs.length <= 1) return runs[0];
  const sorted = runs
    .map((r) => ({ r, v: metric(r) ?? Number.NaN }))
    .sort((a, b) => (Number.isNaN(a.v) ? 1 : Number.isNaN(b.v) ? -1 : a.v - b.v));
  return sorted[Math.floor((sorted.length - 1) / 2)]!.r;
}

function value(res: SuiteResult, scenario: string, target: TargetName, metric: Pick): number | undefined {
  const r = chosen(res, scenario, target, metric);
  if (!r?.ok) return undefined;
  const v = metric(r);
  return v === undefined || Number.isNaN(v) ? undefined : v;
}

function fmt(v: number | undefined, digits = 1): string {
  if (v === undefined || Number.isNaN(v)) return '—';
  if (Math.abs(v) >= 1000) return Math.round(v).toLocaleString('en-US');
  return v.toFixed(digits);
}

const ratio = (a: number | undefined, b: number | undefined): number | undefined =>
  a === undefined || b === undefined || b === 0 ? undefined : a / b;

interface Goal {
  label: string;
  scenario: string;
  unit: string;
  metric: Pick;
  digits?: number;
  /** ours ÷ raw must be ≤ (or ≥ when `higherIsBetter`) this. */
  vsRaw?: number;
  vsOriginal?: number;
  absolute?: number;
  higherIsBetter?: boolean;
}

const cpuPerFragment: Pick = (r) => flow(r)?.cpuPerFragmentUs;
const GOALS: Goal[] = [
  {
    label: 'Fan-out 2,000/s: server CPU per delivered fragment',
    scenario: 'fanout-2000',
    unit: 'µs',
    metric: cpuPerFragment,
    digits: 2,
    vsRaw: 1.4,
    vsOriginal: 1 / 8,
  },
  {
    label: 'Fan-out unlimited: server CPU per delivered fragment',
    scenario: 'fanout-unlimited',
    unit: 'µs',
    metric: cpuPerFragment,
    digits: 2,
    vsRaw: 1.4,
    vsOriginal: 1 / 8,
  },
  {
    label: 'Contention (window 8): acknowledged fragments/s',
    scenario: 'contention',
    unit: '/s',
    metric: (r) => flow(r)?.ackedPerSec,
    vsRaw: 0.8,
    vsOriginal: 6,
    higherIsBetter: true,
  },
  {
    label: 'Fan-out 2,000/s: p99 fan-out latency',
    scenario: 'fanout-2000',
    unit: 'ms',
    metric: (r) => flow(r)?.fanoutLatencyMs.p99,
    vsRaw: 2,
  },
  {
    label: 'Fetch 10,000 shapes: server CPU per fetch',
    scenario: 'fetch-10k',
    unit: 'ms',
    metric: (r) => (fetch(r) ? fetch(r)!.serverCpuSecPerFetch * 1000 : undefined),
    vsRaw: 1.3,
  },
  {
    label: 'Fetch 100,000 shapes: server CPU per fetch',
    scenario: 'fetch-100k',
    unit: 'ms',
    metric: (r) => (fetch(r) ? fetch(r)!.serverCpuSecPerFetch * 1000 : undefined),
    absolute: 1000,
  },
  {
    label: 'Idle: server RSS per connected session',
    scenario: 'idle',
    unit: 'KiB',
    metric: (r) => (r.idle ? r.idle.rssPerSession / 1024 : undefined),
    vsRaw: 1.3,
  },
  {
    label: 'Fan-out 2,000/s, acks every 10 s: peak RSS',
    scenario: 'fanout-2000-ack10s',
    unit: 'MB',
    metric: (r) => (flow(r) ? mb(r.peakRss) : undefined),
    digits: 0,
    vsRaw: 1.5,
  },
  {
    label: 'Fan-out 2,000/s, acks every 10 s: p99 fan-out latency',
    scenario: 'fanout-2000-ack10s',
    unit: 'ms',
    metric: (r) => flow(r)?.fanoutLatencyMs.p99,
    vsRaw: 2,
  },
  {
    label: 'Contention, acks every 10 s: peak RSS',
    scenario: 'contention-ack10s',
    unit: 'MB',
    metric: (r) => (flow(r) ? mb(r.peakRss) : undefined),
    digits: 0,
    vsRaw: 1.5,
  },
  {
    label: 'Contention, acks every 10 s: p99 fan-out latency',
    scenario: 'contention-ack10s',
    unit: 'ms',
    metric: (r) => flow(r)?.fanoutLatencyMs.p99,
    vsRaw: 2,
  },
];

/** The goals whose scenario ran. */
const goalsOf = (res: SuiteResult): Goal[] =>
  GOALS.filter((g) => res.scenarios.some((s) => s.name === g.scenario));

/**
 * The cluster's goals (docs/cluster.md): the cluster of 2 processes against one process with the
 * same PostgreSQL store, in the same run, so that the ratio measures the cluster alone; the
 * in-memory single process is shown for context. A goal without `limit` is shown, not judged.
 */
interface ClusterGoal {
  label: string;
  scenario: string;
  unit: string;
  metric: Pick;
  digits?: number;
  /** cluster ÷ postgres must be ≤ (or ≥ when `higherIsBetter`) this. */
  limit?: number;
  higherIsBetter?: boolean;
}

const acked: Pick = (r) => flow(r)?.ackedPerSec;
const CLUSTER_GOALS: ClusterGoal[] = [
  {
    label: 'Cluster fan-out 2,000/s, readers on the other process: p50 fan-out latency',
    scenario: 'cluster-fanout-2000',
    unit: 'ms',
    metric: (r) => flow(r)?.fanoutLatencyMs.p50,
  },
  {
    label: 'Cluster fan-out 2,000/s, readers on the other process: p99 fan-out latency',
    scenario: 'cluster-fanout-2000',
    unit: 'ms',
    metric: (r) => flow(r)?.fanoutLatencyMs.p99,
    limit: 2,
  },
  {
    label: 'Cluster fan-out 2,000/s: server CPU per delivered fragment, all server processes',
    scenario: 'cluster-fanout-2000',
    unit: 'µs',
    metric: cpuPerFragment,
    digits: 2,
    limit: 1.5,
  },
  {
    label: 'Cluster throughput, many scopes, writers on the owner: acknowledged changesets/s',
    scenario: 'cluster-throughput-owner',
    unit: '/s',
    metric: acked,
    digits: 0,
    limit: 1.6,
    higherIsBetter: true,
  },
  {
    label: 'Cluster throughput, many scopes, writers on either process: acknowledged changesets/s',
    scenario: 'cluster-throughput-mixed',
    unit: '/s',
    metric: acked,
    digits: 0,
    limit: 1.6,
    higherIsBetter: true,
  },
];

const clusterGoalsOf = (res: SuiteResult): ClusterGoal[] =>
  CLUSTER_GOALS.filter((g) => res.scenarios.some((s) => s.name === g.scenario));

function check(v: number | undefined, limit: number | undefined, higher: boolean | undefined): string {
  if (limit === undefined) return '';
  if (v === undefined) return '?';
  return (higher ? v >= limit : v <= limit) ? '✅' : '❌';
}

function limitText(limit: number | undefined, higher: boolean | undefined, suffix = ''): string {
  if (limit === undefined) return '';
  const l = limit === 1 / 8 ? '1/8' : String(limit);
  return `${higher ? '≥' : '≤'} ${l}${suffix}`;
}

export interface GoalOutcome {
  label: string;
  ours?: number;
  original?: number;
  raw?: number;
  oursVsRaw?: number;
  oursVsOriginal?: number;
  /** Cluster goals: `ours` is the cluster; the single process with PostgreSQL, and in memory. */
  postgres?: number;
  memory?: number;
  oursVsPostgres?: number;
  oursVsMemory?: number;
  /** null when a figure is missing; absent for a cluster figure shown without a goal. */
  met: boolean | null;
}

export function goals(res: SuiteResult): GoalOutcome[] {
  const cluster = clusterGoalsOf(res).map((g): GoalOutcome => {
    const ours = value(res, g.scenario, 'cluster', g.metric);
    const postgres = value(res, g.scenario, 'postgres', g.metric);
    const memory = value(res, g.scenario, 'jetstream', g.metric);
    const oursVsPostgres = ratio(ours, postgres);
    const mark = check(oursVsPostgres, g.limit, g.higherIsBetter);
    return {
      label: g.label,
      ours,
      postgres,
      memory,
      oursVsPostgres,
      oursVsMemory: ratio(ours, memory),
      met: mark === '' ? null : mark === '?' ? null : mark === '✅',
    };
  });
  return [...classicGoals(res), ...cluster];
}

function classicGoals(res: SuiteResult): GoalOutcome[] {
  return goalsOf(res).map((g) => {
    const ours = value(res, g.scenario, 'jetstream', g.metric);
    const original = value(res, g.scenario, 'original', g.metric);
    const raw = value(res, g.scenario, 'raw', g.metric);
    const oursVsRaw = ratio(ours, raw);
    const oursVsOriginal = ratio(ours, original);
    const marks = [
      check(oursVsRaw, g.vsRaw, g.higherIsBetter),
      check(oursVsOriginal, g.vsOriginal, g.higherIsBetter),
      check(ours, g.absolute, g.higherIsBetter),
    ].filter((m) => m !== '');
    const met = marks.includes('?') ? null : !marks.includes('❌');
    return { label: g.label, ours, original, raw, oursVsRaw, oursVsOriginal, met };
  });
}

function clusterGoalTable(res: SuiteResult): string[] {
  const lines = [
    '| Measure | Cluster, 2 processes | 1 process, PostgreSQL | 1 process, in memory | Cluster ÷ PostgreSQL (goal) | Cluster ÷ in memory |',
    '|---|---:|---:|---:|---:|---:|',
  ];
  for (const g of clusterGoalsOf(res)) {
    const ours = value(res, g.scenario, 'cluster', g.metric);
    const postgres = value(res, g.scenario, 'postgres', g.metric);
    const memory = value(res, g.scenario, 'jetstream', g.metric);
    const vp = ratio(ours, postgres);
    const d = g.digits ?? 1;
    const goal =
      g.limit === undefined
        ? fmt(vp, 2)
        : `${fmt(vp, 2)} (${limitText(g.limit, g.higherIsBetter)}) ${check(vp, g.limit, g.higherIsBetter)}`;
    lines.push(
      `| ${g.label} (${g.unit}) | ${fmt(ours, d)} | ${fmt(postgres, d)} | ${fmt(memory, d)} | ${goal} | ${fmt(ratio(ours, memory), 2)} |`,
    );
  }
  return lines;
}

function goalTable(res: SuiteResult): string[] {
  const lines = [
    '| Measure | This server | Original | Raw ws | Ours ÷ raw (goal) | Ours ÷ original (goal) | Original ÷ raw |',
    '|---|---:|---:|---:|---:|---:|---:|',
  ];
  for (const g of goalsOf(res)) {
    const ours = value(res, g.scenario, 'jetstream', g.metric);
    const original = value(res, g.scenario, 'original', g.metric);
    const raw = value(res, g.scenario, 'raw', g.metric);
    const vr = ratio(ours, raw);
    const vo = ratio(ours, original);
    const d = g.digits ?? 1;
    const cell = (v: number | undefined, limit: number | undefined) =>
      limit === undefined
        ? fmt(v, 2)
        : `${fmt(v, 2)} (${limitText(limit, g.higherIsBetter)}) ${check(v, limit, g.higherIsBetter)}`;
    const abs =
      g.absolute === undefined
        ? ''
        : ` (${limitText(g.absolute, g.higherIsBetter)} ${g.unit}) ${check(ours, g.absolute, g.higherIsBetter)}`;
    lines.push(
      `| ${g.label} (${g.unit}) | ${fmt(ours, d)}${abs} | ${fmt(original, d)} | ${fmt(raw, d)} | ${cell(vr, g.vsRaw)} | ${cell(vo, g.vsOriginal)} | ${fmt(ratio(original, raw), 2)} |`,
    );
  }
  return lines;
}

const TARGET_LABEL: Record<TargetName, string> = {
  jetstream: 'this server',
  original: 'original',
  raw: 'raw ws',
  postgres: 'this server, PostgreSQL',
  cluster: 'cluster, 2 processes',
  metrics: 'this server, metrics on',
};
const mb = (bytes: number | undefined) => (bytes === undefined ? undefined : bytes / 2 ** 20);

function status(r: RunRecord): string {
  if (r.ok) return '0';
  return `**${r.errors}**`;
}

/** The cluster scenarios have their own section (clusterTable). */
const isCluster = (scenario: string): boolean => scenario.startsWith('cluster-');

function flowTable(res: SuiteResult): string[] {
  const lines = [
    '| Scenario | Target | Acked changesets/s | Ack p50 / p99 ms | Delivered fragments/s | Fan-out p50 / p90 / p99 / max ms | Server CPU s | CPU µs / fragment | Peak RSS MB | Load-gen CPU | Complete | Errors |',
    '|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|',
  ];
  for (const s of res.scenarios.filter((x) => !isCluster(x.name))) {
    for (const r of res.runs.filter((x) => x.scenario === s.name && x.result?.kind === 'flow')) {
      const f = flow(r)!;
      const a = f.ackLatencyMs;
      const l = f.fanoutLatencyMs;
      lines.push(
        `| ${s.name} | ${TARGET_LABEL[r.target]} | ${fmt(f.ackedPerSec, 0)} | ${fmt(a.p50)} / ${fmt(a.p99)} | ${fmt(f.deliveredPerSec, 0)} | ${fmt(l.p50)} / ${fmt(l.p90)} / ${fmt(l.p99)} / ${fmt(l.max)} | ${fmt(f.serverCpuSec, 2)} | ${fmt(f.cpuPerFragmentUs, 2)} | ${fmt(mb(r.peakRss), 0)} | ${fmt(f.loadCpuShare * 100, 0)}% | ${f.complete ? `yes (${f.receivedDeliveries.toLocaleString('en-US')})` : `**no** (${f.receivedDeliveries}/${f.expectedDeliveries})`} | ${status(r)} |`,
      );
    }
  }
  return lines;
}

/** The machine's idle share before the window (the suite's wait) and during it (load generator). */
function idleText(r: RunRecord): string {
  const pct = (v: number | undefined) => (v === undefined || Number.isNaN(v) ? '—' : `${fmt(v * 100, 0)}%`);
  return `${pct(r.quiet?.idle)} / ${pct(flow(r)?.machineIdleShare)}`;
}

/** `a + b` (a figure per process), or the figure alone for one process. */
const perProcess = (values: number[], digits: number, scale = 1): string =>
  values.length > 1
    ? values.map((v) => fmt(v * scale, digits)).join(' + ')
    : fmt((values[0] ?? Number.NaN) * scale, digits);

function clusterTable(res: SuiteResult): string[] {
  const names = res.scenarios.filter((s) => isCluster(s.name));
  if (names.length === 0) return [];
  const lines = [
    '| Scenario | Target | Acked changesets/s | Ack p50 / p99 ms | Delivered fragments/s | Fan-out p50 / p90 / p99 / max ms | Server CPU s (per process) | CPU µs / delivered fragment | CPU µs / acked changeset | PostgreSQL · Redis CPU s | Load-gen CPU | Peak RSS MB (per process) | Machine idle before / during the window | Complete | Errors |',
    '|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|',
  ];
  for (const s of names) {
    for (const r of res.runs.filter((x) => x.scenario === s.name && flow(x))) {
      const f = flow(r)!;
      const a = f.ackLatencyMs;
      const l = f.fanoutLatencyMs;
      const cpu = f.serverCpuSecByProcess ?? [f.serverCpuSec];
      const svc = f.servicesCpuSec;
      const rss = r.processes ? r.processes.map((p) => p.peakRss) : [r.peakRss ?? Number.NaN];
      lines.push(
        `| ${s.name} | ${TARGET_LABEL[r.target]} | ${fmt(f.ackedPerSec, 0)} | ${fmt(a.p50)} / ${fmt(a.p99)} | ${fmt(f.deliveredPerSec, 0)} | ${fmt(l.p50)} / ${fmt(l.p90)} / ${fmt(l.p99)} / ${fmt(l.max)} | ${fmt(f.serverCpuSec, 2)}${cpu.length > 1 ? ` (${perProcess(cpu, 2)})` : ''} | ${fmt(f.cpuPerFragmentUs, 2)} | ${fmt((f.serverCpuSec * 1e6) / f.changesetsAckedInWindow, 1)} | ${svc ? `${fmt(svc.postgres, 2)} · ${fmt(svc['redis-server'], 2)}` : '—'} | ${fmt(f.loadCpuShare * 100, 0)}% | ${perProcess(rss, 0, 1 / 2 ** 20)} | ${idleText(r)} | ${f.complete ? `yes (${f.receivedDeliveries.toLocaleString('en-US')})` : `**no** (${f.receivedDeliveries}/${f.expectedDeliveries})`} | ${status(r)} |`,
      );
    }
  }
  const ratios = [
    '| Scenario | Acked/s cluster ÷ PostgreSQL | Fan-out p50 / p99 cluster ÷ PostgreSQL | CPU per fragment cluster ÷ PostgreSQL | Acked/s PostgreSQL ÷ in memory | Fan-out p99 cluster ÷ in memory | CPU per fragment cluster ÷ in memory |',
    '|---|---:|---:|---:|---:|---:|---:|',
  ];
  const p50: Pick = (r) => flow(r)?.fanoutLatencyMs.p50;
  const p99: Pick = (r) => flow(r)?.fanoutLatencyMs.p99;
  for (const s of names) {
    const vs = (m: Pick, a: TargetName, b: TargetName) =>
      fmt(ratio(value(res, s.name, a, m), value(res, s.name, b, m)), 2);
    ratios.push(
      `| ${s.name} | ${vs(acked, 'cluster', 'postgres')} | ${vs(p50, 'cluster', 'postgres')} / ${vs(p99, 'cluster', 'postgres')} | ${vs(cpuPerFragment, 'cluster', 'postgres')} | ${vs(acked, 'postgres', 'jetstream')} | ${vs(p99, 'cluster', 'jetstream')} | ${vs(cpuPerFragment, 'cluster', 'jetstream')} |`,
    );
  }
  // Round by round: the runs of one round follow each other, so they saw about the same machine;
  // on a shared machine these pairs say more than the medians, which may come from different rounds.
  const rounds = [
    '| Scenario | Round | Acked/s cluster ÷ PostgreSQL | Fan-out p99 cluster ÷ PostgreSQL | CPU per fragment cluster ÷ PostgreSQL | Machine idle before / during the window: cluster; PostgreSQL |',
    '|---|---:|---:|---:|---:|---:|',
  ];
  for (const s of names) {
    const runs = res.runs.filter((r) => r.scenario === s.name && r.ok);
    for (const c of runs.filter((r) => r.target === 'cluster')) {
      const p = runs.find((r) => r.target === 'postgres' && r.round === c.round);
      if (!p) continue;
      const vs = (m: Pick) => fmt(ratio(m(c), m(p)), 2);
      rounds.push(
        `| ${s.name} | ${c.round + 1} | ${vs(acked)} | ${vs(p99)} | ${vs(cpuPerFragment)} | ${idleText(c)}; ${idleText(p)} |`,
      );
    }
  }
  return [
    ...lines,
    '',
    'Ratios of the medians over the rounds (each figure the median of its own runs):',
    '',
    ...ratios,
    ...(rounds.length > 2
      ? ['', 'Cluster ÷ PostgreSQL round by round (the runs of a round follow each other):', '', ...rounds]
      : []),
  ];
}

function fetchTable(res: SuiteResult): string[] {
  const lines = [
    '| Scenario | Target | Fetches | Fetch p50 / max ms | Server CPU ms per fetch (mean / max) | Bytes sent | Peak RSS MB | Errors |',
    '|---|---|---:|---:|---:|---:|---:|---:|',
  ];
  for (const s of res.scenarios) {
    for (const r of res.runs.filter((x) => x.scenario === s.name && x.result?.kind === 'fetch')) {
      const f = fetch(r)!;
      lines.push(
        `| ${s.name} | ${TARGET_LABEL[r.target]} | ${f.fetches} | ${fmt(f.fetchMs.p50, 0)} / ${fmt(f.fetchMs.max, 0)} | ${fmt(f.serverCpuSecPerFetch * 1000, 0)} / ${fmt(f.serverCpuSecMax * 1000, 0)} | ${f.bytes.toLocaleString('en-US')} | ${fmt(mb(r.peakRss), 0)} | ${status(r)} |`,
      );
    }
  }
  return lines;
}

function idleTable(res: SuiteResult): string[] {
  const lines = [
    '| Target | Sessions | RSS per session KiB | JS heap per session KiB | RSS before → after MB | Errors |',
    '|---|---:|---:|---:|---:|---:|',
  ];
  for (const r of res.runs.filter((x) => x.idle)) {
    const i = r.idle!;
    lines.push(
      `| ${TARGET_LABEL[r.target]} | ${i.sessions} | ${fmt(i.rssPerSession / 1024)} | ${fmt(i.heapPerSession / 1024)} | ${fmt(mb(i.rssBefore), 0)} → ${fmt(mb(i.rssAfter), 0)} | ${status(r)} |`,
    );
  }
  return lines;
}

function scaleTable(res: SuiteResult): string[] {
  const points = res.scenarios.filter((s) => s.name.startsWith('scale-') || s.name === 'fanout-unlimited');
  const delivered: Pick = (r) => flow(r)?.deliveredPerSec;
  const lines = [
    '| Point | This server delivered/s | Original | Raw ws | Ours ÷ raw | Ours ÷ original |',
    '|---|---:|---:|---:|---:|---:|',
  ];
  for (const p of points) {
    const ours = value(res, p.name, 'jetstream', delivered);
    const original = value(res, p.name, 'original', delivered);
    const raw = value(res, p.name, 'raw', delivered);

    lines.push(
      `| ${p.title} | ${fmt(ours, 0)} | ${fmt(original, 0)} | ${fmt(raw, 0)} | ${fmt(ratio(ours, raw), 2)} | ${fmt(ratio(ours, original), 2)} |`,
    );
  }
  return lines;
}

/** The flow scenarios that differ only in the ack interval, 250 ms first. */
const ACK_PAIRS = [
  ['fanout-2000', 'fanout-2000-ack10s'],
  ['contention', 'contention-ack10s'],
] as const;

function closesText(closes: Record<string, number>): string {
  const e = Object.entries(closes);
  return e.length === 0 ? 'none' : e.map(([k, n]) => `${n} × \`${k}\``).join(', ');
}

function ackTable(res: SuiteResult): string[] {
  const lines = [
    '| Scenario | Ack every | Target | Delivered fragments/s | Fan-out p50 / p99 ms | CPU µs / fragment | Peak RSS MB | JS heap at the end, after a full GC MB | Closed by server | Errors |',
    '|---|---:|---|---:|---:|---:|---:|---:|---|---:|',
  ];
  const ratios = [
    '| Scenario | Ack every | Peak RSS ours ÷ raw | Fan-out p99 ours ÷ raw | CPU per fragment ours ÷ raw |',
    '|---|---:|---:|---:|---:|',
  ];
  const names = ACK_PAIRS.flat().filter((n) => res.scenarios.some((s) => s.name === n));
  for (const name of names) {
    const goal = name.endsWith('-ack10s');
    for (const r of res.runs.filter((x) => x.scenario === name && flow(x))) {
      const f = flow(r)!;
      const l = f.fanoutLatencyMs;
      lines.push(
        `| ${name} | ${fmt(f.ackEveryMs / 1000, 2)} s | ${TARGET_LABEL[r.target]} | ${fmt(f.deliveredPerSec, 0)} | ${fmt(l.p50)} / ${fmt(l.p99)} | ${fmt(f.cpuPerFragmentUs, 2)} | ${fmt(mb(r.peakRss), 0)} | ${r.afterGc ? fmt(mb(r.afterGc.heap), 0) : '—'} | ${closesText(f.serverCloses ?? {})} | ${status(r)} |`,
      );
    }
    const rss: Pick = (r) => (flow(r) ? mb(r.peakRss) : undefined);
    const p99: Pick = (r) => flow(r)?.fanoutLatencyMs.p99;
    const rRss = ratio(value(res, name, 'jetstream', rss), value(res, name, 'raw', rss));
    const rP99 = ratio(value(res, name, 'jetstream', p99), value(res, name, 'raw', p99));
    const rCpu = ratio(
      value(res, name, 'jetstream', cpuPerFragment),
      value(res, name, 'raw', cpuPerFragment),
    );
    const ack = res.runs.find((x) => x.scenario === name && flow(x));
    ratios.push(
      `| ${name} | ${ack ? `${fmt(flow(ack)!.ackEveryMs / 1000, 2)} s` : '—'} | ${fmt(rRss, 2)}${goal ? ` (≤ 1.5) ${check(rRss, 1.5, false)}` : ''} | ${fmt(rP99, 2)}${goal ? ` (≤ 2) ${check(rP99, 2, false)}` : ''} | ${fmt(rCpu, 2)} |`,
    );
  }
  if (names.length === 0) return [];
  return [...lines, '', ...ratios];
}

const FAIRNESS_GOAL = 3;

function fairnessTable(res: SuiteResult): string[] {
  const runs = res.runs.filter((r) => abuse(r));
  if (runs.length === 0) return [];
  const lines = [
    `| Attack | Probe p50 / p99 alone ms | Probe p50 / p99 under attack ms | p99 ÷ alone (goal ≤ ${FAIRNESS_GOAL}) | Probe closed (goal: never) | Attacker closed by the server (expected 4097 \`rate-limited\` or \`slow-consumer\`) | Attacker sessions · messages sent | Server CPU alone → under attack | Server RSS before → max during → peak MB | Errors |`,
    '|---|---:|---:|---:|---|---|---:|---:|---:|---:|',
  ];
  const seen = [
    '| Attack | Attack time s | Changes the probe received during it | Attacker sessions open at the end | Most sessions · detached | Largest pending bytes of one session MB | Detached pending bytes MB (max) | Server log, info and above (first line at ms into the attack) | After the attack, forced full GC: JS heap / RSS MB | Probe loop delay p99 ms |',
    '|---|---:|---:|---:|---:|---:|---:|---|---:|---:|',
  ];
  for (const r of runs) {
    const a = abuse(r)!;
    const k = a.underAttack.p99 / a.baseline.p99;
    const cpuShare = (sec: number, ms: number) => `${fmt((sec * 100_000) / ms, 0)}%`;
    const st = r.serverStats;
    lines.push(
      `| ${r.scenario} | ${fmt(a.baseline.p50)} / ${fmt(a.baseline.p99)} | ${fmt(a.underAttack.p50)} / ${fmt(a.underAttack.p99)} | ${fmt(k, 2)} ${check(k, FAIRNESS_GOAL, false)} | ${a.probeClosed ? `**yes**: \`${a.probeClosed}\` ❌` : 'no ✅'}${a.probeUnanswered ? `, **${a.probeUnanswered} unanswered**` : ''} | ${closesText(a.attackerCloses)} | ${a.attackerSessions.toLocaleString('en-US')} · ${a.attackSent.toLocaleString('en-US')} | ${cpuShare(a.serverCpuBaselineSec, a.baselineMs)} → ${cpuShare(a.serverCpuAttackSec, a.attackMs)} of a core | ${fmt(mb(a.serverRssBeforeAttack), 0)} → ${fmt(mb(a.serverRssMaxDuringAttack), 0)} → ${fmt(mb(r.peakRss), 0)} | ${status(r)} |`,
    );
    const log = st
      ? Object.entries(st.log)
          .map(([m, n]) => {
            const at = st.logFirstAt?.[m];
            return `${m} ×${n}${at === undefined ? '' : ` (${fmt(at - a.attackStartedAt, 0)})`}`;
          })
          .join('; ') || 'none'
      : '—';
    seen.push(
      `| ${r.scenario} | ${fmt(a.attackMs / 1000, 1)}${a.detachedMade ? ` (${fmt(a.detachedSetupMs / 1000, 1)} making ${a.detachedMade.toLocaleString('en-US')} sessions)` : ''} | ${(a.probeFragmentsReceived ?? 0).toLocaleString('en-US')} | ${a.attackerOpenAtEnd} | ${st ? `${st.maxSessions.toLocaleString('en-US')} · ${st.maxDetached.toLocaleString('en-US')}` : '—'} | ${st ? fmt(mb(st.maxPendingBytes), 1) : '—'} | ${st ? fmt(mb(st.maxDetachedBytes), 1) : '—'} | ${log} | ${r.afterGc ? `${fmt(mb(r.afterGc.heap), 0)} / ${fmt(mb(r.afterGc.rss), 0)}` : '—'} | ${fmt(a.probeLoopDelayP99)} |`,
    );
  }
  return [
    ...lines,
    '',
    "What the server saw (sampled every 100 ms inside the target; the log is the server's own):",
    '',
    ...seen,
  ];
}

export function markdown(res: SuiteResult): string {
  const m = res.machine;
  const unavailable = res.runs.filter((r) => r.unavailable);
  const failed = res.runs.filter((r) => !r.ok && !r.unavailable);
  const out = [
    `_${res.smoke ? 'Smoke run' : 'Run'} of ${res.date.slice(0, 16).replace('T', ' ')} UTC on ${m.cpus}, ${m.cores} cores, ${m.memGB} GB, Node ${m.node}, Linux ${m.kernel}._`,
    '',
  ];
  if (unavailable.length)
    out.push(
      `Not run: ${[...new Set(unavailable.map((r) => `${r.target} (${r.unavailable})`))].join(', ')}.`,
      '',
    );
  if (failed.length) {
    out.push('Runs with errors:', '');
    for (const r of failed)
      out.push(`- ${r.scenario} · ${TARGET_LABEL[r.target]}: ${r.errorSamples.slice(0, 3).join('; ')}`);
    out.push('');
  }
  const quiet = res.runs.filter((r) => r.quiet && !r.quiet.quiet);
  if (quiet.length) {
    out.push(
      `The machine never became quiet before ${quiet.length} window(s) (idle share below the threshold after the waiting cap): ${quiet.map((r) => `${r.scenario}·${r.target} ${Math.round(r.quiet!.idle * 100)}% idle`).join(', ')}.`,
      '',
    );
  }
  const section = (title: string, table: string[], minLines = 3) => {
    // A filtered run leaves some tables empty (header only): leave those out.
    if (table.length >= minLines) out.push(title, '', ...table, '');
  };
  const classic = goalTable(res);
  const clusterGoals = clusterGoalTable(res);
  if (classic.length >= 3 || clusterGoals.length >= 3) {
    out.push('### Goals', '');
    if (classic.length >= 3) out.push(...classic, '');
    if (clusterGoals.length >= 3)
      out.push(
        'Cluster (docs/cluster.md): 2 processes against 1 process with the same PostgreSQL store, in ' +
          'the same run (the in-memory process for context):',
        '',
        ...clusterGoals,
        '',
      );
  }
  section('### Changeset flow (fan-out, contention, scale)', flowTable(res));
  section('### Acknowledgement interval (250 ms vs 10 s, as the original clients)', ackTable(res));
  section('### Scale curve (fan-out throughput)', scaleTable(res));
  section('### Cluster (2 processes, PostgreSQL and Redis) against one process', clusterTable(res));
  section('### Large state', fetchTable(res));
  section('### Idle sessions', idleTable(res));
  const fair = fairnessTable(res);
  if (fair.length) {
    out.push(
      '### Fairness under abuse',
      '',
      'One attacker against our server while a well-behaved probe (acks every 250 ms, ' +
        'one ScopeSync every 5 ms) measures its round trip, first alone, then under attack, in the ' +
        'same server process. Run against this server only: the original and the raw broadcaster ' +
        'have no limits.',
      '',
      ...fair,
      '',
    );
  }
  return out.join('\n');
}
