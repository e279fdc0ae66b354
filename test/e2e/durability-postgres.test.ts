// The crash test of durability.test.ts against a real PostgreSQL (test/helpers/postgres.ts: fails,
// never skips, when there is none). Each run uses its own schema, dropped afterwards.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { crashScenario } from '../fixtures/crash-harness.js';
import { randomSchemaName, startTestPostgres, type TestPostgres } from '../helpers/postgres.js';

describe('durability: PostgreSQL', () => {
  let pgServer: TestPostgres;
  const schema = randomSchemaName('jetstream_crash');
  before(async () => {
    pgServer = await startTestPostgres();
  });
  after(async () => {
    if (!pgServer) return;
    const client = new pg.Client({ connectionString: pgServer.connectionString });
    try {
      await client.connect();
      await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    } finally {
      await client.end().catch(() => {});
      await pgServer.stop();
    }
  });

  test('kill -9 mid-load: every acknowledged change survives, atomic changesets are whole, the scope is consistent', async () => {
    const rounds = await crashScenario({
      args: ['--store', 'postgres', '--url', pgServer.connectionString, '--schema', schema],
      writers: 4,
      killAfter: 80,
      rounds: 2,
    });
    assert.equal(rounds.length, 2);
    console.log(JSON.stringify(rounds));
    for (const r of rounds) assert.ok(r.acked > 0 && r.stored > 0);
  });
});
