// The logger every part of the server writes to: the server's `logger` option, handed down to
// sessions, the changeset pipeline, procedures and persistence. pino's interface, so a pino
// logger fits as is; silent by default.

/** A pino-compatible logger (pino itself fits): `logger.warn(details, message)`. */
export interface Logger {
  debug(details: unknown, message?: string): void;
  info(details: unknown, message?: string): void;
  warn(details: unknown, message?: string): void;
  error(details: unknown, message?: string): void;
}

const noop = (): void => {};

/** Writes nothing. */
export const silentLogger: Logger = Object.freeze({ debug: noop, info: noop, warn: noop, error: noop });
