// The load generator: a forked process that holds every benchmark client (writers and readers
// share one clock, so the send time a writer puts in a fragment is directly comparable with the
// reader's receive time). Driven by the suite over IPC: setup → ready, start → result, teardown.
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { Child } from './lib/child.js';
import { BenchClient, type WireFragment } from './lib/client.js';
import { Histogram } from './lib/histogram.js';
import {
  cpuSeconds,
  cpuSecondsByName,
  cpuSecondsSince,
  idleBetween,
  machineTotals,
  vmBytes,
} from './lib/proc.js';
import type {
  AbuseResult,
  AbuseSpec,
  AttackCommand,
  AttackEvent,
  FetchSpec,
  FlowSpec,
  IdleSpec,
  LoadCommand,
  LoadEvent,
  LoadResult,
  Quantiles,
} from './lib/spec.js';
import { scopeName } from './targets/common.js';

const CONNECT_CONCURRENCY = 50;
const MAX_ERROR_SAMPLES = 10;

let errors = 0;
const errorSamples: string[] = [];
function fail(message: string): void {
  errors++;
  if (errorSamples.length < MAX_ERROR_SAMPLES) errorSamples.push(message);
}

function emit(event: LoadEvent): void {
  process.send?.(event);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const wallNow = (): number => performance.timeOrigin + performance.now();

function quantiles(h: Histogram): Quantiles {
  return {
    p50: h.quantile(0.5),
    p90: h.quantile(0.9),
    p99: h.quantile(0.99),
    max: h.count ? h.max : Number.NaN,
    mean: h.mean,
    count: h.count,
  };
}

/** Runs `fn` for 0..n-1 with at most `limit` running at once. */
async function pool<T>(n: number, limit: number, fn: (i: number) => Promise<T>): Promise<T[]> {
  const out = new Array<T>(n);
  let next = 0;
  const worker = async () => {
    while (next < n) {
      const i = next++;
      out[i] = await fn(i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, n) }, worker));
  return out;
}

interface Session {
  client: BenchClient;
  scopeIndex: number;
  shapeUUIDs: string[];
}

async function openSession(url: string, ackEveryMs = 250, scope = 'Canvas'): Promise<Session> {
  const client = await BenchClient.connect(url);
  client.handlers.onError = (m) => fail(m);
  await client.createSession(ackEveryMs);
  const state = await client.fetch(scope);
  const shapeUUIDs = state.fragments
    .filter((f) => f.type === 'add' && f.clsName === 'Shape')
    .map((f) => f.uuid);
  return { client, scopeIndex: state.scopeIndex, shapeUUIDs };
}

// ---- flow: writers and readers ------------------------------------------------------------------

interface Writer {
  id: number;
  /** Index of its scope (FlowSpec.scopes). */
  scope: number;
  session: Session;
  uuid: string;
  seq: number;
  inflight: Map<number, number>;
  accepted: number;
}

interface Receiver {
  session: Session;
  scope: number;
  /** Writer id this session writes as, or -1. */
  self: number;
  lastSeq: Int32Array;
  received: number;
}

class Flow {
  readonly spec: FlowSpec;
  writers: Writer[] = [];
  receivers: Receiver[] = [];
  writerByUUID = new Map<string, number>();
  running = false;
  inWindow = false;
  sent = 0;
  ackedInWindow = 0;
  deliveredInWindow = 0;
  ackLatency = new Histogram();
  fanout = new Histogram();
  pacer: NodeJS.Timeout | null = null;

  constructor(spec: FlowSpec) {
    this.spec = spec;
  }

  /**
   * Session k (writers first, then readers) uses scope k % scopes; which server process it
   * connects to follows FlowSpec.placement, scope i being owned by process i % urls.length.
   */
  async setup(urls: string[]): Promise<void> {
    const { writers, readers } = this.spec;
    const scopes = this.spec.scopes ?? 1;
    const placement = this.spec.placement ?? { writers: 'owner', readers: 'owner' };
    const n = urls.length;
    const where = (k: number): { scope: number; url: string } => {
      const writer = k < writers;
      const scope = (writer ? k : k - writers) % scopes;
      const owner = scope % n;
      const writerProc = placement.writers === 'owner' ? owner : (scope >> 1) % n;
      const proc = writer ? writerProc : placement.readers === 'owner' ? owner : (writerProc + 1) % n;
      return { scope, url: urls[proc]! };
    };
    const sessions = await pool(writers + readers, CONNECT_CONCURRENCY, (k) => {
      const { scope, url } = where(k);
      return openSession(url, this.spec.ackEveryMs, scopeName(scope, scopes));
    });
    const perScope = Math.ceil(writers / scopes);
    sessions.forEach((session, i) => {
      const self = i < writers ? i : -1;
      const scope = where(i).scope;
      const r: Receiver = { session, scope, self, lastSeq: new Int32Array(writers), received: 0 };
      this.receivers.push(r);
      session.client.handlers.onSync = (fragments, at) => this.onSync(r, fragments, at);
      if (self >= 0) {
        // The j-th writer of a scope changes its j-th shape.
        const shapes = session.shapeUUIDs;
        if (shapes.length < perScope)
          throw new Error(`the scope has ${shapes.length} shapes, need ${perScope}`);
        const uuid = shapes[Math.floor(i / scopes)]!;
        const w: Writer = { id: i, scope, session, uuid, seq: 0, inflight: new Map(), accepted: 0 };
        this.writers.push(w);
        this.writerByUUID.set(w.uuid, i);
        session.client.handlers.onSyncReply = (replyTo, replies, at) => this.onReply(w, replyTo, replies, at);
      }
    });
  }

  send(w: Writer): void {
    const seq = ++w.seq;
    const fragment: WireFragment = {
      type: 'change',
      uuid: w.uuid,
      clsName: 'Shape',
      properties: { y: seq, width: wallNow() },
    };
    const index = w.session.client.sync(w.session.scopeIndex, [fragment]);
    w.inflight.set(index, performance.now());
    this.sent++;
  }

  onReply(w: Writer, replyTo: number, replies: { error?: { message: string } }[], at: number): void {
    const t0 = w.inflight.get(replyTo);
    if (t0 === undefined) {
      fail(`reply to unknown changeset ${replyTo}`);
      return;
    }
    w.inflight.delete(replyTo);
    let ok = true;
    for (const r of replies) {
      if (r.error) {
        ok = false;
        fail(`fragment rejected: ${r.error.message}`);
      }
    }
    if (ok && replies.length === 1) w.accepted++;
    else if (ok) fail(`reply has ${replies.length} entries for 1 fragment`);
    if (this.inWindow) {
      this.ackedInWindow++;
      this.ackLatency.record(at - t0);
    }
    if (this.running && this.spec.rate === null && w.inflight.size < this.spec.window) this.send(w);
  }

  onSync(r: Receiver, fragments: WireFragment[], at: number): void {
    const now = performance.timeOrigin + at;
    for (const f of fragments) {
      const w = this.writerByUUID.get(f.uuid);
      const props = f.properties as { y?: number; width?: number } | undefined;
      if (w === undefined || !props || typeof props.y !== 'number' || typeof props.width !== 'number') {
        fail(`unexpected fragment ${JSON.stringify(f).slice(0, 120)}`);
        continue;
      }
      if (w === r.self) fail('a writer received its own fragment back');
      if (this.writers[w]!.scope !== r.scope) fail(`fragment of writer ${w} in another scope`);
      if (props.y <= r.lastSeq[w]!) fail(`fragment ${props.y} of writer ${w} out of order or repeated`);
      r.lastSeq[w] = props.y;
      r.received++;
      if (this.inWindow) {
        this.deliveredInWindow++;
        this.fanout.record(now - props.width);
      }
    }
  }

  async run(serverPids: number[]): Promise<LoadResult> {
    const { rate, window, warmupMs, windowMs, drainMs } = this.spec;
    this.running = true;
    const t0 = performance.now();
    if (rate === null) {
      for (const w of this.writers) for (let i = 0; i < window; i++) this.send(w);
    } else {
      // Pace the total rate over the writers, in 5 ms ticks; a writer with `window` changesets
      // unanswered skips its turn (the rate is then not sustained, which the result shows).
      let turn = 0;
      this.pacer = setInterval(() => {
        const due = Math.floor(((performance.now() - t0) * rate) / 1000) - this.sent;
        for (let i = 0; i < due; i++) {
          const w = this.writers[turn++ % this.writers.length]!;
          if (w.inflight.size < window) this.send(w);
        }
      }, 5);
    }
    await sleep(warmupMs);

    const SERVICES = ['postgres', 'redis-server'];
    const services = this.spec.placement !== undefined;
    const cpu0 = serverPids.map(cpuSeconds);
    const services0 = services ? cpuSecondsByName(SERVICES) : null;
    const machine0 = machineTotals();
    const load0 = process.cpuUsage();
    const w0 = performance.now();
    this.inWindow = true;
    await sleep(windowMs);
    this.inWindow = false;
    const windowSec = (performance.now() - w0) / 1000;
    const serverCpuSecByProcess = serverPids.map((p, i) => cpuSeconds(p) - cpu0[i]!);
    const serverCpuSec = serverCpuSecByProcess.reduce((a, b) => a + b, 0);
    const load = process.cpuUsage(load0);
    const servicesCpuSec = services0 ? cpuSecondsSince(services0, cpuSecondsByName(SERVICES), SERVICES) : {};
    const machineIdleShare = idleBetween(machine0, machineTotals());

    this.running = false;
    if (this.pacer) clearInterval(this.pacer);
    const d0 = performance.now();
    let expected = 0;
    let received = 0;
    for (;;) {
      const pending = this.writers.some((w) => w.inflight.size > 0);
      // Every session receives what the other writers of its scope had accepted.
      const total = new Map<number, number>();
      for (const w of this.writers) total.set(w.scope, (total.get(w.scope) ?? 0) + w.accepted);
      expected = 0;
      received = 0;
      for (const r of this.receivers) {
        expected += (total.get(r.scope) ?? 0) - (r.self >= 0 ? this.writers[r.self]!.accepted : 0);
        received += r.received;
      }
      if ((!pending && received === expected) || performance.now() - d0 > drainMs) break;
      await sleep(20);
    }
    const complete = received === expected && !this.writers.some((w) => w.inflight.size > 0);
    if (!complete) {
      const inflight = this.writers.reduce((a, w) => a + w.inflight.size, 0);
      fail(
        `incomplete after ${drainMs} ms: ${received}/${expected} deliveries, ${inflight} changesets unanswered`,
      );
    }
    return {
      kind: 'flow',
      windowSec,
      changesetsSent: this.sent,
      changesetsAckedInWindow: this.ackedInWindow,
      ackedPerSec: this.ackedInWindow / windowSec,
      ackLatencyMs: quantiles(this.ackLatency),
      deliveredInWindow: this.deliveredInWindow,
      deliveredPerSec: this.deliveredInWindow / windowSec,
      fanoutLatencyMs: quantiles(this.fanout),
      expectedDeliveries: expected,
      receivedDeliveries: received,
      complete,
      drainMs: performance.now() - d0,
      serverCpuSec,
      serverCpuSecByProcess,
      ...(services ? { servicesCpuSec, machineIdleShare } : {}),
      cpuPerFragmentUs: this.deliveredInWindow ? (serverCpuSec * 1e6) / this.deliveredInWindow : Number.NaN,
      loadCpuShare: (load.user + load.system) / 1e6 / windowSec,
      ackEveryMs: this.spec.ackEveryMs,
      serverCloses: this.serverCloses(),
    };
  }

  /** Sessions the server closed (every one is also an error: these clients are well-behaved). */
  serverCloses(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const r of this.receivers) {
      const c = r.session.client.closedByServer;
      if (c !== null) out[c] = (out[c] ?? 0) + 1;
    }
    return out;
  }

  async close(): Promise<void> {
    await Promise.all(this.receivers.map((r) => r.session.client.close()));
  }
}

// ---- fetch: large state -------------------------------------------------------------------------

async function runFetch(spec: FetchSpec, url: string, serverPid: number): Promise<LoadResult> {
  const ms = new Histogram();
  const cpu: number[] = [];
  let bytes = 0;
  let fragments = 0;
  let total = 0;
  for (let i = 0; i < spec.fetches; i++) {
    const client = await BenchClient.connect(url);
    client.handlers.onError = (m) => fail(m);
    await client.createSession();
    await sleep(50);
    const c0 = cpuSeconds(serverPid);
    const state = await client.fetch('Canvas', spec.timeoutMs);
    await sleep(100); // let the server finish whatever the send left behind
    const used = cpuSeconds(serverPid) - c0;
    cpu.push(used);
    total += used;
    ms.record(state.ms);
    bytes = state.bytes;
    fragments = state.fragments.length;
    if (fragments !== spec.shapes + 1)
      fail(`ScopeState had ${fragments} fragments, expected ${spec.shapes + 1}`);
    await client.close();
  }
  cpu.sort((a, b) => a - b);
  return {
    kind: 'fetch',
    fetches: spec.fetches,
    fragments,
    bytes,
    fetchMs: quantiles(ms),
    // The mean over all fetches: /proc counts in 10 ms ticks, too coarse for one small fetch.
    serverCpuSecPerFetch: total / spec.fetches,
    serverCpuSecMax: cpu[cpu.length - 1] ?? Number.NaN,
  };
}

// ---- abuse: a well-behaved probe while an attacker (bench/abuse.ts) attacks --------------------

type Attacker = Child<AttackCommand, AttackEvent>;
let attackerChild: Attacker | null = null;

/** The attacker process, forked on first use and kept for the following abuse scenarios. */
function attacker(): Attacker {
  const a = attackerChild;
  if (a && a.proc.exitCode === null && a.proc.signalCode === null) return a;
  attackerChild = new Child(join(__dirname, 'abuse.ts'), { execArgv: ['--import', 'tsx'] });
  return attackerChild;
}

async function attackerEvent<E extends AttackEvent['ev']>(
  ev: E,
  timeoutMs: number,
): Promise<Extract<AttackEvent, { ev: E }>> {
  const m = await attacker().next(timeoutMs, `attacker ${ev}`);
  if (m.ev === 'fatal') throw new Error(`attacker: ${m.message}`);
  if (m.ev !== ev) throw new Error(`attacker sent ${m.ev}, expected ${ev}`);
  return m as Extract<AttackEvent, { ev: E }>;
}

class Abuse {
  readonly spec: AbuseSpec;
  probe: BenchClient | null = null;
  scopeIndex = 0;
  uuids: string[] = [];
  prepared = false;

  constructor(spec: AbuseSpec) {
    this.spec = spec;
  }

  async setup(url: string): Promise<void> {
    const client = await BenchClient.connect(url);
    this.probe = client;
    client.handlers.onError = (m) => fail(`probe: ${m}`);
    await client.createSession(250);
    const state = await client.fetch('Canvas');
    this.scopeIndex = state.scopeIndex;
    this.uuids = state.fragments.filter((f) => f.type === 'add' && f.clsName === 'Shape').map((f) => f.uuid);
    if (this.uuids.length < 3) throw new Error(`the scope has ${this.uuids.length} shapes, need 3`);
    // Shape 0 is the probe's, 1 the attacker's, 2 the writer's.
    this.prepared = true;
    attacker().send({
      cmd: 'prepare',
      spec: this.spec,
      url,
      attackerUUID: this.uuids[1]!,
      writerUUID: this.uuids[2]!,
    });
    await attackerEvent('prepared', 300_000);
  }

  async run(serverPid: number): Promise<AbuseResult> {
    const { spec } = this;
    const probe = this.probe!;
    const base = new Histogram();
    const hit = new Histogram();
    const sentAt = new Map<number, { t: number; attack: boolean }>();
    let attacking = false;
    let received = 0;
    probe.handlers.onSync = (fragments) => {
      if (attacking) received += fragments.length;
    };
    probe.handlers.onSyncReply = (replyTo, replies, at) => {
      const s = sentAt.get(replyTo);
      if (!s) {
        fail(`probe: reply to unknown changeset ${replyTo}`);
        return;
      }
      sentAt.delete(replyTo);
      if (replies.some((r) => r.error)) fail(`probe: changeset rejected: ${JSON.stringify(replies[0])}`);
      (s.attack ? hit : base).record(at - s.t);
    };
    // Open loop: the probe sends on its clock whatever the replies do, so a stalled server shows
    // as many late replies, not as a few (no coordinated omission).
    const t0 = performance.now();
    let due0 = 0;
    let seq = 0;
    const pacer = setInterval(() => {
      const due = Math.floor(((performance.now() - t0) * spec.probeRate) / 1000) - due0;
      for (let i = 0; i < due; i++) {
        due0++;
        const index = probe.sync(this.scopeIndex, [
          { type: 'change', uuid: this.uuids[0]!, clsName: 'Shape', properties: { y: ++seq } },
        ]);
        sentAt.set(index, { t: performance.now(), attack: attacking });
      }
    }, 5);

    const cpu0 = cpuSeconds(serverPid);
    const b0 = performance.now();
    await sleep(spec.baselineMs);
    const baselineMs = performance.now() - b0;
    const cpu1 = cpuSeconds(serverPid);
    const rssBefore = vmBytes(serverPid, 'VmRSS');
    let rssMax = rssBefore;
    const rssTimer = setInterval(() => {
      const v = vmBytes(serverPid, 'VmRSS');
      if (v > rssMax) rssMax = v;
    }, 100);
    // Resolution 1 ms: the histogram counts the whole timer period, so 1 ms is taken off below.
    const loop = monitorEventLoopDelay({ resolution: 1 });
    loop.enable();
    attacking = true;
    const attackStartedAt = Date.now();
    attacker().send({ cmd: 'attack' });
    let outcome: Extract<AttackEvent, { ev: 'attacked' }>['outcome'];
    try {
      outcome = (await attackerEvent('attacked', spec.attackMs + 600_000)).outcome;
    } finally {
      clearInterval(pacer);
      clearInterval(rssTimer);
      loop.disable();
    }
    const cpu2 = cpuSeconds(serverPid);
    attacking = false;
    for (const e of outcome.errors) fail(e);
    // Replies still owed to the probe: wait for them (a server that never answers fails here).
    const w0 = performance.now();
    while (sentAt.size > 0 && !probe.closedByServer && performance.now() - w0 < 10_000) await sleep(20);
    let unanswered = 0;
    for (const s of sentAt.values()) if (s.attack) unanswered++;
    if (sentAt.size > 0) fail(`probe: ${sentAt.size} changesets never answered`);
    return {
      kind: 'abuse',
      attack: spec.attack,
      baseline: quantiles(base),
      underAttack: quantiles(hit),
      probeUnanswered: unanswered,
      probeClosed: probe.closedByServer,
      probeFragmentsReceived: received,
      probeLoopDelayP99: Math.max(0, loop.percentile(99) / 1e6 - 1),
      baselineMs,
      attackStartedAt,
      attackMs: outcome.attackMs,
      attackerSessions: outcome.attackerSessions,
      attackerCloses: outcome.attackerCloses,
      attackerOpenAtEnd: outcome.attackerOpenAtEnd,
      firstCloseMs: outcome.firstCloseMs,
      attackSent: outcome.sent,
      attackBytesReceived: outcome.bytesReceived,
      writerSent: outcome.writerSent,
      writerAcked: outcome.writerAcked,
      detachedMade: outcome.detachedMade,
      detachedSetupMs: outcome.detachedSetupMs,
      serverCpuBaselineSec: cpu1 - cpu0,
      serverCpuAttackSec: cpu2 - cpu1,
      serverRssBeforeAttack: rssBefore,
      serverRssMaxDuringAttack: rssMax,
      serverRssAfterAttack: vmBytes(serverPid, 'VmRSS'),
    };
  }

  async close(): Promise<void> {
    await this.probe?.close();
    if (this.prepared) {
      attacker().send({ cmd: 'teardown' });
      await attackerEvent('closed', 60_000);
    }
  }
}

// ---- driver -------------------------------------------------------------------------------------

let flow: Flow | null = null;
let abuse: Abuse | null = null;
let idle: Session[] = [];
let current: {
  spec: FetchSpec | IdleSpec | FlowSpec | AbuseSpec;
  url: string;
  serverPid: number;
  serverPids: number[];
} | null = null;

async function handle(msg: LoadCommand): Promise<void> {
  if (msg.cmd === 'setup') {
    errors = 0;
    errorSamples.length = 0;
    current = { spec: msg.spec, url: msg.url, serverPid: msg.serverPid, serverPids: msg.serverPids };
    const t0 = performance.now();
    if (msg.spec.kind === 'flow') {
      flow = new Flow(msg.spec);
      await flow.setup(msg.urls);
    } else if (msg.spec.kind === 'abuse') {
      abuse = new Abuse(msg.spec);
      await abuse.setup(msg.url);
    } else if (msg.spec.kind === 'idle') {
      idle = await pool(msg.spec.sessions, CONNECT_CONCURRENCY, () => openSession(msg.url));
    }
    emit({ ev: 'ready', setupMs: performance.now() - t0 });
  } else if (msg.cmd === 'start') {
    if (!current) throw new Error('start before setup');
    const { spec, url, serverPid, serverPids } = current;
    let result: LoadResult;
    if (spec.kind === 'flow') result = await flow!.run(serverPids);
    else if (spec.kind === 'abuse') result = await abuse!.run(serverPid);
    else if (spec.kind === 'fetch') result = await runFetch(spec, url, serverPid);
    else result = { kind: 'idle', sessions: idle.length };
    emit({ ev: 'result', result, errors, errorSamples: errorSamples.slice() });
  } else if (msg.cmd === 'teardown') {
    await flow?.close();
    await abuse?.close();
    await Promise.all(idle.map((s) => s.client.close()));
    flow = null;
    abuse = null;
    idle = [];
    current = null;
    emit({ ev: 'closed' });
  }
}

process.on('message', (msg: LoadCommand) => {
  handle(msg).catch((e: Error) => {
    emit({ ev: 'fatal', message: e.message, errors, errorSamples: errorSamples.slice() });
  });
});
process.on('disconnect', () => process.exit(0));
