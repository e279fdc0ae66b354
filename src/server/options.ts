// Server options, with the defaults a demanding user would pick. Every option is documented
// in docs/server.md; validation happens once, at construction.
import type { Server as HttpServer } from 'node:http';
import { type ProtocolLimits, resolveLimits } from '../protocol/index.js';
import type { Scope } from '../scope/scope.js';
import type { Store } from '../store/types.js';
import type { Transport } from '../transport/types.js';
import { type Logger, silentLogger } from '../util/logger.js';
import { RateLimiter, type RateLimitOptions } from './rate-limit.js';

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
  /** Frame, changeset, string and array limits (see protocol/codec.ts `defaultLimits`). */
  limits?: Partial<ProtocolLimits>;
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
}

/** A source of the current time in milliseconds since the epoch. */
export interface Clock {
  now(): number;
}

const systemClock: Clock = { now: Date.now };

export interface ResolvedOptions {
  clock: Clock;
  sessionExpiry: number;
  establishSessionTimeout: number;
  hookTimeout: number;
  pingInterval: number;
  pingVariance: number;
  maxInvalidMessages: number;
  sessionRateLimit: RateLimiter;
  flushInterval: number;
  limits: ProtocolLimits;
  logger: Logger;
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
    flushInterval: nonNegative('flushInterval', options.flushInterval, 0),
    limits: resolveLimits(options.limits),
    logger: options.logger ?? silentLogger,
    clock: options.clock ?? systemClock,
  };
}
