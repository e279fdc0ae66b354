// The server: accepts connections from its transports, runs the handshake (docs/protocol.md
// §4, §8), owns the sessions, and batches every session's output into one frame per event-loop
// turn. What happens to a changeset belongs to the pipeline (pipeline/), what makes it durable
// to the persistence (persistence/); the server wires both in at construction.
//
// The application's hooks, typed and in the order they run, are listed in events.ts.

import { ClusterPersistence } from '../cluster/cluster-persistence.js';
import { type ClusterConnections, clusterConnections } from '../cluster/connect.js';
import { ErrorType, type WireError } from '../errors.js';
import { EphemeralPersistence } from '../persistence/ephemeral.js';
import { StorePersistence } from '../persistence/store-persistence.js';
import type { OpenScopeOptions, Persistence } from '../persistence/types.js';
import { ChangesetPipeline, type ChangesetRequest } from '../pipeline/pipeline.js';
import { ProcedureRunner } from '../procedures/runner.js';
import { decodeFrame, encodeSessionCreateReply } from '../protocol/codec.js';
import type { SessionCreate } from '../protocol/messages.js';
import type { Scope } from '../scope/scope.js';
import type { ChangesetResult } from '../scope/types.js';
import type { Store } from '../store/types.js';
import type {
  Connection,
  ConnectionHandler,
  InboundData,
  Transport,
  TransportStats,
} from '../transport/types.js';
import { WebsocketTransport } from '../transport/websocket.js';
import { Emitter } from '../util/emitter.js';
import { silentLogger } from '../util/logger.js';
import { closeReason } from './close-reason.js';
import {
  invokeSessionHook,
  type ServerEvents,
  type SessionHook,
  type SessionHookWithConnection,
} from './events.js';
import { callHook, reasonMessage } from './hooks.js';
import { type ChangeSink, ScopeHub } from './hub.js';
import { ServerMetrics } from './metrics.js';
import { type Logger, type ResolvedOptions, resolveOptions, type ServerOptions } from './options.js';
import { Session, type SessionHost } from './session.js';
import { staticFiles } from './static-files.js';
import { createToken } from './token.js';

const CLOSE_DENIED = 4096;
/** Addresses in cooldown before expired ones are swept (bounds memory under a spray of addresses). */
const MAX_COOLDOWNS = 10_000;

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

export class Server extends Emitter<ServerEvents> implements SessionHost {
  readonly options: ResolvedOptions;
  readonly logger: Logger;
  /** The Prometheus metrics (docs/operations.md), when `createServer({metrics})` asked for them. */
  readonly metrics: ServerMetrics | null;
  /** The store as the application passed it (the persistence may use it through a wrapper). */
  readonly #store: Store | null;
  readonly hub: ScopeHub;
  readonly transports: Transport[];
  #sessions = new Map<string, Session>();
  #scopes = new Map<string, Scope>();
  #dirty: Session[] = [];
  #flushScheduled = false;
  #pendingConnections = new Set<Connection>();
  #listening: Promise<this> | null = null;
  #ticker: ReturnType<typeof setInterval> | null = null;
  #closed = false;
  /** Whether the logger takes debug lines (pino's isLevelEnabled; any other logger: assumed yes). */
  get #debug(): boolean {
    const l = this.logger as { isLevelEnabled?: (level: string) => boolean };
    return l.isLevelEnabled ? l.isLevelEnabled('debug') : this.logger !== silentLogger;
  }
  /** Frames and bytes of the transports, when metrics are on. */
  readonly #transportStats: TransportStats[] = [];
  #opened = new Map<string, Promise<Scope>>();
  /** Client addresses that may not connect until the time given (see `limitCooldown`). */
  #cooldowns = new Map<string, number>();
  /**
   * For scopes opened with `unloadWhenIdle`: the idle time after which they are unloaded, and
   * which idle period is the current one (each time the last session lets go starts a new one).
   */
  #unloadAfter = new Map<Scope, { after: number; period: number }>();
  /** Scopes being unloaded, by name: a reopen waits until the unloaded one is fully stored. */
  #unloading = new Map<string, Promise<void>>();
  readonly #persistence: Persistence;
  readonly #pipeline: ChangesetPipeline;
  /** In a cluster (docs/cluster.md): the persistence, which also routes changesets to owners. */
  #cluster: ClusterPersistence | null = null;
  #clusterConnections: ClusterConnections | null = null;

  constructor(options: ServerOptions = {}) {
    super();
    this.options = resolveOptions(options);
    // Checked before anything is opened (the cluster's connections below), like every option.
    if (options.static !== undefined && (options.server || options.transports?.length))
      throw new TypeError(
        "Server option static serves files on the default transport's own port: it cannot be combined with server or transports",
      );
    const requestHandler = options.static !== undefined ? staticFiles(options.static) : undefined;
    this.logger = this.options.logger;
    this.#store = options.store ?? null;
    this.metrics = options.metrics
      ? new ServerMetrics(options.metrics, {
          sessions: () =>
            [...this.#sessions.values()].map((s) => ({
              connected: s.connection !== null,
              unacknowledged: s.unacknowledged,
              pendingBytes: s.pendingBytes,
            })),
          scopes: () => [...this.#scopes.values()],
          transports: () => this.#transportStats,
          ownedScopes: () => this.#cluster?.ownedScopes ?? null,
        })
      : null;
    // The store the persistence uses: timed by the metrics when they are on.
    const store = options.store && this.metrics ? this.metrics.store(options.store) : options.store;
    let persistence: Persistence;
    if (options.cluster) {
      if (!options.store) {
        throw new TypeError(
          'A cluster needs a store: createServer({store: <a PostgreSQL store>, cluster: {redis}})',
        );
      }
      const connections = clusterConnections(options.cluster, this.logger);
      try {
        const cluster = new ClusterPersistence(
          store!,
          {
            logger: this.logger,
            restored: (scope) => this.#restored(scope),
            submit: (scope, req) => this.#pipeline.submit(scope, req),
            held: (scope) => this.hub.isHeld(scope),
          },
          {
            ...connections,
            prefix: options.cluster.prefix,
            leaseTtlMs: options.cluster.leaseTtlMs,
            forwardTimeoutMs: options.cluster.forwardTimeoutMs,
            releaseIdleAfterMs: options.cluster.releaseIdleAfterMs,
            observeForward: (seconds, outcome) => this.metrics?.forwardDuration.observe({ outcome }, seconds),
            observeLag: (seconds) => this.metrics?.streamLag.observe(seconds),
            snapshotEvery: options.snapshotEvery,
          },
        );
        this.#cluster = cluster;
        this.#clusterConnections = connections;
        persistence = cluster;
      } catch (err) {
        void connections.close();
        throw err;
      }
    } else if (store) {
      persistence = new StorePersistence(
        store,
        { logger: this.logger, restored: (scope) => this.#restored(scope) },
        { snapshotEvery: options.snapshotEvery },
      );
    } else {
      persistence = new EphemeralPersistence();
    }
    this.#persistence = persistence;
    const procedures = new ProcedureRunner(this.logger);
    this.#pipeline = new ChangesetPipeline({
      procedures: this.metrics ? this.metrics.procedures(procedures) : procedures,
      gate: persistence,
      logger: this.logger,
    });
    // With a store, broadcasts wait for the group commit of the changes they carry; the metrics
    // time each change from here to its broadcast's write (fan-out lag).
    const metrics = this.metrics;
    const sink: ChangeSink | null =
      persistence.durable || metrics
        ? {
            changes: (scope, _fragments, _context, broadcast) => {
              // Timed only when some session will be sent it: the flush that ends the
              // measurement runs only then.
              const at = performance.now();
              const send = () => {
                if (metrics && this.hub.isHeld(scope)) metrics.accepted(at);
                broadcast();
              };
              if (persistence.durable) persistence.afterCommit((err) => !err && send());
              else send();
            },
          }
        : null;
    this.hub = new ScopeHub(sink, (scope) => this.#scopeIdle(scope));
    for (const s of options.scopes ?? []) this.#scopes.set(s.name, s);
    if (options.transports && options.transports.length > 0) {
      this.transports = options.transports.slice();
    } else {
      // The default transport's frame limit follows `limits.maxFrameBytes`, plus slack for the
      // codec to answer a slightly-too-big frame itself instead of ws cutting the socket.
      const maxFrameBytes = this.options.limits.maxFrameBytes;
      const maxPayload = Number.isFinite(maxFrameBytes) ? maxFrameBytes + 1024 : 0; // 0 = no limit in ws
      this.transports = [
        options.server
          ? new WebsocketTransport({ server: options.server, maxPayload })
          : new WebsocketTransport({
              port: options.port ?? 3000,
              maxPayload,
              ...(requestHandler ? { requestHandler } : {}),
            }),
      ];
    }
    if (this.metrics) {
      for (const t of this.transports) {
        const stats = t.enableStats?.();
        if (stats) this.#transportStats.push(stats);
      }
    }
  }

  /**
   * Adds a hook or event listener (src/server/events.ts lists them with their payloads). The
   * 'session' hook may be written `(session, params, callback)` or, as in the original code,
   * `(session, connection, params, callback)`.
   */
  override on(event: 'session', hook: SessionHook): this;
  override on(event: 'session', hook: SessionHookWithConnection): this;
  override on<K extends keyof ServerEvents>(event: K, listener: ServerEvents[K]): this;
  override on(
    event: keyof ServerEvents,
    listener: ServerEvents[keyof ServerEvents] | SessionHookWithConnection,
  ): this {
    return super.on(event, listener as ServerEvents[typeof event]);
  }

  /** Starts every transport. Resolves once all are listening. */
  listen(): Promise<this> {
    this.#startClock();
    this.#listening ??= Promise.all(this.transports.map((t) => t.listen((c) => this.#onConnection(c)))).then(
      () => {
        this.emit('listening', this);
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

  /**
   * Shuts down gracefully (docs/server.md, "Shutting down"): stops reading from clients and
   * accepting connections, lets the changesets already read finish (procedures, commits) and
   * sends their replies, closes every session with 1001, lets the sockets' close handshakes
   * finish (a second at most), and closes the persistence (a store passed in stays open for its
   * owner to close). `timeoutMs` (default 10 s) bounds the wait
   * for changesets in flight; what they had not finished by then is not acknowledged, and the
   * clients send it again after they reconnect.
   */
  async close(options: { timeoutMs?: number } = {}): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#ticker) clearInterval(this.#ticker);
    this.#ticker = null;
    const sessions = [...this.#sessions.values()];
    const started = performance.now();
    this.logger.info({ sessions: sessions.length }, 'shutting down');
    // What a client sends from now on is not read: unacknowledged, it is sent again elsewhere.
    for (const s of sessions) s.connection?.pauseReading?.();
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      (async () => {
        await this.#pipeline.idle();
        await this.#persistence.drain();
      })().catch((err: unknown) => this.logger.error({ err }, 'shutting down: a changeset in flight failed')),
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, options.timeoutMs ?? 10_000);
        timer.unref?.();
      }),
    ]);
    clearTimeout(timer);
    // Replies of what just finished are queued in this turn's continuations: write them out.
    await new Promise<void>((resolve) => setImmediate(resolve));
    for (const s of sessions) s._flush();
    for (const s of sessions) {
      const conn = s.connection;
      s.close(1001, { message: 'Server shutting down' });
      conn?.resumeReading?.(); // to read the client's answer to the close frame (ignored otherwise)
    }
    for (const c of this.#pendingConnections) c.close(1001, 'Server shutting down');
    this.hub.close();
    await Promise.all(this.transports.map((t) => t.close()));
    await this.#persistence.close();
    await this.#clusterConnections?.close();
    this.logger.info({ durationMs: Math.round(performance.now() - started) }, 'shut down');
  }

  /**
   * Whether this server should get traffic (a Kubernetes readiness probe; docs/operations.md):
   * listening and not shutting down, its store answering a read within `timeoutMs` (default
   * 2 s), and, in a cluster, its Redis connection up. `checks` says what each part answered.
   */
  async readiness(timeoutMs = 2000): Promise<Readiness> {
    const checks: Readiness['checks'] = {
      server: this.#closed ? 'shutting down' : this.#listening === null ? 'not listening' : 'ok',
    };
    const store = this.#persistence.store;
    if (store !== null) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      try {
        await Promise.race([
          store.load('jetstream:readyz'), // an indexed read, of a name no application uses
          new Promise((_, reject) => {
            timer = setTimeout(() => reject(new Error(`no answer in ${timeoutMs} ms`)), timeoutMs);
          }),
        ]);
        checks.store = 'ok';
      } catch (err) {
        checks.store = `unreachable: ${(err as Error).message}`;
      } finally {
        clearTimeout(timer);
      }
    }
    const redis = this.#clusterConnections?.redis;
    if (redis) checks.cluster = redis.status === 'ready' ? 'ok' : `Redis ${redis.status}`;
    const ready = Object.values(checks).every((c) => c === 'ok');
    return { ready, scopes: this.loadedScopes, sessions: this.#sessions.size, checks };
  }

  /** The durable store, when one is configured. */
  get store(): Store | null {
    return this.#store ?? this.#persistence.store;
  }

  // ---- SessionHost -----------------------------------------------------------------------------

  findScope(name: string): Scope | undefined {
    return this.#scopes.get(name);
  }

  stateReady(scope: Scope): Promise<boolean> | null {
    const cluster = this.#cluster;
    return cluster === null || cluster.owns(scope) ? null : cluster.caughtUp(scope);
  }

  submit(scope: Scope, req: ChangesetRequest): ChangesetResult | Promise<ChangesetResult> {
    // In a cluster, a scope another process owns gets the changeset from that process.
    const cluster = this.#cluster;
    const result = cluster
      ? (cluster.forward(scope, req) ?? cluster.rerouted(scope, req, this.#pipeline.submit(scope, req)))
      : this.#pipeline.submit(scope, req);
    // Observers of 'changeset' and the metrics cost nothing when there are none.
    if (
      !(req.origin instanceof Session) ||
      (this.metrics === null && !this.#debug && this.listenerCount('changeset') === 0)
    )
      return result;
    const session = req.origin;
    if (!(result instanceof Promise)) {
      this.#reportChangeset(scope, session, req, result);
      return result;
    }
    return result.then((r) => {
      this.#reportChangeset(scope, session, req, r);
      return r;
    });
  }

  #reportChangeset(scope: Scope, session: Session, req: ChangesetRequest, result: ChangesetResult): void {
    this.metrics?.changeset(req.fragments.length, result.results);
    if (this.#debug) {
      let rejected = 0;
      for (const r of result.results) if (r) rejected++;
      this.logger.debug(
        {
          session: session.id,
          scope: scope.name,
          fragments: req.fragments.length,
          rejected,
          procedure: req.procedure,
        },
        rejected === 0 ? 'changeset accepted' : 'changeset rejected',
      );
    }
    if (this.listenerCount('changeset') === 0) return;
    try {
      this.emit('changeset', {
        scope,
        session,
        fragments: req.fragments,
        atomic: req.atomic ?? false,
        ...(req.procedure === undefined ? {} : { procedure: req.procedure }),
        results: result.results,
        at: Date.now(),
      });
    } catch (err) {
      this.logger.error({ err }, "a 'changeset' listener threw");
    }
  }

  afterCommit(fn: (err: Error | null) => void): void {
    this.#persistence.afterCommit(fn);
  }

  /**
   * Opens a durable scope: loads it from the store (snapshot + change log), or creates it with
   * `root()` and stores that initial state. The scope is then served by name and every change
   * to it is stored before it is acknowledged. Without a store, simply creates it. Opening a
   * name again returns the same scope, so a `fetch` hook can open scopes on first use.
   */
  openScope(options: OpenScopeOptions): Promise<Scope> {
    if (!options || typeof options.name !== 'string')
      return Promise.reject(new TypeError('openScope needs a name'));
    if (typeof options.root !== 'function')
      return Promise.reject(new TypeError('openScope needs a root() function'));
    // One Scope per name: opening twice (say, lazily from a fetch hook, by two sessions at
    // once) must not create two writers of the same stored scope.
    let opening = this.#opened.get(options.name);
    if (!opening) {
      const unloading = this.#unloading.get(options.name);
      const persistence = this.#persistence;
      const open = () => persistence.open(options);
      opening = (unloading ? unloading.then(open) : open()).then((scope) => {
        this.addScope(scope);
        const idle = options.unloadWhenIdle;
        if (persistence.durable && typeof idle === 'number' && idle > 0) {
          this.#unloadAfter.set(scope, { after: idle, period: 0 });
          this.#scopeIdle(scope); // opened but not fetched yet: idle from now
        }
        return scope;
      });
      this.#opened.set(options.name, opening);
      opening.catch(() => this.#opened.delete(options.name)); // a failed open can be retried
    }
    return opening;
  }

  /** Resolves once every change accepted so far is stored. */
  drain(): Promise<void> {
    return this.#persistence.drain();
  }

  /** Changes of `scope` accepted and not stored yet: 0 without a store (the inspector's store lag). */
  unstored(scope: Scope): number {
    return this.#persistence.unstored?.(scope) ?? 0;
  }

  /** The scopes in memory, served by name (the inspector lists them). */
  get scopes(): Scope[] {
    return [...this.#scopes.values()];
  }

  /** Scopes in memory, served by name. */
  get loadedScopes(): number {
    return this.#scopes.size;
  }

  /** The last session let go of `scope`: unload it after its grace period, if it has one. */
  #scopeIdle(scope: Scope): void {
    const policy = this.#unloadAfter.get(scope);
    if (policy === undefined || this.#closed) return;
    const period = ++policy.period;
    setTimeout(() => void this.#unload(scope, period), policy.after).unref?.();
  }

  /**
   * Unloads an idle scope opened with `unloadWhenIdle`: it stops being served and recorded once
   * everything it accepted is stored, and the next openScope of its name loads it again.
   */
  async #unload(scope: Scope, period: number): Promise<void> {
    if (this.#closed || scope.unloaded || this.hub.isHeld(scope) || this.#scopes.get(scope.name) !== scope)
      return;
    // A timer of an earlier idle period: the scope was held and let go since; its own timer comes.
    if (this.#unloadAfter.get(scope)?.period !== period) return;
    const name = scope.name;
    this.#scopes.delete(name);
    this.#opened.delete(name);
    this.#unloadAfter.delete(scope);
    const released = this.#persistence.release(scope).then(
      () => scope._unload(),
      (err: unknown) => this.logger.error({ err, scope: name }, 'could not unload the scope'),
    );
    this.#unloading.set(name, released);
    await released;
    if (this.#unloading.get(name) === released) this.#unloading.delete(name);
    this.logger.debug({ scope: name }, 'idle scope unloaded');
  }

  /** A scope was rebuilt from the store: every session holding it gets its state again. */
  #restored(scope: Scope): void {
    for (const s of this.hub.sessionsOf(scope)) s._sendState(scope);
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
    this.metrics?.flushed();
  };

  #deny(conn: Connection, error: WireError): void {
    this.metrics?.connectionsDenied.inc({ reason: error.type ?? 'unknown' });
    this.logger.info(
      { address: conn.remoteAddress, reason: error.type, message: error.message },
      'connection denied',
    );
    conn.close(CLOSE_DENIED, closeReason(error));
  }

  overLimit(address: string | undefined): void {
    const cooldown = this.options.sessionLimits.limitCooldown;
    if (address === undefined || cooldown === 0) return;
    if (this.#cooldowns.size >= MAX_COOLDOWNS) this.#sweepCooldowns();
    this.#cooldowns.set(address, this.options.clock.now() + cooldown);
  }

  /** True while `address` may not connect: a session of it went over a limit recently. */
  #coolingDown(address: string | undefined): boolean {
    if (address === undefined) return false;
    const until = this.#cooldowns.get(address);
    if (until === undefined) return false;
    if (this.options.clock.now() < until) return true;
    this.#cooldowns.delete(address);
    return false;
  }

  #sweepCooldowns(): void {
    const now = this.options.clock.now();
    for (const [address, until] of this.#cooldowns) if (until <= now) this.#cooldowns.delete(address);
  }

  sessionEnded(session: Session, code: number): void {
    if (this.#sessions.get(session.token) === session) this.#sessions.delete(session.token);
    this.logger.info(
      { session: session.id, code, durationMs: this.options.clock.now() - session.createdAt },
      'session ended',
    );
    this.metrics?.sessionsClosed.inc({ code: String(code) });
  }

  /**
   * One interval drives every session's expiry and keep-alive pings. Its period is fine enough
   * for the ping jitter (a quarter of the variance) and for short expiries in tests.
   */
  #startClock(): void {
    if (this.#ticker || this.#closed) return;
    const { pingInterval, pingVariance, sessionExpiry } = this.options;
    const period = Math.max(5, Math.min(250, (pingVariance || pingInterval) / 4, sessionExpiry / 4));
    this.#ticker = setInterval(() => {
      const now = this.options.clock.now();
      let detachedBytes = 0;
      for (const s of this.#sessions.values()) {
        s._tick(now);
        if (!s.expired && s.connection === null) detachedBytes += s.pendingBytes;
      }
      if (detachedBytes > this.options.sessionLimits.maxDetachedBytes) this.#evictDetached(detachedBytes);
    }, period);
    this.#ticker.unref?.();
  }

  /**
   * Detached sessions keep every broadcast for a resume that may never come. Their total is
   * bounded: over `maxDetachedBytes`, the detached sessions holding most are ended first (their
   * clients get the new-session path when they come back: the resume is refused with 4096).
   */
  #evictDetached(total: number): void {
    const detached = [...this.#sessions.values()].filter((s) => !s.expired && s.connection === null);
    detached.sort((a, b) => b.pendingBytes - a.pendingBytes);
    const budget = this.options.sessionLimits.maxDetachedBytes;
    for (const s of detached) {
      if (total <= budget) break;
      total -= s.pendingBytes;
      this.logger.info({ session: s.id, bytes: s.pendingBytes }, 'detached session evicted');
      s.close(4097, {
        message: 'Session evicted: too much waiting for a resume',
        type: ErrorType.sessionEvicted,
      });
    }
  }

  // ---- connections -----------------------------------------------------------------------------

  #onConnection(conn: Connection): void {
    if (this.#closed) {
      conn.close(1001, 'Server shutting down');
      return;
    }
    if (!this.options.sessionRateLimit.take(conn.remoteAddress) || this.#coolingDown(conn.remoteAddress)) {
      this.#deny(conn, { message: 'Too many connection attempts', type: ErrorType.rateLimited });
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
      this.#deny(conn, { message: 'Session token unrecognized', type: ErrorType.sessionTokenUnrecognized });
      return;
    }
    session._attach(conn, true);
    this.logger.info({ session: session.id, address: conn.remoteAddress }, 'session resumed');
    conn.releaseHandshake();
    this.metrics?.sessionsResumed.inc();
  }

  async #establish(conn: Connection): Promise<void> {
    this.#pendingConnections.add(conn);
    // Frames that arrive before the session is accepted are kept, not lost (docs/protocol.md §4.2).
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
      if (hookError) return this.#deny(conn, hookError);

      while (frames.length === 0 && !closed && !timedOut) await new Promise<void>((r) => (wake = r));
      clearTimeout(timer);
      if (closed) return;
      if (frames.length === 0) {
        return this.#deny(conn, {
          message: 'Session establish timed out',
          type: ErrorType.sessionEstablishTimedOut,
        });
      }
      const first = decodeFrame(frames.shift()!, this.options.limits, { handshake: true });
      if (!first.ok) return this.#deny(conn, first.error);
      const item = first.items[0];
      if (item?.kind !== 'message' || item.message.type !== 'SessionCreate') {
        return this.#deny(conn, { message: 'Unrecognized handshake', type: ErrorType.unrecognizedHandshake });
      }
      const create = item.message as SessionCreate;
      const session = new Session(this, createToken(), create.params, create.version, create.extensions);
      const denial = await this.#runSessionHooks(session, incoming, create.params);
      if (closed || this.#closed) return;
      if (denial) {
        conn.send(`[${encodeSessionCreateReply(0, denial)}]`);
        return this.#deny(conn, denial);
      }
      this.#sessions.set(session.token, session);
      this.metrics?.sessionsCreated.inc();
      this.logger.info(
        { session: session.id, address: conn.remoteAddress, version: create.version },
        'session created',
      );
      cleanup();
      session._attach(conn, false);
      conn.releaseHandshake();
      session._sendNow(encodeSessionCreateReply(0, session.token, session.extensions));
      for (const f of frames) session._receive(f);
    } catch (err) {
      this.logger.error({ err }, 'handshake failed');
      this.#deny(conn, { message: 'Internal error', type: ErrorType.rejected });
    } finally {
      clearTimeout(timer);
      cleanup();
    }
  }

  async #runConnectionHooks(incoming: IncomingConnection): Promise<WireError | null> {
    for (const hook of this.listeners('connection')) {
      // Through callHook, so that a hook whose promise never settles is denied after
      // hookTimeout: the establish timeout is only checked once the hooks are done.
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
      const answer = await callHook<unknown>(
        (cb) => invokeSessionHook(hook, session, incoming, params, cb),
        this.options.hookTimeout,
      );
      if (!answer.ok) {
        this.logger.info({ err: answer.error }, 'session denied');
        return { message: reasonMessage(answer.error, 'Session creation denied'), type: ErrorType.rejected };
      }
    }
    return null;
  }
}

/** Closes a socket with 4096 and the reason as JSON, shortened to fit the close frame. */

/** `server.readiness()`: what a readiness probe answers. */
export interface Readiness {
  /** True when every check is `ok`. */
  ready: boolean;
  /** Scopes in memory. */
  scopes: number;
  /** Live sessions. */
  sessions: number;
  /** Each part's answer: `ok`, or why not. `store` and `cluster` only when configured. */
  checks: { server: string; store?: string; cluster?: string };
}

/** Creates a server and waits until it listens. */
export async function createServer(options: ServerOptions = {}): Promise<Server> {
  return new Server(options).listen();
}
