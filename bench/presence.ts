// Presence benchmark (standalone; docs/protocol.md §17): N sessions in one scope, each moving a
// cursor H times a second, next to a changeset fan-out (one writer; the same N sessions read, and
// P probe sessions without presence).
//
//   node --import tsx bench/presence.ts [--sessions 100] [--hz 30] [--writes 200] [--seconds 10]
//     [--probes 5] [--rounds 2] [--cpu-prof DIR]
//
// Three processes, so that each one's CPU is its own: the server (this file with --server), the
// N sessions (--load: they send the cursors and read everything), and this one (the writer, the
// probes, the clock of the windows, and the server's CPU from /proc). A changeset carries its send
// time (epoch ms, one clock for every process of the machine) and each reader records its fan-out
// latency: the N sessions' includes the time their busy process takes to read the presence
// messages; the probes', in a quiet process and without presence, is the server's alone.
// Windows of equal length, in one run: idle (pings only) and presence alone (cursors, no
// changesets), whose difference is the server's CPU per delivered presence update; then
// alternating, a baseline (changesets only) first and last and a presence window (changesets and
// cursors) between each two: the fan-out's p50/p99 in each, with the ratios presence / baseline,
// and the CPU presence adds next to the changesets.
import { type ChildProcess, fork } from 'node:child_process';
import { parseArgs } from 'node:util';
import WebSocket from 'ws';
import { Histogram } from './lib/histogram.js';
import { cpuSeconds } from './lib/proc.js';

const SHAPES = 100;
const epochNow = () => performance.timeOrigin + performance.now();

// ---- the server -----------------------------------------------------------------------------------

async function serve(): Promise<void> {
  const { Canvas, Shape } = await import('../demo/models.js');
  const { Scope } = await import('../src/scope/index.js');
  const { createServer } = await import('../src/server/index.js');
  const canvas = new Canvas();
  const shapes = [];
  for (let i = 0; i < SHAPES; i++) {
    const s = new Shape();
    s.assign({ x: i, y: i, width: 10, height: 10, type: i % 6 });
    shapes.push(s);
  }
  canvas.assign({ name: 'Presence bench', shapes });
  const scope = new Scope({ name: 'Canvas' });
  scope.setRoot(canvas);
  // Generous inbound rates: the load is the subject here, not the per-session limits.
  const server = await createServer({
    port: 0,
    scopes: [scope],
    sessionLimits: { messages: { perSecond: 100_000, burst: 100_000 } },
  });
  process.send!({ port: server.port });
  process.on('message', (m: { stop?: boolean }) => {
    if (m.stop) void server.close().then(() => process.exit(0));
  });
}

// ---- a minimal protocol session -------------------------------------------------------------------

interface Wire {
  type: string;
  index: number;
  fragments?: { uuid: string; clsName: string; properties: Record<string, unknown> }[];
}

/** What the sessions of the load process count; reset at each window. */
const counts = { presenceMessages: 0, presenceEntries: 0, syncs: 0, gaps: 0 };
let fanout = new Histogram();

/** Occurrences of `needle` in `text`. */
function occurrences(text: string, needle: string): number {
  let n = 0;
  for (let i = text.indexOf(needle); i >= 0; i = text.indexOf(needle, i + needle.length)) n++;
  return n;
}

class BenchSession {
  readonly ws: WebSocket;
  lastIndex = 0;
  state: Wire | null = null;
  #waiting: ((m: Wire) => boolean)[] = [];
  #ack: NodeJS.Timeout | null = null;

  constructor(ws: WebSocket) {
    this.ws = ws;
    ws.on('message', (data: Buffer) => this.#frame(data.toString()));
  }

  static async open(url: string, presence: boolean): Promise<BenchSession> {
    const ws = new WebSocket(url, { perMessageDeflate: false });
    await new Promise((resolve, reject) => {
      ws.once('open', resolve);
      ws.once('error', reject);
    });
    const s = new BenchSession(ws);
    const reply = s.#next((m) => m.type === 'SessionCreateReply');
    s.send({
      type: 'SessionCreate',
      index: 0,
      version: '0.2.0',
      params: {},
      ...(presence ? { extensions: { presence: 1 } } : {}),
    });
    await reply;
    const state = s.#next((m) => m.type === 'ScopeState');
    s.send({ type: 'ScopeFetch', index: 1, name: 'Canvas', params: {} });
    s.state = await state;
    s.#ack = setInterval(
      () => s.send({ type: 'Ping', index: 0, ack: s.lastIndex, resendMissing: false }),
      250,
    );
    return s;
  }

  send(message: object): void {
    if (this.ws.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(message));
  }

  close(): void {
    if (this.#ack) clearInterval(this.#ack);
    this.ws.terminate();
  }

  #next(pred: (m: Wire) => boolean): Promise<Wire> {
    return new Promise((resolve) => {
      this.#waiting.push((m) => {
        if (!pred(m)) return false;
        resolve(m);
        return true;
      });
    });
  }

  #frame(text: string): void {
    const at = epochNow();
    // Presence entries are counted, not parsed: the load process must not be what limits the run.
    const presence = occurrences(text, '"type":"Presence"');
    if (presence > 0) {
      counts.presenceMessages += presence;
      counts.presenceEntries += occurrences(text, '{"session":');
    }
    if (presence > 0 && !text.includes('"type":"S')) return; // nothing indexed in it
    for (const m of JSON.parse(text) as Wire[]) {
      if (m.index !== 0) {
        if (m.index !== this.lastIndex + 1) counts.gaps++;
        this.lastIndex = m.index;
      }
      if (m.type === 'ScopeSync') {
        counts.syncs++;
        const sent = m.fragments?.[0]?.properties.y;
        if (typeof sent === 'number') fanout.record(at - sent);
      }
      if (this.#waiting.length > 0) this.#waiting = this.#waiting.filter((w) => !w(m));
    }
  }
}

// ---- the load process: N sessions, their cursors, their readings ---------------------------------

type LoadCommand = { start: { presence: boolean; hz: number } } | { stop: true } | { exit: true };

interface LoadReport {
  presenceSent: number;
  presenceMessages: number;
  presenceEntries: number;
  syncs: number;
  gaps: number;
  p50: number;
  p99: number;
  cpu: number;
}

async function load(url: string, sessions: number): Promise<void> {
  const readers: BenchSession[] = [];
  for (let i = 0; i < sessions; i++) readers.push(await BenchSession.open(url, true));
  let timers: NodeJS.Timeout[] = [];
  let presenceSent = 0;
  let cpu0 = 0;
  process.on('message', async (m: LoadCommand) => {
    if ('start' in m) {
      counts.presenceMessages = 0;
      counts.presenceEntries = 0;
      counts.syncs = 0;
      counts.gaps = 0;
      fanout = new Histogram();
      presenceSent = 0;
      cpu0 = process.cpuUsage().user + process.cpuUsage().system;
      if (m.start.presence) {
        // One 5 ms tick sends every cursor that is due (a hundred timers drift under load); the
        // first moves are staggered over one period, so that they do not all go in one tick.
        const period = 1000 / m.start.hz;
        const t0 = performance.now();
        const cursors = readers.map((r, i) => ({
          r,
          i,
          due: t0 + Math.random() * period,
          x: Math.random() * 1000,
          y: Math.random() * 700,
        }));
        timers.push(
          setInterval(() => {
            const now = performance.now();
            for (const c of cursors) {
              for (; c.due <= now; c.due += period) {
                c.x += Math.random() * 10 - 5;
                c.y += Math.random() * 10 - 5;
                presenceSent++;
                c.r.send({
                  type: 'Presence',
                  index: 0,
                  scopeIndex: 0,
                  state: {
                    name: `user ${c.i}`,
                    color: c.i % 6,
                    cursor: { x: Math.round(c.x), y: Math.round(c.y) },
                    selection: null,
                  },
                });
              }
            }
          }, 5),
        );
      }
      process.send!({ started: true });
    } else if ('stop' in m) {
      for (const t of timers) clearInterval(t);
      timers = [];
      await new Promise((r) => setTimeout(r, 500)); // late deliveries of the window still count
      const report: LoadReport = {
        presenceSent,
        ...counts,
        p50: fanout.quantile(0.5),
        p99: fanout.quantile(0.99),
        cpu: (process.cpuUsage().user + process.cpuUsage().system - cpu0) / 1e6,
      };
      process.send!(report);
    } else {
      for (const r of readers) r.close();
      process.exit(0);
    }
  });
  process.send!({ ready: true });
}

// ---- the run --------------------------------------------------------------------------------------

function child(args: string[], execArgv: string[] = []): ChildProcess {
  return fork(__filename, args, {
    execArgv: ['--import', 'tsx', ...execArgv],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
}

function next<T>(proc: ChildProcess): Promise<T> {
  return new Promise((resolve) => proc.once('message', (m: T) => resolve(m)));
}

interface Window extends LoadReport {
  name: string;
  seconds: number;
  serverCpu: number;
  writes: number;
  /** The fan-out latency of the probes (no presence, in this process). */
  probeP50: number;
  probeP99: number;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      server: { type: 'boolean', default: false },
      load: { type: 'string' },
      sessions: { type: 'string', default: '100' },
      hz: { type: 'string', default: '30' },
      writes: { type: 'string', default: '200' },
      seconds: { type: 'string', default: '10' },
      probes: { type: 'string', default: '5' },
      rounds: { type: 'string', default: '2' },
      'cpu-prof': { type: 'string' },
    },
  });
  const sessions = Number(values.sessions);
  if (values.server) return serve();
  if (values.load !== undefined) return load(values.load, sessions);
  const hz = Number(values.hz);
  const writes = Number(values.writes);
  const seconds = Number(values.seconds);
  const rounds = Number(values.rounds);

  // --cpu-prof DIR: a V8 profile of the server (summarise it with bench/profile-top.ts).
  const prof = values['cpu-prof'];
  const server = child(['--server'], prof === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${prof}`]);
  const { port } = await next<{ port: number }>(server);
  const url = `ws://127.0.0.1:${port}/`;
  const loader = child(['--load', url, '--sessions', String(sessions)]);
  await next(loader);
  const writer = await BenchSession.open(url, false);
  const probes: BenchSession[] = [];
  for (let i = 0; i < Number(values.probes); i++) probes.push(await BenchSession.open(url, false));
  const target = writer.state!.fragments!.find((f) => f.clsName === 'Shape')!.uuid;
  console.log(
    `${sessions} sessions with presence, 1 writer; ${writes} changesets/s; cursors at ${hz}/s each; ${seconds} s windows`,
  );

  let seq = 0;
  let writerIndex = 1;
  const runWindow = async (name: string, presence: boolean, changesets = true): Promise<Window> => {
    await new Promise((r) => setTimeout(r, 1000)); // the previous window drains
    loader.send({ start: { presence, hz } } satisfies LoadCommand);
    await next(loader);
    fanout = new Histogram(); // the probes'
    counts.gaps = 0;
    const cpu0 = cpuSeconds(server.pid!);
    const t0 = performance.now();
    // The writer: `writes` changesets a second, sent in 5 ms ticks, catching up when a tick is
    // late; each carries its send time.
    let sent = 0;
    const tick = setInterval(() => {
      if (!changesets) return;
      const due = Math.floor(((performance.now() - t0) / 1000) * writes) - sent;
      for (let k = 0; k < due; k++) {
        sent++;
        writer.send({
          type: 'ScopeSync',
          index: ++writerIndex,
          scopeIndex: 0,
          atomic: false,
          fragments: [
            { type: 'change', uuid: target, clsName: 'Shape', properties: { x: ++seq, y: epochNow() } },
          ],
        });
      }
    }, 5);
    await new Promise((r) => setTimeout(r, seconds * 1000));
    clearInterval(tick);
    const elapsed = (performance.now() - t0) / 1000;
    const serverCpu = cpuSeconds(server.pid!) - cpu0;
    loader.send({ stop: true } satisfies LoadCommand);
    const report = await next<LoadReport>(loader);
    return {
      name,
      seconds: elapsed,
      serverCpu,
      writes: sent,
      ...report,
      probeP50: fanout.quantile(0.5),
      probeP99: fanout.quantile(0.99),
      gaps: report.gaps + counts.gaps,
    };
  };

  // Baseline and presence windows alternate, a baseline first and last, so that a machine whose
  // load drifts during the run weighs on both alike.
  // First the cost of presence alone: an idle window (pings only) and one with cursors only.
  const idle = await runWindow('idle', false, false);
  const alone = await runWindow('presence only', true, false);
  const windows: Window[] = [await runWindow('baseline 1', false)];
  for (let r = 1; r <= rounds; r++) {
    windows.push(await runWindow(`presence ${r}`, true));
    windows.push(await runWindow(`baseline ${r + 1}`, false));
  }
  writer.close();
  for (const p of probes) p.close();
  loader.send({ exit: true } satisfies LoadCommand);
  server.send({ stop: true });

  const f = (n: number, d = 2) => (Number.isFinite(n) ? n.toFixed(d) : '–');
  console.log('');
  console.log(
    '| window | server CPU (s) | % of a core | changesets sent | ScopeSyncs delivered | fan-out p50 / p99, presence sessions (ms) | fan-out p50 / p99, probes (ms) | cursor updates sent | Presence messages delivered | presence entries delivered | load process CPU (s) | index gaps |',
  );
  console.log('|---|---|---|---|---|---|---|---|---|---|---|---|');
  for (const w of [idle, alone, ...windows]) {
    console.log(
      `| ${w.name} | ${f(w.serverCpu)} | ${f((w.serverCpu / w.seconds) * 100, 0)} | ${w.writes} | ${w.syncs} | ${f(w.p50)} / ${f(w.p99)} | ${f(w.probeP50)} / ${f(w.probeP99)} | ${w.presenceSent} | ${w.presenceMessages} | ${w.presenceEntries} | ${f(w.cpu)} | ${w.gaps} |`,
    );
  }
  // Sums over the windows of a kind, and medians of their latencies.
  const base = windows.filter((w) => w.name.startsWith('baseline'));
  const pres = windows.filter((w) => w.name.startsWith('presence'));
  const median = (list: number[]) => {
    const sorted = [...list].sort((a, b) => a - b);
    const m = sorted.length >> 1;
    return sorted.length % 2 ? sorted[m]! : (sorted[m - 1]! + sorted[m]!) / 2;
  };
  type Key = 'serverCpu' | 'p50' | 'p99' | 'probeP50' | 'probeP99';
  const mean = (k: Key) => base.reduce((a, w) => a + w[k], 0) / base.length;
  const med = (list: Window[], k: Key) => median(list.map((w) => w[k]));
  const sum = (k: 'serverCpu' | 'presenceEntries' | 'presenceSent') => pres.reduce((a, w) => a + w[k], 0);
  const p = {
    serverCpu: sum('serverCpu') / pres.length,
    presenceEntries: sum('presenceEntries') / pres.length,
    presenceSent: sum('presenceSent') / pres.length,
  };
  const extra = p.serverCpu - mean('serverCpu');
  const own = alone.serverCpu - idle.serverCpu;
  console.log('');
  console.log(
    `server CPU of presence alone: ${f(own)} s for ${alone.presenceEntries} delivered updates = ${f((own / alone.presenceEntries) * 1e6)} µs per delivered update (${f((own / alone.presenceSent) * 1e6, 1)} µs per update sent); ${f((own / alone.seconds) * 100, 1)} % of a core`,
  );
  console.log(
    `server CPU added by presence next to the changesets (mean per window): ${f(extra)} s for ${f(p.presenceEntries, 0)} delivered updates = ${f((extra / p.presenceEntries) * 1e6)} µs per delivered update (${f((extra / p.presenceSent) * 1e6, 1)} µs per update sent)`,
  );
  console.log(
    `coalescing: ${f(p.presenceEntries / (p.presenceSent * (sessions - 1)))} deliveries per update sent and other session (the server sends at most its rate per session)`,
  );
  console.log(
    `ratios presence / baseline: server CPU ${f(p.serverCpu / mean('serverCpu'))} (means); fan-out p99 ${f(med(pres, 'p99') / med(base, 'p99'))} (presence sessions), ${f(med(pres, 'probeP99') / med(base, 'probeP99'))} (probes); p50 ${f(med(pres, 'p50') / med(base, 'p50'))}, ${f(med(pres, 'probeP50') / med(base, 'probeP50'))} (medians over the windows)`,
  );
  setTimeout(() => process.exit(0), 500).unref();
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
