// Cluster processes for the tests that run them as children (test/fixtures/durable-server.ts with
// --redis): their command line, and the wait until they all serve one state.
import { randomBytes } from 'node:crypto';
import { fetchLedger, WAIT_MS } from '../fixtures/crash-harness.js';
import type { Services } from './services.js';
import { waitFor } from './wait.js';
import type { Msg } from './ws-client.js';

export interface ClusterArgsOptions {
  /** Lanes of the Ledger scope (one per writer). */
  lanes: number;
  /** Redis to use. Default the test's (services.redis.url). */
  redisUrl?: string;
  /** PostgreSQL application_name of the processes' connections (to find them in pg_stat_activity). */
  applicationName?: string;
}

/**
 * A new database schema and Redis key prefix, and `args(id)`: the durable-server command line of
 * cluster process `id` on them.
 */
export function clusterArgs(
  services: Services,
  options: ClusterArgsOptions,
): { prefix: string; args: (id: string) => string[] } {
  const schema = services.schema();
  const prefix = `${services.redis.prefix}${randomBytes(3).toString('hex')}:`;
  const args = (id: string) => [
    '--store',
    'postgres',
    '--url',
    services.postgres.connectionString,
    '--schema',
    schema,
    ...(options.applicationName ? ['--application-name', options.applicationName] : []),
    '--lanes',
    String(options.lanes),
    '--redis',
    options.redisUrl ?? services.redis.url,
    '--prefix',
    prefix,
    '--process-id',
    id,
  ];
  return { prefix, args };
}

/** Waits until every port serves the same Ledger state (versions may differ for a moment); returns it. */
export async function sameState(ports: number[]): Promise<Msg> {
  let last = '';
  return waitFor(
    async () => {
      const states = await Promise.all(ports.map((p) => fetchLedger(p)));
      const texts = states.map((s) => JSON.stringify(s.fragments));
      last = texts.join('\n---\n');
      return texts.every((t) => t === texts[0]) ? states[0] : undefined;
    },
    { timeout: WAIT_MS, interval: 200, message: () => `one state on every process:\n${last.slice(0, 2000)}` },
  );
}
