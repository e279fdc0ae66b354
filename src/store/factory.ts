import { join } from 'node:path';
import { StoreError } from './errors.js';
import { MemoryStore, type MemoryStoreOptions } from './memory.js';
import { PostgresStore, type PostgresStoreOptions } from './postgres.js';
import { SqliteStore, type SqliteStoreOptions } from './sqlite.js';
import type { Store } from './types.js';

export type StoreOptions =
  | ({ kind: 'memory' } & MemoryStoreOptions)
  | ({ kind: 'sqlite' } & SqliteStoreOptions)
  | ({ kind: 'postgres' } & PostgresStoreOptions);

/** A store of the given kind, not yet opened. */
export function createStore(options: StoreOptions): Store {
  switch (options?.kind) {
    case 'memory':
      return new MemoryStore(options);
    case 'sqlite':
      return new SqliteStore(options);
    case 'postgres':
      return new PostgresStore(options);
    default:
      throw new StoreError(
        `Unknown store kind ${JSON.stringify((options as { kind?: unknown } | undefined)?.kind)}: expected memory, sqlite or postgres`,
      );
  }
}

export interface StoreFromEnvOptions {
  /** Directory of the SQLite file when no DATABASE_URL is set. */
  dataDir: string;
  /** Default `process.env`. */
  env?: Record<string, string | undefined>;
}

/** PostgreSQL when `DATABASE_URL` is set, else SQLite at `<dataDir>/jetstream.db`. Not yet opened. */
export function storeFromEnv(options: StoreFromEnvOptions): Store {
  const env = options.env ?? process.env;
  const url = env.DATABASE_URL;
  if (url !== undefined && url !== '') return new PostgresStore({ connectionString: checkDatabaseUrl(url) });
  return new SqliteStore({ filename: join(options.dataDir, 'jetstream.db') });
}

/**
 * DATABASE_URL as a PostgreSQL connection URL, or a StoreError naming the variable: a typo there
 * would otherwise surface later as a driver error that does not say where the value came from.
 * The message never repeats the URL's credentials.
 */
function checkDatabaseUrl(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new StoreError(
      'DATABASE_URL is not a valid URL: expected postgres://user:password@host:5432/database',
    );
  }
  if (parsed.protocol !== 'postgres:' && parsed.protocol !== 'postgresql:') {
    throw new StoreError(
      `DATABASE_URL must be a postgres:// or postgresql:// URL (got ${parsed.protocol}//${parsed.host}); unset it to use SQLite`,
    );
  }
  return url;
}
