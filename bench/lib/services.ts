// PostgreSQL and Redis for the cluster targets (targets/cluster.ts): the machine's servers, as the
// tests use them (DATABASE_URL / REDIS_URL when set, else PostgreSQL on 127.0.0.1:5432 database
// `test` with trust auth and Redis on 127.0.0.1:6379). Every run gets a fresh schema and a random
// key prefix, and removes both afterwards. A small copy of what test/helpers/postgres.ts and
// redis.ts do: bench code does not import from test/.
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import pg from 'pg';

export const postgresUrl = (): string =>
  process.env.DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/test';
export const redisUrl = (): string => process.env.REDIS_URL || 'redis://127.0.0.1:6379';

/** A schema name no other run uses. */
export const randomSchemaName = (): string => `jetstream_bench_cluster_${randomBytes(6).toString('hex')}`;

/** A Redis key prefix no other run uses. */
export const randomRedisPrefix = (): string => `jetstream-bench-cluster:${randomBytes(6).toString('hex')}:`;

/** Runs `fn` with one PostgreSQL connection (3 s to connect: a missing server fails fast). */
async function withPostgres<T>(url: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 3000 });
  client.on('error', () => {});
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end().catch(() => {});
  }
}

/** Throws, saying where, when PostgreSQL does not answer. */
export async function probePostgres(url: string): Promise<void> {
  try {
    await withPostgres(url, (c) => c.query('SELECT 1'));
  } catch (e) {
    throw new Error(
      `PostgreSQL is not reachable at ${url} (start it, or set DATABASE_URL): ${(e as Error).message}`,
    );
  }
}

export async function dropSchema(url: string, schema: string): Promise<void> {
  await withPostgres(url, (c) => c.query(`DROP SCHEMA IF EXISTS "${schema.replaceAll('"', '""')}" CASCADE`));
}

/** A Redis connection; throws, saying where, when Redis does not answer. */
export async function connectRedis(url: string): Promise<Redis> {
  const r = new Redis(url, { maxRetriesPerRequest: 1 });
  r.on('error', () => {}); // connection errors surface as rejected commands
  try {
    await r.ping();
  } catch (e) {
    r.disconnect();
    throw new Error(`Redis is not reachable at ${url} (start it, or set REDIS_URL): ${(e as Error).message}`);
  }
  return r;
}

/** Deletes every key under `prefix`. */
export async function deleteKeys(redis: Redis, prefix: string): Promise<number> {
  let cursor = '0';
  let n = 0;
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
    if (keys.length) n += await redis.del(...keys);
    cursor = next;
  } while (cursor !== '0');
  return n;
}
