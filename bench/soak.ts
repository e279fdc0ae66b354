// Soak and scale test of one server process, loopback only, bounded in time, stopping by itself.
//
//   npm run soak                                    10,000 sessions, 100 rooms, 10 min per phase
//   npm run soak -- --minutes 1 --sessions 2000     a short run
//   npm run soak -- --phases 2 --store sqlite       phase 2 only, durable rooms (SQLite, temp dir)
//
// Every flag has an environment twin (SOAK_MINUTES, SOAK_SESSIONS, …); `--help` lists them.
//
// Processes: this file is the coordinator, and also (SOAK_ROLE=worker) each of the load-generator
// workers it forks; bench/soak-server.ts is the server (a fresh child per phase). Rooms are split
// over the workers (room r → worker r mod W), so a room's writer and readers share one process
// and one clock: a fragment's send time is directly comparable with its receive time.
//
// Per phase: the long-lived sessions connect and fetch their room (the ramp), then for `minutes`:
// one writer per room changes its own Shape once a second (`y` = sequence number, `width` = send
// time), every other session of the room receives it; sessions join and leave continuously
// (churn); every session acknowledges with Ping{ack} every 10 s. Phase 2 adds drops: once a
// minute a tenth of the long-lived sessions (writers included, a different tenth each time) lose
// their socket (terminate, no close frame) and resume 1–5 s later with their session token and
// Ping{resendMissing: true}; a writer queues the changes it makes meanwhile and resends what the
// server had not processed. At the end the writers stop and every session must hold every change
// of its room since its fetch, each exactly once and in order.
//
// The coordinator samples the server's VmRSS (/proc/<pid>/status) every few seconds and its
// session counts over IPC, and prints (and writes to bench/results/soak-<date>.md) a table.
import { type ChildProcess, fork } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import WebSocket from 'ws';
import { openSocket, type ServerMessage, type WireFragment } from './lib/client.js';
import { cpuSeconds, vmBytes } from './lib/proc.js';
import { Waiters } from './lib/waiters.js';

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const wallNow = (): number => performance.timeOrigin + performance.now();
const rand = (a: number, b: number): number => a + Math.random() * (b - a);
const MiB = 1024 * 1024;

// ---- a serializable log-bucketed histogram (same scheme as lib/histogram.ts) ---------------------

const GROWTH = 1.01;
const LOG_GROWTH = Math.log(GROWTH);
const MIN_MS = 0.001;
const BUCKETS = 2048;

interface HistData {
  buckets: [number, number][];
  count: number;
  max: number;
  sum: number;
}

class Hist {
  counts = new Float64Array(BUCKETS);
  count = 0;
  max = 0;
  sum = 0;

  record(ms: number): void {
    if (!(ms >= 0)) ms = 0;
    const i = ms <= MIN_MS ? 0 : Math.min(BUCKETS - 1, 1 + Math.floor(Math.log(ms / MIN_MS) / LOG_GROWTH));
    this.counts[i]! += 1;
    this.count++;
    this.sum += ms;
    if (ms > this.max) this.max = ms;
  }

  data(): HistData {
    const buckets: [number, number][] = [];
    for (let i = 0; i < BUCKETS; i++) if (this.counts[i]) buckets.push([i, this.counts[i]!]);
    return { buckets, count: this.count, max: this.max, sum: this.sum };
  }

  add(d: HistData): void {
    for (const [i, c] of d.buckets) this.counts[i]! += c;
    this.count += d.count;
    this.sum += d.sum;
    if (d.max > this.max) this.max = d.max;
  }

  quantile(q: number): number {
    if (this.count === 0) return Number.NaN;
    const rank = Math.max(1, Math.ceil(q * this.count));
    let seen = 0;
    for (let i = 0; i < BUCKETS; i++) {
      seen += this.counts[i]!;
      if (seen >= rank) return Math.min(this.max, i === 0 ? MIN_MS : MIN_MS * GROWTH ** i);
    }
    return this.max;
  }
}

// ---- configuration ----------------------------------------------------------------------------------

interface Options {
  sessions: number;
  rooms: number;
  minutes: number;
  phases: number[];
  workers: number;
  writersPerRoom: number;
  rate: number;
  churn: number;
  churnLife: [number, number];
  dropFraction: number;
  dropEvery: number;
  sessionExpiry: number;
  store: 'none' | 'sqlite';
  sample: number;
  ackInterval: number;
  out: string;
}

/** What one worker does in one phase. */
interface WorkerSetup {
  type: 'setup';
  phase: number;
  port: number;
  worker: number;
  rooms: number[];
  /** Long-lived sessions of each room (same order as `rooms`), writers included. */
  sessionsPerRoom: number[];
  writersPerRoom: number;
  /** Changes per second per writer. */
  rate: number;
  ackMs: number;
  /** This worker's share of the joins per second. */
  churnPerSec: number;
  churnLifeMs: [number, number];
  dropFraction: number;
  dropEveryMs: number;
  dropSpreadMs: number;
  reconnectDelayMs: [number, number];
  connectConcurrency: number;
  drainMs: number;
}

interface Progress {
  type: 'progress';
  delivered: number;
  sent: number;
  errors: number;
  open: number;
  reconnects: number;
  churnJoined: number;
}

/** What a phase counts: summed over the workers, and reported per phase. */
interface Counts {
  changesMade: number;
  changesAcked: number;
  delivered: number;
  expected: number;
  resentDeliveries: number;
  duplicateIndices: number;
  drops: number;
  reconnects: number;
  churnJoined: number;
  churnLeft: number;
}

interface WorkerResult extends Counts {
  type: 'result';
  worker: number;
  fanout: HistData;
  fanoutResent: HistData;
  ack: HistData;
  incompleteSessions: number;
  missingDeliveries: number;
  errors: Record<string, number>;
  errorSamples: string[];
  cpuSeconds: number;
  drainMs: number;
}

type WorkerEvent =
  | { type: 'ready'; connected: number; ms: number }
  | Progress
  | WorkerResult
  | { type: 'failed'; reason: string };

type ServerEvent =
  | { type: 'ready'; port: number }
  | { type: 'failed'; reason: string }
  | {
      type: 'stats';
      sessions: number;
      detached: number;
      pendingBytes: number;
      unacknowledged: number;
      loadedScopes: number;
      heapUsed: number;
      external: number;
      arrayBuffers: number;
      loopP99: number;
      loopMax: number;
      gcMax: number;
      gcTotal: number;
      stalls: { endedAt: number; ms: number }[];
    }
  | { type: 'gc'; heapUsed: number; rss: number };

// =====================================================================================================
// Worker: holds a share of the clients.
// =====================================================================================================

interface Pending {
  index: number;
  seq: number;
  sentAt: number;
  /** Sent more than once (after a resume): no ack latency recorded. */
  resent: boolean;
}

const MAX_ERROR_SAMPLES = 20;

class WorkerState {
  errors: Record<string, number> = {};
  errorSamples: string[] = [];
  fanout = new Hist();
  fanoutResent = new Hist();
  ack = new Hist();
  delivered = 0;
  resentDeliveries = 0;
  duplicateIndices = 0;
  changesMade = 0;
  changesAcked = 0;
  drops = 0;
  reconnects = 0;
  churnJoined = 0;
  churnLeft = 0;

  fail(kind: string, message: string): void {
    this.errors[kind] = (this.errors[kind] ?? 0) + 1;
    if (this.errorSamples.length < MAX_ERROR_SAMPLES) this.errorSamples.push(`${kind}: ${message}`);
  }

  get errorCount(): number {
    let n = 0;
    for (const k in this.errors) n += this.errors[k]!;
    return n;
  }
}

const W = new WorkerState();
let addressCounter = 0;

/** One session: a socket that may be dropped and resumed, its indices, and what it has seen. */
class SoakClient {
  ws: WebSocket | null = null;
  readonly port: number;
  readonly room: number;
  readonly localAddress: string;
  readonly label: string;
  token = '';
  scopeIndex = -1;
  lastServerIndex = 0;
  nextIndex = 1;
  connected = false;
  ended = false;
  /** Writer: the Shape it changes, its sequence number and its changesets not yet answered. */
  shapeUUID: string | null = null;
  seq = 0;
  pending: Pending[] = [];
  /** Per writer Shape of the room: the last sequence number received and the one at fetch. */
  lastSeq = new Map<string, number>();
  initialSeq = new Map<string, number>();
  #ackTimer: NodeJS.Timeout | null = null;
  #intentional = new WeakSet<WebSocket>();
  #waiters = new Waiters<ServerMessage>();

  constructor(port: number, room: number, worker: number, label: string) {
    this.port = port;
    this.room = room;
    this.label = label;
    // Spread the sockets over many loopback source addresses: the server rate-limits new
    // connections per address (sessionRateLimit, 100/s, burst 1000), as it should, and 10,000
    // real clients would not share one address.
    const a = addressCounter++;
    this.localAddress = `127.${1 + worker}.${(a >> 8) & 255}.${1 + (a % 250)}`;
  }

  async #open(token?: string): Promise<WebSocket> {
    const ws = await openSocket(`ws://127.0.0.1:${this.port}/`, {
      localAddress: this.localAddress,
      timeoutMs: 30_000,
      headers: token ? { 'X-Jetstream-SessionToken': token } : {},
    });
    ws.on('message', (data: Buffer) => {
      if (ws === this.ws) this.#onFrame(data);
    });
    ws.on('close', (code, reason) => {
      if (ws === this.ws) this.connected = false;
      if (!this.#intentional.has(ws) && ws === this.ws && !this.ended) {
        W.fail('unexpected-close', `${this.label}: ${code} ${reason.toString()}`);
      }
    });
    ws.on('error', (e) => {
      if (ws === this.ws && !this.#intentional.has(ws)) W.fail('socket-error', `${this.label}: ${e.message}`);
    });
    return ws;
  }

  send(message: object): void {
    if (this.connected && this.ws?.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(message));
  }

  /** Connect, SessionCreate, ScopeFetch of the room. */
  async join(ackMs: number): Promise<void> {
    this.ws = await this.#open();
    this.connected = true;
    const created = this.#await((m) => m.type === 'SessionCreateReply', 'SessionCreateReply');
    this.ws.send(JSON.stringify({ type: 'SessionCreate', index: 0, version: '0.2.0', params: {} }));
    const reply = await created;
    if (reply.error || !reply.sessionToken) throw new Error(`session denied: ${reply.error?.message}`);
    this.token = reply.sessionToken;
    const index = this.nextIndex++;
    let scopeIndex = -1;
    const state = this.#await((m) => {
      if (m.type === 'ScopeFetchReply' && m.replyTo === index) {
        if (m.error) throw new Error(`fetch denied: ${m.error.message}`);
        scopeIndex = m.scopeIndex ?? -1;
        return false;
      }
      if (m.type !== 'ScopeState' || scopeIndex < 0 || m.scopeIndex !== scopeIndex) return false;
      // Applied here, synchronously: changes made after the state may follow in the same frame
      // (a join while the room's writer is active), and must find the state in place.
      this.scopeIndex = scopeIndex;
      for (const f of m.fragments ?? []) {
        if (f.type === 'add' && f.clsName === 'Shape') {
          const y = Number(f.properties?.y ?? 0);
          this.lastSeq.set(f.uuid, y);
          this.initialSeq.set(f.uuid, y);
        }
      }
      return true;
    }, 'ScopeState');
    this.send({ type: 'ScopeFetch', index, name: `room-${this.room}`, params: {} });
    await state;
    this.#startAcks(ackMs);
  }

  /** The ordered Shape UUIDs of the room, as the state listed them. */
  get shapes(): string[] {
    return [...this.initialSeq.keys()];
  }

  #startAcks(ackMs: number): void {
    // Ping{ack} every `ackMs`, jittered so that thousands of clients do not ping in lockstep. It is
    // also the keep-alive: sent even when nothing new arrived.
    const start = setTimeout(() => {
      this.#ackTimer = setInterval(() => {
        this.send({ type: 'Ping', index: 0, ack: this.lastServerIndex, resendMissing: false });
      }, ackMs);
    }, Math.random() * ackMs);
    this.#ackTimer = start;
  }

  #stopAcks(): void {
    if (this.#ackTimer) {
      clearTimeout(this.#ackTimer);
      clearInterval(this.#ackTimer);
    }
    this.#ackTimer = null;
  }

  /** Writer: one change of its Shape; queued while the socket is gone, sent on resume. */
  change(): void {
    const p: Pending = { index: this.nextIndex++, seq: ++this.seq, sentAt: 0, resent: false };
    this.pending.push(p);
    W.changesMade++;
    if (this.connected) this.#sendChange(p);
  }

  #sendChange(p: Pending): void {
    if (p.sentAt !== 0) p.resent = true;
    p.sentAt = wallNow();
    this.send({
      type: 'ScopeSync',
      index: p.index,
      scopeIndex: this.scopeIndex,
      atomic: false,
      fragments: [
        { type: 'change', uuid: this.shapeUUID, clsName: 'Shape', properties: { y: p.seq, width: p.sentAt } },
      ],
    });
  }

  /** Phase 2: the socket goes away without a close frame, as on a network failure. */
  drop(): void {
    if (!this.ws || this.ended) return;
    this.#intentional.add(this.ws);
    this.connected = false;
    this.ws.terminate();
    W.drops++;
  }

  /** Reconnect with the session token and ask for everything not acknowledged (protocol.md §4.4). */
  async resume(): Promise<void> {
    const ws = await this.#open(this.token);
    this.ws = ws;
    const answered = this.#await((m) => m.type === 'Ping' && m.resendMissing === true, 'resend Ping', 15_000);
    ws.send(JSON.stringify({ type: 'Ping', index: 0, ack: this.lastServerIndex, resendMissing: true }));
    await answered;
    W.reconnects++;
  }

  /** Leaves for good (churn): a normal close. The server keeps the session until it expires. */
  async leave(): Promise<void> {
    this.ended = true;
    this.#stopAcks();
    const ws = this.ws;
    if (!ws) return;
    this.#intentional.add(ws);
    this.connected = false;
    if (ws.readyState === WebSocket.CLOSED) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        ws.terminate();
        resolve();
      }, 2000);
      ws.once('close', () => {
        clearTimeout(timer);
        resolve();
      });
      ws.close(1000);
    });
  }

  /** End of the run: no checks any more. */
  kill(): void {
    this.ended = true;
    this.#stopAcks();
    if (this.ws) {
      this.#intentional.add(this.ws);
      this.ws.terminate();
    }
  }

  #await(match: (m: ServerMessage) => boolean, what: string, timeoutMs = 60_000): Promise<ServerMessage> {
    return this.#waiters.wait(match, what, timeoutMs);
  }

  #onFrame(data: Buffer): void {
    const at = wallNow();
    let frame: unknown;
    try {
      frame = JSON.parse(data.toString());
    } catch {
      W.fail('protocol', `${this.label}: frame is not JSON`);
      return;
    }
    if (!Array.isArray(frame)) {
      W.fail('protocol', `${this.label}: frame is not an array`);
      return;
    }
    let resendFrame = false;
    for (const m of frame as ServerMessage[]) {
      this.#waiters.offer(m);
      if (m.type === 'Ping') {
        if (m.resendMissing) {
          resendFrame = true;
          // Only now may new changes go out: sent earlier, they would reach the server before the
          // resent older ones, which it would then drop as already seen (protocol.md §3.1).
          this.connected = true;
          // Resend our own changesets the server has not seen, in order (protocol.md §3.4).
          const seen = m.ack ?? 0;
          for (const p of this.pending) if (p.index > seen) this.#sendChange(p);
        }
        continue;
      }
      if (m.index !== 0) {
        if (m.index <= this.lastServerIndex) {
          // A message we already had, sent again in a resend: dropped, as a client must.
          if (resendFrame) W.duplicateIndices++;
          else W.fail('protocol', `${this.label}: index ${m.index} repeated outside a resend`);
          continue;
        }
        if (m.index !== this.lastServerIndex + 1) {
          W.fail('index-gap', `${this.label}: ${this.lastServerIndex} → ${m.index}`);
        }
        this.lastServerIndex = m.index;
      }
      if (m.type === 'ScopeSync') {
        for (const f of m.fragments ?? []) this.#onFragment(f, at, resendFrame);
      } else if (m.type === 'ScopeSyncReply') {
        this.#onReply(m, at, resendFrame);
      }
    }
  }

  #onFragment(f: WireFragment, at: number, resent: boolean): void {
    const y = f.properties?.y;
    const sentAt = f.properties?.width;
    const last = this.lastSeq.get(f.uuid);
    if (f.type !== 'change' || typeof y !== 'number' || typeof sentAt !== 'number') {
      W.fail('protocol', `${this.label}: unexpected fragment ${JSON.stringify(f).slice(0, 120)}`);
      return;
    }
    if (last === undefined) {
      W.fail('protocol', `${this.label}: change ${y} of ${f.uuid.slice(0, 8)}, an object not in the state`);
      return;
    }
    if (f.uuid === this.shapeUUID) W.fail('echo', `${this.label}: own change echoed back`);
    if (y !== last + 1) {
      W.fail(
        y <= last ? 'duplicate' : 'lost',
        `${this.label}: change ${y} of ${f.uuid.slice(0, 8)} after ${last}${resent ? ' (resend)' : ''}`,
      );
    }
    if (y > last) this.lastSeq.set(f.uuid, y);
    W.delivered++;
    if (resent) {
      W.resentDeliveries++;
      W.fanoutResent.record(at - sentAt);
    } else {
      W.fanout.record(at - sentAt);
    }
  }

  #onReply(m: ServerMessage, at: number, resent: boolean): void {
    const first = this.pending[0];
    if (!first || first.index !== m.replyTo) {
      W.fail('protocol', `${this.label}: reply to ${m.replyTo}, expected ${first?.index ?? 'none'}`);
      this.pending = this.pending.filter((p) => p.index !== m.replyTo);
      return;
    }
    this.pending.shift();
    for (const r of m.fragmentReplies ?? []) {
      if (r.error) W.fail('rejected', `${this.label}: ${r.error.message}`);
    }
    W.changesAcked++;
    if (!resent && !first.resent) W.ack.record(at - first.sentAt);
  }
}

/** Runs `fn` for 0..n-1 with at most `limit` running at once. */
async function pool(n: number, limit: number, fn: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  const run = async () => {
    while (next < n) await fn(next++);
  };
  await Promise.all(Array.from({ length: Math.min(limit, n) }, run));
}

async function worker(): Promise<void> {
  let cfg: WorkerSetup | null = null;
  const longLived: SoakClient[] = [];
  const writers: SoakClient[] = [];
  const churn = new Set<SoakClient>();
  const inFlight = new Set<Promise<void>>();
  const timers: NodeJS.Timeout[] = [];
  let running = false;
  let cpu0 = 0;
  let sent = 0;

  const track = (p: Promise<void>): void => {
    inFlight.add(p);
    void p.finally(() => inFlight.delete(p));
  };
  const emit = (e: WorkerEvent): void => {
    process.send?.(e);
  };

  async function setup(c: WorkerSetup): Promise<void> {
    cfg = c;
    const t0 = performance.now();
    const plan: { room: number; writer: number }[] = [];
    c.rooms.forEach((room, i) => {
      const n = c.sessionsPerRoom[i]!;
      for (let k = 0; k < n; k++) plan.push({ room, writer: k < c.writersPerRoom ? k : -1 });
    });
    let failures = 0;
    await pool(plan.length, c.connectConcurrency, async (i) => {
      const { room, writer } = plan[i]!;
      const client = new SoakClient(c.port, room, c.worker, `w${c.worker}/room-${room}/${i}`);
      try {
        await client.join(c.ackMs);
      } catch (e) {
        failures++;
        W.fail('connect', `${client.label}: ${(e as Error).message}`);
        client.kill();
        return;
      }
      if (writer >= 0) {
        const uuid = client.shapes[writer];
        if (!uuid) {
          W.fail('setup', `room-${room} has too few shapes for writer ${writer}`);
        } else {
          client.shapeUUID = uuid;
          client.seq = client.initialSeq.get(uuid) ?? 0;
          writers.push(client);
        }
      }
      longLived.push(client);
    });
    emit({ type: 'ready', connected: plan.length - failures, ms: performance.now() - t0 });
  }

  function joinOne(c: WorkerSetup): void {
    const room = c.rooms[Math.floor(Math.random() * c.rooms.length)]!;
    const client = new SoakClient(c.port, room, c.worker, `w${c.worker}/room-${room}/churn-${W.churnJoined}`);
    W.churnJoined++;
    churn.add(client);
    track(
      client.join(c.ackMs).then(
        () => {
          const t = setTimeout(
            () => {
              if (!running || client.ended) return;
              churn.delete(client);
              W.churnLeft++;
              track(client.leave());
            },
            rand(c.churnLifeMs[0], c.churnLifeMs[1]),
          );
          timers.push(t);
        },
        (e: Error) => {
          W.fail('connect', `${client.label}: ${e.message}`);
          churn.delete(client);
          client.kill();
        },
      ),
    );
  }

  function start(c: WorkerSetup): void {
    running = true;
    cpu0 = process.cpuUsage().user + process.cpuUsage().system;
    // Writers: `rate` changes per second each, phases spread at random.
    const period = 1000 / c.rate;
    for (const w of writers) {
      const t = setTimeout(() => {
        if (!running) return;
        w.change();
        sent++;
        const iv = setInterval(() => {
          if (!running) return;
          w.change();
          sent++;
        }, period);
        timers.push(iv);
      }, Math.random() * period);
      timers.push(t);
    }
    // Churn: joins at a steady rate, each session stays for a random while, then leaves.
    if (c.churnPerSec > 0) {
      timers.push(
        setInterval(() => {
          if (running) joinOne(c);
        }, 1000 / c.churnPerSec),
      );
    }
    // Drops (phase 2): every `dropEveryMs`, the next slice of the long-lived sessions.
    if (c.dropFraction > 0) {
      let cursor = 0;
      const dropRound = () => {
        if (!running) return;
        const n = Math.round(c.dropFraction * longLived.length);
        for (let k = 0; k < n; k++) {
          const client = longLived[cursor++ % longLived.length]!;
          const t = setTimeout(() => {
            if (!running || client.ended || !client.connected) return;
            client.drop();
            const back = rand(c.reconnectDelayMs[0], c.reconnectDelayMs[1]);
            const p = sleep(back)
              .then(() => client.resume())
              .catch((e: Error) => {
                W.fail('resume', `${client.label}: ${e.message}`);
                client.kill();
              });
            track(p);
          }, Math.random() * c.dropSpreadMs);
          timers.push(t);
        }
      };
      timers.push(setInterval(dropRound, c.dropEveryMs));
      timers.push(setTimeout(dropRound, Math.min(c.dropEveryMs, 10_000)));
    }
  }

  async function stop(c: WorkerSetup): Promise<void> {
    running = false;
    for (const t of timers) {
      clearTimeout(t);
      clearInterval(t);
    }
    const t0 = performance.now();
    // Resumes and joins under way finish first.
    while (inFlight.size > 0 && performance.now() - t0 < c.drainMs)
      await Promise.race([...inFlight, sleep(200)]);
    // Every changeset of every writer answered.
    while (writers.some((w) => !w.ended && w.pending.length > 0) && performance.now() - t0 < c.drainMs) {
      await sleep(100);
    }
    for (const w of writers) {
      if (!w.ended && w.pending.length > 0)
        W.fail('unanswered', `${w.label}: ${w.pending.length} changesets`);
    }
    // The final sequence number of every writer Shape; every session still there must reach it.
    const final = new Map<string, number>();
    for (const w of writers) if (w.shapeUUID) final.set(w.shapeUUID, w.seq);
    const sessions = [...longLived, ...churn].filter((s) => !s.ended && s.scopeIndex >= 0);
    const missing = (s: SoakClient): number => {
      let n = 0;
      for (const [uuid, last] of s.lastSeq) {
        if (uuid === s.shapeUUID) continue;
        const f = final.get(uuid);
        if (f !== undefined && last < f) n += f - last;
      }
      return n;
    };
    while (sessions.some((s) => missing(s) > 0) && performance.now() - t0 < c.drainMs) await sleep(200);
    let incomplete = 0;
    let missingDeliveries = 0;
    let expected = 0;
    for (const s of sessions) {
      const m = missing(s);
      if (m > 0) {
        incomplete++;
        missingDeliveries += m;
        W.fail('incomplete', `${s.label}: ${m} changes missing`);
      }
    }
    // Deliveries expected from the sessions still there (the ones that left were checked for
    // order and gaps while they lived).
    for (const s of sessions) {
      for (const [uuid, first] of s.initialSeq) {
        if (uuid === s.shapeUUID) continue;
        const f = final.get(uuid);
        if (f !== undefined) expected += f - first;
      }
    }
    const drainMs = performance.now() - t0;
    const cpu = (process.cpuUsage().user + process.cpuUsage().system - cpu0) / 1e6;
    emit({
      type: 'result',
      worker: c.worker,
      fanout: W.fanout.data(),
      fanoutResent: W.fanoutResent.data(),
      ack: W.ack.data(),
      changesMade: W.changesMade,
      changesAcked: W.changesAcked,
      delivered: W.delivered,
      expected,
      resentDeliveries: W.resentDeliveries,
      duplicateIndices: W.duplicateIndices,
      drops: W.drops,
      reconnects: W.reconnects,
      churnJoined: W.churnJoined,
      churnLeft: W.churnLeft,
      incompleteSessions: incomplete,
      missingDeliveries,
      errors: W.errors,
      errorSamples: W.errorSamples,
      cpuSeconds: cpu,
      drainMs,
    });
  }

  process.on('message', (msg: { type: string } & Partial<WorkerSetup>) => {
    const run = async () => {
      if (msg.type === 'setup') await setup(msg as WorkerSetup);
      else if (msg.type === 'start' && cfg) start(cfg);
      else if (msg.type === 'progress') {
        emit({
          type: 'progress',
          delivered: W.delivered,
          sent,
          errors: W.errorCount,
          open: longLived.filter((s) => s.connected).length + [...churn].filter((s) => s.connected).length,
          reconnects: W.reconnects,
          churnJoined: W.churnJoined,
        });
      } else if (msg.type === 'stop' && cfg) await stop(cfg);
      else if (msg.type === 'teardown') {
        for (const s of [...longLived, ...churn]) s.kill();
        setTimeout(() => process.exit(0), 500);
      }
    };
    run().catch((e: Error) => emit({ type: 'failed', reason: e.stack ?? e.message }));
  });
  process.on('disconnect', () => process.exit(0));
}

// =====================================================================================================
// Coordinator
// =====================================================================================================

/** A child process with typed messages, awaited by type. */
class Child<In extends object, Out extends { type: string }> {
  readonly proc: ChildProcess;
  #queue: Out[] = [];
  #waiters: { type: string; resolve: (m: Out) => void; reject: (e: Error) => void }[] = [];
  exited = false;
  #exit: Promise<void>;

  constructor(
    proc: ChildProcess,
    readonly name: string,
  ) {
    this.proc = proc;
    proc.on('message', (m: Out) => {
      if (m.type === 'failed') {
        const reason = (m as unknown as { reason: string }).reason;
        console.error(`${name} failed: ${reason}`);
        for (const w of this.#waiters.splice(0)) w.reject(new Error(`${name} failed: ${reason}`));
        return;
      }
      const i = this.#waiters.findIndex((w) => w.type === m.type);
      if (i >= 0) this.#waiters.splice(i, 1)[0]!.resolve(m);
      else this.#queue.push(m);
    });
    this.#exit = new Promise((resolve) =>
      proc.once('exit', (code, signal) => {
        this.exited = true;
        for (const w of this.#waiters.splice(0)) w.reject(new Error(`${name} exited (${code ?? signal})`));
        resolve();
      }),
    );
  }

  get pid(): number {
    return this.proc.pid ?? -1;
  }

  send(m: In): void {
    if (this.proc.connected) this.proc.send(m);
  }

  next<T extends Out['type']>(type: T, timeoutMs: number): Promise<Extract<Out, { type: T }>> {
    const i = this.#queue.findIndex((m) => m.type === type);
    if (i >= 0) return Promise.resolve(this.#queue.splice(i, 1)[0] as Extract<Out, { type: T }>);
    if (this.exited) return Promise.reject(new Error(`${this.name} has exited`));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiters = this.#waiters.filter((w) => w !== waiter);
        reject(new Error(`${this.name}: timed out after ${timeoutMs} ms waiting for ${type}`));
      }, timeoutMs);
      const waiter = {
        type,
        resolve: (m: Out) => {
          clearTimeout(timer);
          resolve(m as Extract<Out, { type: T }>);
        },
        reject: (e: Error) => {
          clearTimeout(timer);
          reject(e);
        },
      };
      this.#waiters.push(waiter);
    });
  }

  request<T extends Out['type']>(m: In, type: T, timeoutMs: number): Promise<Extract<Out, { type: T }>> {
    const p = this.next(type, timeoutMs);
    this.send(m);
    return p;
  }

  async stop(message: In | null, graceMs = 5000): Promise<void> {
    if (this.exited) return;
    if (message) this.send(message);
    const timer = setTimeout(() => this.proc.kill('SIGKILL'), graceMs);
    await this.#exit;
    clearTimeout(timer);
  }
}

/** The soft and hard limit on open files of this process. */
function fileLimits(): { soft: number; hard: number } {
  try {
    const line = readFileSync('/proc/self/limits', 'utf8')
      .split('\n')
      .find((l) => l.startsWith('Max open files'));
    const [soft, hard] = (line?.match(/(\d+|unlimited)\s+(\d+|unlimited)/)?.slice(1) ?? []).map((v) =>
      v === 'unlimited' ? Number.POSITIVE_INFINITY : Number(v),
    );
    if (soft !== undefined && hard !== undefined) return { soft, hard };
  } catch {
    // not Linux
  }
  return { soft: Number.NaN, hard: Number.NaN };
}

/**
 * Forks `file` with IPC, after checking that a process may open `nofile` files. (Node raises its
 * own soft limit to the hard limit at start-up, so the hard limit is what counts.)
 */
function forkWith(file: string, execArgv: string[], env: NodeJS.ProcessEnv, nofile: number): ChildProcess {
  const { hard } = fileLimits();
  if (hard < nofile) {
    throw new Error(
      `needs ${nofile} open files per process, but the hard limit is ${hard}: raise it (ulimit -Hn as root, ` +
        `/etc/security/limits.conf, the container's nofile ulimit) or run fewer --sessions`,
    );
  }
  return fork(file, [], {
    execArgv,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
}

interface Sample {
  t: number;
  rss: number;
  sessions: number;
  detached: number;
  pendingBytes: number;
  heapUsed: number;
  /** Memory outside the JS heap that V8 knows of (Buffers included), and Buffers alone. */
  external: number;
  arrayBuffers: number;
  loopP99: number;
  loopMax: number;
  /** Longest GC pause and total GC time of the server since the previous sample (ms). */
  gcMax: number;
  gcTotal: number;
  /** Share of the machine's CPU time busy (not idle) since the previous sample, and stolen. */
  machineBusy: number;
  steal: number;
  delivered: number;
  open: number;
  errors: number;
}

interface PhaseResult extends Counts {
  phase: number;
  sessions: number;
  connected: number;
  rooms: number;
  minutes: number;
  rampSeconds: number;
  rssIdle: number;
  rssStart: number;
  rssPeak: number;
  rssEnd: number;
  hwm: number;
  slope: number;
  heapStart: number;
  heapEnd: number;
  rssAfterGcStart: number;
  rssAfterGcEnd: number;
  serverCpu: number;
  workersCpu: number;
  fanout: { p50: number; p99: number; max: number; count: number };
  fanoutResent: { p50: number; p99: number; max: number; count: number };
  ack: { p50: number; p99: number; count: number };
  serverSessionsEnd: number;
  serverDetachedEnd: number;
  loopP99Max: number;
  loopMax: number;
  gcMax: number;
  gcTotal: number;
  machineBusyMean: number;
  stalls: { t: number; ms: number }[];
  errors: Record<string, number>;
  errorCount: number;
  errorSamples: string[];
  samples: Sample[];
}

let machinePrev: number[] | null = null;
/** Busy and stolen shares of all cores since the previous call (/proc/stat; NaN elsewhere). */
function machineShare(): { machineBusy: number; steal: number } {
  let v: number[];
  try {
    v = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!.trim().split(/\s+/).slice(1).map(Number);
  } catch {
    return { machineBusy: Number.NaN, steal: Number.NaN };
  }
  const prev = machinePrev;
  machinePrev = v;
  if (!prev) return { machineBusy: Number.NaN, steal: Number.NaN };
  const d = v.map((x, i) => x - (prev[i] ?? 0));
  const total = d.reduce((a, b) => a + b, 0);
  if (total <= 0) return { machineBusy: Number.NaN, steal: Number.NaN };
  const idle = (d[3] ?? 0) + (d[4] ?? 0);
  return { machineBusy: 1 - idle / total, steal: (d[7] ?? 0) / total };
}

/** Least-squares slope of y over t (both in the caller's units). */
function slope(points: { t: number; y: number }[]): number {
  const n = points.length;
  if (n < 2) return Number.NaN;
  const mt = points.reduce((a, p) => a + p.t, 0) / n;
  const my = points.reduce((a, p) => a + p.y, 0) / n;
  let num = 0;
  let den = 0;
  for (const p of points) {
    num += (p.t - mt) * (p.y - my);
    den += (p.t - mt) ** 2;
  }
  return den === 0 ? Number.NaN : num / den;
}

async function runPhase(o: Options, phase: number): Promise<PhaseResult> {
  const here = __dirname;
  const nofile = o.sessions + 2048;
  const dbDir = o.store === 'sqlite' ? mkdtempSync(join(tmpdir(), 'jetstream-soak-')) : undefined;
  const serverEnv: NodeJS.ProcessEnv = {
    SOAK_ROOMS: String(o.rooms),
    SOAK_SHAPES: String(Math.max(4, o.writersPerRoom)),
    SOAK_STORE: o.store,
  };
  if (o.sessionExpiry > 0) serverEnv.SOAK_SESSION_EXPIRY_MS = String(o.sessionExpiry * 1000);
  if (dbDir) serverEnv.SOAK_DB_DIR = dbDir;
  const server = new Child<{ type: 'stats' | 'gc' | 'stop' }, ServerEvent>(
    forkWith(join(here, 'soak-server.ts'), ['--import', 'tsx', '--expose-gc'], serverEnv, nofile),
    'server',
  );
  const workers: Child<object, WorkerEvent>[] = [];
  try {
    const ready = await server.next('ready', 120_000);
    const port = ready.port;
    await sleep(1000);
    const idle = await server.request({ type: 'gc' }, 'gc', 30_000);
    const rssIdle = vmBytes(server.pid, 'VmRSS');
    console.log(
      `\n== phase ${phase}: server pid ${server.pid} on port ${port}, idle RSS ${(rssIdle / MiB).toFixed(0)} MiB (heap ${(idle.heapUsed / MiB).toFixed(0)} MiB)`,
    );

    // Split the rooms over the workers, and the sessions over the rooms.
    const perRoom = Array.from(
      { length: o.rooms },
      (_, r) => Math.floor(o.sessions / o.rooms) + (r < o.sessions % o.rooms ? 1 : 0),
    );
    for (let w = 0; w < o.workers; w++) {
      const rooms = perRoom.map((_, r) => r).filter((r) => r % o.workers === w);
      const share = rooms.reduce((a, r) => a + perRoom[r]!, 0);
      const child = new Child<object, WorkerEvent>(
        forkWith(__filename, ['--import', 'tsx'], { SOAK_ROLE: 'worker' }, share + 2048),
        `worker ${w}`,
      );
      workers.push(child);
      const setup: WorkerSetup = {
        type: 'setup',
        phase,
        port,
        worker: w,
        rooms,
        sessionsPerRoom: rooms.map((r) => perRoom[r]!),
        writersPerRoom: o.writersPerRoom,
        rate: o.rate,
        ackMs: o.ackInterval * 1000,
        churnPerSec: o.churn / o.workers,
        churnLifeMs: [o.churnLife[0] * 1000, o.churnLife[1] * 1000],
        dropFraction: phase === 2 ? o.dropFraction : 0,
        dropEveryMs: o.dropEvery * 1000,
        dropSpreadMs: 5000,
        reconnectDelayMs: [1000, 5000],
        connectConcurrency: 32,
        drainMs: 60_000,
      };
      child.send(setup);
    }
    const t0 = performance.now();
    const readies = await Promise.all(workers.map((w) => w.next('ready', 30 * 60_000)));
    const connected = readies.reduce((a, r) => a + r.connected, 0);
    const rampSeconds = (performance.now() - t0) / 1000;
    console.log(`   ${connected} of ${o.sessions} sessions connected in ${rampSeconds.toFixed(1)} s`);

    const gcStart = await server.request({ type: 'gc' }, 'gc', 30_000);
    const rssAfterGcStart = vmBytes(server.pid, 'VmRSS');
    await sleep(1000);

    const cpuServer0 = cpuSeconds(server.pid);
    const cpuWorkers0 = workers.reduce((a, w) => a + cpuSeconds(w.pid), 0);
    const samples: Sample[] = [];
    const stalls: { t: number; ms: number }[] = [];
    machineShare();
    const start = performance.now();
    const startEpoch = Date.now();
    const durationMs = o.minutes * 60_000;
    for (const w of workers) w.send({ type: 'start' });

    const takeSample = async (): Promise<Sample> => {
      const t = (performance.now() - start) / 1000;
      const rss = vmBytes(server.pid, 'VmRSS');
      const stats = await server.request({ type: 'stats' }, 'stats', 30_000);
      for (const st of stats.stalls) {
        stalls.push({ t: (st.endedAt - startEpoch) / 1000, ms: st.ms });
        console.log(
          `   ! server event loop stalled ${st.ms} ms, ending at t=${((st.endedAt - startEpoch) / 1000).toFixed(1)} s`,
        );
      }
      const progress = await Promise.all(
        workers.map((w) => w.request({ type: 'progress' }, 'progress', 30_000)),
      );
      return {
        t,
        rss,
        sessions: stats.sessions,
        detached: stats.detached,
        pendingBytes: stats.pendingBytes,
        heapUsed: stats.heapUsed,
        external: stats.external,
        arrayBuffers: stats.arrayBuffers,
        loopP99: stats.loopP99,
        loopMax: stats.loopMax,
        gcMax: stats.gcMax,
        gcTotal: stats.gcTotal,
        ...machineShare(),
        delivered: progress.reduce((a, p) => a + p.delivered, 0),
        open: progress.reduce((a, p) => a + p.open, 0),
        errors: progress.reduce((a, p) => a + p.errors, 0),
      };
    };

    let lastPrint = -Infinity;
    let lastDelivered = 0;
    let lastT = 0;
    samples.push(await takeSample());
    while (performance.now() - start < durationMs) {
      // Samples on a fixed grid of `sample` seconds from the start, the last one at the end.
      const elapsed = performance.now() - start;
      const next = Math.min(durationMs, (Math.floor(elapsed / (o.sample * 1000)) + 1) * o.sample * 1000);
      await sleep(next - elapsed);
      const s = await takeSample();
      samples.push(s);
      if (s.t - lastPrint >= 30 || performance.now() - start >= durationMs) {
        const rate = (s.delivered - lastDelivered) / Math.max(1e-9, s.t - lastT);
        const errors = s.errors;
        console.log(
          `   t=${s.t.toFixed(0).padStart(4)} s  RSS ${(s.rss / MiB).toFixed(0)} MiB  heap ${(s.heapUsed / MiB).toFixed(0)} MiB  ` +
            `server sessions ${s.sessions} (${s.detached} detached)  open sockets ${s.open}  ` +
            `delivered ${Math.round(rate)}/s  loop p99 ${s.loopP99.toFixed(1)} ms  ` +
            `machine busy ${(s.machineBusy * 100).toFixed(0)} %  errors ${errors}`,
        );
        lastPrint = s.t;
        lastDelivered = s.delivered;
        lastT = s.t;
      }
    }
    const cpuServer = cpuSeconds(server.pid) - cpuServer0;
    const cpuWorkers = workers.reduce((a, w) => a + cpuSeconds(w.pid), 0) - cpuWorkers0;

    const results = await Promise.all(workers.map((w) => w.request({ type: 'stop' }, 'result', 180_000)));
    const endStats = await server.request({ type: 'stats' }, 'stats', 30_000);
    const hwm = vmBytes(server.pid, 'VmHWM');
    const gcEnd = await server.request({ type: 'gc' }, 'gc', 30_000);
    const rssAfterGcEnd = vmBytes(server.pid, 'VmRSS');

    const fanout = new Hist();
    const fanoutResent = new Hist();
    const ack = new Hist();
    const errors: Record<string, number> = {};
    const errorSamples: string[] = [];
    for (const r of results) {
      fanout.add(r.fanout);
      fanoutResent.add(r.fanoutResent);
      ack.add(r.ack);
      for (const [k, v] of Object.entries(r.errors)) errors[k] = (errors[k] ?? 0) + v;
      errorSamples.push(...r.errorSamples);
    }
    if (connected < o.sessions)
      errors['not-connected'] = (errors['not-connected'] ?? 0) + o.sessions - connected;
    const sum = (f: (r: WorkerResult) => number) => results.reduce((a, r) => a + f(r), 0);
    const inWindow = samples.filter((s) => s.t <= durationMs / 1000 + 1);
    const secondHalf = inWindow.filter((s) => s.t >= durationMs / 2000);
    const q = (h: Hist) => ({ p50: h.quantile(0.5), p99: h.quantile(0.99), max: h.max, count: h.count });
    const res: PhaseResult = {
      phase,
      sessions: o.sessions,
      connected,
      rooms: o.rooms,
      minutes: o.minutes,
      rampSeconds,
      rssIdle,
      rssStart: samples[0]!.rss,
      rssPeak: Math.max(...inWindow.map((s) => s.rss)),
      rssEnd: inWindow[inWindow.length - 1]!.rss,
      hwm,
      slope: slope(secondHalf.map((s) => ({ t: s.t / 60, y: s.rss / MiB }))),
      heapStart: gcStart.heapUsed,
      heapEnd: gcEnd.heapUsed,
      rssAfterGcStart,
      rssAfterGcEnd,
      serverCpu: cpuServer,
      workersCpu: cpuWorkers,
      fanout: q(fanout),
      fanoutResent: q(fanoutResent),
      ack: q(ack),
      changesMade: sum((r) => r.changesMade),
      changesAcked: sum((r) => r.changesAcked),
      delivered: sum((r) => r.delivered),
      expected: sum((r) => r.expected),
      resentDeliveries: sum((r) => r.resentDeliveries),
      duplicateIndices: sum((r) => r.duplicateIndices),
      drops: sum((r) => r.drops),
      reconnects: sum((r) => r.reconnects),
      churnJoined: sum((r) => r.churnJoined),
      churnLeft: sum((r) => r.churnLeft),
      serverSessionsEnd: endStats.sessions,
      serverDetachedEnd: endStats.detached,
      loopP99Max: Math.max(...inWindow.map((s) => s.loopP99)),
      loopMax: Math.max(...inWindow.map((s) => s.loopMax)),
      gcMax: Math.max(...inWindow.map((s) => s.gcMax)),
      gcTotal: inWindow.reduce((a, s) => a + s.gcTotal, 0),
      machineBusyMean:
        inWindow.filter((s) => Number.isFinite(s.machineBusy)).reduce((a, s) => a + s.machineBusy, 0) /
        Math.max(1, inWindow.filter((s) => Number.isFinite(s.machineBusy)).length),
      stalls,
      errors,
      errorCount: Object.values(errors).reduce((a, b) => a + b, 0),
      errorSamples: errorSamples.slice(0, 40),
      samples,
    };
    const slopeText = Number.isFinite(res.slope) ? res.slope.toFixed(2) : '–';
    console.log(
      `   done: RSS ${(res.rssStart / MiB).toFixed(0)} → peak ${(res.rssPeak / MiB).toFixed(0)} → ${(res.rssEnd / MiB).toFixed(0)} MiB, ` +
        `slope ${slopeText} MiB/min, fan-out p50/p99 ${res.fanout.p50.toFixed(1)}/${res.fanout.p99.toFixed(1)} ms, ` +
        `errors ${res.errorCount}`,
    );
    for (const e of res.errorSamples.slice(0, 10)) console.log(`   ! ${e}`);
    return res;
  } finally {
    await Promise.all(workers.map((w) => w.stop({ type: 'teardown' }, 10_000)));
    await server.stop({ type: 'stop' }, 10_000);
    if (dbDir) rmSync(dbDir, { recursive: true, force: true });
  }
}

// ---- report -----------------------------------------------------------------------------------------

const mib = (b: number) => (Number.isFinite(b) ? (b / MiB).toFixed(0) : '–');
const ms = (v: number) => (Number.isFinite(v) ? (v >= 100 ? v.toFixed(0) : v.toFixed(1)) : '–');
const int = (n: number) => (Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : '–');

function report(o: Options, results: PhaseResult[], startedAt: Date): string {
  const lines: string[] = [];
  const ncpu = cpus().length;
  lines.push(`## Soak run of ${startedAt.toISOString().slice(0, 16).replace('T', ' ')} UTC`);
  lines.push('');
  lines.push(
    `${cpus()[0]?.model ?? 'unknown CPU'}, ${ncpu} cores, ${Math.round(totalmem() / 1024 ** 3)} GB, Node ${process.version}. ` +
      `${o.sessions.toLocaleString('en-US')} long-lived sessions in ${o.rooms} rooms (Canvas scopes of the demo models), ` +
      `${o.writersPerRoom} writer per room at ${o.rate} change/s, acks every ${o.ackInterval} s, ` +
      `churn ${o.churn} joins/s staying ${o.churnLife[0]}–${o.churnLife[1]} s, store: ${o.store}, ` +
      `session expiry ${o.sessionExpiry > 0 ? `${o.sessionExpiry} s` : 'default (10 min)'}, ${o.workers} load-generator processes. ` +
      `Phase 2: ${Math.round(o.dropFraction * 100)} % of the long-lived sessions dropped every ${o.dropEvery} s, resumed 1–5 s later.`,
  );
  lines.push('');
  lines.push(
    '| Phase | Sessions | Rooms | Duration | RSS idle / start / peak / end MiB | Slope 2nd half MiB/min | Heap after GC start → end MiB | Fan-out p50 / p99 / max ms | Ack p50 / p99 ms | Deliveries (expected) | Resent | Reconnects | Joins / leaves | Server CPU | Errors |',
  );
  lines.push('|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const r of results) {
    const seconds = r.minutes * 60;
    lines.push(
      `| ${r.phase === 1 ? '1 (steady + churn)' : '2 (+ drops/resumes)'} | ${int(r.connected)} | ${r.rooms} | ${r.minutes} min | ` +
        `${mib(r.rssIdle)} / ${mib(r.rssStart)} / ${mib(r.rssPeak)} / ${mib(r.rssEnd)} | ${Number.isFinite(r.slope) ? r.slope.toFixed(2) : '–'} | ` +
        `${mib(r.heapStart)} → ${mib(r.heapEnd)} | ${ms(r.fanout.p50)} / ${ms(r.fanout.p99)} / ${ms(r.fanout.max)} | ` +
        `${ms(r.ack.p50)} / ${ms(r.ack.p99)} | ${int(r.delivered)} (${int(r.expected)}) | ${int(r.resentDeliveries)} | ` +
        `${int(r.reconnects)} | ${int(r.churnJoined)} / ${int(r.churnLeft)} | ${((r.serverCpu / seconds) * 100).toFixed(0)} % | ` +
        `${r.errorCount === 0 ? '0' : `**${r.errorCount}**`} |`,
    );
  }
  lines.push('');
  lines.push(
    '_Deliveries_ counts every change received by every session (each once; resent ones included), _expected_ those ' +
      'owed to the sessions still connected at the end, since their fetch (sessions that left were checked for order ' +
      'and gaps while they lived, so deliveries ≥ expected). _Fan-out_ is writer send → reader receive over live ' +
      'deliveries; changes that reached a session in a resend after its reconnect are counted under _Resent_ with ' +
      'their own latency below. _Slope_: least-squares fit of VmRSS over the second half of the phase.',
  );
  lines.push('');
  for (const r of results) {
    lines.push(`### Phase ${r.phase}`);
    lines.push('');
    lines.push(
      `- Ramp: ${int(r.connected)} sessions connected and fetched in ${r.rampSeconds.toFixed(1)} s.`,
    );
    lines.push(
      `- Changes: ${int(r.changesMade)} made, ${int(r.changesAcked)} acknowledged; ack latency over ${int(r.ack.count)}.`,
    );
    lines.push(
      `- Server: VmHWM ${mib(r.hwm)} MiB; RSS after a forced GC ${mib(r.rssAfterGcStart)} MiB at the start, ` +
        `${mib(r.rssAfterGcEnd)} MiB at the end; sessions at the end ${int(r.serverSessionsEnd)} ` +
        `(${int(r.serverDetachedEnd)} detached: churned sessions waiting to expire); ` +
        `CPU ${r.serverCpu.toFixed(1)} s (${((r.serverCpu / (r.minutes * 60)) * 100).toFixed(0)} % of a core); ` +
        `event-loop delay p99 ≤ ${ms(r.loopP99Max)} ms in every ${o.sample} s sample, max ${ms(r.loopMax)} ms; ` +
        `GC ${(r.gcTotal / 1000).toFixed(1)} s in all, longest pause ${ms(r.gcMax)} ms; ` +
        `stalls over 250 ms: ${r.stalls.length === 0 ? 'none' : r.stalls.map((x) => `${x.ms} ms at t=${x.t.toFixed(0)} s`).join(', ')}.`,
    );
    lines.push(
      `- Machine (all cores, every process): ${(r.machineBusyMean * 100).toFixed(0)} % busy on average.`,
    );
    lines.push(
      `- Load generators: CPU ${r.workersCpu.toFixed(1)} s (${((r.workersCpu / (r.minutes * 60)) * 100).toFixed(0)} % of a core, all processes).`,
    );
    if (r.phase === 2) {
      lines.push(
        `- Drops: ${int(r.drops)} sockets dropped, ${int(r.reconnects)} resumed; ${int(r.resentDeliveries)} changes ` +
          `arrived in resends (fan-out p50 / p99 ${ms(r.fanoutResent.p50)} / ${ms(r.fanoutResent.p99)} ms, the outage included), ` +
          `${int(r.duplicateIndices)} messages resent that the client already had (dropped by index, as clients do).`,
      );
    }
    lines.push(
      `- Errors: ${
        r.errorCount === 0
          ? 'none'
          : Object.entries(r.errors)
              .map(([k, v]) => `${k} ${v}`)
              .join(', ')
      }.`,
    );
    for (const e of r.errorSamples.slice(0, 10)) lines.push(`  - \`${e}\``);
    // RSS once a minute (or every sample for short runs).
    const every = r.minutes >= 3 ? 60 : 15;
    const picked: Sample[] = [];
    for (const s of r.samples)
      if (picked.length === 0 || s.t - picked[picked.length - 1]!.t >= every - 0.5) picked.push(s);
    lines.push('');
    lines.push(
      '| t (s) | RSS MiB | heap MiB | external MiB | server sessions (detached) | pending bytes | loop p99 / max ms | machine busy |',
    );
    lines.push('|---:|---:|---:|---:|---:|---:|---:|---:|');
    for (const s of picked) {
      lines.push(
        `| ${s.t.toFixed(0)} | ${mib(s.rss)} | ${mib(s.heapUsed)} | ${mib(s.external)} | ${int(s.sessions)} (${int(s.detached)}) | ` +
          `${int(s.pendingBytes)} | ${ms(s.loopP99)} / ${ms(s.loopMax)} | ${(s.machineBusy * 100).toFixed(0)} % |`,
      );
    }
    lines.push('');
  }
  return lines.join('\n');
}

// ---- main -------------------------------------------------------------------------------------------

function parseOptions(): Options {
  const env = process.env;
  const { values } = parseArgs({
    options: {
      sessions: { type: 'string', default: env.SOAK_SESSIONS ?? '10000' },
      rooms: { type: 'string', default: env.SOAK_ROOMS ?? '100' },
      minutes: { type: 'string', default: env.SOAK_MINUTES ?? '10' },
      phases: { type: 'string', default: env.SOAK_PHASES ?? '1,2' },
      workers: { type: 'string', default: env.SOAK_WORKERS ?? '2' },
      'writers-per-room': { type: 'string', default: env.SOAK_WRITERS_PER_ROOM ?? '1' },
      rate: { type: 'string', default: env.SOAK_RATE ?? '1' },
      churn: { type: 'string', default: env.SOAK_CHURN ?? '5' },
      'churn-life': { type: 'string', default: env.SOAK_CHURN_LIFE ?? '10-60' },
      'drop-fraction': { type: 'string', default: env.SOAK_DROP_FRACTION ?? '0.1' },
      'drop-every': { type: 'string', default: env.SOAK_DROP_EVERY ?? '60' },
      'session-expiry': { type: 'string', default: env.SOAK_SESSION_EXPIRY ?? '60' },
      store: { type: 'string', default: env.SOAK_STORE_KIND ?? 'none' },
      sample: { type: 'string', default: env.SOAK_SAMPLE ?? '5' },
      'ack-interval': { type: 'string', default: env.SOAK_ACK_INTERVAL ?? '10' },
      out: { type: 'string', default: env.SOAK_OUT ?? resolve(__dirname, 'results') },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    console.log(`npm run soak -- [flags]   (each flag also as an environment variable)
  --sessions N          long-lived sessions, writers included (SOAK_SESSIONS, 10000)
  --rooms N             rooms = Canvas scopes (SOAK_ROOMS, 100)
  --minutes M           duration of each phase, after the ramp (SOAK_MINUTES, 10)
  --phases 1,2          which phases (SOAK_PHASES)
  --workers N           load-generator processes (SOAK_WORKERS, 2)
  --writers-per-room N  (SOAK_WRITERS_PER_ROOM, 1)
  --rate R              changes per second per writer (SOAK_RATE, 1)
  --churn R             joins per second; each stays --churn-life seconds, then leaves (SOAK_CHURN, 5)
  --churn-life A-B      (SOAK_CHURN_LIFE, 10-60)
  --drop-fraction F     phase 2: share of the long-lived sessions dropped per round (SOAK_DROP_FRACTION, 0.1)
  --drop-every S        phase 2: seconds between rounds (SOAK_DROP_EVERY, 60)
  --session-expiry S    server sessionExpiry in seconds; 0 = the server default, 10 min (SOAK_SESSION_EXPIRY, 60)
  --store none|sqlite   (SOAK_STORE_KIND, none)
  --sample S            seconds between RSS samples (SOAK_SAMPLE, 5)
  --ack-interval S      client Ping{ack} interval (SOAK_ACK_INTERVAL, 10)
  --out DIR             where soak-<date>.md/.json go (SOAK_OUT, bench/results)`);
    process.exit(0);
  }
  const num = (name: string, v: string, min: number): number => {
    const n = Number(v);
    if (!Number.isFinite(n) || n < min) throw new Error(`--${name} must be a number ≥ ${min}, got ${v}`);
    return n;
  };
  const [a, b] = values['churn-life'].split('-').map(Number);
  const store = values.store;
  if (store !== 'none' && store !== 'sqlite') throw new Error(`--store must be none or sqlite, got ${store}`);
  const o: Options = {
    sessions: Math.round(num('sessions', values.sessions, 1)),
    rooms: Math.round(num('rooms', values.rooms, 1)),
    minutes: num('minutes', values.minutes, 0.1),
    phases: values.phases
      .split(',')
      .map(Number)
      .filter((p) => p === 1 || p === 2),
    workers: Math.round(num('workers', values.workers, 1)),
    writersPerRoom: Math.round(num('writers-per-room', values['writers-per-room'], 0)),
    rate: num('rate', values.rate, 0.01),
    churn: num('churn', values.churn, 0),
    churnLife: [a ?? 10, b ?? a ?? 60],
    dropFraction: num('drop-fraction', values['drop-fraction'], 0),
    dropEvery: num('drop-every', values['drop-every'], 1),
    sessionExpiry: num('session-expiry', values['session-expiry'], 0),
    store,
    sample: num('sample', values.sample, 1),
    ackInterval: num('ack-interval', values['ack-interval'], 0.1),
    out: values.out,
  };
  if (o.rooms > o.sessions) throw new Error('more rooms than sessions');
  if (o.sessionExpiry > 0 && o.sessionExpiry < 3 * o.ackInterval) {
    // A session pings every --ack-interval (the first one jittered within an interval): any
    // expiry near that would end well-behaved sessions.
    throw new Error(`--session-expiry (${o.sessionExpiry} s) must be at least 3 × --ack-interval`);
  }
  if (o.phases.length === 0) throw new Error('--phases: 1, 2 or 1,2');
  return o;
}

async function main(): Promise<void> {
  const o = parseOptions();
  const limits = fileLimits();
  console.log(
    `soak: ${o.sessions} sessions, ${o.rooms} rooms, ${o.minutes} min per phase, phases ${o.phases.join(',')}, ` +
      `${o.workers} workers; open-file limit ${limits.soft} (hard ${limits.hard}), server needs ~${o.sessions + 2048}`,
  );
  if (limits.hard < o.sessions + 2048) {
    console.error(
      `soak: the server holds a socket per session and needs ~${o.sessions + 2048} open files, but the hard ` +
        `limit is ${limits.hard}: raise it (ulimit -Hn as root, /etc/security/limits.conf, the container's ` +
        `nofile ulimit) or run fewer --sessions`,
    );
    process.exit(2);
  }
  const startedAt = new Date();
  const results: PhaseResult[] = [];
  for (const phase of o.phases) results.push(await runPhase(o, phase));
  const md = report(o, results, startedAt);
  const command = `npm run soak -- ${process.argv.slice(2).join(' ')}`.trim();
  const text = `${md}\nCommand: \`${command}\`\n`;
  console.log(`\n${text}`);
  mkdirSync(o.out, { recursive: true });
  const stamp = startedAt.toISOString().replace(/[:.]/g, '-');
  writeFileSync(join(o.out, `soak-${stamp}.md`), text);
  writeFileSync(join(o.out, `soak-${stamp}.json`), JSON.stringify({ options: o, command, results }, null, 2));
  console.log(`written to ${join(o.out, `soak-${stamp}.md`)}`);
  const errors = results.reduce((a, r) => a + r.errorCount, 0);
  process.exitCode = errors === 0 ? 0 : 1;
}

if (process.env.SOAK_ROLE === 'worker') {
  void worker();
} else {
  main().catch((e: Error) => {
    console.error(e.stack ?? e.message);
    process.exit(2);
  });
}
