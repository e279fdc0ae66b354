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

export type LoadSpec = FlowSpec | FetchSpec | IdleSpec;

export type LoadCommand =
  | { cmd: 'setup'; spec: LoadSpec; url: string; serverPid: number }
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
  /** Server CPU microseconds per delivered fragment, over the window. */
  cpuPerFragmentUs: number;
  loadCpuShare: number;
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

export type LoadResult = FlowResult | FetchResultSummary | IdleResult;

export type LoadEvent =
  | { ev: 'ready'; setupMs: number }
  | { ev: 'result'; result: LoadResult; errors: number; errorSamples: string[] }
  | { ev: 'closed' }
  | { ev: 'fatal'; message: string; errors: number; errorSamples: string[] };
