// Requests between the processes of a cluster (docs/cluster.md, "Writes on a process that does
// not own the scope"): each process reads its own inbox, a Redis Stream, and answers requests
// in the sender's inbox. Used to forward a client's changeset to the scope's owner and to relay
// the owner's reply.
//
// Delivery is at most once: a request sent to a process that is dead or restarting is never
// answered, and the sender's call times out. The caller decides whether to retry (for a
// changeset: only after checking the scope's log, where the owner records who sent each
// change, that it was not applied).
import type { Redis } from 'ioredis';
import { type Logger, silentLogger } from '../util/logger.js';
import { type ClusterKeys, clusterKeys } from './keys.js';

/** Answers one request; what it resolves with (JSON-serializable) goes back to the sender. */
export type RequestHandler = (from: string, body: unknown) => Promise<unknown>;

/** An inbox nobody wrote to for this long is deleted (its process is long gone). */
const INBOX_IDLE_EXPIRY_MS = 86_400_000;

export class RequestTimeoutError extends Error {
  readonly code = 'REQUEST_TIMEOUT';
  constructor(to: string, ms: number) {
    super(`No answer from process ${to} within ${ms} ms`);
    this.name = 'RequestTimeoutError';
  }
}

export interface InboxOptions {
  prefix?: string;
  logger?: Logger;
  /** Messages kept in an inbox, approximately. Default 10,000. */
  maxEntries?: number;
  /** How long `request()` waits for an answer by default, in ms. Default 5000. */
  timeoutMs?: number;
}

interface Waiting {
  resolve: (value: unknown) => void;
  reject: (err: Error) => void;
  timer: ReturnType<typeof setTimeout>;
}

export class Inbox {
  readonly processId: string;
  readonly #blocking: Redis;
  readonly #redis: Redis;
  readonly #keys: ClusterKeys;
  readonly #logger: Logger;
  readonly #maxEntries: number;
  readonly #timeoutMs: number;
  readonly #waiting = new Map<string, Waiting>();
  #handler: RequestHandler | null = null;
  #next = 0;
  #closed = false;
  #loop: Promise<void> | null = null;
  /** The id of the last inbox message read (starts at the inbox's end when the process starts). */
  #after = '$';

  /**
   * `blocking` reads this process's inbox and is used for nothing else; `redis` sends.
   */
  constructor(blocking: Redis, redis: Redis, processId: string, options: InboxOptions = {}) {
    this.#blocking = blocking;
    this.#redis = redis;
    this.processId = processId;
    this.#keys = clusterKeys(options.prefix);
    this.#logger = options.logger ?? silentLogger;
    this.#maxEntries = options.maxEntries ?? 10_000;
    this.#timeoutMs = options.timeoutMs ?? 5000;
  }

  /**
   * Starts reading the inbox; requests go to `handler`. Resolves once the inbox is being read
   * (requests sent from then on are seen).
   */
  async start(handler: RequestHandler): Promise<void> {
    this.#handler = handler;
    if (this.#loop) return;
    // Pin the starting point now: '$' resolved later would skip what arrives meanwhile.
    const last = await this.#redis.xrevrange(this.#keys.inbox(this.processId), '+', '-', 'COUNT', 1);
    this.#after = last.length > 0 ? last[0]![0] : '0-0';
    this.#loop = this.#read();
  }

  /** Sends `body` to process `to` and resolves with its handler's answer (or rejects with its error). */
  async request(to: string, body: unknown, timeoutMs = this.#timeoutMs): Promise<unknown> {
    if (this.#closed) throw new Error('The inbox is closed');
    const id = `${this.processId}:${++this.#next}`;
    const answer = new Promise<unknown>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiting.delete(id);
        reject(new RequestTimeoutError(to, timeoutMs));
      }, timeoutMs);
      timer.unref?.();
      this.#waiting.set(id, { resolve, reject, timer });
    });
    // The timeout may fire while the send is still waiting for Redis (it is away): if the send
    // then fails, `answer` is never returned, and its rejection must not go unhandled (that
    // would end the process).
    answer.catch(() => {});
    try {
      await this.#send(to, ['k', 'q', 'id', id, 'from', this.processId, 'b', JSON.stringify(body ?? null)]);
    } catch (err) {
      const w = this.#waiting.get(id);
      if (w) {
        clearTimeout(w.timer);
        this.#waiting.delete(id);
      }
      throw err;
    }
    return answer;
  }

  /** The id the next request() will carry (so a caller can look for it elsewhere, e.g. the log). */
  get nextRequestId(): string {
    return `${this.processId}:${this.#next + 1}`;
  }

  async close(): Promise<void> {
    this.#closed = true;
    for (const [id, w] of this.#waiting) {
      clearTimeout(w.timer);
      w.reject(new Error('The inbox is closed'));
      this.#waiting.delete(id);
    }
    try {
      await this.#redis.client('UNBLOCK', Number(await this.#blocking.client('ID')));
    } catch {
      // The loop wakes up on its own within a second.
    }
    await this.#loop;
  }

  async #send(to: string, fields: string[]): Promise<void> {
    // Every process id is new (a restart makes another): the inbox of a process that is gone
    // must not stay in Redis for ever, so each message pushes its expiry a day ahead.
    const key = this.#keys.inbox(to);
    const results = await this.#redis
      .pipeline()
      .xadd(key, 'MAXLEN', '~', this.#maxEntries, '*', ...fields)
      .pexpire(key, INBOX_IDLE_EXPIRY_MS)
      .exec();
    for (const [err] of results ?? []) if (err) throw err;
  }

  async #read(): Promise<void> {
    const key = this.#keys.inbox(this.processId);
    let failures = 0;
    while (!this.#closed) {
      let reply: [string, [string, string[]][]][] | null;
      try {
        reply = (await this.#blocking.xread('COUNT', 1000, 'BLOCK', 1000, 'STREAMS', key, this.#after)) as
          | [string, [string, string[]][]][]
          | null;
        failures = 0;
      } catch (err) {
        if (this.#closed) return;
        failures++;
        this.#logger.warn({ err }, 'reading the inbox failed; retrying');
        await new Promise((r) => setTimeout(r, Math.min(2000, 50 * 2 ** failures)));
        continue;
      }
      if (reply === null) continue;
      for (const [, messages] of reply) {
        for (const [id, fields] of messages) {
          this.#after = id;
          this.#dispatch(toMap(fields));
        }
      }
    }
  }

  #dispatch(m: Map<string, string>): void {
    const id = m.get('id');
    if (id === undefined) return;
    if (m.get('k') === 'a') {
      const w = this.#waiting.get(id);
      if (!w) return; // timed out meanwhile
      clearTimeout(w.timer);
      this.#waiting.delete(id);
      const error = m.get('e');
      if (error !== undefined) w.reject(new Error(error));
      else w.resolve(JSON.parse(m.get('b') ?? 'null'));
      return;
    }
    const from = m.get('from');
    const handler = this.#handler;
    if (from === undefined || handler === null) return;
    let body: unknown;
    try {
      body = JSON.parse(m.get('b') ?? 'null');
    } catch {
      return;
    }
    handler(from, body)
      .then(
        (answer) => this.#send(from, ['k', 'a', 'id', id, 'b', JSON.stringify(answer ?? null)]),
        (err: unknown) => this.#send(from, ['k', 'a', 'id', id, 'e', String((err as Error)?.message ?? err)]),
      )
      .catch((err: unknown) => this.#logger.warn({ err, to: from }, 'could not answer a request'));
  }
}

function toMap(fields: string[]): Map<string, string> {
  const m = new Map<string, string>();
  for (let i = 0; i + 1 < fields.length; i += 2) m.set(fields[i]!, fields[i + 1]!);
  return m;
}
