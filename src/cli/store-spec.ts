// `--store` of the CLI (docs/operations.md, "CLI"): which store a command reads or writes.
import { join } from 'node:path';
import { StoreError } from '../store/errors.js';
import { storeFromEnv } from '../store/factory.js';
import { PostgresStore } from '../store/postgres.js';
import { SqliteStore } from '../store/sqlite.js';
import type { Store } from '../store/types.js';

/**
 * The store `spec` names, not yet opened:
 * - `sqlite:<path>`: a SQLite file; a path not ending in `.db`, `.sqlite` or `.sqlite3` is a data
 *   directory holding `jetstream.db` (as `npm start` uses it);
 * - `postgres://…` or `postgresql://…`: PostgreSQL (`?schema=name`: tables in that schema);
 * - none: `DATABASE_URL` when set, else SQLite in `./data`, exactly as `npm start`.
 */
export function storeFromSpec(spec: string | undefined, env: Record<string, string | undefined>): Store {
  if (spec === undefined || spec === '') return storeFromEnv({ dataDir: './data', env });
  if (spec.startsWith('sqlite:')) {
    const path = spec.slice('sqlite:'.length);
    if (path === '') throw new StoreError('--store sqlite: needs a path: sqlite:./data or sqlite:./file.db');
    const filename = /\.(db|sqlite3?)$/i.test(path) ? path : join(path, 'jetstream.db');
    return new SqliteStore({ filename });
  }
  if (/^postgres(ql)?:\/\//.test(spec)) {
    // `?schema=name` picks the schema of the tables (the store's `schema` option).
    let url: URL;
    try {
      url = new URL(spec);
    } catch {
      throw new StoreError(
        '--store is not a valid URL: expected postgres://user:password@host:5432/database',
      );
    }
    const schema = url.searchParams.get('schema') ?? undefined;
    url.searchParams.delete('schema');
    return new PostgresStore({ connectionString: url.toString(), ...(schema ? { schema } : {}) });
  }
  throw new StoreError(
    `--store must be sqlite:<path> or a postgres:// URL (got ${JSON.stringify(spec.split(':')[0])}…)`,
  );
}
