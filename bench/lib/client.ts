// A minimal Jetstream v1 client for the load generator: just enough protocol to create a session,
// fetch a scope, send changesets and acknowledge what the server sent. Deliberately not the SDK:
// it must run unchanged against the original server, ours and the raw broadcaster, and cost as
// little CPU as possible so that the server, not the client, is what gets measured.
import WebSocket from 'ws';
import { Waiters } from './waiters.js';

export interface WireFragment {
  type: 'add' | 'change';
  uuid: string;
  clsName: string;
  properties?: Record<string, unknown>;
}

/** A server message as the benchmark clients read it (fields of every message type). */
export interface ServerMessage {
  type: string;
  index: number;
  replyTo?: number;
  scopeIndex?: number;
  rootUUID?: string;
  sessionToken?: string;
  ack?: number;
  resendMissing?: boolean;
  error?: { message: string; type?: string };
  fragments?: WireFragment[];
  fragmentReplies?: { error?: { message: string } }[];
}

export interface FetchResult {
  scopeIndex: number;
  rootUUID: string;
  fragments: WireFragment[];
  /** Bytes received between sending the fetch and having the whole state. */
  bytes: number;
  /** Time from sending ScopeFetch to having the parsed ScopeState. */
  ms: number;
}

export interface ClientHandlers {
  /** A ScopeSync from the server; `at` is the receive time (performance.now()). */
  onSync?: (fragments: WireFragment[], at: number) => void;
  /** A ScopeSyncReply to one of our changesets. */
  onSyncReply?: (replyTo: number, replies: { error?: { message: string } }[], at: number) => void;
  /** Anything wrong: protocol violations, unexpected close. */
  onError?: (message: string) => void;
}

/** `code reason` of a close, as the tables show it (the reason is the server's JSON error). */
export function describeClose(code: number, reason: string): string {
  return reason ? `${code} ${reason}` : String(code);
}

export class BenchClient {
  readonly ws: WebSocket;
  handlers: ClientHandlers = {};
  bytesReceived = 0;
  closedByUs = false;
  /** `code reason` when the socket was closed by the server (or the network), not by us. */
  closedByServer: string | null = null;
  #nextIndex = 1;
  #lastServerIndex = 0;
  #ackedServerIndex = 0;
  #ackTimer: NodeJS.Timeout | null = null;
  #waiters = new Waiters<ServerMessage>();

  private constructor(ws: WebSocket) {
    this.ws = ws;
    ws.on('message', (data: Buffer) => this.#onFrame(data));
    ws.on('close', (code, reason) => {
      this.#stopAcks();
      if (!this.closedByUs) {
        this.closedByServer = describeClose(code, reason.toString());
        this.#error(`socket closed ${this.closedByServer}`);
      }
    });
    ws.on('error', (e) => this.#error(`socket error: ${e.message}`));
  }

  static async connect(url: string, timeoutMs = 15_000): Promise<BenchClient> {
    return new BenchClient(await openSocket(url, { timeoutMs }));
  }

  /**
   * SessionCreate → SessionCreateReply; starts acknowledging every `ackEveryMs` (0: never, for
   * attackers).
   */
  async createSession(ackEveryMs = 250): Promise<string> {
    const reply = this.#await((m) => m.type === 'SessionCreateReply', 'SessionCreateReply');
    this.send({ type: 'SessionCreate', index: 0, version: '0.2.0', params: {} });
    const m = await reply;
    if (m.error || !m.sessionToken) throw new Error(`session denied: ${m.error?.message}`);
    if (ackEveryMs <= 0) return m.sessionToken;
    // Jitter so that a thousand clients do not ack in lockstep.
    const start = setTimeout(() => {
      this.#ackTimer = setInterval(() => this.ack(), ackEveryMs);
      this.#ackTimer.unref();
    }, Math.random() * ackEveryMs);
    start.unref();
    return m.sessionToken;
  }

  /** ScopeFetch → ScopeFetchReply + ScopeState (the original sends them in separate frames). */
  async fetch(name: string, timeoutMs = 120_000): Promise<FetchResult> {
    const index = this.#nextIndex++;
    let scopeIndex = -1;
    const bytes0 = this.bytesReceived;
    const t0 = performance.now();
    const state = this.#await(
      (m) => {
        if (m.type === 'ScopeFetchReply' && m.replyTo === index) {
          if (m.error) throw new Error(`fetch denied: ${m.error.message}`);
          scopeIndex = m.scopeIndex ?? -1;
          return false;
        }
        return m.type === 'ScopeState' && scopeIndex >= 0 && m.scopeIndex === scopeIndex;
      },
      'ScopeState',
      timeoutMs,
    );
    this.send({ type: 'ScopeFetch', index, name, params: {} });
    const m = await state;
    return {
      scopeIndex,
      rootUUID: m.rootUUID ?? '',
      fragments: m.fragments ?? [],
      bytes: this.bytesReceived - bytes0,
      ms: performance.now() - t0,
    };
  }

  /** Sends a changeset; returns its index (the reply comes through `onSyncReply`). */
  sync(scopeIndex: number, fragments: WireFragment[]): number {
    const index = this.#nextIndex++;
    this.send({ type: 'ScopeSync', index, scopeIndex, atomic: false, fragments });
    return index;
  }

  /** Acknowledges everything received so far, if anything new arrived. */
  ack(): void {
    if (this.#lastServerIndex === this.#ackedServerIndex || this.ws.readyState !== WebSocket.OPEN) return;
    this.#ackedServerIndex = this.#lastServerIndex;
    this.send({ type: 'Ping', index: 0, ack: this.#lastServerIndex, resendMissing: false });
  }

  send(message: object): void {
    if (this.ws.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(message));
  }

  close(): Promise<void> {
    this.closedByUs = true;
    this.#stopAcks();
    if (this.ws.readyState === WebSocket.CLOSED) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.ws.terminate();
        resolve();
      }, 2000);
      this.ws.once('close', () => {
        clearTimeout(timer);
        resolve();
      });
      this.ws.close();
    });
  }

  #stopAcks(): void {
    if (this.#ackTimer) clearInterval(this.#ackTimer);
    this.#ackTimer = null;
  }

  #error(message: string): void {
    this.handlers.onError?.(message);
  }

  #await(match: (m: ServerMessage) => boolean, what: string, timeoutMs = 30_000): Promise<ServerMessage> {
    return this.#waiters.wait(match, what, timeoutMs);
  }

  #onFrame(data: Buffer): void {
    const at = performance.now();
    this.bytesReceived += data.length;
    let frame: unknown;
    try {
      frame = JSON.parse(data.toString());
    } catch {
      this.#error('frame is not JSON');
      return;
    }
    if (!Array.isArray(frame)) {
      this.#error('server frame is not an array');
      return;
    }
    for (const m of frame as ServerMessage[]) {
      if (m.index !== 0) {
        if (m.index !== this.#lastServerIndex + 1) {
          this.#error(`server index gap: ${this.#lastServerIndex} → ${m.index}`);
        }
        this.#lastServerIndex = m.index;
      }
      if (m.type === 'ScopeSync') {
        this.handlers.onSync?.(m.fragments ?? [], at);
      } else if (m.type === 'ScopeSyncReply') {
        this.handlers.onSyncReply?.(m.replyTo ?? -1, m.fragmentReplies ?? [], at);
      }
      this.#waiters.offer(m);
    }
  }
}

/**
 * Opens a WebSocket (no compression), from `localAddress` when given, with extra `headers`;
 * rejects after `timeoutMs`.
 */
export function openSocket(
  url: string,
  options: { localAddress?: string; timeoutMs?: number; headers?: Record<string, string> } = {},
): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, {
      perMessageDeflate: false,
      ...(options.localAddress ? { localAddress: options.localAddress } : {}),
      ...(options.headers ? { headers: options.headers } : {}),
    });
    const timer = setTimeout(() => {
      ws.terminate();
      reject(new Error('connect timed out'));
    }, options.timeoutMs ?? 15_000);
    ws.once('open', () => {
      clearTimeout(timer);
      resolve(ws);
    });
    ws.once('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
  });
}
