// The `jetstream` command (docs/operations.md, "CLI"): serve a module's models, and move scopes
// between stores. Every mistake of its user is one line on stderr and exit code 1.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { parseArgs } from 'node:util';
import type { Store } from '../store/types.js';
import { serve } from './serve.js';
import { storeFromSpec } from './store-spec.js';
import { CliError, exportScope, importScope, parseExport } from './transfer.js';

const STORE_HELP = `  --store <store>   sqlite:<dir or file.db> | postgres://user@host/db[?schema=name]
                    (default: DATABASE_URL, else SQLite in ./data, as npm start)`;

export const HELP: Record<string, string> = {
  main: `jetstream — serve Jetstream scopes, and move them between stores

Usage:
  jetstream serve <models> [options]     serve the scopes of a module of models
  jetstream export <scope> [options]     write a scope as JSON (to stdout, or --out)
  jetstream import <file> [options]      read a scope written by export (- for stdin)
  jetstream <command> --help             help on a command
  jetstream --version                    the version

Docs: docs/operations.md`,
  serve: `Usage: jetstream serve <models> [options]

Serves the scopes of <models>, a JavaScript module (CommonJS or ES; TypeScript when run with
node --import tsx) that defines models with jetstream's model(). It may export \`scopes\`, a list
of {name, root} as server.openScope takes them. Clients connect over WebSocket to the port;
GET /healthz and /readyz answer probes. SIGTERM or SIGINT shuts down gracefully.

Options:
  --port <n>        port (default: PORT, else 3000)
  --host <address>  address to listen on (default: every address)
  --scope <Name>    serve a scope named Name whose root is a new instance of the module's model
                    Name; --scope Name=Model for another model; repeatable
${STORE_HELP}
  REDIS_URL (environment) with a postgres store: join a cluster (docs/cluster.md)`,
  export: `Usage: jetstream export <scope> [options]

Writes the scope as it is stored (its latest snapshot and the changes after it) as JSON, one
fragment per line. Shows progress on a terminal.

Options:
  --out <file>      write to this file instead of stdout
${STORE_HELP}`,
  import: `Usage: jetstream import <file> [options]

Stores a scope written by jetstream export (<file>, or - for stdin), then checks that the store
loads it back at its version. Fails if the store already has a scope of that name, unless
--replace.

Options:
  --as <name>       store it under this name
  --replace         overwrite a scope of the same name
${STORE_HELP}`,
};

export interface Io {
  stdout: Writable & { isTTY?: boolean };
  stderr: Writable & { isTTY?: boolean };
  stdin: Readable;
  env: Record<string, string | undefined>;
}

function version(): string {
  return (JSON.parse(readFileSync(join(__dirname, '../../package.json'), 'utf8')) as { version: string })
    .version;
}

async function readAll(stream: Readable): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(Buffer.from(chunk as Buffer));
  return Buffer.concat(chunks).toString('utf8');
}

/**
 * Runs the command `argv` (without node and the script). Resolves with the exit code; `serve`
 * resolves once it listens, with `stop` to shut it down (the bin wires signals to it).
 */
export async function main(argv: string[], io: Io): Promise<{ code: number; stop?: () => Promise<void> }> {
  const [command, ...rest] = argv;
  const say = (text: string) => io.stdout.write(`${text}\n`);
  if (command === undefined || command === '--help' || command === '-h' || command === 'help') {
    say(HELP.main!);
    return { code: 0 };
  }
  if (command === '--version' || command === '-v') {
    say(version());
    return { code: 0 };
  }
  if (!(command in HELP) || command === 'main') {
    io.stderr.write(`jetstream: unknown command ${JSON.stringify(command)}\n\n${HELP.main}\n`);
    return { code: 1 };
  }
  let store: Store | null = null;
  try {
    const { values, positionals } = parseArgs({
      args: rest,
      allowPositionals: true,
      options: {
        help: { type: 'boolean', short: 'h' },
        store: { type: 'string' },
        port: { type: 'string' },
        host: { type: 'string' },
        scope: { type: 'string', multiple: true },
        out: { type: 'string' },
        as: { type: 'string' },
        replace: { type: 'boolean' },
      },
    });
    if (values.help) {
      say(HELP[command]!);
      return { code: 0 };
    }
    const allowed: Record<string, string[]> = {
      serve: ['store', 'port', 'host', 'scope'],
      export: ['store', 'out'],
      import: ['store', 'as', 'replace'],
    };
    for (const key of Object.keys(values))
      if (!allowed[command]!.includes(key))
        throw new CliError(`${command} takes no --${key} (see jetstream ${command} --help)`);
    if (positionals.length !== 1) {
      const what = { serve: 'one models module', export: 'one scope name', import: 'one file (or -)' }[
        command
      ];
      throw new CliError(`${command} needs ${what} (see jetstream ${command} --help)`);
    }
    const arg = positionals[0]!;
    store = storeFromSpec(values.store, io.env);

    if (command === 'serve') {
      const portText = values.port ?? io.env.PORT ?? '3000';
      const port = Number(portText);
      if (!Number.isInteger(port) || port < 0 || port > 65535)
        throw new CliError(`--port ${portText} is not a port`);
      const running = await serve({
        models: arg,
        port,
        host: values.host,
        store,
        scopes: values.scope ?? [],
        env: io.env,
      });
      return { code: 0, stop: running.close };
    }

    await store.open();
    if (command === 'export') {
      let out: Writable = io.stdout;
      if (values.out !== undefined) {
        const { createWriteStream } = await import('node:fs');
        out = createWriteStream(values.out);
      }
      const done = await exportScope(store, arg, out, io.stderr);
      if (out !== io.stdout)
        await new Promise<void>((resolve, reject) =>
          out.end((err?: Error) => (err ? reject(err) : resolve())),
        );
      io.stderr.write(`exported ${arg} at version ${done.version} (${done.fragments} fragments)\n`);
    } else {
      const text = arg === '-' ? await readAll(io.stdin) : readFile(arg);
      const doc = parseExport(text, arg === '-' ? 'stdin' : arg);
      const done = await importScope(store, doc, { as: values.as, replace: values.replace }, io.stderr);
      io.stderr.write(`imported ${done.scope} at version ${done.version}\n`);
    }
    await store.close();
    return { code: 0 };
  } catch (err) {
    await store?.close().catch(() => {});
    const e = err as Error & { code?: string };
    const expected =
      e instanceof CliError ||
      e.name === 'StoreError' ||
      e.name === 'StoreConflictError' ||
      e.name === 'MissingDependencyError' || // a driver to install (README, "Install")
      e.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' ||
      e.code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE' ||
      e.code === 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL' ||
      e.code === 'EADDRINUSE';
    if (expected && io.env.LOG_LEVEL !== 'debug') io.stderr.write(`jetstream: ${e.message}\n`);
    else io.stderr.write(`jetstream: ${e.stack ?? e.message}\n`);
    return { code: 1 };
  }
}

function readFile(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    throw new CliError(
      `Cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
    );
  }
}

/** The bin's entry: runs `main` on the process, wires signals for `serve`, sets the exit code. */
export function run(): void {
  const io: Io = { stdout: process.stdout, stderr: process.stderr, stdin: process.stdin, env: process.env };
  void main(process.argv.slice(2), io).then(({ code, stop }) => {
    if (!stop) {
      process.exitCode = code;
      return;
    }
    let stopping = false;
    const onSignal = () => {
      if (stopping) process.exit(1); // a second signal: at once
      stopping = true;
      void stop().then(
        () => process.exit(0),
        (err: Error) => {
          io.stderr.write(`jetstream: shutdown failed: ${err.message}\n`);
          process.exit(1);
        },
      );
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  });
}

if (require.main === module) run();
