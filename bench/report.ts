// Turns a suite result into the Markdown tables of BENCHMARKS.md: the performance goals as ratios
// of this server to the raw broadcaster and to the original, then every raw figure.
import type { FetchResultSummary, FlowResult } from './lib/spec.js';
import type { TargetName } from './scenarios.js';
import type { RunRecord, SuiteResult } from './suite.js';

type Pick = (r: RunRecord) => number | undefined;

const flow = (r: RunRecord): FlowResult | undefined => (r.result?.kind === 'flow' ? r.result : undefined);
const fetch = (r: RunRecord): FetchResultSummary | undefined =>
  r.result?.kind === 'fetch' ? r.result : undefined;

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
];

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
  met: boolean | null;
}

export function goals(res: SuiteResult): GoalOutcome[] {
  return GOALS.map((g) => {
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

function goalTable(res: SuiteResult): string[] {
  const lines = [
    '| Measure | This server | Original | Raw ws | Ours ÷ raw (goal) | Ours ÷ original (goal) | Original ÷ raw |',
    '|---|---:|---:|---:|---:|---:|---:|',
  ];
  for (const g of GOALS) {
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
};
const mb = (bytes: number | undefined) => (bytes === undefined ? undefined : bytes / 2 ** 20);

function status(r: RunRecord): string {
  if (r.ok) return '0';
  return `**${r.errors}**`;
}

function flowTable(res: SuiteResult): string[] {
  const lines = [
    '| Scenario | Target | Acked changesets/s | Ack p50 / p99 ms | Delivered fragments/s | Fan-out p50 / p90 / p99 / max ms | Server CPU s | CPU µs / fragment | Peak RSS MB | Load-gen CPU | Complete | Errors |',
    '|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|',
  ];
  for (const s of res.scenarios) {
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
  out.push('### Goals', '', ...goalTable(res), '');
  out.push('### Changeset flow (fan-out, contention, scale)', '', ...flowTable(res), '');
  out.push('### Scale curve (fan-out throughput)', '', ...scaleTable(res), '');
  out.push('### Large state', '', ...fetchTable(res), '');
  out.push('### Idle sessions', '', ...idleTable(res), '');
  return out.join('\n');
}
