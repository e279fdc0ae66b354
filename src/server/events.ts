// Every hook and event of the server and its sessions, typed with its payload, in one place.
// Hooks are how the application decides (docs/protocol.md §8); they run in the order listed:
//
//   server  'connection' (connection)                       deny on headers or query: close 4096
//   server  'session'    (session, params, callback)        accept or deny a SessionCreate
//                        (session, connection, params, callback), the original code's form
//   session 'fetch'      (name, params, callback)           map a scope name to a Scope, or deny
//
// A hook answers through its callback or a returned promise (the first answer wins); throwing,
// rejecting or not answering within `hookTimeout` denies that one request and nothing else.
// Several listeners of a hook run in turn, in registration order: every 'connection' and
// 'session' listener must accept; the first 'fetch' listener to answer with a scope decides.
import type { IncomingConnection, Server } from './server.js';
import type { Session } from './session.js';

/** A hook's node-style answer: no error accepts, an error (or a string) denies with that reason. */
export type HookCallback<T = void> = (err?: unknown, value?: T) => void;

/** `'connection'`: deny with `connection.deny(reason)` or by failing; the session hooks follow. */
export type ConnectionHook = (connection: IncomingConnection) => unknown;

/** `'session'`, as the README writes it: `(session, params, callback)`. */
export type SessionHook = (
  session: Session,
  params: Record<string, unknown>,
  callback: HookCallback,
) => unknown;

/** `'session'`, as the original code wrote it: `(session, connection, params, callback)`. */
export type SessionHookWithConnection = (
  session: Session,
  connection: IncomingConnection,
  params: Record<string, unknown>,
  callback: HookCallback,
) => unknown;

/** A session's `'fetch'`: answer with the Scope to serve, or deny. */
export type FetchHook = (name: string, params: Record<string, unknown>, callback: FetchCallback) => unknown;
export type FetchCallback = (err?: unknown, scope?: unknown) => void;

export interface ServerEvents {
  connection: ConnectionHook;
  session: SessionHook;
  /** Every transport is listening. */
  listening: (server: Server) => void;
  /** Listening failed (when the server was started by the package's callable form). */
  error: (err: Error) => void;
}

export interface SessionEvents {
  fetch: FetchHook;
  /** The session expired or was closed; it will never be used again. */
  expire: () => void;
}

/**
 * Calls a 'session' hook in the form it was written in. JavaScript only tells a function's
 * declared parameter count: four parameters is the original code's form; an async function
 * of three, `async (session, connection, params)`, is that form too (an async function answers
 * by its promise, so its third parameter cannot be the README's callback); anything else is the
 * README's form.
 */
export function invokeSessionHook(
  hook: SessionHook | SessionHookWithConnection,
  session: Session,
  connection: IncomingConnection,
  params: Record<string, unknown>,
  callback: HookCallback,
): unknown {
  const withConnection = hook.length >= 4 || (hook.length === 3 && hook instanceof AsyncFunction);
  return withConnection
    ? (hook as SessionHookWithConnection)(session, connection, params, callback)
    : (hook as SessionHook)(session, params, callback);
}

const AsyncFunction = (async () => {}).constructor;
