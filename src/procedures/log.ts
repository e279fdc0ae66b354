// Where procedures report what they cannot send to a client: downstream failures in full (the
// wire message stays short and free of internal addresses) and `_updates` that failed to apply.
// The signature is pino's (`logger.warn(details, message)`), so a pino logger can be passed as is.

export interface ProcedureLogger {
  warn(details: Record<string, unknown>, message: string): void;
}

const consoleLogger: ProcedureLogger = {
  warn(details, message) {
    console.warn(`[jetstream:procedures] ${message}`, details);
  },
};

let current: ProcedureLogger = consoleLogger;

/** Replaces the procedures' logger (e.g. with a pino child logger); `null` restores the console. */
export function setProcedureLogger(logger: ProcedureLogger | null): void {
  current = logger ?? consoleLogger;
}

/** @internal */
export function log(): ProcedureLogger {
  return current;
}
