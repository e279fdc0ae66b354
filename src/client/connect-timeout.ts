// How long `connect()` waits for a first session, and what it says when none came
// (docs/client.md, `connectTimeout`). Reconnection after a first session is not bounded by it:
// a client that had a session keeps retrying with backoff.
import type { ConnectionState } from './client.js';

/** How long `connect()` waits for a first session by default, ms. */
export const DEFAULT_CONNECT_TIMEOUT = 10_000;

/**
 * The limit `connect()` applies: the `connectTimeout` option, else the default. `null` means
 * none (`0` or `Infinity`: keep retrying until a session opens). Throws a RangeError for a
 * negative or NaN value, which would otherwise fire at once.
 */
export function connectLimit(option: number | undefined): number | null {
  if (option === undefined) return DEFAULT_CONNECT_TIMEOUT;
  if (typeof option !== 'number' || Number.isNaN(option) || option < 0) {
    throw new RangeError(`connectTimeout must be a number of ms ≥ 0 (0: no limit), got ${String(option)}`);
  }
  return option === 0 || option === Number.POSITIVE_INFINITY ? null : option;
}

/**
 * The message of a connect timeout. `state` tells what the attempts got: a socket that closed
 * (refused, reset, or the upgrade was rejected) makes the client `reconnecting`; one that is still
 * waiting for the handshake leaves it `connecting`.
 */
export function connectTimeoutMessage(url: string, limit: number, state: ConnectionState): string {
  const why =
    state === 'reconnecting'
      ? 'every attempt failed (connection refused or closed before a session was created)'
      : 'the server did not answer the WebSocket handshake (or the session request)';
  return `No session within ${limit} ms (connectTimeout) from ${url}: ${why}`;
}
