// The logger of `npm start` and `jetstream serve` (docs/operations.md, "Logs"): pino at
// LOG_LEVEL, readable lines (pino-pretty) when stdout is a terminal, JSON lines otherwise (for
// log collectors). On a terminal the formatting runs on the main thread: a person reading along
// does not need pino's worker-thread transport, and the CLI then needs no module looked up by name.
import pino from 'pino';
import pretty from 'pino-pretty';

export function processLogger(level = process.env.LOG_LEVEL ?? 'info'): pino.Logger {
  if (!process.stdout.isTTY) return pino({ level });
  return pino({ level }, pretty({ colorize: true, translateTime: 'SYS:HH:MM:ss.l' }));
}
