// The suite: forks one load generator, then for every scenario forks each target in turn (the
// order rotates from scenario to scenario so that no target always goes first), waits for a
// quiet machine, runs the load and reads the server's CPU and memory from /proc.
import os from 'node:os';
import { join } from 'node:path';
import { Child } from './lib/child.js';
import { cpuSeconds, vmBytes, waitForQuiet } from './lib/proc.js';
import type { LoadCommand, LoadEvent, LoadResult } from './lib/spec.js';
import {
  isDurable,
  runsOn,
  type Scenario,
  scenarios,
  TARGET_PROCESS,
  TARGETS,
  type TargetName,
} from './scenarios.js';
import type { ServerStats, TargetEvent } from './targets/common.js';

export interface SuiteOptions {
  smoke?: boolean;
  /** Scenario names to run (default all). */
  only?: string[];
  targets?: readonly TargetName[];
  rounds?: number;
  /** Minimum idle share of the machine over one second before a window (0 disables). */
  quietThreshold?: number;
  quietCapMs?: number;
  /** Directory for `--cpu-prof` of our server's process, if wanted. */
  cpuProfDir?: string;
  log?: (line: string) => void;
}

export interface IdleMemory {
  sessions: number;
  rssBefore: number;
  rssAfter: number;
  heapBefore: number;
  heapAfter: number;
  rssPerSession: number;
  heapPerSession: number;
}

export interface RunRecord {
  scenario: string;
  target: TargetName;
  round: number;
  /** Why the target could not run (our server before it exists). */
  unavailable?: string;
  ok: boolean;
  errors: number;
  errorSamples: string[];
  fatal?: string;
  quiet?: { idle: number; waitedMs: number; quiet: boolean };
  setupMs?: number;
  serverStartMs?: number;
  serverCpuTotalSec?: number;
  /** Peak RSS (`VmHWM`); for a target of several processes, the sum of theirs. */
  peakRss?: number;
  /** Targets of several server processes (the cluster): each one's pid, CPU and peak RSS. */
  processes?: { pid: number; cpuTotalSec: number; peakRss: number }[];
  result?: LoadResult;
  idle?: IdleMemory;
  /** Our server's own view (abuse scenarios): sessions, pending bytes, limits hit. */
  serverStats?: ServerStats;
  /**
   * Flow and abuse scenarios: the server's memory at the end of the run (after the attack, or
   * after the drain: messages not yet acknowledged are still held), after a forced full GC, so
   * live data only.
   */
  afterGc?: { rss: number; heap: number };
}

export interface SuiteResult {
  date: string;
  smoke: boolean;
  machine: { cpus: string; cores: number; memGB: number; node: string; kernel: string };
  scenarios: { name: string; title: string }[];
  runs: RunRecord[];
}

const here = __dirname;
const execArgv = ['--import', 'tsx', '--expose-gc'];

type Target = Child<{ type: 'gc' } | { type: 'stats' } | { type: 'stop' }, TargetEvent>;
type Load = Child<LoadCommand, LoadEvent>;

const sum = (values: number[]): number => values.reduce((a, b) => a + b, 0);

/** Collects garbage in the target's server processes; their RSS and JS heap, summed. */
async function gcAndRead(target: Target, pids: number[]): Promise<{ rss: number; heap: number }> {
  target.send({ type: 'gc' });
  const m = await target.next(60_000, 'gc');
  if (m.type !== 'gc') throw new Error(`unexpected ${m.type} from target`);
  return { rss: sum(pids.map((p) => vmBytes(p, 'VmRSS'))), heap: m.heapUsed };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function expectEvent<E extends LoadEvent['ev']>(
  load: Load,
  ev: E,
  timeoutMs: number,
  record: RunRecord,
): Promise<Extract<LoadEvent, { ev: E }> | null> {
  const m = await load.next(timeoutMs, ev);
  if (m.ev === 'fatal') {
    record.fatal = m.message;
    record.errors += m.errors + 1;
    record.errorSamples.push(...m.errorSamples, m.message);
    return null;
  }
  if (m.ev !== ev) throw new Error(`load generator sent ${m.ev}, expected ${ev}`);
  return m as Extract<LoadEvent, { ev: E }>;
}

function flowTimeout(s: Scenario): number {
  const spec = s.spec;
  if (spec.kind === 'flow') return spec.warmupMs + spec.windowMs + spec.drainMs + 30_000;
  if (spec.kind === 'fetch') return spec.fetches * (spec.timeoutMs + 5000);
  // The load generator gives the attacker 10 minutes beyond its time (the detached sessions are
  // made first), then waits up to 10 s for the probe's replies.
  if (spec.kind === 'abuse') return spec.baselineMs + spec.attackMs + 660_000;
  return 30_000;
}

async function runOne(
  s: Scenario,
  targetName: TargetName,
  round: number,
  load: Load,
  opts: Required<Pick<SuiteOptions, 'quietThreshold' | 'quietCapMs'>> & SuiteOptions,
): Promise<RunRecord> {
  const record: RunRecord = {
    scenario: s.name,
    target: targetName,
    round,
    ok: false,
    errors: 0,
    errorSamples: [],
  };
  const prof = opts.cpuProfDir && targetName === 'jetstream';
  const durable = isDurable(targetName);
  // One directory per run: tsx's loader thread writes a profile of its own beside the main one.
  const profDir = opts.cpuProfDir ? join(opts.cpuProfDir, `${s.name}-${round}`) : undefined;
  const how = TARGET_PROCESS[targetName];
  const target: Target = new Child(join(here, 'targets', how.file), {
    // The original registers many listeners per scope; its MaxListeners warnings are noise here.
    env: {
      ...how.env,
      BENCH_SHAPES: String(s.shapes),
      BENCH_SCOPES: String(s.spec.kind === 'flow' ? (s.spec.scopes ?? 1) : 1),
      ...(targetName === 'original' ? { NODE_NO_WARNINGS: '1' } : {}),
      ...(s.spec.kind === 'abuse' ? { BENCH_SERVER_STATS: '1' } : {}),
      // Every session on its scope's owner: each process opens only the scopes it owns, as a
      // deployment that routes by scope would (docs/cluster.md, "Unloading and idle leases").
      ...(s.spec.kind === 'flow' &&
      s.spec.placement?.writers === 'owner' &&
      s.spec.placement.readers === 'owner'
        ? { BENCH_OWNED_ONLY: '1' }
        : {}),
      // The durable targets profile each of their server processes (targets/cluster.ts).
      ...(durable && profDir ? { BENCH_CPU_PROF_DIR: join(profDir, targetName) } : {}),
    },
    execArgv: prof && profDir ? [...execArgv, '--cpu-prof', `--cpu-prof-dir=${profDir}`] : execArgv,
  });
  let pids = [target.pid];
  let loadBusy = false;
  try {
    const t0 = performance.now();
    const hello = await target.next(180_000, 'target ready');
    record.serverStartMs = performance.now() - t0;
    if (hello.type === 'unavailable') {
      record.unavailable = hello.reason;
      return record;
    }
    if (hello.type !== 'ready') throw new Error(`target sent ${hello.type}`);
    const processes = hello.processes ?? [{ port: hello.port, pid: target.pid }];
    pids = processes.map((p) => p.pid);
    const urls = processes.map((p) => `ws://127.0.0.1:${p.port}`);

    const before = s.spec.kind === 'idle' ? await gcAndRead(target, pids) : null;
    loadBusy = true;
    load.send({ cmd: 'setup', spec: s.spec, url: urls[0]!, serverPid: pids[0]!, urls, serverPids: pids });
    const ready = await expectEvent(load, 'ready', 300_000, record);
    if (!ready) return record;
    record.setupMs = ready.setupMs;

    if (before && s.spec.kind === 'idle') {
      await sleep(opts.smoke ? 100 : 1000);
      const after = await gcAndRead(target, pids);
      const n = s.spec.sessions;
      record.idle = {
        sessions: n,
        rssBefore: before.rss,
        rssAfter: after.rss,
        heapBefore: before.heap,
        heapAfter: after.heap,
        rssPerSession: (after.rss - before.rss) / n,
        heapPerSession: (after.heap - before.heap) / n,
      };
    } else if (opts.quietThreshold > 0) {
      record.quiet = await waitForQuiet(opts.quietThreshold, opts.quietCapMs);
    }

    load.send({ cmd: 'start' });
    const done = await expectEvent(load, 'result', flowTimeout(s), record);
    if (done) {
      record.result = done.result;
      record.errors += done.errors;
      record.errorSamples.push(...done.errorSamples);
    }
    const each = pids.map((pid) => ({ pid, cpuTotalSec: cpuSeconds(pid), peakRss: vmBytes(pid, 'VmHWM') }));
    record.peakRss = sum(each.map((p) => p.peakRss));
    record.serverCpuTotalSec = sum(each.map((p) => p.cpuTotalSec));
    if (pids.length > 1 || durable) record.processes = each;
    if (s.spec.kind === 'flow' || s.spec.kind === 'abuse') record.afterGc = await gcAndRead(target, pids);
    if (s.spec.kind === 'abuse') {
      target.send({ type: 'stats' });
      const m = await target.next(30_000, 'stats');
      if (m.type === 'stats' && m.stats) record.serverStats = m.stats;
    }
    record.ok =
      record.errors === 0 &&
      record.result !== undefined &&
      (record.result.kind !== 'flow' || record.result.complete);
  } catch (e) {
    record.fatal = (e as Error).message;
    record.errors++;
    record.errorSamples.push((e as Error).message);
  } finally {
    if (loadBusy) {
      load.send({ cmd: 'teardown' });
      await load.next(60_000, 'teardown').catch(() => undefined);
    }
    // The durable targets stop their server processes, then drop their schema and Redis keys.
    await target.stop({ type: 'stop' }, durable ? 20_000 : 3000);
  }
  return record;
}

function machine(): SuiteResult['machine'] {
  const cpus = os.cpus();
  return {
    cpus: cpus[0]?.model ?? 'unknown',
    cores: cpus.length,
    memGB: Math.round(os.totalmem() / 2 ** 30),
    node: process.version,
    kernel: os.release(),
  };
}

export async function runSuite(options: SuiteOptions = {}): Promise<SuiteResult> {
  const smoke = options.smoke ?? false;
  const opts = {
    ...options,
    quietThreshold: options.quietThreshold ?? (smoke ? 0 : 0.8),
    quietCapMs: options.quietCapMs ?? 10_000,
  };
  const log = options.log ?? (() => {});
  const targets = options.targets ?? TARGETS;
  const rounds = options.rounds ?? 1;
  const list = scenarios(smoke).filter((s) => !options.only || options.only.includes(s.name));
  const result: SuiteResult = {
    date: new Date().toISOString(),
    smoke,
    machine: machine(),
    scenarios: list.map((s) => ({ name: s.name, title: s.title })),
    runs: [],
  };
  const unavailable = new Set<TargetName>();
  const load: Load = new Child(join(here, 'load.ts'));
  try {
    let turn = 0;
    for (const s of list) {
      for (let round = 0; round < rounds; round++) {
        const order = targets.map((_, i) => targets[(i + turn) % targets.length]!);
        turn++;
        for (const t of order) {
          if (unavailable.has(t) || !runsOn(s, t)) continue;
          log(`${s.name} · ${t}${rounds > 1 ? ` · round ${round + 1}` : ''} …`);
          const r = await runOne(s, t, round, load, opts);
          if (r.unavailable) unavailable.add(t);
          result.runs.push(r);
          log(`  ${describe(r)}`);
        }
      }
    }
  } finally {
    await load.stop(null, 100);
  }
  return result;
}

function describe(r: RunRecord): string {
  if (r.unavailable) return `unavailable: ${r.unavailable}`;
  const status = r.ok ? 'ok' : `FAILED (${r.errors} errors: ${r.errorSamples.slice(0, 3).join('; ')})`;
  const res = r.result;
  if (r.idle) return `${status}; ${(r.idle.rssPerSession / 1024).toFixed(1)} KiB RSS/session`;
  if (res?.kind === 'flow') {
    return (
      `${status}; acked ${res.ackedPerSec.toFixed(0)}/s, delivered ${res.deliveredPerSec.toFixed(0)}/s, ` +
      `${res.cpuPerFragmentUs.toFixed(2)} µs CPU/fragment, fan-out p99 ${res.fanoutLatencyMs.p99.toFixed(1)} ms`
    );
  }
  if (res?.kind === 'abuse') {
    const closes = Object.entries(res.attackerCloses)
      .map(([k, n]) => `${k} ×${n}`)
      .join(', ');
    return (
      `${status}; probe p99 ${res.baseline.p99.toFixed(1)} → ${res.underAttack.p99.toFixed(1)} ms, ` +
      `attacker closes: ${closes || 'none'}, peak RSS ${((r.peakRss ?? Number.NaN) / 2 ** 20).toFixed(0)} MB`
    );
  }
  if (res?.kind === 'fetch') {
    return `${status}; fetch p50 ${res.fetchMs.p50.toFixed(0)} ms, ${(res.serverCpuSecPerFetch * 1000).toFixed(0)} ms server CPU, ${res.bytes} bytes`;
  }
  return status;
}
