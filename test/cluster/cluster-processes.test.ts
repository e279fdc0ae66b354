// Three cluster processes (test/fixtures/durable-server.ts with --redis) on one PostgreSQL schema
// and one Redis, killed with SIGKILL under load (docs/cluster.md): every acknowledged change
// survives on the surviving processes, they serve one identical state, writes are acknowledged
// again after the owner died (the outage is printed), and a restarted process converges.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  checkLedger,
  fetchLedger,
  runWriter,
  type ServerProcess,
  spawnServer,
  WAIT_MS,
  type WriterLog,
} from '../fixtures/crash-harness.js';
import { clusterArgs, sameState } from '../helpers/cluster-processes.js';
import { useServices } from '../helpers/services.js';
import { waitFor } from '../helpers/wait.js';

const services = useServices();

const WRITERS = 3;

/** One empty log per writer (lane). */
function writerLogs(): WriterLog[] {
  return Array.from({ length: WRITERS }, (_, w) => ({ writer: w, history: [], acked: 0, errors: [] }));
}

describe('cluster processes', () => {
  test('kill -9 of the owner, then of a non-owner, under load: nothing acknowledged is lost, one state everywhere', async () => {
    const { prefix, args } = clusterArgs(services, { lanes: WRITERS });
    const procs: ServerProcess[] = [];
    const logs = writerLogs();
    try {
      // p0 starts first and owns the scope; p1 and p2 keep replicas.
      for (const id of ['p0', 'p1', 'p2']) procs.push(await spawnServer(args(id)));
      const [p0, p1, p2] = procs as [ServerProcess, ServerProcess, ServerProcess];

      // Round 1: one writer per process; the owner is killed mid-load.
      let acks = 0;
      let killedAt = 0;
      const round1 = logs.map((log, w) =>
        runWriter(procs[w]!.port, log, 400, () => {
          if (++acks === 60 && killedAt === 0) {
            killedAt = performance.now();
            void p0.kill();
          }
        }),
      );
      await Promise.all(round1);
      assert.ok(killedAt > 0, 'the owner was killed under load');
      for (const log of logs) assert.deepEqual(log.errors, [], `writer ${log.writer}: no error replies`);

      // The survivors take over: the first write acknowledged after the kill.
      const probe: WriterLog = logs[0]!;
      let firstAck = 0;
      const state1 = await fetchLedger(p1.port);
      checkLedger(state1, logs);
      await runWriter(p1.port, probe, 1, () => {
        firstAck = performance.now();
      });
      assert.ok(firstAck > 0, 'a write is acknowledged after the owner died');
      console.log(
        `owner killed: writes acknowledged again ${Math.round(firstAck - killedAt)} ms after the kill`,
      );
      await sameState([p1.port, p2.port]);

      // Round 2: writers on the two survivors; the non-owner is killed mid-load.
      acks = 0;
      let killed2 = false;
      const round2 = logs.map((log, w) =>
        runWriter((w % 2 === 0 ? p1 : p2).port, log, 200, () => {
          if (++acks === 60 && !killed2) {
            killed2 = true;
            // Whichever of the two does not own the scope now.
            void (async () => {
              const owner = await services.redis.connect().get(`${prefix}{Ledger}:lease`);
              assert.ok(owner === 'p1' || owner === 'p2', `a survivor owns the scope (${owner})`);
              await (owner === 'p1' ? p2 : p1).kill();
            })();
          }
        }),
      );
      await Promise.all(round2);
      assert.ok(killed2);
      for (const log of logs) assert.deepEqual(log.errors, [], `writer ${log.writer}: no error replies`);
      const alive = [p1, p2].filter((p) => p.child.exitCode === null && p.child.signalCode === null);
      assert.equal(alive.length, 1);
      const state2 = await fetchLedger(alive[0]!.port);
      const { stored } = checkLedger(state2, logs);
      assert.ok(stored > 0);

      // A restarted process loads the scope and converges with the survivor.
      const p3 = await spawnServer(args('p3'));
      procs.push(p3);
      await runWriter(p3.port, logs[1]!, 20, () => {});
      await runWriter(alive[0]!.port, logs[2]!, 20, () => {});
      assert.deepEqual(
        logs.flatMap((l) => l.errors),
        [],
      );
      await sameState([alive[0]!.port, p3.port]);
      checkLedger(await fetchLedger(p3.port), logs);
    } finally {
      for (const p of procs) await p.kill();
    }
  });

  test('an owner paused past its lease (SIGSTOP) and resumed acknowledges nothing it may not: one state, nothing lost', async () => {
    const { prefix, args } = clusterArgs(services, { lanes: WRITERS });
    const procs: ServerProcess[] = [];
    const logs = writerLogs();
    try {
      for (const id of ['p0', 'p1']) procs.push(await spawnServer(args(id)));
      const [p0, p1] = procs as [ServerProcess, ServerProcess];
      const owner = () => services.redis.connect().get(`${prefix}{Ledger}:lease`);
      assert.equal(await owner(), 'p0');
      // Writers on both; p0 is frozen mid-load for several lease lifetimes, then resumed.
      let acks = 0;
      let paused = false;
      let thawed: Promise<void> = Promise.resolve();
      const round = logs.map((log, w) =>
        runWriter((w === 1 ? p1 : p0).port, log, 300, () => {
          if (++acks === 40 && !paused) {
            paused = true;
            p0.child.kill('SIGSTOP');
            thawed = (async () => {
              await waitFor(async () => (await owner()) === 'p1', {
                timeout: WAIT_MS,
                message: 'p1 takes the scope over while p0 is frozen',
              });
              await new Promise((r) => setTimeout(r, 500));
              p0.child.kill('SIGCONT');
            })();
          }
        }),
      );
      // Every writer ends on its own: its count reached, or its session closed (outcome unknown).
      await Promise.all(round);
      await thawed;
      assert.ok(paused, 'p0 was paused under load');
      for (const log of logs) assert.deepEqual(log.errors, [], `writer ${log.writer}: no error replies`);
      assert.equal(await owner(), 'p1', 'the resumed process did not take the scope back');
      await sameState([p0.port, p1.port]);
      checkLedger(await fetchLedger(p1.port), logs);
    } finally {
      for (const p of procs) {
        p.child.kill('SIGCONT');
        await p.kill();
      }
    }
  });
});
