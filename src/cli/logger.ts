// The logger of `npm start` and `jetstream serve` (docs/operations.md, "Logs"): pino at
// LOG_LEVEL, readable lines (pino-pretty, in a worker thread) when stdout is a terminal, JSON
// lines otherwise (for log collectors).
import pino from 'pino';

export function processLogger(level = process.env.LOG_LEVEL ?? 'info'): pino.Logger {
  if (!process.stdout.isTTY) return pino({ level });
  return pino(
    { level },
    pino.transport({ target: 'pino-pretty', options: { colorize: true, translateTime: 'SYS:HH:MM:ss.l' } }),
  );
}
