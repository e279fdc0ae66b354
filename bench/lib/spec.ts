// The messages between the suite (bench/suite.ts) and the load generator (bench/load.ts).

/** Writers send changesets of one `change` fragment; every session (reader or writer) receives. */
export interface FlowSpec {
  kind: 'flow';
  writers: number;
  readers: number;
  /** Total fragments per second over all writers, or null for "as fast as acks allow". */
  rate: number | null;
  /** Most changesets a writer may have sent without a reply. */
  window: number;
  warmupMs: number;
  windowMs: number;
  /** How long to wait, after the writers stop, for every fragment to reach every session. */
  drainMs: number;
  /**
   * How often every client (writers and readers) acknowledges what it received (`Ping{ack}`), in
   * ms. The server keeps each message until it is acknowledged, so this sets how much it holds.
   * The load generator's default is 250; the original iOS and browser clients ack about every 10 s.
   */
  ackEveryMs: number;
  /**
   * Scopes the sessions are spread over: writer and reader k use scope k % scopes. Default 1,
   * the scope `Canvas`; with more, `Canvas-0` … `Canvas-<n-1>` (see targets/common.ts).
   */
  scopes?: number;
  /**
   * Which server process each session connects to when the target has several (the cluster).
   * Scope i is owned by process i % n (targets/cluster.ts makes it so). Writers: `owner`, the
   * process that owns their scope; `mixed`, process (i >> 1) % n, so that with 2 processes half
   * the scopes' writers are on the owner and half on the other (as a load balancer would spread
   * them). Readers: `owner`, or `other`, the next process after their scope's writer's: so
   * every scope has sessions on two processes, its owner among them, and no owner hands an
   * unused scope's lease back during the run (docs/cluster.md, "Unloading and idle leases").
   * With one process every session connects to it.
   */
  placement?: { writers: 'owner' | 'mixed'; readers: 'owner' | 'other' };
}

/** Fresh sessions fetch the scope one after another. */
export interface FetchSpec {
  kind: 'fetch';
  fetches: number;
  shapes: number;
  timeoutMs: number;
}

/** Sessions connect, fetch a small scope and stay idle. */
export interface IdleSpec {
  kind: 'idle';
  sessions: number;
}

/**
 * The attacks of the "fairness under abuse" scenarios (bench/abuse.ts): one attacker runs one of
 * them while a well-behaved probe client measures its own changeset round trip on the same server.
 */
export type AttackKind = 'resend' | 'slow-consumer' | 'refetch' | 'flood' | 'detached';

export interface AbuseSpec {
  kind: 'abuse';
  attack: AttackKind;
  /** Shapes in the scope every session fetches (the "big Canvas"). */
  shapes: number;
  /** The probe alone, before the attack: its unloaded round trip. */
  baselineMs: number;
  /** How long the attack runs (for `detached`: the writer's window after the sessions are made). */
  attackMs: number;
  /** The probe's changesets per second (open loop: sent on a clock whatever the replies do). */
  probeRate: number;
  /** A well-behaved writer's changesets per second during the attack (0: no writer). */
  writerRate: number;
  /** `flood`: ScopeSync messages per second the attacker tries to send. */
  floodRate: number;
  /** `detached`: sessions created, fetched and dropped. */
  sessions: number;
  /**
   * Whether an attacker that reads its socket starts a new session when the server closes it
   * (as the original clients do after 4097) and goes on attacking until the time is up.
   */
  reconnect: boolean;
}

export type LoadSpec = FlowSpec | FetchSpec | IdleSpec | AbuseSpec;

export type LoadCommand =
  | {
      cmd: 'setup';
      spec: LoadSpec;
      /** The first server process's URL and pid (the only one, but for the cluster). */
      url: string;
      serverPid: number;
      /** Every server process's URL and pid, in process order (the cluster has several). */
      urls: string[];
      serverPids: number[];
    }
  | { cmd: 'start' }
  | { cmd: 'teardown' };

export interface Quantiles {
  p50: number;
  p90: number;
  p99: number;
  max: number;
  mean: number;
  count: number;
}

export interface FlowResult {
  kind: 'flow';
  windowSec: number;
  changesetsSent: number;
  changesetsAckedInWindow: number;
  ackedPerSec: number;
  ackLatencyMs: Quantiles;
  deliveredInWindow: number;
  deliveredPerSec: number;
  fanoutLatencyMs: Quantiles;
  /** Deliveries expected over the whole run (warm-up and drain included) and received. */
  expectedDeliveries: number;
  receivedDeliveries: number;
  complete: boolean;
  drainMs: number;
  serverCpuSec: number;
  /** The same per server process (one entry but for the cluster; serverCpuSec is their sum). */
  serverCpuSecByProcess: number[];
  /**
   * Scenarios with a `placement` (the cluster ones): CPU seconds over the window of the
   * machine's PostgreSQL (`postgres`, every backend) and Redis (`redis-server`) processes, which
   * share the cores. Other users of those servers count too, and backends that ended during the
   * window do not: a rough figure.
   */
  servicesCpuSec?: Record<string, number>;
  /** The same scenarios: share of all cores idle during the window (the machine is shared). */
  machineIdleShare?: number;
  /** Server CPU microseconds per delivered fragment, over the window. */
  cpuPerFragmentUs: number;
  loadCpuShare: number;
  ackEveryMs: number;
  /** Sessions of this run that the server closed (each is also an error), by `code reason`. */
  serverCloses: Record<string, number>;
}

export interface FetchResultSummary {
  kind: 'fetch';
  fetches: number;
  fragments: number;
  bytes: number;
  fetchMs: Quantiles;
  /** Server CPU seconds per fetch (mean). */
  serverCpuSecPerFetch: number;
  serverCpuSecMax: number;
}

export interface IdleResult {
  kind: 'idle';
  sessions: number;
}

/** How the server closed attacker sessions: `code reason` → count. */
export type CloseCounts = Record<string, number>;

export interface AbuseResult {
  kind: 'abuse';
  attack: AttackKind;
  /** The probe's ScopeSync → ScopeSyncReply round trip, alone and under attack. */
  baseline: Quantiles;
  underAttack: Quantiles;
  /** Probe changesets sent during the attack and never answered (within the wait after it). */
  probeUnanswered: number;
  /** `code reason` if the server closed the probe's session (it must not). */
  probeClosed: string | null;
  /** Fragments of other sessions' changes the probe received during the attack (all accepted). */
  probeFragmentsReceived: number;
  /** The probe process's own event-loop delay p99 under attack (ms): its share of the latency. */
  probeLoopDelayP99: number;
  baselineMs: number;
  /** When the attack started, in ms since the epoch (to place the server's log lines). */
  attackStartedAt: number;
  attackMs: number;
  attackerSessions: number;
  attackerCloses: CloseCounts;
  /** Attacker sessions the server had not closed when the attack ended. */
  attackerOpenAtEnd: number;
  /** ms from the attack's start to the first close of an attacker session, if any. */
  firstCloseMs: number | null;
  /** Messages the attacker sent (pings, fetches or changesets) and bytes it received. */
  attackSent: number;
  attackBytesReceived: number;
  writerSent: number;
  writerAcked: number;
  /** `detached`: sessions made and dropped, and how long that took. */
  detachedMade: number;
  detachedSetupMs: number;
  serverCpuBaselineSec: number;
  serverCpuAttackSec: number;
  serverRssBeforeAttack: number;
  serverRssMaxDuringAttack: number;
  serverRssAfterAttack: number;
}

export type LoadResult = FlowResult | FetchResultSummary | IdleResult | AbuseResult;

export type LoadEvent =
  | { ev: 'ready'; setupMs: number }
  | { ev: 'result'; result: LoadResult; errors: number; errorSamples: string[] }
  | { ev: 'closed' }
  | { ev: 'fatal'; message: string; errors: number; errorSamples: string[] };

// ---- the load generator and its attacker process (bench/abuse.ts) ------------------------------

export type AttackCommand =
  | { cmd: 'prepare'; spec: AbuseSpec; url: string; writerUUID: string; attackerUUID: string }
  | { cmd: 'attack' }
  | { cmd: 'teardown' };

export interface AttackOutcome {
  attackMs: number;
  attackerSessions: number;
  attackerCloses: CloseCounts;
  attackerOpenAtEnd: number;
  firstCloseMs: number | null;
  sent: number;
  bytesReceived: number;
  writerSent: number;
  writerAcked: number;
  detachedMade: number;
  detachedSetupMs: number;
  /** Failures of the well-behaved writer (closed, rejected changesets) and of the harness. */
  errors: string[];
}

export type AttackEvent =
  | { ev: 'prepared' }
  | { ev: 'attacked'; outcome: AttackOutcome }
  | { ev: 'closed' }
  | { ev: 'fatal'; message: string };
