import { ErrorCode, ErrorType, JetstreamError, type WireError } from '../errors.js';

/**
 * A store operation failed (I/O, connection, bad input). The message names the store and the
 * operation and carries the driver's message, for logs; the original error is `cause`. What a
 * client sees (`toWire`) is generic: storage details are internal.
 */
export class StoreError extends JetstreamError {
  constructor(
    message: string,
    cause?: unknown,
    code: typeof ErrorCode.STORE | typeof ErrorCode.STORE_CONFLICT = ErrorCode.STORE,
  ) {
    super(code, message, ErrorType.storeFailed);
    this.name = 'StoreError';
    if (cause !== undefined) this.cause = cause;
  }

  override toWire(): WireError {
    return { message: 'The change could not be stored', type: ErrorType.storeFailed };
  }
}

/**
 * An append or snapshot does not follow the stored version of its scope: the version already
 * exists, leaves a gap, or the snapshot is older than the stored one. Usually means a second
 * writer owns the scope.
 */
export class StoreConflictError extends StoreError {
  readonly scope: string;
  /** The version the stored state allows next (for a snapshot: the oldest version accepted). */
  readonly expectedVersion: number;
  /** The version that was offered. */
  readonly actualVersion: number;

  constructor(scope: string, expectedVersion: number, actualVersion: number, message?: string) {
    super(
      message ??
        `Version conflict in scope ${JSON.stringify(scope)}: expected version ${expectedVersion}, got ${actualVersion} (is another writer using this store?)`,
      undefined,
      ErrorCode.STORE_CONFLICT,
    );
    this.name = 'StoreConflictError';
    this.scope = scope;
    this.expectedVersion = expectedVersion;
    this.actualVersion = actualVersion;
  }
}

/** Wraps a driver error, keeping our own errors as they are. */
export function wrapStoreError(what: string, err: unknown): StoreError {
  if (err instanceof StoreError) return err;
  return new StoreError(`${what}: ${describe(err)}`, err);
}

function describe(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  // A refused connection to a host with several addresses is an AggregateError whose own message
  // is empty; the useful text is in its parts.
  if (!err.message && err instanceof AggregateError && err.errors.length > 0) {
    return err.errors.map(describe).join('; ');
  }
  const code = (err as { code?: unknown }).code;
  return err.message || (typeof code === 'string' ? code : err.name);
}
