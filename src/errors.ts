// Every error this package raises or sends is defined here, as data: a stable `code` for
// programs (`JS_ERR_…`, in the manner of Fastify's `FST_ERR_…`), one per failure, and where
// the error crosses the wire, the protocol's `type` string (docs/protocol.md §13). Messages
// never carry stack traces or internal details; they are written for the developer or client
// author who will read them. docs/errors.md lists every code. This module is shared by the
// server and the client SDK: it imports nothing.

/** The error object of the wire protocol: `{message, type?}`. */
export interface WireError {
  message: string;
  type?: string;
}

/** Wire error `type` strings (docs/protocol.md §13): the original protocol's, then this server's. */
export const ErrorType = {
  rejected: 'rejected',
  unrecognizedHandshake: 'unrecognized-handshake',
  sessionTokenUnrecognized: 'session-token-unrecognized',
  sessionEstablishTimedOut: 'session-establish-timedout',
  scopeIndexNotFound: 'scope-index-not-found',
  couldNotApplySyncMessage: 'could-not-apply-sync-message',
  invalidMessage: 'invalid-message',
  invalidFragment: 'invalid-fragment',
  atomicRejected: 'atomic-changeset-rejected',
  tooManyInvalidMessages: 'too-many-invalid-messages',
  sessionExpired: 'session-expired',
  storeFailed: 'store-failed',
  rateLimited: 'rate-limited',
  slowConsumer: 'slow-consumer',
  sessionEvicted: 'session-evicted',
  outcomeUnknown: 'outcome-unknown',
  // Raised by the client SDK itself, never sent by the server.
  clientClosed: 'client-closed',
  connectTimeout: 'connect-timeout',
  schemaMismatch: 'schema-mismatch',
  invalidReply: 'invalid-reply',
} as const;
export type ErrorTypeName = (typeof ErrorType)[keyof typeof ErrorType];

/**
 * Every error code, with what it means. Codes are stable: programs may compare them. The table
 * in docs/errors.md is this list.
 */
export const ErrorCode = {
  /** A model, enumeration, constraint or procedure definition is wrong (at definition time). */
  DEFINITION: 'JS_ERR_DEFINITION',
  /** A value does not fit a property's type (an assignment, or a fragment's property). */
  INVALID_VALUE: 'JS_ERR_INVALID_VALUE',
  /** A scope operation is not allowed in the scope's state (a second root, an object of another scope…). */
  SCOPE: 'JS_ERR_SCOPE',
  /** The scope has no root object yet. */
  NO_ROOT: 'JS_ERR_NO_ROOT',
  /** An update-operator query or update (docs/protocol.md §10) is malformed or cannot be resolved. */
  QUERY: 'JS_ERR_QUERY',
  /** A changeset could not be applied for a reason that is not the client's (an internal error). */
  SYNC: 'JS_ERR_SYNC',
  /** A changeset's `fragments` is not an array. */
  SYNC_FRAGMENTS: 'JS_ERR_SYNC_FRAGMENTS',
  /** A procedure name is not of the form `Model.procedure`. */
  PROCEDURE_NAME: 'JS_ERR_PROCEDURE_NAME',
  /** The procedure's model is not one of the scope's classes. */
  PROCEDURE_MODEL: 'JS_ERR_PROCEDURE_MODEL',
  /** The model has no procedure of that name. */
  PROCEDURE_NOT_FOUND: 'JS_ERR_PROCEDURE_NOT_FOUND',
  /** A fragment of the changeset matches none of the procedure's constraints. */
  PROCEDURE_CONSTRAINTS: 'JS_ERR_PROCEDURE_CONSTRAINTS',
  /** A custom remote step failed (threw, rejected or called back with an error). */
  PROCEDURE_FAILED: 'JS_ERR_PROCEDURE_FAILED',
  /** A remote step's request could not be built from the changeset (an expression failed). */
  PROCEDURE_BINDING: 'JS_ERR_PROCEDURE_BINDING',
  /** A remote step answered with updates that are not a list. */
  PROCEDURE_UPDATES: 'JS_ERR_PROCEDURE_UPDATES',
  /** The downstream service answered with a status outside the procedure's success codes. */
  DOWNSTREAM_STATUS: 'JS_ERR_DOWNSTREAM_STATUS',
  /** The downstream service did not answer within the procedure's timeout. */
  DOWNSTREAM_TIMEOUT: 'JS_ERR_DOWNSTREAM_TIMEOUT',
  /** The downstream service refused the connection. */
  DOWNSTREAM_REFUSED: 'JS_ERR_DOWNSTREAM_REFUSED',
  /** The request to the downstream service failed (DNS, reset, TLS…). */
  DOWNSTREAM_REQUEST: 'JS_ERR_DOWNSTREAM_REQUEST',
  /** The downstream service's answer is not JSON, or its `_updates` are malformed. */
  DOWNSTREAM_RESPONSE: 'JS_ERR_DOWNSTREAM_RESPONSE',
  /** A binding expression (`$incoming…`, `$rootModel…`) could not be parsed or evaluated. */
  EXPRESSION: 'JS_ERR_EXPRESSION',
  /** A store operation failed (I/O, connection). */
  STORE: 'JS_ERR_STORE',
  /** A store append or snapshot does not follow the stored version (another writer?). */
  STORE_CONFLICT: 'JS_ERR_STORE_CONFLICT',
  /** Client SDK: the server denied the session. */
  CLIENT_SESSION_DENIED: 'JS_ERR_CLIENT_SESSION_DENIED',
  /** Client SDK: the server refused a fetch. */
  CLIENT_FETCH_DENIED: 'JS_ERR_CLIENT_FETCH_DENIED',
  /** Client SDK: the server sent a frame the client cannot read. */
  CLIENT_PROTOCOL: 'JS_ERR_CLIENT_PROTOCOL',
  /** Client SDK: `close()` was called before the request completed. */
  CLIENT_CLOSED: 'JS_ERR_CLIENT_CLOSED',
  /** Client SDK: no session was established within `connectTimeout`. */
  CLIENT_CONNECT_TIMEOUT: 'JS_ERR_CLIENT_CONNECT_TIMEOUT',
  /** Client SDK: the offline store (docs/client.md, "Offline edits") could not load or save the record. */
  CLIENT_OFFLINE_STORE: 'JS_ERR_CLIENT_OFFLINE_STORE',
  /**
   * Client SDK: the server sent a class, property or value the client's models cannot hold
   * (docs/client.md, "Schema checks"): rejects a fetch, or is emitted as `error` later.
   */
  CLIENT_SCHEMA_MISMATCH: 'JS_ERR_CLIENT_SCHEMA_MISMATCH',
  /**
   * Cluster: a changeset was forwarded to its scope's owner, which did not answer; whether it
   * was applied is unknown, so the session is closed (docs/cluster.md).
   */
  OUTCOME_UNKNOWN: 'JS_ERR_OUTCOME_UNKNOWN',
  /**
   * An optional package a feature needs is not installed, or cannot be loaded (a native driver
   * not built): better-sqlite3 for the SQLite store, pg for PostgreSQL, ioredis for a cluster.
   */
  MISSING_DEPENDENCY: 'JS_ERR_MISSING_DEPENDENCY',
} as const;
export type ErrorCodeName = (typeof ErrorCode)[keyof typeof ErrorCode];

/** Base class of every error thrown by this package. */
export class JetstreamError extends Error {
  /** Stable, documented identifier, e.g. `JS_ERR_INVALID_VALUE` (see ErrorCode). */
  readonly code: ErrorCodeName;
  /** The wire `type`, when this error is sent to a client. */
  readonly type: string | undefined;

  constructor(code: ErrorCodeName, message: string, type?: string) {
    super(message);
    this.name = 'JetstreamError';
    this.code = code;
    this.type = type;
  }

  /** The error as the wire carries it. */
  toWire(): WireError {
    return this.type === undefined ? { message: this.message } : { message: this.message, type: this.type };
  }
}

/** A model or enumeration definition is wrong (thrown when the model is defined). */
export class DefinitionError extends JetstreamError {
  constructor(message: string) {
    super(ErrorCode.DEFINITION, message);
    this.name = 'DefinitionError';
  }
}

/** A value does not fit a property's type (thrown by assignments, reported per fragment). */
export class ValidationError extends JetstreamError {
  constructor(message: string) {
    super(ErrorCode.INVALID_VALUE, message, ErrorType.invalidFragment);
    this.name = 'ValidationError';
  }
}

/** A scope operation is not allowed in the scope's current state. */
export class ScopeError extends JetstreamError {
  constructor(message: string, code: typeof ErrorCode.SCOPE | typeof ErrorCode.NO_ROOT = ErrorCode.SCOPE) {
    super(code, message);
    this.name = 'ScopeError';
  }
}

/** An update-operator query (docs/protocol.md §10) is malformed or cannot be resolved. */
export class QueryError extends JetstreamError {
  constructor(message: string) {
    super(ErrorCode.QUERY, message);
    this.name = 'QueryError';
  }
}

/**
 * A whole changeset could not be applied (docs/protocol.md §7 step 2: procedures, missing root,
 * internal errors). Every fragment's reply carries it, as `could-not-apply-sync-message`.
 */
export class SyncError extends JetstreamError {
  constructor(message: string, code: ErrorCodeName = ErrorCode.SYNC) {
    super(code, `Could not apply SyncMessage: ${message}`, ErrorType.couldNotApplySyncMessage);
    this.name = 'SyncError';
  }
}

/**
 * A changeset whose outcome cannot be known: it was forwarded to the process that owns its scope,
 * and that process did not answer (it died or lost the scope). Neither an acknowledgement nor an
 * error would be true, so the session that sent it is closed with 4097 and this reason; the
 * client starts a new session, fetches the scope and re-applies what it has not seen
 * acknowledged (docs/cluster.md, docs/protocol.md §15).
 */
export class OutcomeUnknownError extends JetstreamError {
  constructor(message: string) {
    super(ErrorCode.OUTCOME_UNKNOWN, message, ErrorType.outcomeUnknown);
    this.name = 'OutcomeUnknownError';
  }
}

/**
 * A feature needs an optional package that is missing or cannot be loaded: the drivers are
 * optional peer dependencies, loaded on first use (README, "Install"). The message says what to
 * install; `packageName` and `versionRange` say it to programs.
 */
export class MissingDependencyError extends JetstreamError {
  /** The npm package to install, e.g. `better-sqlite3`. */
  readonly packageName: string;
  /** The version range this package supports, e.g. `^12.11.1` (its peerDependencies). */
  readonly versionRange: string;

  constructor(packageName: string, versionRange: string, message: string, cause?: unknown) {
    super(ErrorCode.MISSING_DEPENDENCY, message);
    this.name = 'MissingDependencyError';
    this.packageName = packageName;
    this.versionRange = versionRange;
    if (cause !== undefined) this.cause = cause;
  }
}

/** Converts anything thrown into a wire error without leaking internals. */
export function toWireError(err: unknown, fallbackType?: string): WireError {
  if (err instanceof JetstreamError) return err.toWire();
  const message = err instanceof Error && err.message ? err.message : typeof err === 'string' ? err : 'Error';
  return fallbackType === undefined ? { message } : { message, type: fallbackType };
}
