// The server: accepts connections from its transports, runs the handshake (PROTOCOL.md §4, §8),
// owns the sessions, and batches every session's output into one frame per event-loop turn.
//
// Application hooks, in the order they run (each may answer with a callback or a promise; one
// that throws, rejects or times out denies that request and nothing else):
//   1. 'connection' (connection)                 — deny on headers/query: close 4096
//   2. 'session'    (session, connection, params, callback) or the README's (session, params, callback)
//   3. session 'fetch' (name, params, callback)  — map a scope name to a Scope, or deny
import { ErrorType, type WireError } from '../errors.js';
import type { ModelClass, ModelObject } from '../model/model-object.js';
import { GroupCommit, snapshotOf } from '../persistence/group-commit.js';
import { restoreScope } from '../persistence/restore.js';
import { decodeFrame, encodeSessionCreateReply } from '../protocol/codec.js';
import type { SessionCreate } from '../protocol/messages.js';
import { Scope, type ScopeOptions } from '../scope/scope.js';
import type { ChangesetResult } from '../scope/types.js';
import type { Store } from '../store/types.js';
import type { Connection, ConnectionHandler, InboundData, Transport } from '../transport/types.js';
import { WebsocketTransport } from '../transport/websocket.js';
import { Emitter } from '../util/emitter.js';
import { closeReason } from './close-reason.js';
import { callHook, reasonMessage } from './hooks.js';
import { type ChangeSink, ScopeHub } from './hub.js';
import { type Logger, type ResolvedOptions, resolveOptions, type ServerOptions } from './options.js';
import { Session, type SessionHost } from './session.js';
import { createToken } from './token.js';

const CLOSE_DENIED = 4096;

/** What a `connection` hook sees: the socket's parameters, and a way to refuse it. */
export class IncomingConnection {
  denied: WireError | null = null;
  constructor(readonly connection: Connection) {}
  /** `x-jetstream-*` headers and query parameters, prefix removed. */
  get params(): Record<string, string> {
    return this.connection.params;
  }
  get headers(): Record<string, string | string[] | undefined> {
    return this.connection.headers;
  }
  get remoteAddress(): string | undefined {
    return this.connection.remoteAddress;
  }
  /** Refuses the connection: it is closed with 4096 and the reason. */
  deny(reason?: unknown): void {
    this.denied = {
      message: reasonMessage(reason, 'Connection was rejected'),
      type: ErrorType.rejected,
    };
  }
  /** Kept for the original API; connections are accepted unless denied. */
  accept(): void {}
}

export type SessionCallback = (err?: unknown) => void;
/**
 * The 'session' hook, in either form: `(session, params, callback)` (the README's) or
 * `(session, connection, params, callback)` (the original code's); see #runSessionHooks.
 */
// biome-ignore lint/suspicious/noExplicitAny: the two accepted forms differ in their middle arguments
export type SessionHook = (session: Session, ...args: any[]) => unknown;

export interface ServerEvents {
  connection: (connection: IncomingConnection) => unknown;
  session: SessionHook;
  listening: () => void;
  error: (err: Error) => void;
  // biome-ignore lint/suspicious/noExplicitAny: open-ended for application events
  [event: string]: (...args: any[]) => unknown;
}

/** Applies a changeset. Replaced by procedures/sync.ts once procedures are loaded. */
export type SyncApplier = SessionHost['applySync'];

let defaultApplySync: SyncApplier = (scope, req) =>
  scope.applyChangeset(req.fragments, { atomic: req.atomic, origin: req.origin, procedure: req.procedure });

/** @internal Lets procedures/ install the ordered, procedure-aware applier. */
export function setDefaultApplySync(fn: SyncApplier): void {
  defaultApplySync = fn;
}

export class Server extends Emitter<ServerEvents> implements SessionHost {
  readonly options: ResolvedOptions;
  readonly logger: Logger;
  readonly hub: ScopeHub;
  readonly transports: Transport[];
  #sessions = new Map<string, Session>();
  #scopes = new Map<string, Scope>();
  #dirty: Session[] = [];
  #flushScheduled = false;
  #pendingConnections = new Set<Connection>();
  #listening: Promise<this> | null = null;
  #clock: ReturnType<typeof setInterval> | null = null;
  #closed = false;
  #sink: ChangeSink | null;
  #commits: GroupCommit | null = null;
  #restoring = new Set<Scope>();
  #opened = new Map<string, Promise<Scope>>();
  /** The durable store, when one is configured. */
  readonly store: Store | null = null;

  constructor(options: ServerOptions = {}) {
    super();
    this.options = resolveOptions(options);
    this.logger = this.options.logger;
    if (options.store) {
      const commits = new GroupCommit(options.store, {
        snapshotEvery: options.snapshotEvery,
        onFailure: (scopes, err) => this.#storeFailed(scopes, err),
        onSnapshotError: (scope, err) => this.logger.warn({ err, scope: scope.name }, 'snapshot failed'),
      });
      this.#commits = commits;
      this.store = options.store;
      // Broadcasts wait for the group commit of the changes they carry.
      this.#sink = {
        changes: (_scope, _fragments, _context, broadcast) =>
          commits.afterCommit((err) => !err && broadcast()),
      };
    } else {
      this.#sink = null;
    }
    this.hub = new ScopeHub(this.#sink);
    for (const s of options.scopes ?? []) this.#scopes.set(s.name, s);
    if (options.transports && options.transports.length > 0) {
      this.transports = options.transports.slice();
    } else {
      // [e2e fix] The default transport's frame limit follows `limits.maxFrameBytes` (plus slack
      // for the codec to answer a slightly-too-big frame itself); it was a fixed 1 MiB + 1 KiB,
      // so raising maxFrameBytes had no effect and lowering it left ws buffering 1 MiB frames.
      const maxFrameBytes = this.options.limits.maxFrameBytes;
      const maxPayload = Number.isFinite(maxFrameBytes) ? maxFrameBytes + 1024 : 0; // 0 = no limit in ws
      this.transports = [
        options.server
          ? new WebsocketTransport({ server: options.server, maxPayload })
          : new WebsocketTransport({ port: options.port ?? 3000, maxPayload }),
      ];
    }
  }

  /** Starts every transport. Resolves once all are listening. */
  listen(): Promise<this> {
    this.#startClock();
    this.#listening ??= Promise.all(this.transports.map((t) => t.listen((c) => this.#onConnection(c)))).then(
      () => {
        this.emit('listening');
        return this;
      },
    );
    return this.#listening;
  }

  /** The port of the first WebSocket transport (after listen). */
  get port(): number | undefined {
    for (const t of this.transports) if (t instanceof WebsocketTransport) return t.port;
    return undefined;
  }

  /** Live sessions. */
  get sessions(): Session[] {
    return [...this.#sessions.values()];
  }

  /** Serves `scope` by name to sessions that have no fetch handler. */
  addScope(scope: Scope): void {
    this.#scopes.set(scope.name, scope);
  }

  /** Ends every session and stops every transport. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#clock) clearInterval(this.#clock);
    this.#clock = null;
    for (const s of [...this.#sessions.values()]) s.close(1001, { message: 'Server shutting down' });
    for (const c of this.#pendingConnections) c.close(1001, 'Server shutting down');
    this.hub.close();
    await Promise.all(this.transports.map((t) => t.close()));
    await this.#commits?.drain();
  }

  // ---- SessionHost -----------------------------------------------------------------------------

  findScope(name: string): Scope | undefined {
    return this.#scopes.get(name);
  }

  applySync(scope: Scope, req: Parameters<SyncApplier>[1]): ChangesetResult | Promise<ChangesetResult> {
    const failure = this.#commits?.failed.get(scope);
    if (failure) {
      const e = {
        message: `Could not apply SyncMessage: the store failed (${failure.message}); the scope is being restored`,
        type: ErrorType.storeFailed,
      };
      return { results: req.fragments.map(() => e), applied: [] };
    }
    return defaultApplySync(scope, req);
  }

  afterCommit(fn: (err: Error | null) => void): void {
    if (this.#commits) this.#commits.afterCommit(fn);
    else fn(null);
  }

  /**
   * Opens a durable scope: loads it from the store (snapshot + change log), or creates it with
   * `root()` and stores that initial state. The scope is then served by name and every change
   * to it is stored before it is acknowledged. Without a store, simply creates it. Opening a
   * name again returns the same scope, so a `fetch` hook can open scopes on first use.
   */
  openScope(options: ScopeOptions & { root: () => ModelObject }): Promise<Scope> {
    if (!options || typeof options.name !== 'string')
      return Promise.reject(new TypeError('openScope needs a name'));
    // One Scope per name: opening twice (say, lazily from a fetch hook, by two sessions at
    // once) must not create two writers of the same stored scope.
    let opening = this.#opened.get(options.name);
    if (!opening) {
      opening = this.#open(options);
      this.#opened.set(options.name, opening);
      opening.catch(() => this.#opened.delete(options.name)); // a failed open can be retried
    }
    return opening;
  }

  async #open(options: ScopeOptions & { root: () => ModelObject }): Promise<Scope> {
    const { root, ...scopeOptions } = options;
    const scope = new Scope(scopeOptions);
    const initial = root();
    const store = this.store;
    if (!store) {
      scope.setRoot(initial);
      this.addScope(scope);
      return scope;
    }
    await store.open();
    const loaded = await store.load(scope.name);
    if (loaded) {
      const warnings = restoreScope(scope, initial.constructor as ModelClass, loaded);
      for (const w of warnings) this.logger.warn({ scope: scope.name }, w);
    } else {
      scope.setRoot(initial);
      await store.writeSnapshot(snapshotOf(scope));
    }
    this.#commits!.track(scope);
    this.addScope(scope);
    return scope;
  }

  /** Resolves once every change accepted so far is stored. */
  async drain(): Promise<void> {
    await this.#commits?.drain();
  }

  #storeFailed(scopes: Scope[], err: Error): void {
    this.logger.error(
      { err, scopes: scopes.map((s) => s.name) },
      'store append failed; restoring the scopes from the store',
    );
    for (const scope of scopes) void this.#restore(scope);
  }

  /** Rebuilds a scope from the store after a failed append, then resends its state to every holder. */
  async #restore(scope: Scope): Promise<void> {
    if (this.#restoring.has(scope) || !this.store || !scope.root) return;
    this.#restoring.add(scope);
    const rootClass = scope.root.constructor as ModelClass;
    try {
      for (let attempt = 0; !this.#closed; attempt++) {
        try {
          await this.#commits!.drain();
          const loaded = await this.store.load(scope.name);
          if (!loaded) throw new Error('the scope is no longer stored');
          this.#commits!.untrack(scope);
          scope._reset();
          for (const w of restoreScope(scope, rootClass, loaded)) this.logger.warn({ scope: scope.name }, w);
          this.#commits!.track(scope);
          this.#commits!.failed.delete(scope);
          for (const s of this.hub.sessionsOf(scope)) (s as Session)._sendState(scope);
          this.logger.info({ scope: scope.name }, 'scope restored from the store');
          return;
        } catch (err) {
          this.logger.warn({ err, scope: scope.name, attempt }, 'scope restore failed; retrying');
          await new Promise((r) => setTimeout(r, Math.min(30_000, 500 * 2 ** attempt)).unref?.());
        }
      }
    } finally {
      this.#restoring.delete(scope);
    }
  }

  /**
   * Output is written once per event-loop turn for all sessions at once. Adaptive batching:
   * when the previous write happened less than `flushInterval` ms ago, the next one waits for
   * the rest of that interval, so that under load several turns share one frame (one syscall per
   * socket instead of one per message) while a quiet server still answers at once.
   */
  scheduleFlush(session: Session): void {
    this.#dirty.push(session);
    if (this.#flushScheduled) return;
    this.#flushScheduled = true;
    const interval = this.options.flushInterval;
    const wait = interval === 0 ? 0 : this.#lastFlush + interval - performance.now();
    if (wait > 0) setTimeout(this.#flushAll, wait);
    else setImmediate(this.#flushAll);
  }

  #lastFlush = -Infinity;
  #flushAll = (): void => {
    this.#flushScheduled = false;
    this.#lastFlush = performance.now();
    const dirty = this.#dirty;
    this.#dirty = [];
    for (let i = 0; i < dirty.length; i++) dirty[i]!._flush();
  };

  sessionEnded(session: Session): void {
    if (this.#sessions.get(session.token) === session) this.#sessions.delete(session.token);
  }

  /**
   * One interval drives every session's expiry and keep-alive pings. Its period is fine enough
   * for the ping jitter (a quarter of the variance) and for short expiries in tests.
   */
  #startClock(): void {
    if (this.#clock || this.#closed) return;
    const { pingInterval, pingVariance, sessionExpiry } = this.options;
    const period = Math.max(5, Math.min(250, (pingVariance || pingInterval) / 4, sessionExpiry / 4));
    this.#clock = setInterval(() => {
      const now = Date.now();
      for (const s of this.#sessions.values()) s._tick(now);
    }, period);
    this.#clock.unref?.();
  }

  // ---- connections -----------------------------------------------------------------------------

  #onConnection(conn: Connection): void {
    if (this.#closed) {
      conn.close(1001, 'Server shutting down');
      return;
    }
    if (!this.options.sessionRateLimit.take(conn.remoteAddress)) {
      deny(conn, { message: 'Too many connection attempts', type: ErrorType.rateLimited });
      return;
    }
    const token = conn.params.sessiontoken;
    if (token !== undefined) {
      this.#resume(conn, token);
      return;
    }
    void this.#establish(conn);
  }

  #resume(conn: Connection, token: string): void {
    const session = this.#sessions.get(token);
    if (!session || session.expired) {
      deny(conn, { message: 'Session token unrecognized', type: ErrorType.sessionTokenUnrecognized });
      return;
    }
    session._attach(conn, true);
    conn.releaseHandshake();
  }

  async #establish(conn: Connection): Promise<void> {
    this.#pendingConnections.add(conn);
    // Frames that arrive before the session is accepted are kept, not lost (original bug 11).
    const frames: InboundData[] = [];
    let closed = false;
    let wake: (() => void) | null = null;
    const handshake: ConnectionHandler = {
      onMessage(_conn, data) {
        frames.push(data);
        wake?.();
      },
      onClose() {
        closed = true;
        wake?.();
      },
    };
    conn.setHandler(handshake);
    const cleanup = () => {
      if (!closed && this.#pendingConnections.has(conn)) conn.setHandler(null);
      this.#pendingConnections.delete(conn);
    };
    const timer = setTimeout(() => {
      timedOut = true;
      wake?.();
    }, this.options.establishSessionTimeout);
    let timedOut = false;

    try {
      const incoming = new IncomingConnection(conn);
      const hookError = await this.#runConnectionHooks(incoming);
      if (hookError) return deny(conn, hookError);

      while (frames.length === 0 && !closed && !timedOut) await new Promise<void>((r) => (wake = r));
      clearTimeout(timer);
      if (closed) return;
      if (frames.length === 0) {
        return deny(conn, {
          message: 'Session establish timed out',
          type: ErrorType.sessionEstablishTimedOut,
        });
      }
      const first = decodeFrame(frames.shift()!, this.options.limits, { handshake: true });
      if (!first.ok) return deny(conn, first.error);
      const item = first.items[0];
      if (item?.kind !== 'message' || item.message.type !== 'SessionCreate') {
        return deny(conn, { message: 'Unrecognized handshake', type: ErrorType.unrecognizedHandshake });
      }
      const create = item.message as SessionCreate;
      const session = new Session(this, createToken(), create.params, create.version);
      const denial = await this.#runSessionHooks(session, incoming, create.params);
      if (closed || this.#closed) return;
      if (denial) {
        conn.send(`[${encodeSessionCreateReply(0, denial)}]`);
        return deny(conn, denial);
      }
      this.#sessions.set(session.token, session);
      cleanup();
      session._attach(conn, false);
      conn.releaseHandshake();
      session._sendNow(encodeSessionCreateReply(0, session.token));
      for (const f of frames) session._receive(f);
    } catch (err) {
      this.logger.error({ err }, 'handshake failed');
      deny(conn, { message: 'Internal error', type: ErrorType.rejected });
    } finally {
      clearTimeout(timer);
      cleanup();
    }
  }

  async #runConnectionHooks(incoming: IncomingConnection): Promise<WireError | null> {
    for (const hook of this.listeners('connection')) {
      // [e2e fix] Through callHook, so that a hook whose promise never settles is denied after
      // hookTimeout; awaited bare, it left the connection pending forever (the establish
      // timeout only starts counting once the hooks are done).
      const answer = await callHook<unknown>((cb) => {
        const r = hook(incoming);
        if (!(r && typeof (r as Promise<unknown>).then === 'function')) cb();
        return r;
      }, this.options.hookTimeout);
      if (!answer.ok && !incoming.denied) {
        this.logger.info({ err: answer.error }, 'connection hook failed');
        incoming.deny(answer.error);
      }
      if (incoming.denied) return incoming.denied;
    }
    return null;
  }

  async #runSessionHooks(
    session: Session,
    incoming: IncomingConnection,
    params: Record<string, unknown>,
  ): Promise<WireError | null> {
    for (const hook of this.listeners('session')) {
      const answer = await callHook<unknown>((cb) => {
        // The README's form is (session, params, callback); the original code's is
        // (session, connection, params, callback). Three declared parameters mean the
        // README's form, unless the hook is an async function (it answers by promise).
        const h = hook as (...args: unknown[]) => unknown;
        const readmeForm = h.length <= 3 && !(h.length === 3 && h.constructor?.name === 'AsyncFunction');
        return readmeForm ? h(session, params, cb) : h(session, incoming, params, cb);
      }, this.options.hookTimeout);
      if (!answer.ok) {
        this.logger.info({ err: answer.error }, 'session denied');
        return { message: reasonMessage(answer.error, 'Session creation denied'), type: ErrorType.rejected };
      }
    }
    return null;
  }
}

/** Closes a socket with 4096 and the reason as JSON, shortened to fit the close frame. */
function deny(conn: Connection, error: WireError): void {
  conn.close(CLOSE_DENIED, closeReason(error));
}

/** Creates a server and waits until it listens. */
export async function createServer(options: ServerOptions = {}): Promise<Server> {
  return new Server(options).listen();
}
