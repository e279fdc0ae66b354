// Faults of the services a cluster depends on (docs/cluster.md, "Faults"), under load, with three
// cluster processes (test/fixtures/durable-server.ts with --redis):
// - Redis killed (SIGKILL) and restarted empty on the same port: every lease, log and inbox is
//   gone. The test starts a redis-server of its own for this; the shared one is not touched.
// - Every PostgreSQL connection of the three processes terminated (pg_terminate_backend), again
//   and again for 2 s. Only this test's connections: they carry an application_name of their own
//   (other test files use the same database at the same time).
// In both: no process crashes, nothing acknowledged is lost, every changeset gets an answer (an
// ack, a clear error or a close with a reason; never silence), fetches are served during the
// fault, writes are acknowledged again on every process without a restart, and every process ends
// with one state. What clients saw, and for how long, is printed.
//
// Two kinds of writers per process: a ledger writer (crash-harness.ts: every acknowledged change
// is checked in the final state; it stops at its first error or close, since what it writes next
// depends on what was stored), and a prober that keeps writing one independent change after the
// other through the fault, recording every answer (it keeps the load on, and tells when writes
// fail and when they are acknowledged again).
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, test } from 'node:test';
import pg from 'pg';
import {
  checkLedger,
  runWriter,
  type ServerProcess,
  spawnServer,
  WAIT_MS,
  type WriterLog,
} from '../fixtures/crash-harness.js';
import { clusterArgs, sameState } from '../helpers/cluster-processes.js';
import { startOwnRedis } from '../helpers/redis.js';
import { useServices } from '../helpers/services.js';
import { waitFor } from '../helpers/wait.js';
import { type Msg, TestClient } from '../helpers/ws-client.js';

const services = useServices();

/** Lanes 0..2: one ledger writer per process; lanes 3..5: one prober per process. */
const PROCESSES = 3;
const LANES = 2 * PROCESSES;
/** How long any one answer may take before it counts as missing (well above the faults here). */
const ANSWER_MS = 10_000;
/** How long Redis stays down (JETSTREAM_FAULT_REDIS_DOWN_MS: to see what a longer outage does). */
const REDIS_DOWN_MS = Number(process.env.JETSTREAM_FAULT_REDIS_DOWN_MS) || 2500;
/** Error types a changeset may be answered with during these faults. */
const CLEAR_ERRORS = ['store-failed'];

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** One changeset of a prober and its answer (performance.now() times). */
interface Answer {
  sent: number;
  at: number;
  how: 'ack' | 'error' | 'closed' | 'timeout' | 'no-session';
  detail?: string;
}

/**
 * Writes to lane `lane` through the process at `port`, one `change` of the lane's count at a
 * time (a write never depends on an earlier one), until `until(answers)`: every answer is recorded. A
 * close or a timeout starts a new session; after anything but an ack it pauses 50 ms.
 */
function prober(port: number, lane: number, until: (answers: Answer[]) => boolean) {
  const answers: Answer[] = [];
  const stop = () => until(answers);
  const done = (async () => {
    let n = 0;
    while (!stop()) {
      const client = await TestClient.session(port, {}, { timeout: ANSWER_MS }).catch((err: Error) => {
        const now = performance.now();
        answers.push({ sent: now, at: now, how: 'no-session', detail: err.message.slice(0, 200) });
        return null;
      });
      if (client === null) {
        await sleep(50);
        continue;
      }
      try {
        const fetchedAt = performance.now();
        const { reply: fetched, state } = await client.fetch('Ledger');
        if (!state) {
          // A fetch answered with an error (see readers()): checked like a changeset's.
          const detail = JSON.stringify(fetched.error ?? fetched);
          answers.push({ sent: fetchedAt, at: performance.now(), how: 'error', detail });
          await sleep(50);
          continue;
        }
        const uuid = (state.fragments as Msg[]).find(
          (f) => f.clsName === 'Lane' && f.properties.writer === lane,
        )?.uuid;
        assert.ok(uuid, `prober lane ${lane}`);
        while (!stop()) {
          const sent = performance.now();
          let reply: Msg;
          try {
            reply = await client.sync(0, [
              { type: 'change', uuid, clsName: 'Lane', properties: { count: ++n } },
            ]);
          } catch (err) {
            const at = performance.now();
            if (client.closeInfo)
              answers.push({
                sent,
                at,
                how: 'closed',
                detail: `${client.closeInfo.code} ${client.closeInfo.reason}`,
              });
            else answers.push({ sent, at, how: 'timeout', detail: (err as Error).message.slice(0, 200) });
            break;
          }
          const error =
            reply.error ??
            (reply.fragmentReplies as (Msg | null)[] | undefined)?.find((r) => r?.error)?.error;
          const ok = !error && reply.fragmentReplies?.length === 1;
          answers.push({
            sent,
            at: performance.now(),
            how: ok ? 'ack' : 'error',
            ...(ok ? {} : { detail: JSON.stringify(error ?? reply) }),
          });
          if (!ok) await sleep(50);
        }
      } catch (err) {
        // The fetch itself was not answered: counted like a changeset.
        const now = performance.now();
        const closed = client.closeInfo;
        answers.push({
          sent: now,
          at: now,
          how: closed ? 'closed' : 'timeout',
          detail: closed ? `${closed.code} ${closed.reason}` : String(err).slice(0, 200),
        });
        await sleep(50);
      } finally {
        client.terminate();
      }
    }
  })();
  return { answers, done };
}

/**
 * Fetches the Ledger from each process every 100 ms until `stop()`; `within` counts the fetches
 * answered with a state that started and ended within [from, to); `failed` holds the others (the
 * reply, as JSON).
 */
function readers(ports: number[], stop: () => boolean) {
  const served: { port: number; start: number; end: number }[] = [];
  const failed: string[] = [];
  const loops = ports.map(async (port) => {
    while (!stop()) {
      const start = performance.now();
      let client: TestClient | undefined;
      try {
        client = await TestClient.session(port, {}, { timeout: ANSWER_MS });
        const { reply, state } = await client.fetch('Ledger');
        if (state) served.push({ port, start, end: performance.now() });
        else failed.push(JSON.stringify(reply));
      } catch (err) {
        failed.push(JSON.stringify({ timeoutOrClose: (err as Error).message.slice(0, 200) }));
      } finally {
        client?.terminate();
      }
      await sleep(100);
    }
  });
  return {
    done: Promise.all(loops),
    failed,
    within: (port: number, from: number, to: number) =>
      served.filter((s) => s.port === port && s.start >= from && s.end < to).length,
  };
}

/** No process exited on its own. */
function assertAlive(procs: ServerProcess[]): void {
  for (const [i, p] of procs.entries()) {
    assert.equal(p.child.exitCode, null, `process p${i} did not exit (code ${p.child.exitCode})`);
    assert.equal(p.child.signalCode, null, `process p${i} was not killed (${p.child.signalCode})`);
  }
}

/** A close with 4097 and a JSON reason carrying a message and a type. */
function assertClearClose(detail: string | undefined, what: string): void {
  const m = /^4097 (.*)$/s.exec(detail ?? '');
  assert.ok(m, `${what}: closed with 4097 (${detail})`);
  const reason = JSON.parse(m[1]!) as { message?: unknown; type?: unknown };
  assert.equal(typeof reason.message, 'string', what);
  assert.equal(reason.type, 'outcome-unknown', what);
}

function assertClearError(error: Msg | undefined, what: string): void {
  assert.ok(error, what);
  assert.equal(typeof error.message, 'string', what);
  assert.ok(
    CLEAR_ERRORS.includes(error.type),
    `${what}: a clear error type (${error.type}: ${error.message})`,
  );
}

/**
 * Every ledger writer and every prober got an answer to every changeset: an ack, an error of a
 * clear type with a message, or a close 4097 with a reason. Never silence (a timeout).
 */
function assertAnswered(logs: WriterLog[], probes: Answer[][]): void {
  for (const log of logs) {
    const end = log.end;
    assert.ok(end, `writer ${log.writer} ended`);
    const what = `ledger writer ${log.writer}: ${end.how} ${end.detail ?? ''}`;
    assert.ok(['done', 'stopped', 'error', 'closed'].includes(end.how), `${what}: an answer, not silence`);
    if (end.how === 'closed') assertClearClose(end.detail, what);
    for (const e of log.errors) {
      const reply = JSON.parse(e) as Msg;
      if (reply.error) assertClearError(reply.error, what);
      for (const r of (reply.fragmentReplies as (Msg | null)[] | undefined) ?? [])
        if (r?.error) assertClearError(r.error, what);
    }
  }
  for (const [i, answers] of probes.entries()) {
    for (const a of answers) {
      const what = `prober p${i}: ${a.how} ${a.detail ?? ''}`;
      assert.ok(
        a.how === 'ack' || a.how === 'error' || a.how === 'closed',
        `${what}: an answer, not silence`,
      );
      if (a.how === 'closed') assertClearClose(a.detail, what);
      if (a.how === 'error') assertClearError(JSON.parse(a.detail!) as Msg, what);
    }
  }
}

/** After the fault: ledger writers on every process, 30 changesets each, all acknowledged; one state. */
async function afterRecovery(procs: ServerProcess[], logs: WriterLog[]): Promise<void> {
  const ports = procs.map((p) => p.port);
  checkLedger(await sameState(ports), logs); // also trims each history to what was stored
  for (const log of logs) log.errors = [];
  await Promise.all(logs.map((log, w) => runWriter(ports[w]!, log, 30, () => {}, { timeoutMs: ANSWER_MS })));
  for (const log of logs) {
    assert.deepEqual(log.errors, [], `writer ${log.writer}: no error after recovery`);
    assert.equal(log.end?.how, 'done', `writer ${log.writer} after recovery: ${JSON.stringify(log.end)}`);
  }
  const { stored } = checkLedger(await sameState(ports), logs);
  assert.ok(stored > 0);
  assertAlive(procs);
}

const ms = (t: number) => `${Math.round(t)} ms`;

/** What each process's clients saw around the fault [from, to). */
function report(name: string, logs: WriterLog[], probes: Answer[][], from: number, to: number): string[] {
  const failures = [
    ...probes
      .flat()
      .filter((a) => a.at >= from && a.how !== 'ack')
      .map((a) => a.at),
    ...logs.filter((l) => l.end && l.end.how !== 'stopped' && l.end.how !== 'done').map((l) => l.end!.at),
  ];
  const first = failures.length > 0 ? `${ms(Math.min(...failures) - from)} after it began` : 'none';
  const lines = [`${name}: fault lasted ${ms(to - from)}; first error or close seen by a client: ${first}`];
  for (const [i, answers] of probes.entries()) {
    const during = answers.filter((a) => a.at >= from && a.sent < to);
    const count = (how: Answer['how']) => during.filter((a) => a.how === how).length;
    const firstFailure = answers.find((a) => a.at >= from && a.how !== 'ack');
    const firstAckAfter = answers.find((a) => a.how === 'ack' && a.sent >= to);
    const longest = Math.max(0, ...answers.filter((a) => a.at >= from).map((a) => a.at - a.sent));
    lines.push(
      `  p${i} prober: ${count('ack')} acks, ${count('error')} errors, ${count('closed')} closes during the fault; ` +
        `first error or close ${firstFailure ? `${ms(firstFailure.at - from)} after it began (${firstFailure.how}: ${(firstFailure.detail ?? '').slice(0, 140)})` : ': none'}; ` +
        `longest wait for an answer ${ms(longest)}; ` +
        `a write sent after the fault acknowledged ${firstAckAfter ? `${ms(firstAckAfter.at - to)} after it ended` : ': never'}`,
    );
  }
  for (const l of logs) {
    lines.push(
      `  ledger writer ${l.writer}: ${l.acked} acked, ended ${l.end?.how} at ${ms((l.end?.at ?? from) - from)} after the fault began ${(l.end?.detail ?? '').slice(0, 140)}`,
    );
  }
  return lines;
}

/**
 * Three processes under load (a ledger writer and a prober on each); once 60 ledger changesets
 * were acknowledged, `fault()` runs (it resolves with when the fault began and ended); then every
 * prober writes until a write sent after the fault is acknowledged, and the checks run.
 */
async function faultScenario(
  name: string,
  args: (id: string) => string[],
  fault: () => Promise<{ from: number; to: number }>,
): Promise<void> {
  const procs: ServerProcess[] = [];
  const logs: WriterLog[] = Array.from({ length: PROCESSES }, (_, w) => ({
    writer: w,
    history: [],
    acked: 0,
    errors: [],
  }));
  let stopping = false;
  let faultEnd = Number.POSITIVE_INFINITY;
  try {
    for (let i = 0; i < PROCESSES; i++) procs.push(await spawnServer(args(`p${i}`)));
    const ports = procs.map((p) => p.port);
    let acks = 0;
    const ledger = Promise.all(
      logs.map((log, w) =>
        runWriter(ports[w]!, log, 100_000, () => acks++, { timeoutMs: ANSWER_MS, stop: () => stopping }),
      ),
    );
    ledger.catch(() => {}); // awaited below; a failure before then must not go unhandled
    const probes = ports.map((port, i) =>
      prober(
        port,
        PROCESSES + i,
        (answers) => stopping || answers.some((a) => a.how === 'ack' && a.sent >= faultEnd),
      ),
    );
    await waitFor(() => acks >= 60, {
      timeout: WAIT_MS,
      message: '60 acknowledged changesets before the fault',
    });

    let readersStop = false;
    const reads = readers(ports, () => readersStop);
    const { from, to } = await fault();
    readersStop = true;
    faultEnd = to;
    await reads.done;
    // Writes are acknowledged again on every process (each prober stops at its first such ack).
    await waitFor(() => probes.every((p) => p.answers.some((a) => a.how === 'ack' && a.sent >= to)), {
      timeout: WAIT_MS,
      interval: 50,
      message: () =>
        `a write acknowledged on every process after the fault:\n${report(
          name,
          logs,
          probes.map((p) => p.answers),
          from,
          to,
        ).join('\n')}`,
    });
    stopping = true;
    await Promise.all([ledger, ...probes.map((p) => p.done)]);
    const answers = probes.map((p) => p.answers);
    for (const line of report(name, logs, answers, from, to)) console.log(line);
    console.log(
      `  fetches served during the fault: ${ports.map((p, i) => `p${i} ${reads.within(p, from, to)}`).join(', ')}; failed: ${reads.failed.length} ${reads.failed.slice(0, 3).join('; ')}`,
    );

    assertAlive(procs);
    assertAnswered(logs, answers);
    for (const [i, port] of ports.entries()) {
      assert.ok(reads.within(port, from, to) > 0, `fetches were served by p${i} during the fault`);
    }
    // A fetch waits for the commit of what its state shows: one that coincides with a commit
    // the fault made fail is answered with that commit's error (docs/persistence.md).
    for (const f of reads.failed) {
      const reply = JSON.parse(f) as Msg;
      assertClearError(reply.error, `fetch: ${f}`);
    }
    await afterRecovery(procs, logs);
  } finally {
    stopping = true;
    for (const p of procs) await p.kill();
  }
}

describe('cluster faults', () => {
  test('Redis killed mid-load and restarted empty: no crash, nothing acknowledged lost, writes resume everywhere, one state', async () => {
    const redis = await startOwnRedis();
    try {
      const { args } = clusterArgs(services, {
        lanes: LANES,
        redisUrl: redis.url,
        applicationName: `jetstream-faults-${randomBytes(4).toString('hex')}`,
      });
      await faultScenario('Redis killed and restarted', args, async () => {
        const from = performance.now();
        await redis.kill();
        await sleep(REDIS_DOWN_MS);
        await redis.start();
        return { from, to: performance.now() };
      });
    } finally {
      await redis.kill();
    }
  });

  test('PostgreSQL connections killed mid-load: no crash, nothing acknowledged lost, clear errors, writes resume, one state', async () => {
    const applicationName = `jetstream-faults-${randomBytes(4).toString('hex')}`;
    const admin = new pg.Client({ connectionString: services.postgres.connectionString });
    await admin.connect();
    // Only this test's processes: other test files use the same database at the same time.
    const terminate = async () =>
      (
        await admin.query<{ n: number }>(
          `SELECT count(*)::int AS n FROM (
             SELECT pg_terminate_backend(pid) FROM pg_stat_activity
              WHERE datname = current_database() AND pid <> pg_backend_pid() AND application_name = $1
           ) t`,
          [applicationName],
        )
      ).rows[0]!.n;
    try {
      await faultScenario(
        'PostgreSQL connections terminated',
        clusterArgs(services, { lanes: LANES, applicationName }).args,
        async () => {
          // Every 100 ms for 2 s, every connection of the three processes is terminated.
          const from = performance.now();
          let terminated = 0;
          let rounds = 0;
          while (performance.now() - from < 2000) {
            terminated += await terminate();
            rounds++;
            await sleep(100);
          }
          console.log(`  ${terminated} connections terminated in ${rounds} rounds`);
          assert.ok(terminated > 0, 'connections of the processes were terminated');
          return { from, to: performance.now() };
        },
      );
    } finally {
      await admin.end();
    }
  });
});
