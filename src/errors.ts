// Every error this package raises or sends is defined here, as data: a stable `code` for
// programs (`JS_ERR_…`, in the manner of Fastify's `FST_ERR_…`), and where the error crosses
// the wire, the protocol's `type` string (PROTOCOL.md §5). Messages never carry stack traces
// or internal details; they are written for the client author who will read them.

/** The error object of the wire protocol: `{message, type?}`. */
export interface WireError {
  message: string;
  type?: string;
}

/** Wire error `type` strings (PROTOCOL.md §5, plus the ones this server adds). */
export const ErrorType = {
  rejected: 'rejected',
  unrecognizedHandshake: 'unrecognized-handshake',
  sessionTokenUnrecognized: 'session-token-unrecognized',
  sessionEstablishTimedOut: 'session-establish-timedout',
  scopeIndexNotFound: 'scope-index-not-found',
  couldNotApplySyncMessage: 'could-not-apply-sync-message',
  // [beyond] types this server adds; documented in docs/protocol.md.
  invalidMessage: 'invalid-message',
  invalidFragment: 'invalid-fragment',
  atomicRejected: 'atomic-changeset-rejected',
  tooManyInvalidMessages: 'too-many-invalid-messages',
  sessionExpired: 'session-expired',
  storeFailed: 'store-failed',
  rateLimited: 'rate-limited',
} as const;
export type ErrorTypeName = (typeof ErrorType)[keyof typeof ErrorType];

/** Base class of every error thrown by this package. */
export class JetstreamError extends Error {
  /** Stable, documented identifier, e.g. `JS_ERR_INVALID_VALUE`. */
  readonly code: string;
  /** The wire `type`, when this error is sent to a client. */
  readonly type: string | undefined;

  constructor(code: string, message: string, type?: string) {
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
    super('JS_ERR_DEFINITION', message);
    this.name = 'DefinitionError';
  }
}

/** A value does not fit a property's type (thrown by assignments, reported per fragment). */
export class ValidationError extends JetstreamError {
  constructor(message: string) {
    super('JS_ERR_INVALID_VALUE', message, ErrorType.invalidFragment);
    this.name = 'ValidationError';
  }
}

/** A scope operation is not allowed in the scope's current state. */
export class ScopeError extends JetstreamError {
  constructor(message: string) {
    super('JS_ERR_SCOPE', message);
    this.name = 'ScopeError';
  }
}

/** An update-operator query (§10) is malformed or cannot be resolved. */
export class QueryError extends JetstreamError {
  constructor(message: string) {
    super('JS_ERR_QUERY', message);
    this.name = 'QueryError';
  }
}

/** A whole changeset could not be applied (§7 step 2: procedures, store, missing root). */
export class SyncError extends JetstreamError {
  constructor(message: string) {
    super('JS_ERR_SYNC', `Could not apply SyncMessage: ${message}`, ErrorType.couldNotApplySyncMessage);
    this.name = 'SyncError';
  }
}

/** Converts anything thrown into a wire error without leaking internals. */
export function toWireError(err: unknown, fallbackType?: string): WireError {
  if (err instanceof JetstreamError) return err.toWire();
  const message = err instanceof Error && err.message ? err.message : typeof err === 'string' ? err : 'Error';
  return fallbackType === undefined ? { message } : { message, type: fallbackType };
}
