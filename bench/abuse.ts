// The attacker of the "fairness under abuse" scenarios: a process of its own, forked by the load
// generator (bench/load.ts), so that its event loop and garbage never delay the well-behaved probe
// client whose round trip is the measurement. It also holds the well-behaved writer some attacks
// need. Driven over IPC: prepare → prepared, attack → attacked (the outcome), teardown → closed.
//
// The attacks (each bounded by the spec's attackMs, loopback only):
//   resend         fetch the big scope, stop reading (ws pause), send Ping{resendMissing} flat out
//   slow-consumer  fetch, stop reading, while the writer changes the scope at writerRate
//   refetch        fetch the big scope again and again, flat out, reading (not parsing) the states
//   flood          fetch, then ScopeSync at floodRate (valid changes of the attacker's own shape)
//   detached       make `sessions` sessions that fetch, acknowledge the state and drop their
//                  socket (a client gone offline); then the writer runs
// An attacker that reads its socket notices when the server closes it; with `reconnect` it then
// starts a new session and goes on, as the original clients do after 4097. One that stopped
// reading cannot notice: it attacks until the time is up, then reads what is left to learn its
// close code.
import WebSocket from 'ws';
import { BenchClient, describeClose, openSocket } from './lib/client.js';
import type { AbuseSpec, AttackCommand, AttackEvent, AttackOutcome } from './lib/spec.js';

const MiB = 2 ** 20;
const CONNECT_CONCURRENCY = 50;
/** `detached` sessions per loopback source address: the server limits connections per address. */
const SESSIONS_PER_ADDRESS = 500;
const MAX_ERRORS = 10;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const immediate = () => new Promise((r) => setImmediate(r));

/** A minimal session on a raw socket: frames are counted, never parsed (states are big). */
class RawSession {
  readonly ws: WebSocket;
  bytes = 0;
  index = 1;
  /** Set when the server (or the network) closed the socket; `at` is performance.now(). */
  close: { code: number; reason: string; at: number } | null = null;
  byUs = false;
  readonly closed: Promise<void>;
  #waiters: { test: (head: string) => boolean; done: (err: Error | null, head: string) => void }[] = [];

  private constructor(ws: WebSocket) {
    this.ws = ws;
    let ended: () => void = () => {};
    this.closed = new Promise((r) => (ended = r));
    ws.on('message', (data: Buffer) => {
      this.bytes += data.length;
      if (this.#waiters.length === 0) return;
      const head = data.subarray(0, 256).toString('latin1');
      this.#waiters = this.#waiters.filter((w) => {
        if (!w.test(head)) return true;
        w.done(null, head);
        return false;
      });
    });
    ws.on('close', (code: number, reason: Buffer) => {
      if (!this.byUs) this.close = { code, reason: reason.toString(), at: performance.now() };
      for (const w of this.#waiters) w.done(new Error(`closed ${code} ${reason.toString()}`), '');
      this.#waiters = [];
      ended();
    });
    ws.on('error', () => {});
  }

  static async open(url: string, localAddress?: string, timeoutMs = 15_000): Promise<RawSession> {
    return new RawSession(await openSocket(url, { localAddress, timeoutMs }));
  }

  get open(): boolean {
    return this.ws.readyState === WebSocket.OPEN;
  }

  send(text: string): void {
    if (this.open) this.ws.send(text);
  }

  /** Resolves with the first 256 characters of the first frame that passes `test`. */
  #wait(test: (head: string) => boolean, what: string, timeoutMs = 60_000): Promise<string> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiters = this.#waiters.filter((w) => w !== waiter);
        reject(new Error(`timed out waiting for ${what}`));
      }, timeoutMs);
      const waiter = {
        test,
        done: (err: Error | null, head: string) => {
          clearTimeout(timer);
          if (err) reject(err);
          else resolve(head);
        },
      };
      this.#waiters.push(waiter);
    });
  }

  async create(): Promise<void> {
    const reply = this.#wait((h) => h.includes('"SessionCreateReply"'), 'SessionCreateReply');
    this.send('{"type":"SessionCreate","index":0,"version":"0.2.0","params":{}}');
    await reply;
  }

  /**
   * One ScopeFetch of the Canvas, answered when a frame holding its ScopeState arrives (the
   * state is near the frame's start: after at most the short ScopeFetchReply). Returns the
   * state's message index, or 0 if it is not in the frame's head.
   */
  async fetch(): Promise<number> {
    const state = this.#wait((h) => h.includes('"ScopeState"'), 'ScopeState');
    this.send(fetchMessage(this.index++));
    const head = await state;
    return Number(/"type":"ScopeState","index":(\d+)/.exec(head)?.[1] ?? 0);
  }

  /** Acknowledges every message up to `index`; resolves once the Ping is handed to the kernel. */
  ack(index: number): Promise<void> {
    return new Promise((resolve) => {
      if (!this.open) return resolve();
      this.ws.send(`{"type":"Ping","index":0,"ack":${index},"resendMissing":false}`, () => resolve());
    });
  }

  /** Stops dropping; lets whatever the server sent (its close frame last) in, for up to `ms`. */
  async settle(ms: number): Promise<void> {
    if (this.ws.isPaused) this.ws.resume();
    await Promise.race([this.closed, sleep(ms)]);
  }

  drop(): void {
    this.byUs = true;
    this.ws.terminate();
  }
}

const fetchMessage = (index: number) => `{"type":"ScopeFetch","index":${index},"name":"Canvas","params":{}}`;

/** A well-behaved writer: acks every 250 ms, one change of its own shape per changeset, paced. */
class Writer {
  sent = 0;
  acked = 0;
  #seq = 0;
  #inflight = new Set<number>();
  #timer: NodeJS.Timeout | null = null;

  private constructor(
    readonly client: BenchClient,
    readonly scopeIndex: number,
    readonly uuid: string,
  ) {}

  static async open(url: string, uuid: string, fail: (m: string) => void): Promise<Writer> {
    const client = await BenchClient.connect(url);
    client.handlers.onError = (m) => fail(`writer: ${m}`);
    await client.createSession(250);
    const state = await client.fetch('Canvas');
    const w = new Writer(client, state.scopeIndex, uuid);
    client.handlers.onSyncReply = (replyTo, replies) => {
      if (!w.#inflight.delete(replyTo)) return;
      if (replies.some((r) => r.error)) fail(`writer: changeset rejected: ${JSON.stringify(replies[0])}`);
      else w.acked++;
    };
    return w;
  }

  start(rate: number): void {
    const t0 = performance.now();
    let due0 = 0;
    this.#timer = setInterval(() => {
      const due = Math.floor(((performance.now() - t0) * rate) / 1000) - due0;
      for (let i = 0; i < due; i++) {
        due0++;
        if (this.#inflight.size >= 1000) continue; // not answered: skip (the count shows it)
        const index = this.client.sync(this.scopeIndex, [
          { type: 'change', uuid: this.uuid, clsName: 'Shape', properties: { y: ++this.#seq } },
        ]);
        this.#inflight.add(index);
        this.sent++;
      }
    }, 5);
  }

  stop(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = null;
  }
}

/** Runs `fn` for 0..n-1 with at most `limit` running at once. */
async function pool(n: number, limit: number, fn: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < n) await fn(next++);
  };
  await Promise.all(Array.from({ length: Math.min(limit, n) }, worker));
}

class Attack {
  readonly spec: AbuseSpec;
  readonly url: string;
  readonly attackerUUID: string;
  readonly writerUUID: string;
  writer: Writer | null = null;
  sessions: RawSession[] = [];
  /** The attacker's first session, made (and its scope fetched) before the attack. */
  first: RawSession | null = null;
  errors: string[] = [];
  errorCount = 0;
  sent = 0;

  constructor(spec: AbuseSpec, url: string, writerUUID: string, attackerUUID: string) {
    this.spec = spec;
    this.url = url;
    this.writerUUID = writerUUID;
    this.attackerUUID = attackerUUID;
  }

  fail = (m: string): void => {
    this.errorCount++;
    if (this.errors.length < MAX_ERRORS) this.errors.push(m);
  };

  async prepare(): Promise<void> {
    if (this.spec.writerRate > 0) this.writer = await Writer.open(this.url, this.writerUUID, this.fail);
    if (this.spec.attack !== 'detached') this.first = await this.session(true);
  }

  /** A new attacker session (fetched when asked); null when the server refused it. */
  async session(fetch: boolean): Promise<RawSession | null> {
    const s = await RawSession.open(this.url);
    this.sessions.push(s);
    try {
      await s.create();
      if (fetch) await s.fetch();
      return s;
    } catch (e) {
      if (!s.close) throw e; // not the server's doing: a harness failure
      return null;
    }
  }

  async run(): Promise<AttackOutcome> {
    const { spec } = this;
    const t0 = performance.now();
    let deadline = t0 + spec.attackMs;
    let detachedMade = 0;
    let detachedSetupMs = 0;
    const s0 = this.first;
    if (spec.attack === 'resend') {
      s0!.ws.pause();
      const ping = '{"type":"Ping","index":0,"ack":0,"resendMissing":true}';
      while (performance.now() < deadline && s0!.open) {
        if (s0!.ws.bufferedAmount < MiB) {
          for (let i = 0; i < 100; i++) s0!.send(ping);
          this.sent += 100;
        }
        await immediate();
      }
    } else if (spec.attack === 'slow-consumer') {
      s0!.ws.pause();
      this.writer?.start(spec.writerRate);
      await sleep(spec.attackMs);
      this.writer?.stop();
    } else if (spec.attack === 'refetch') {
      let s: RawSession | null = s0;
      while (performance.now() < deadline) {
        if (!s?.open) {
          if (!spec.reconnect) break;
          s = await this.session(false);
          if (!s) await sleep(50);
          continue;
        }
        if (s.ws.bufferedAmount < 64 * 1024) {
          for (let i = 0; i < 20; i++) s.send(fetchMessage(s.index++));
          this.sent += 20;
        }
        await immediate();
      }
    } else if (spec.attack === 'flood') {
      let s: RawSession | null = s0;
      const prefix = '{"type":"ScopeSync","index":';
      const suffix = `,"scopeIndex":0,"atomic":false,"fragments":[{"type":"change","uuid":"${this.attackerUUID}","clsName":"Shape","properties":{"x":`;
      let credit = 0;
      let last = performance.now();
      while (performance.now() < deadline) {
        if (!s?.open) {
          if (!spec.reconnect) break;
          s = await this.session(true);
          if (!s) await sleep(50);
          credit = 0;
          last = performance.now();
          continue;
        }
        const now = performance.now();
        // At most 10 ms worth at once: no catch-up burst after a reconnect or a stall.
        credit = Math.min(credit + ((now - last) * spec.floodRate) / 1000, spec.floodRate / 100);
        last = now;
        while (credit >= 1 && s.ws.bufferedAmount < MiB) {
          const i = s.index++;
          s.send(`${prefix}${i}${suffix}${i % 1000}}}]}`);
          this.sent++;
          credit--;
        }
        await immediate();
      }
    } else if (spec.attack === 'detached') {
      await pool(spec.sessions, CONNECT_CONCURRENCY, async (i) => {
        const address = `127.0.0.${2 + Math.floor(i / SESSIONS_PER_ADDRESS)}`;
        const s = await RawSession.open(this.url, address);
        this.sessions.push(s);
        try {
          await s.create();
          const index = await s.fetch();
          if (index === 0) throw new Error('no ScopeState index in the fetch reply');
          // Like a client that goes offline: it acknowledged what it had, then the network went.
          await s.ack(index);
        } catch (e) {
          if (!s.close) throw e;
          return;
        }
        s.drop();
        detachedMade++;
      });
      detachedSetupMs = performance.now() - t0;
      this.writer?.start(spec.writerRate);
      await sleep(spec.attackMs);
      this.writer?.stop();
      deadline = performance.now();
    }
    const attackMs = Math.max(performance.now(), deadline) - t0;
    // Attackers that stopped reading learn now whether (and how) the server closed them.
    const settleMs = Math.min(1000, spec.attackMs);
    await Promise.all(this.sessions.filter((s) => s.ws.isPaused && !s.close).map((s) => s.settle(settleMs)));
    const closes: Record<string, number> = {};
    let first: number | null = null;
    let open = 0;
    let bytes = 0;
    for (const s of this.sessions) {
      bytes += s.bytes;
      if (s.close) {
        const k = describeClose(s.close.code, s.close.reason);
        closes[k] = (closes[k] ?? 0) + 1;
        if (first === null || s.close.at - t0 < first) first = s.close.at - t0;
      } else if (!s.byUs) open++;
    }
    return {
      attackMs,
      attackerSessions: this.sessions.length,
      attackerCloses: closes,
      attackerOpenAtEnd: open,
      firstCloseMs: first,
      sent: this.sent,
      bytesReceived: bytes,
      writerSent: this.writer?.sent ?? 0,
      writerAcked: this.writer?.acked ?? 0,
      detachedMade,
      detachedSetupMs,
      errors:
        this.errorCount > this.errors.length ? [...this.errors, `… ${this.errorCount} in all`] : this.errors,
    };
  }

  async teardown(): Promise<void> {
    this.writer?.stop();
    for (const s of this.sessions) if (s.ws.readyState !== WebSocket.CLOSED) s.drop();
    await this.writer?.client.close();
  }
}

function emit(event: AttackEvent): void {
  process.send?.(event);
}

let current: Attack | null = null;

async function handle(msg: AttackCommand): Promise<void> {
  if (msg.cmd === 'prepare') {
    current = new Attack(msg.spec, msg.url, msg.writerUUID, msg.attackerUUID);
    await current.prepare();
    emit({ ev: 'prepared' });
  } else if (msg.cmd === 'attack') {
    if (!current) throw new Error('attack before prepare');
    emit({ ev: 'attacked', outcome: await current.run() });
  } else if (msg.cmd === 'teardown') {
    await current?.teardown();
    current = null;
    emit({ ev: 'closed' });
  }
}

process.on('message', (msg: AttackCommand) => {
  handle(msg).catch((e: Error) => emit({ ev: 'fatal', message: e.message }));
});
process.on('disconnect', () => process.exit(0));
