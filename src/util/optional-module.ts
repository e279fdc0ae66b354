// The database and Redis drivers are optional peer dependencies (README, "Install"): a user of
// the PostgreSQL store does not compile SQLite, a client-only user installs no driver at all.
// So no module of the package imports a driver at load time; the feature that needs one loads it
// here on first use, and a missing or broken driver becomes a MissingDependencyError that says
// what to install, instead of the bare "Cannot find module" of a require at the top of a file.
//
// Loading is a plain require(): dist/ is CommonJS (its ESM entry wraps it, scripts/build.mjs), and
// so are the sources under tsx. Each require names its package literally, so that a bundler
// building a server that uses the package sees which drivers it may need.
import type BetterSqlite3 from 'better-sqlite3';
import type * as Ioredis from 'ioredis';
import type Pg from 'pg';
import { MissingDependencyError } from '../errors.js';

/** An optional package: what needs it, the versions supported, and how to load it. */
export interface OptionalDependency<T> {
  /** The npm package. */
  readonly name: string;
  /** The supported version range: the package's peerDependencies (test/packaging checks it). */
  readonly range: string;
  /** What needs it, as the start of a sentence: "The SQLite store". */
  readonly feature: string;
  /** Requires it (a literal require of its name). */
  readonly require: () => T;
}

/** better-sqlite3: the SQLite store (src/store/sqlite-db.ts; checked first in src/store/sqlite.ts). */
export const BETTER_SQLITE3: OptionalDependency<typeof BetterSqlite3> = {
  name: 'better-sqlite3',
  range: '^12.11.1',
  feature: 'The SQLite store',
  require: () => require('better-sqlite3'),
};

/** pg: the PostgreSQL store (src/store/postgres.ts and its worker). */
export const PG: OptionalDependency<typeof Pg> = {
  name: 'pg',
  range: '^8.23.1',
  feature: 'The PostgreSQL store',
  require: () => require('pg'),
};

/** ioredis: a cluster given a Redis URL (src/cluster/connect.ts); not needed when given a client. */
export const IOREDIS: OptionalDependency<typeof Ioredis> = {
  name: 'ioredis',
  range: '^5.11.1',
  feature: 'A cluster (the `cluster.redis` option as a URL)',
  require: () => require('ioredis'),
};

/** Every optional dependency, for the check against package.json. */
export const OPTIONAL_DEPENDENCIES: readonly OptionalDependency<unknown>[] = [BETTER_SQLITE3, PG, IOREDIS];

/**
 * The dependency's module, loaded (Node caches it after the first call). Throws a
 * MissingDependencyError when it is not installed, or is installed but fails to load (a native
 * module that was never built, a dependency of its own missing); the driver's error is `cause`.
 */
export function loadOptional<T>(dep: OptionalDependency<T>): T {
  try {
    return dep.require();
  } catch (err) {
    const install = `npm install ${dep.name}@${quoteRange(dep.range)}`;
    if (isNotFound(err, dep.name)) {
      throw new MissingDependencyError(
        dep.name,
        dep.range,
        `${dep.feature} needs the package ${dep.name}, which is not installed: run \`${install}\``,
        err,
      );
    }
    const reason = err instanceof Error ? err.message.split('\n')[0] : String(err);
    throw new MissingDependencyError(
      dep.name,
      dep.range,
      `${dep.feature} needs the package ${dep.name}, which is installed but could not be loaded (${reason}): ` +
        `reinstall it (\`${install}\`) or rebuild it (\`npm rebuild ${dep.name}\`)`,
      err,
    );
  }
}

/** Node's error for the package itself not being found (not one of its own dependencies). */
function isNotFound(err: unknown, name: string): boolean {
  const e = err as { code?: unknown; message?: unknown } | null;
  return (
    e?.code === 'MODULE_NOT_FOUND' &&
    typeof e.message === 'string' &&
    e.message.startsWith(`Cannot find module '${name}'`)
  );
}

/** A range as a shell word: `^` and spaces are safe in most shells, `<`/`>`/`|` are not. */
function quoteRange(range: string): string {
  return /^[\w.^~-]+$/.test(range) ? range : `'${range}'`;
}
