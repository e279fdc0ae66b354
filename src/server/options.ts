// Server options, with the defaults a demanding user would pick. Every option is documented
// in docs/server.md; validation happens once, at construction.
import type { Server as HttpServer } from 'node:http';
import { type ProtocolLimits, resolveLimits } from '../protocol/index.js';
import type { Scope } from '../scope/scope.js';
import type { Store } from '../store/types.js';
import type { Transport } from '../transport/types.js';
import { type Logger, silentLogger } from '../util/logger.js';
import type { MetricsOption } from './metrics.js';
import { type PresenceOptions, resolvePresenceOptions } from './presence.js';
import { RateLimiter, type RateLimitOptions, StateBudget } from './rate-limit.js';

export type { Logger };
export { silentLogger };

export interface ServerOptions {
  /** Transports to accept connections from. Default: a WebSocket transport on `port` or `server`. */
  transports?: Transport[];
  /** Port for the default WebSocket transport (0 = any free port). */
  port?: number;
  /** HTTP server to attach the default WebSocket transport to (instead of `port`). */
  server?: HttpServer;
  /**
   * A folder whose files the default transport serves over plain HTTP on `port`, next to the
   * WebSocket endpoint (GET / answers its index.html): a small app's page, as in the to-do
   * tutorial (docs/client.md). Relative to the working directory. Not with `server` or
   * `transports`. Dot files and paths leaving the folder answer 404 (docs/server.md).
   */
  static?: string;
  /**
   * Scopes served to every session by name when the application installs no `fetch` handler:
   * the shortest way to a working server.
   */
  scopes?: Scope[];
  /** The original's name for session options: `{inactivityExpiryTimeoutDuration: ms}`. */
  sessionOptions?: { inactivityExpiryTimeoutDuration?: number };
  /** A session with no inbound message for this long expires (close 4097). Default 10 min. */
  sessionExpiry?: number;
  /** A new connection must send SessionCreate within this many ms. Default 10 s. */
  establishSessionTimeout?: number;
  /** How long an application hook may take to answer before the request is denied. Default 10 s. */
  hookTimeout?: number;
  /** Keep-alive ping every `pingInterval ± pingVariance/2` ms. Defaults 10 s and 2 s. */
  pingInterval?: number;
  pingVariance?: number;
  /**
   * Adaptive output batching, in ms: a write that would follow the previous one sooner than
   * this waits for the rest of the interval, so that busy sessions get several messages per
   * frame, at the cost of up to that much latency under load. Default 0: every event-loop turn
   * (measured here, 1 ms saved no CPU per delivered fragment at 2,000 changesets/s to 100
   * readers, and added latency; larger values help when frames are many and small).
   */
  flushInterval?: number;
  /** Invalid messages a session may send before it is closed with 4096. Default 20. */
  maxInvalidMessages?: number;
  /**
   * New connections (session creations and resumes) per client address: a token bucket of
   * `burst` attempts refilled at `perSecond`. Defaults 1000 and 100. Beyond it: close 4096
   * `rate-limited`.
   */
  sessionRateLimit?: RateLimitOptions;
  /**
   * ScopeState bytes the whole server sends per second in answer to fetches, all sessions
   * together: a token bucket of `burst` bytes refilled at `perSecond`. Defaults 64 MiB/s and
   * 4 MiB. Beyond it, fetches wait their turn (in order, one state per event-loop turn) and each
   * waiting session's later messages wait behind its fetch, so that a storm of fetches leaves the
   * other sessions their round trip (docs/server.md, "Limits"). `perSecond: Infinity` turns it off.
   */
  stateBytes?: RateLimitOptions;
  /** Frame, changeset, string and array limits (see protocol/codec.ts `defaultLimits`). */
  limits?: Partial<ProtocolLimits>;
  /**
   * What one session may make the server spend: bytes waiting for its client, inbound messages,
   * fragments, fetches and resends per second, changesets queued. A session over a limit is
   * closed with 4097 and a reason naming it; the process and the other sessions carry on.
   * Every limit and its default: docs/server.md, "Limits".
   */
  sessionLimits?: SessionLimitsOption;
  /** Log destination; silent by default. */
  logger?: Logger;
  /**
   * The time source of session expiry and keep-alive pings (default `Date.now`). Tests pass a
   * clock they move by hand, so that expiry does not depend on the machine's speed.
   */
  clock?: Clock;
  /**
   * Durable storage (store/: SQLite, PostgreSQL, memory). With a store, scopes opened through
   * `server.openScope()` are loaded from it, and a change is acknowledged and broadcast only
   * after it is stored (group commit per event-loop turn).
   */
  store?: Store;
  /** Write a snapshot of a durable scope after this many stored changesets (default 1000). */
  snapshotEvery?: number;
  /**
   * Serve the scopes together with other processes (docs/cluster.md): scope ownership and the
   * change log live in Redis, the scopes in `store`, which must then be the PostgreSQL store.
   */
  cluster?: ClusterOption;
  /**
   * Prometheus metrics (docs/operations.md, "Metrics"): `true` for a registry of the server's
   * own (with Node's default metrics), or `{registry, prefix, defaultMetrics}` to register
   * elsewhere. Read them at `server.metrics.registry`. Default off.
   */
  metrics?: MetricsOption;
  /**
   * The presence extension (docs/protocol.md §17): `{rate, maxStateBytes}` (defaults 20 sends a
   * second per scope, 4096 bytes per state), or `false` to refuse it to every client.
   */
  presence?: false | Partial<PresenceOptions>;
}

/** `createServer({cluster})`: how this process joins the others. */
export interface ClusterOption {
  /** A Redis URL (`redis://host:6379/0`), or an ioredis client (it is duplicated for blocking reads). */
  redis: string | RedisClient;
  /** This process's id, unique among the cluster's live processes. Default host name, pid and random. */
  processId?: string;
  /** Prefix of every Redis key. Default `jetstream:`. */
  prefix?: string;
  /** How long a scope's owner keeps it without renewing its lease, ms. Default 2000. */
  leaseTtlMs?: number;
  /** How long a changeset forwarded to another process waits for its answer, ms. Default 5000. */
  forwardTimeoutMs?: number;
  /**
   * An owner none of whose own sessions has held a scope for this long hands the scope's lease
   * back, so that it comes to be owned by a process that uses it, ms. Default 30000; 0 never.
   */
  releaseIdleAfterMs?: number;
}

/**
 * An ioredis client (a `Redis` of the ioredis package, version 5). Described by shape rather than
 * imported from ioredis, so that the declarations of a project that never installs ioredis (it
 * is an optional peer dependency, README "Install") still type-check.
 */
export interface RedisClient {
  duplicate(...args: never[]): unknown;
  xadd(...args: never[]): unknown;
  xread(...args: never[]): unknown;
  set(...args: never[]): unknown;
  quit(...args: never[]): unknown;
}

/** A rate: a bucket of `burst` at once, refilled at `perSecond`. */
export interface Rate {
  perSecond: number;
  burst: number;
}

export interface SessionLimitOptions {
  /**
   * Bytes of messages a session holds for its client, sent or not, until acknowledged (each
   * message counted in full plus a small fixed cost). Over it the session is closed
   * (`slow-consumer`): its client neither reads nor acknowledges. Must exceed the state of the
   * largest scope a client fetches. Default 64 MiB.
   */
  maxPendingBytes: number;
  /**
   * Bytes the socket may hold unwritten before the server stops writing to it and lets the
   * messages wait in the session (backpressure). Default 1 MiB.
   */
  socketHighWaterBytes: number;
  /**
   * Sum of the pending bytes of every detached session (no socket, waiting for a resume): over
   * it, the detached sessions holding most are ended first. Default 256 MiB.
   */
  maxDetachedBytes: number;
  /**
   * Inbound messages (pings included). Default 3,000/s, burst 3,000: a fifth of what one core
   * applies and fans out (BENCHMARKS.md), so that one busy client leaves the others their round
   * trip; raise it for bulk writers. Over it the client is throttled (its socket is not read
   * until the budget refills); more than 10 s of refill behind, it is closed.
   */
  messages: Rate;
  /** Fragments of inbound ScopeSync messages, the same way. Default 30,000/s, burst 30,000. */
  fragments: Rate;
  /** ScopeFetch messages. Default 2/s, burst 100. */
  fetches: Rate;
  /** Resend requests (`Ping` with `resendMissing: true`). Default 1/s, burst 20. */
  resends: Rate;
  /** Changesets of a session waiting for earlier ones (procedures in flight). Default 64. */
  maxQueuedChangesets: number;
  /** How far above the highest index seen a client message index may jump. Default 1,000,000. */
  maxIndexStep: number;
  /**
   * After a session is closed for going over a limit, its client address may not connect again
   * for this many ms (close 4096 `rate-limited`): otherwise every new session would bring fresh
   * budgets. Default 10 s.
   */
  limitCooldown: number;
}

const MiB = 1024 * 1024;

/** `sessionLimits` as given: any subset, and any part of a rate. */
export type SessionLimitsOption = {
  [K in keyof SessionLimitOptions]?: SessionLimitOptions[K] extends Rate
    ? Partial<Rate>
    : SessionLimitOptions[K];
};

export const defaultSessionLimits: Readonly<SessionLimitOptions> = Object.freeze({
  maxPendingBytes: 64 * MiB,
  socketHighWaterBytes: MiB,
  maxDetachedBytes: 256 * MiB,
  messages: Object.freeze({ perSecond: 3_000, burst: 3_000 }),
  fragments: Object.freeze({ perSecond: 30_000, burst: 30_000 }),
  fetches: Object.freeze({ perSecond: 2, burst: 100 }),
  resends: Object.freeze({ perSecond: 1, burst: 20 }),
  maxQueuedChangesets: 64,
  maxIndexStep: 1_000_000,
  limitCooldown: 10_000,
});

/** A source of the current time in milliseconds since the epoch. */
export interface Clock {
  now(): number;
}

const systemClock: Clock = { now: Date.now };

export interface ResolvedOptions {
  clock: Clock;
  sessionLimits: Readonly<SessionLimitOptions>;
  sessionExpiry: number;
  establishSessionTimeout: number;
  hookTimeout: number;
  pingInterval: number;
  pingVariance: number;
  maxInvalidMessages: number;
  sessionRateLimit: RateLimiter;
  /** The process-wide budget of `stateBytes`; one per server. */
  stateBudget: StateBudget;
  flushInterval: number;
  limits: ProtocolLimits;
  logger: Logger;
  /** The presence extension's options; null when it is off. */
  presence: Readonly<PresenceOptions> | null;
}

function positive(name: string, value: unknown, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
    throw new TypeError(
      `Server option ${name} must be a positive number of milliseconds, got ${String(value)}`,
    );
  }
  return value;
}

function nonNegative(name: string, value: unknown, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
    throw new TypeError(`Server option ${name} must be a number of milliseconds >= 0, got ${String(value)}`);
  }
  return value;
}

export function resolveOptions(options: ServerOptions): ResolvedOptions {
  const pingInterval = positive('pingInterval', options.pingInterval, 10_000);
  const pingVariance =
    options.pingVariance === 0
      ? 0
      : positive('pingVariance', options.pingVariance, Math.min(2_000, pingInterval));
  const clock = options.clock ?? systemClock;
  const maxInvalid = options.maxInvalidMessages ?? 20;
  if (!Number.isInteger(maxInvalid) || maxInvalid < 1) {
    throw new TypeError(
      `Server option maxInvalidMessages must be a positive integer, got ${String(maxInvalid)}`,
    );
  }
  return {
    sessionExpiry: positive(
      'sessionExpiry',
      options.sessionExpiry ?? options.sessionOptions?.inactivityExpiryTimeoutDuration,
      10 * 60_000,
    ),
    establishSessionTimeout: positive('establishSessionTimeout', options.establishSessionTimeout, 10_000),
    hookTimeout: positive('hookTimeout', options.hookTimeout, 10_000),
    pingInterval,
    pingVariance,
    maxInvalidMessages: maxInvalid,
    sessionRateLimit: new RateLimiter(options.sessionRateLimit),
    // On the server's clock, like every other budget: tests move it by hand.
    stateBudget: new StateBudget(options.stateBytes, () => clock.now()),
    flushInterval: nonNegative('flushInterval', options.flushInterval, 0),
    limits: resolveLimits(options.limits),
    logger: options.logger ?? silentLogger,
    clock,
    sessionLimits: resolveSessionLimits(options.sessionLimits),
    presence: resolvePresenceOptions(options.presence),
  };
}

function resolveSessionLimits(given: SessionLimitsOption | undefined): Readonly<SessionLimitOptions> {
  if (given === undefined) return defaultSessionLimits;
  for (const key of Object.keys(given)) {
    if (!(key in defaultSessionLimits)) throw new TypeError(`Unknown session limit '${key}'`);
  }
  const d = defaultSessionLimits;
  return Object.freeze({
    maxPendingBytes: limit('maxPendingBytes', given.maxPendingBytes, d.maxPendingBytes),
    socketHighWaterBytes: limit('socketHighWaterBytes', given.socketHighWaterBytes, d.socketHighWaterBytes),
    maxDetachedBytes: limit('maxDetachedBytes', given.maxDetachedBytes, d.maxDetachedBytes),
    messages: rate('messages', given.messages, d.messages),
    fragments: rate('fragments', given.fragments, d.fragments),
    fetches: rate('fetches', given.fetches, d.fetches),
    resends: rate('resends', given.resends, d.resends),
    maxQueuedChangesets: limit('maxQueuedChangesets', given.maxQueuedChangesets, d.maxQueuedChangesets),
    maxIndexStep: limit('maxIndexStep', given.maxIndexStep, d.maxIndexStep),
    limitCooldown:
      given.limitCooldown === 0 ? 0 : limit('limitCooldown', given.limitCooldown, d.limitCooldown),
  });
}

function limit(name: string, value: unknown, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !(value > 0)) {
    throw new TypeError(`Session limit ${name} must be a positive number, got ${String(value)}`);
  }
  return value;
}

function rate(name: string, value: Partial<Rate> | undefined, fallback: Rate): Rate {
  if (value === undefined) return fallback;
  const r = { perSecond: value.perSecond ?? fallback.perSecond, burst: value.burst ?? fallback.burst };
  if (!(r.perSecond > 0) || !(r.burst >= 1)) {
    throw new TypeError(`Session limit ${name} needs perSecond > 0 and burst >= 1`);
  }
  return Object.freeze(r);
}
