// PostgreSQL and Redis for a test file (the cluster tests): both are set up before its tests and
// cleaned up after them (every schema made through schema() is dropped, every Redis key under
// the file's prefix deleted). Both fail, never skip, when absent.
import { after, before } from 'node:test';
import pg from 'pg';
import { randomSchemaName, startTestPostgres, type TestPostgres } from './postgres.js';
import { type TestRedis, testRedis } from './redis.js';

export interface Services {
  readonly postgres: TestPostgres;
  readonly redis: TestRedis;
  /** A new schema name, dropped after the file's tests. */
  schema(): string;
}

export function useServices(): Services {
  let postgres: TestPostgres | undefined;
  let redis: TestRedis | undefined;
  const schemas: string[] = [];
  before(async () => {
    postgres = await startTestPostgres();
    redis = await testRedis();
  });
  after(async () => {
    if (postgres) {
      const client = new pg.Client({ connectionString: postgres.connectionString });
      await client.connect();
      for (const schema of schemas) await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      await client.end();
      await postgres.stop();
    }
    await redis?.cleanup();
  });
  return {
    get postgres() {
      if (!postgres) throw new Error('PostgreSQL is not set up yet (use it inside a test)');
      return postgres;
    },
    get redis() {
      if (!redis) throw new Error('Redis is not set up yet (use it inside a test)');
      return redis;
    },
    schema() {
      const name = randomSchemaName();
      schemas.push(name);
      return name;
    },
  };
}
