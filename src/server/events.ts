// Every hook and event of the server and its sessions, typed with its payload, in one place.
// Hooks are how the application decides (docs/protocol.md §8); they run in the order listed:
//
//   server  'connection' (connection)                       deny on headers or query: close 4096
//   server  'session'    (session, params, callback)        accept or deny a SessionCreate
//                        (session, connection, params, callback), the original code's form
//   session 'fetch'      (name, params, callback)           map a scope name to a Scope (or a
//                                                           read-only grant of one), or deny
//   session 'sync'       (scope, changeset, callback)       accept or deny a client changeset
//
// A hook answers through its callback or a returned promise (the first answer wins); throwing,
// rejecting or not answering within `hookTimeout` denies that one request and nothing else.
// Several listeners of a hook run in turn, in registration order: every 'connection' and
// 'session' and 'sync' listener must accept; the first 'fetch' listener to answer with a scope
// decides.
import type { WireError } from '../errors.js';
import type { Fragment } from '../protocol/messages.js';
import type { Scope } from '../scope/scope.js';
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

/** A session's `'fetch'`: answer with the Scope to serve (or a FetchGrant), or deny. */
export type FetchHook = (name: string, params: Record<string, unknown>, callback: FetchCallback) => unknown;
/**
 * The answer of a 'fetch' listener: `callback(err)` denies; `callback(null, scope)` or
 * `callback(null, {scope, readOnly})` serves; `callback()` hands over to the next listener. The
 * answer is typed loosely because it is checked at run time (anything else is an error reply).
 */
export type FetchCallback = (err?: unknown, answer?: Scope | FetchGrant | null | unknown) => void;

/**
 * A 'fetch' answer that says what the session may do with the scope: `readOnly` sessions
 * receive the scope and its changes, and every changeset they send to it is rejected whole
 * (`rejected`), nothing applied.
 */
export interface FetchGrant {
  scope: Scope;
  readOnly?: boolean;
}

/** What a 'sync' hook is asked about: one client changeset, before anything of it is applied. */
export interface ChangesetInfo {
  fragments: readonly Fragment[];
  atomic: boolean;
  /** The procedure it names, if any. */
  procedure?: string;
}

/**
 * A session's `'sync'`: accept (callback(), or resolve) or deny (callback(err), throw, reject) a
 * changeset before anything of it is applied. It runs in the scope's queue, so it sees the state
 * that every earlier changeset left. A denial rejects every fragment with the reason (type
 * `rejected`); nothing is applied or broadcast.
 */
export type SyncHook = (scope: Scope, changeset: ChangesetInfo, callback: HookCallback) => unknown;

/** A session's changeset with its outcome: what the server's `'changeset'` event reports. */
export interface ChangesetReport extends ChangesetInfo {
  scope: Scope;
  /** The session that sent it. */
  session: Session;
  /** One entry per fragment: null when applied, else why not (as the client's reply says). */
  results: readonly (WireError | null)[];
  /** When the result was known (ms since the epoch). */
  at: number;
}

export interface ServerEvents {
  connection: ConnectionHook;
  session: SessionHook;
  /**
   * A session's changeset has its result (docs/server.md, "Observing changesets"), on the process
   * the session is connected to. For observers (the inspector, logs, audits): a listener sees
   * what happened and cannot change it; one that throws is logged and ignored.
   */
  changeset: (report: ChangesetReport) => void;
  /** Every transport is listening. */
  listening: (server: Server) => void;
  /** Listening failed (when the server was started by the package's callable form). */
  error: (err: Error) => void;
}

export interface SessionEvents {
  fetch: FetchHook;
  sync: SyncHook;
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
