// Failover of clients (docs/cluster.md, "Sessions"): three cluster processes
// (test/fixtures/durable-server.ts with --redis) behind a round-robin TCP balancer, so that a
// client whose process was killed with SIGKILL reconnects to another one. There the resume is
// refused as the protocol prescribes for a token the process does not know (close 4096), and the
// client creates a new session, fetches the scope and re-applies the edits it has not seen
// acknowledged. Clients of the surviving processes whose changeset was waiting on a dead owner
// get 4097 outcome-unknown and do the same. SDK clients keep appending entries to their own lane
// of the 'Ledger' scope throughout, also while disconnected; a raw protocol client does it by
// hand. At the end every edit is in the state exactly once, on every process, and each SDK
// client's state is the server's.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import WebSocket from 'ws';
import { type Client, type ClientScope, connect } from '../../src/client/index.js';
import { type ModelObject, model, walkTree } from '../../src/model/index.js';
import { type ServerProcess, spawnServer, WAIT_MS } from '../fixtures/crash-harness.js';
import { type Balancer, startBalancer } from '../helpers/balancer.js';
import { clusterArgs, sameState } from '../helpers/cluster-processes.js';
import { useServices } from '../helpers/services.js';
import { waitFor } from '../helpers/wait.js';
import { type Msg, TestClient, uuid } from '../helpers/ws-client.js';

const services = useServices();

// The fixture's models (test/fixtures/durable-server.ts), declared again: importing that module
// would start its server. Same names and properties, so the wire is the same.
const Entry = model('Entry', function () {
  this.has('writer', Number);
  this.has('batch', Number);
  this.has('seq', Number);
});
const Lane = model('Lane', function () {
  this.has('writer', Number);
  this.has('count', Number);
  this.has('entries', [Entry]);
});
const Ledger = model('Ledger', function () {
  this.has('name', String);
  this.has('lanes', [Lane]);
});

type EntryObj = ModelObject & { writer: number; batch: number; seq: number };
type LaneObj = ModelObject & { writer: number; count: number; entries: { push(e: ModelObject): number } };
type LedgerObj = ModelObject & { lanes: { toArray(): LaneObj[] } };

/** SDK clients (lanes 0…SDK-1); the raw protocol client writes lane SDK. */
const SDK = 3;
const RAW = SDK;
/**
 * An edit every this many ms per client: 20 changesets a second, so that those a client sends
 * during a take-over (2–3 s, docs/cluster.md "Faults") stay below `maxQueuedChangesets` (64,
 * docs/server.md "Limits"), which would end its session for going over a limit.
 */
const EDIT_EVERY_MS = 50;
/** Client `w`'s source address (loopback): each client is its own address for the server's limits. */
const addressOf = (w: number) => `127.0.1.${w + 1}`;
/** Acknowledged edits each client must make between two faults (it carries on). */
const PER_ROUND = 10;

/** An SDK client appending entries to lane `w`, and what became of each edit. */
interface SdkWriter {
  w: number;
  client: Client;
  scope: ClientScope<LedgerObj>;
  /** Every entry created, in order. */
  made: string[];
  /** Edits whose changeset the server accepted. */
  acked: number;
  /** Outcomes that were not `completed` (must stay empty). */
  failures: string[];
  /** Close codes of every socket the client opened. */
  closes: number[];
  /** The outcome of each entry's changeset, by entry. */
  outcomes: Map<string, string>;
  /**
   * States (ScopeState, after a new session) that lacked edits this client had seen
   * acknowledged: how many such edits each time.
   */
  stale: number[];
}

async function sdkWriter(url: string, w: number): Promise<SdkWriter> {
  const closes: number[] = [];
  const outcomes = new Map<string, string>();
  const stale: number[] = [];
  /** Checks a state against the edits acknowledged so far (read before the client applies it). */
  const check = (text: string) => {
    if (!text.includes('"ScopeState"')) return;
    for (const m of JSON.parse(text) as Msg[]) {
      if (m.type !== 'ScopeState') continue;
      const lane = (m.fragments as Msg[]).find((f) => f.clsName === 'Lane' && f.properties.writer === w);
      const has = new Set(lane?.properties.entries as string[]);
      const lacking = [...outcomes].filter(([id, o]) => o === 'completed' && !has.has(id)).length;
      if (lacking > 0) stale.push(lacking);
    }
  };
  class Recording extends WebSocket {
    constructor(u: string, protocols?: string | string[], options?: { headers?: Record<string, string> }) {
      super(u, protocols, { ...options, localAddress: addressOf(w) });
      this.on('close', (code) => closes.push(code));
      this.prependListener('message', (data) => check(String(data)));
    }
  }
  const client = await connect(url, { WebSocket: Recording, minReconnectDelay: 20, maxReconnectDelay: 200 });
  const scope = (await client.fetch('Ledger', Ledger)) as unknown as ClientScope<LedgerObj>;
  return { w, client, scope, made: [], acked: 0, failures: [], closes, outcomes, stale };
}

/** Appends one entry to the writer's lane, as one changeset; counts its outcome. */
function sdkEdit(s: SdkWriter): void {
  const lane = s.scope.root!.lanes.toArray().find((l) => l.writer === s.w)!;
  const e = new Entry({ writer: s.w, batch: s.made.length + 1, seq: 0 }) as EntryObj;
  lane.entries.push(e);
  s.made.push(e.uuid);
  void s.scope.flush().then((r) => {
    s.outcomes.set(e.uuid, r.status);
    if (r.status === 'completed') s.acked++;
    else s.failures.push(`${e.uuid}: ${r.status} ${JSON.stringify(r.errors).slice(0, 300)}`);
  });
}

/** What the raw protocol client did. */
interface RawLog {
  /** Every entry sent, in order (one per changeset). */
  made: string[];
  acked: number;
  /** The close code of every resume attempt (the protocol prescribes 4096 elsewhere). */
  resumes: number[];
  /** How its sockets closed (code and reason) while writing. */
  lost: string[];
  sessions: number;
  /** Unacknowledged changesets found applied in the new session's state, and those re-sent. */
  foundApplied: number;
  resent: number;
}

/**
 * The raw client, following docs/protocol.md and docs/cluster.md: it writes lane RAW one atomic
 * changeset at a time (an Entry and the lane's new entries and count), waiting for each reply.
 * When its socket closes it tries to resume its session through the balancer (refused: 4096),
 * creates a new session, fetches, and re-sends the changeset it had not seen acknowledged unless
 * the fetched state shows it applied.
 */
async function rawWriter(port: number, log: RawLog, stop: () => boolean): Promise<void> {
  let pending: string | null = null; // the entry of the unacknowledged changeset
  let token: string | null = null;
  let highest = 0;
  while (!stop() || pending !== null) {
    if (token !== null) {
      // The resume, as the protocol prescribes: a Ping asking for what was missed.
      const r = await TestClient.connect(port, {
        headers: { 'X-Jetstream-SessionToken': token },
        localAddress: addressOf(RAW),
      }).catch(() => null);
      if (r) {
        r.ping(true, highest);
        log.resumes.push((await r.waitForClose()).code);
      }
      token = null;
    }
    let c: TestClient;
    try {
      c = await TestClient.session(port, {}, { timeout: WAIT_MS, localAddress: addressOf(RAW) });
    } catch {
      await new Promise((r) => setTimeout(r, 50)); // no process took the connection yet
      continue;
    }
    log.sessions++;
    token = c.token;
    try {
      const { reply, state } = await c.fetch('Ledger');
      assert.ok(state, `the Ledger fetch succeeds: ${JSON.stringify(reply)}`);
      const fragments = state.fragments as Msg[];
      const lane = fragments.find((f) => f.clsName === 'Lane' && f.properties.writer === RAW)!;
      let entries = [...(lane.properties.entries as string[])];
      // Nothing acknowledged is missing, and nothing is there twice.
      assert.deepEqual(
        entries.slice(0, log.acked),
        log.made.slice(0, log.acked),
        'the fetched state holds every acknowledged changeset of the raw client',
      );
      if (pending !== null && entries.includes(pending)) {
        log.acked++; // applied before the reply could arrive
        log.foundApplied++;
        pending = null;
      } else if (pending !== null) log.resent++;
      assert.deepEqual(entries, log.made.slice(0, log.acked), 'the lane holds exactly what was applied');
      while (!stop() || pending !== null) {
        const id: string = pending ?? uuid();
        if (pending === null) log.made.push(id);
        pending = id;
        const n: number = log.made.indexOf(id) + 1;
        const reply = await c.sync(
          0,
          [
            { type: 'add', uuid: id, clsName: 'Entry', properties: { writer: RAW, batch: n, seq: 0 } },
            {
              type: 'change',
              uuid: lane.uuid,
              clsName: 'Lane',
              properties: { entries: [...entries, id], count: n },
            },
          ],
          { atomic: true },
        );
        highest = c.highestIndex();
        assert.deepEqual(reply.fragmentReplies, [{}, {}], `raw changeset ${n} is accepted`);
        log.acked++;
        pending = null;
        entries = [...entries, id];
        await new Promise((r) => setTimeout(r, EDIT_EVERY_MS));
      }
      await c.close();
      return;
    } catch (err) {
      if (err instanceof assert.AssertionError || !c.closeInfo) throw err; // not a lost socket
      log.lost.push(`${c.closeInfo.code} ${c.closeInfo.reason}`);
      highest = c.highestIndex();
    }
  }
}

/** A comparable picture of a Ledger: every object with its wire properties, sorted. */
function picture(fragments: Msg[]): string[] {
  return fragments.map((f) => `${f.uuid} ${f.clsName} ${JSON.stringify(f.properties)}`).sort();
}

function sdkPicture(root: ModelObject): string[] {
  return walkTree(root)
    .map((o) => `${o.uuid} ${o.typeName} ${JSON.stringify(o.toWireProperties())}`)
    .sort();
}

const alive = (p: ServerProcess) => p.child.exitCode === null && p.child.signalCode === null;

describe('cluster failover', () => {
  test('clients of killed processes reconnect elsewhere and carry on: no edit lost or applied twice (SDK and raw protocol)', async () => {
    const { prefix, args } = clusterArgs(services, { lanes: SDK + 1 });
    const procs: ServerProcess[] = [];
    let lb: Balancer | undefined;
    const writers: SdkWriter[] = [];
    const timers: ReturnType<typeof setInterval>[] = [];
    const redis = services.redis.connect();
    const owner = () => redis.get(`${prefix}{Ledger}:lease`);
    try {
      for (const id of ['p0', 'p1', 'p2']) procs.push(await spawnServer(args(id)));
      const [p0] = procs as [ServerProcess];
      assert.equal(await owner(), 'p0', 'the first process owns the scope');
      lb = await startBalancer(procs.map((p) => p.port));
      const url = `ws://127.0.0.1:${lb.port}/`;

      // Connections in order: SDK client i on process i, the raw client on p0 (round robin).
      for (let w = 0; w < SDK; w++) writers.push(await sdkWriter(url, w));
      assert.deepEqual(
        procs.map((p) => lb!.routed.get(p.port)),
        [1, 1, 1],
        'one SDK client per process',
      );
      let stopping = false;
      const raw: RawLog = {
        made: [],
        acked: 0,
        resumes: [],
        lost: [],
        sessions: 0,
        foundApplied: 0,
        resent: 0,
      };
      // A failed assertion of the raw client ends its run: the waits below report it at once.
      let rawFailed: unknown = null;
      const rawDone = rawWriter(lb.port, raw, () => stopping).catch((err: unknown) => {
        rawFailed = err;
      });
      // A throw in a timer would end this process before `finally` kills the servers.
      for (const s of writers) {
        timers.push(
          setInterval(() => {
            try {
              sdkEdit(s);
            } catch (err) {
              s.failures.push(`edit failed: ${(err as Error).message}`);
            }
          }, EDIT_EVERY_MS),
        );
      }

      /** Waits until every client made PER_ROUND more acknowledged edits than at `from`. */
      const carryOn = async (what: string) => {
        const from = [...writers.map((s) => s.acked), raw.acked];
        await waitFor(
          () => {
            if (rawFailed) throw rawFailed;
            return (
              writers.every((s, i) => s.acked >= from[i]! + PER_ROUND) && raw.acked >= from[SDK]! + PER_ROUND
            );
          },
          {
            timeout: WAIT_MS,
            message: () =>
              `every client carries on ${what}: acked ${writers.map((s) => s.acked).join(',')},${raw.acked} from ${from.join(',')}; failures ${writers
                .flatMap((s) => s.failures)
                .join('; ')
                .slice(0, 500)}; raw lost ${raw.lost.join('; ')}`,
          },
        );
      };

      // 1. The owner, which holds SDK client 0 and the raw client, is killed under load.
      await carryOn('before the first kill');
      assert.ok(lb.live.get(p0.port)! >= 2, 'SDK client 0 and the raw client are on p0');
      await p0.kill();
      await carryOn('after the owner was killed');
      assert.ok(
        writers[0]!.closes.includes(4096),
        `SDK client 0's resume elsewhere was refused (${writers[0]!.closes})`,
      );
      assert.ok(writers[0]!.client.status.sessions >= 2, 'SDK client 0 created a new session');
      assert.ok(raw.resumes.length > 0, 'the raw client tried to resume its session');

      // 2. The survivor holding the most clients is killed too (owner or not).
      const survivors = procs.filter(alive);
      const busiest = survivors.reduce((a, b) =>
        (lb!.live.get(b.port) ?? 0) > (lb!.live.get(a.port) ?? 0) ? b : a,
      );
      assert.ok(lb.live.get(busiest.port)! >= 1, 'the second process killed has clients');
      await busiest.kill();
      await carryOn('after a second process was killed');

      // 3. A new process joins (the final state is checked on two processes).
      const p3 = await spawnServer(args('p3'));
      procs.push(p3);
      lb.backends.push(p3.port);
      await carryOn('after a process joined');

      // Everyone stops and waits for their last edits' answers.
      for (const t of timers) clearInterval(t);
      stopping = true;
      await rawDone;
      if (rawFailed) throw rawFailed;
      await waitFor(() => writers.every((s) => s.acked + s.failures.length === s.made.length), {
        timeout: WAIT_MS,
        message: () =>
          `every SDK edit answered: ${writers.map((s) => `${s.acked}/${s.made.length}`).join(', ')}`,
      });

      // Each edit once, in order, on every process; every one acknowledged.
      const final = await sameState(procs.filter(alive).map((p) => p.port));
      const fragments = final.fragments as Msg[];
      const byId = new Map(fragments.map((f) => [f.uuid as string, f]));
      assert.equal(byId.size, fragments.length, 'every object once');
      const laneOf = (w: number) => fragments.find((f) => f.clsName === 'Lane' && f.properties.writer === w)!;
      for (const s of writers) {
        const stored = laneOf(s.w).properties.entries as string[];
        const missing = s.made.filter((id) => !stored.includes(id));
        const outcomes = (ids: string[]) => {
          const n = new Map<string, number>();
          for (const id of ids)
            n.set(s.outcomes.get(id) ?? 'unanswered', (n.get(s.outcomes.get(id) ?? 'unanswered') ?? 0) + 1);
          return [...n].map(([k, v]) => `${v} ${k}`).join(', ');
        };
        assert.deepEqual(
          { missing: missing.length, stored: stored.length, rolledBack: s.failures.length },
          { missing: 0, stored: s.made.length, rolledBack: 0 },
          `SDK client ${s.w}: of its ${s.made.length} edits, ${missing.length} are not in the state (${outcomes(missing)}); ` +
            `states lacking acknowledged edits: ${s.stale.length ? s.stale.join(', ') : 'none'}; ` +
            `${s.failures.length} were rolled back, the first: ${s.failures[0]?.slice(0, 300)}`,
        );
        assert.deepEqual(stored, s.made, `SDK client ${s.w}: its edits in order`);
        s.made.forEach((id, i) => {
          assert.deepEqual(byId.get(id)?.properties, { writer: s.w, batch: i + 1, seq: 0 });
        });
      }
      assert.deepEqual(
        raw.resumes.filter((code) => code !== 4096),
        [],
        'every resume of the raw client was refused with 4096 (its process was dead or had closed the session)',
      );
      assert.deepEqual(laneOf(RAW).properties.entries, raw.made, 'raw client: each changeset exactly once');
      assert.equal(laneOf(RAW).properties.count, raw.made.length);

      // Each SDK client shows the server's state.
      const expected = picture(fragments);
      for (const s of writers) {
        await waitFor(() => sdkPicture(s.scope.root!).join('\n') === expected.join('\n'), {
          timeout: WAIT_MS,
          message: () => `SDK client ${s.w} shows the server's state`,
        });
      }
      console.log(
        `failover: SDK edits ${writers.map((s) => s.made.length).join(', ')}; sessions ${writers.map((s) => s.client.status.sessions).join(', ')}; raw changesets ${raw.made.length}, sessions ${raw.sessions}, resumes ${raw.resumes.join(',')}, sockets lost ${raw.lost.join(' / ')}, unacknowledged found applied ${raw.foundApplied}, re-sent ${raw.resent}`,
      );
    } finally {
      for (const t of timers) clearInterval(t);
      for (const s of writers) s.client.close();
      await lb?.close();
      for (const p of procs) await p.kill();
      redis.disconnect();
    }
  });
});
