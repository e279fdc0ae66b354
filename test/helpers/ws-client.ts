// A small Jetstream test client over a real WebSocket (`ws`): connect, handshake, send, wait
// for messages by predicate, collect frames, and report how the socket closed. It speaks the
// wire protocol directly (JSON objects), so tests see exactly what a client author would.
import { WebSocket } from 'ws';

// biome-ignore lint/suspicious/noExplicitAny: wire messages are inspected freely in tests
export type Msg = Record<string, any>;

export interface CloseInfo {
  code: number;
  reason: string;
}

export interface ConnectOptions {
  /** Extra upgrade headers (e.g. `X-Jetstream-SessionToken`). */
  headers?: Record<string, string>;
  /** Query string without `?` (e.g. `x-jetstream-sessiontoken=T`). */
  query?: string;
  /** Upper bound for every wait of this client, in ms (a failing test, not a timing assertion). */
  timeout?: number;
  /** The client's source address, another loopback address to look like another client. */
  localAddress?: string;
}

export const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

export class TestClient {
  /** Every frame received, as parsed JSON (the server always sends arrays), in order. */
  readonly frames: unknown[] = [];
  /** Every frame received, as text. */
  readonly rawFrames: string[] = [];
  /** Every message received, flattened from the frames, in order. */
  readonly messages: Msg[] = [];
  /** Resolves when the socket closes. */
  readonly closed: Promise<CloseInfo>;
  closeInfo: CloseInfo | null = null;
  /** The next client index for ScopeFetch/ScopeSync (docs/protocol.md §3.1: counts from 1). */
  nextIndex = 1;
  token: string | null = null;

  #waiters = new Set<() => void>();
  readonly timeout: number;

  private constructor(
    readonly ws: WebSocket,
    timeout: number,
  ) {
    this.timeout = timeout;
    this.closed = new Promise((resolve) => {
      ws.on('close', (code, reason) => {
        this.closeInfo = { code, reason: reason.toString() };
        resolve(this.closeInfo);
        this.#wake();
      });
    });
    ws.on('error', () => {});
    ws.on('message', (data) => {
      const text = data.toString();
      this.rawFrames.push(text);
      let parsed: unknown;
      try {
        parsed = JSON.parse(text);
      } catch {
        parsed = text;
      }
      this.frames.push(parsed);
      if (Array.isArray(parsed)) for (const m of parsed) this.messages.push(m as Msg);
      this.#wake();
    });
  }

  /** Opens a socket to `ws://127.0.0.1:port/`. Resolves once open. */
  static connect(port: number, options: ConnectOptions = {}): Promise<TestClient> {
    const url = `ws://127.0.0.1:${port}/${options.query ? `?${options.query}` : ''}`;
    const ws = new WebSocket(url, {
      headers: options.headers ?? {},
      ...(options.localAddress ? { localAddress: options.localAddress } : {}),
    });
    const client = new TestClient(ws, options.timeout ?? 5_000);
    return new Promise((resolve, reject) => {
      ws.once('open', () => resolve(client));
      ws.once('unexpected-response', (_req, res) => reject(new Error(`upgrade refused: ${res.statusCode}`)));
      ws.once('error', reject);
    });
  }

  /** Connects and creates a session; resolves with the client (its `token` set). */
  static async session(
    port: number,
    params: Record<string, unknown> = {},
    options: ConnectOptions = {},
  ): Promise<TestClient> {
    const c = await TestClient.connect(port, options);
    await c.handshake(params);
    return c;
  }

  /** Resumes session `token` on a new socket (header form unless `query` is true). */
  static resume(port: number, token: string, via: 'header' | 'query' = 'header'): Promise<TestClient> {
    return via === 'header'
      ? TestClient.connect(port, { headers: { 'X-Jetstream-SessionToken': token } })
      : TestClient.connect(port, { query: `x-jetstream-sessiontoken=${encodeURIComponent(token)}` });
  }

  /** Sends a message object (JSON-encoded), or raw text/bytes as given. */
  send(message: unknown): void {
    if (typeof message === 'string' || Buffer.isBuffer(message)) this.ws.send(message);
    else this.ws.send(JSON.stringify(message));
  }

  /** SessionCreate → SessionCreateReply. Returns the reply (token stored on success). */
  async handshake(params: Record<string, unknown> = {}, version = '0.2.0'): Promise<Msg> {
    this.send({ type: 'SessionCreate', index: 0, version, params });
    const reply = await this.waitFor((m) => m.type === 'SessionCreateReply');
    if (typeof reply.sessionToken === 'string') this.token = reply.sessionToken;
    return reply;
  }

  /** ScopeFetch; resolves with the reply and, on success, the ScopeState that follows it. */
  async fetch(name: string, params: Record<string, unknown> = {}): Promise<{ reply: Msg; state?: Msg }> {
    const index = this.nextIndex++;
    this.send({ type: 'ScopeFetch', index, name, params });
    const reply = await this.waitFor((m) => m.type === 'ScopeFetchReply' && m.replyTo === index);
    if (reply.error) return { reply };
    const state = await this.waitFor((m) => m.type === 'ScopeState' && m.index === reply.index + 1);
    return { reply, state };
  }

  /** ScopeSync; resolves with the ScopeSyncReply. */
  async sync(
    scopeIndex: number,
    fragments: unknown[],
    extra: { atomic?: boolean; procedure?: string } = { atomic: false },
  ): Promise<Msg> {
    const index = this.nextIndex++;
    this.send({ type: 'ScopeSync', index, scopeIndex, ...extra, fragments });
    return this.waitFor((m) => m.type === 'ScopeSyncReply' && m.replyTo === index);
  }

  /**
   * A round trip: an empty ScopeSync and its reply. Everything the server queued for this
   * client before processing it has arrived once this resolves (one ordered stream).
   */
  async barrier(): Promise<void> {
    await this.sync(0, []);
  }

  /** Sends a Ping acknowledging everything received so far. */
  ping(resendMissing = false, ack = this.highestIndex()): void {
    this.send({ type: 'Ping', index: 0, ack, resendMissing });
  }

  /** The highest server index received (index-0 messages excluded). */
  highestIndex(): number {
    let max = 0;
    for (const m of this.messages) if (typeof m.index === 'number' && m.index > max) max = m.index;
    return max;
  }

  /** Server messages with index ≠ 0, in arrival order. */
  indexed(): Msg[] {
    return this.messages.filter((m) => m.index !== 0);
  }

  /**
   * The first message (searching from position `from` of `messages`) matching `pred`; waits for
   * it until the client's timeout, failing with a description of what arrived.
   */
  waitFor(pred: (m: Msg) => boolean, from = 0): Promise<Msg> {
    return this.#until(() => {
      for (let i = from; i < this.messages.length; i++) if (pred(this.messages[i]!)) return this.messages[i];
      return undefined;
    }, 'message');
  }

  /** Waits until at least `n` frames have arrived; resolves with frame `n - 1`. */
  waitForFrames(n: number): Promise<unknown> {
    return this.#until(() => (this.frames.length >= n ? this.frames[n - 1] : undefined), `${n} frames`);
  }

  /** Waits for the socket to close. */
  waitForClose(): Promise<CloseInfo> {
    return this.#until(() => this.closeInfo ?? undefined, 'close', true);
  }

  /** Closes from the client side and waits for the close to complete. */
  async close(code = 1000): Promise<CloseInfo> {
    if (this.ws.readyState === WebSocket.OPEN || this.ws.readyState === WebSocket.CONNECTING)
      this.ws.close(code);
    return this.waitForClose();
  }

  /** Drops the TCP connection without a close handshake. */
  terminate(): void {
    this.ws.terminate();
  }

  #wake(): void {
    for (const w of [...this.#waiters]) w();
  }

  #until<T>(check: () => T | undefined, what: string, allowClosed = false): Promise<T> {
    return new Promise((resolve, reject) => {
      const waiter = () => {
        const v = check();
        if (v !== undefined) {
          done();
          resolve(v);
        } else if (this.closeInfo && !allowClosed) {
          done();
          reject(
            new Error(
              `socket closed (${this.closeInfo.code} ${this.closeInfo.reason}) while waiting for ${what}; received ${this.rawFrames.join(' ')}`,
            ),
          );
        }
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`timed out waiting for ${what}; received ${this.rawFrames.join(' ')}`));
      }, this.timeout);
      const done = () => {
        clearTimeout(timer);
        this.#waiters.delete(waiter);
      };
      this.#waiters.add(waiter);
      waiter();
    });
  }
}

/** Parses a 4096 close reason (JSON error object). */
export function reasonOf(info: CloseInfo): { message: string; type?: string } {
  return JSON.parse(info.reason) as { message: string; type?: string };
}

/** Asserts nothing: a fresh random lowercase v4 uuid for fragments. */
export function uuid(): string {
  return crypto.randomUUID();
}
