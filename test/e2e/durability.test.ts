// Crash test with SQLite (issue 5): a durable server in a child process, several writers over real
// sockets, `kill -9` mid-load, restart, and every acknowledged changeset must be there, no atomic
// changeset half applied, every object reachable from the root. Twice, so the second round starts
// from a restored scope (snapshot + change log; the fixture snapshots every 7 changesets).
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { crashScenario } from '../fixtures/crash-harness.js';

describe('durability: SQLite', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'jetstream-durability-'));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  test('kill -9 mid-load: every acknowledged change survives, atomic changesets are whole, the scope is consistent', async () => {
    const rounds = await crashScenario({
      args: ['--store', 'sqlite', '--dir', dir],
      writers: 4,
      killAfter: 80,
      rounds: 2,
    });
    assert.equal(rounds.length, 2);
    console.log(JSON.stringify(rounds));
    for (const r of rounds) assert.ok(r.acked > 0 && r.stored > 0);
  });
});
