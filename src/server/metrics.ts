// Prometheus metrics of a server (docs/operations.md, "Metrics"), with prom-client.
//
// Cost matters more than anything here: the fan-out path delivers hundreds of thousands of
// messages a second, and the benchmark's budget for metrics is 5 % of its CPU. So the hot paths
// (messages, frames, bytes) only add to plain numbers, and prom-client reads them when scraped
// (`collect`); only rarer events (a changeset, a commit, a procedure call) observe histograms
// directly.
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import { JetstreamError, type WireError } from '../errors.js';
import type { ProcedureStep } from '../pipeline/pipeline.js';
import type { ProcedureUpdate } from '../procedures/types.js';
import type { Fragment } from '../protocol/messages.js';
import type { Scope } from '../scope/scope.js';
import { DelegatingStore } from '../store/delegating.js';
import type { ChangeRecord, FoldSchema, Snapshot, Store } from '../store/types.js';
import type { TransportStats } from '../transport/types.js';

/** `createServer({metrics})`: true for a registry of the server's own, or where to register. */
export type MetricsOption = boolean | { registry?: Registry; prefix?: string; defaultMetrics?: boolean };

/** What the metrics read from the server when scraped. */
export interface MetricsSource {
  sessions(): { connected: boolean; unacknowledged: number; pendingBytes: number }[];
  scopes(): Scope[];
  transports(): TransportStats[];
  /** Scopes this process owns, in a cluster; null otherwise. */
  ownedScopes(): number | null;
}

const LATENCY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const SIZE_BUCKETS = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 5000];

export class ServerMetrics {
  readonly registry: Registry;
  /** Hot-path counts, by message type (see messageIn/messageOut). */
  readonly messagesIn = new Map<string, number>();
  readonly messagesOut = new Map<string, number>();
  /** The two hot ones, as plain fields: one per broadcast per session, one per changeset. */
  scopeSyncsOut = 0;
  acceptedRepliesOut = 0;
  /** Accept times (performance.now()) of changes not yet written to sockets. */
  #accepted: number[] = [];

  readonly sessionsCreated: Counter<string>;
  readonly sessionsResumed: Counter<string>;
  readonly sessionsClosed: Counter<'code'>;
  readonly connectionsDenied: Counter<'reason'>;
  readonly changesets: Counter<'outcome'>;
  readonly fragmentsRejected: Counter<'type'>;
  readonly changesetFragments: Histogram<string>;
  readonly procedureCalls: Counter<'procedure' | 'outcome'>;
  readonly procedureDuration: Histogram<'procedure'>;
  readonly storeCommitDuration: Histogram<string>;
  readonly storeCommitRecords: Histogram<string>;
  readonly storeFailures: Counter<'operation'>;
  readonly snapshotDuration: Histogram<string>;
  readonly fanoutLag: Histogram<string>;
  readonly forwardDuration: Histogram<'outcome'>;
  readonly streamLag: Histogram<string>;

  constructor(option: MetricsOption, source: MetricsSource) {
    const o = typeof option === 'object' ? option : {};
    this.registry = o.registry ?? new Registry();
    const prefix = o.prefix ?? 'jetstream_';
    const registers = [this.registry];
    if (o.defaultMetrics ?? o.registry === undefined) collectDefaultMetrics({ register: this.registry });
    // Counters whose totals are kept in plain numbers: each brings itself up to date when scraped.
    const catchUps = new Map<object, () => void>();
    const counter = <L extends string>(name: string, help: string, labelNames: L[] = []) =>
      new Counter<L>({
        name: prefix + name,
        help,
        labelNames,
        registers,
        collect(this: Counter<L>) {
          catchUps.get(this)?.();
        },
      });
    /** Makes `c` follow the totals `read` returns, by label value (one, unlabelled, when no label). */
    const follow = (c: Counter<string>, label: string | null, read: () => Iterable<[string, number]>) => {
      const seen = new Map<string, number>();
      catchUps.set(c, () => {
        for (const [value, total] of read()) {
          const delta = total - (seen.get(value) ?? 0);
          if (delta <= 0) continue;
          if (label === null) c.inc(delta);
          else c.inc({ [label]: value }, delta);
          seen.set(value, total);
        }
      });
    };
    const histogram = <L extends string>(
      name: string,
      help: string,
      buckets: number[],
      labelNames: L[] = [],
    ) => new Histogram<L>({ name: prefix + name, help, buckets, labelNames, registers });
    const gauge = (name: string, help: string, read: () => number) =>
      new Gauge({
        name: prefix + name,
        help,
        registers,
        collect(this: Gauge) {
          this.set(read());
        },
      });

    // Sessions and connections.
    gauge(
      'sessions_active',
      'Live sessions (attached to a socket or waiting for a resume)',
      () => source.sessions().length,
    );
    gauge('sessions_detached', 'Live sessions with no socket (waiting for a resume)', () =>
      source.sessions().reduce((n, s) => n + (s.connected ? 0 : 1), 0),
    );
    this.sessionsCreated = counter('sessions_created_total', 'Sessions created');
    this.sessionsResumed = counter('sessions_resumed_total', 'Sessions resumed on a new socket');
    this.sessionsClosed = counter('sessions_closed_total', 'Sessions ended, by close code', ['code']);
    this.connectionsDenied = counter('connections_denied_total', 'Connections refused, by reason', [
      'reason',
    ]);
    gauge('outbox_messages', 'Messages held for clients until acknowledged, all sessions', () =>
      source.sessions().reduce((n, s) => n + s.unacknowledged, 0),
    );
    gauge('outbox_bytes', 'Bytes held for clients until acknowledged, all sessions', () =>
      source.sessions().reduce((n, s) => n + s.pendingBytes, 0),
    );

    // Messages, frames, bytes.
    const messagesIn = counter('messages_in_total', 'Messages received from clients, by type', ['type']);
    const messagesOut = counter('messages_out_total', 'Messages queued for clients, by type', ['type']);
    follow(messagesIn, 'type', () => this.messagesIn);
    follow(messagesOut, 'type', () => {
      const out = new Map(this.messagesOut);
      out.set('ScopeSync', (out.get('ScopeSync') ?? 0) + this.scopeSyncsOut);
      out.set('ScopeSyncReply', (out.get('ScopeSyncReply') ?? 0) + this.acceptedRepliesOut);
      return out;
    });
    const total = (key: 'framesIn' | 'framesOut' | 'bytesIn' | 'bytesOut') => (): [string, number][] => [
      [
        '',
        source
          .transports()
          .reduce(
            (n, t) => n + t[key] + (key === 'bytesIn' || key === 'bytesOut' ? (t.live?.()[key] ?? 0) : 0),
            0,
          ),
      ],
    ];
    follow(counter('frames_in_total', 'WebSocket frames received'), null, total('framesIn'));
    follow(
      counter('bytes_in_total', 'Bytes read from the sockets (frames with their headers)'),
      null,
      total('bytesIn'),
    );
    follow(counter('frames_out_total', 'WebSocket frames sent'), null, total('framesOut'));
    follow(
      counter('bytes_out_total', 'Bytes written to the sockets (frames with their headers)'),
      null,
      total('bytesOut'),
    );

    // Changesets and procedures.
    this.changesets = counter(
      'changesets_total',
      'Changesets of clients, by outcome: accepted, partial, rejected',
      ['outcome'],
    );
    this.fragmentsRejected = counter('fragments_rejected_total', 'Fragments rejected, by error type', [
      'type',
    ]);
    this.changesetFragments = histogram('changeset_fragments', 'Fragments per changeset', SIZE_BUCKETS);
    this.procedureCalls = counter(
      'procedure_calls_total',
      'Procedure calls, by outcome (ok, or an error code)',
      ['procedure', 'outcome'],
    );
    this.procedureDuration = histogram(
      'procedure_duration_seconds',
      'Procedure calls, downstream calls included',
      LATENCY_BUCKETS,
      ['procedure'],
    );

    // Store.
    this.storeCommitDuration = histogram(
      'store_commit_duration_seconds',
      'Group commits to the store',
      LATENCY_BUCKETS,
    );
    this.storeCommitRecords = histogram('store_commit_records', 'Changesets per group commit', SIZE_BUCKETS);
    this.storeFailures = counter('store_failures_total', 'Store calls that failed, by operation', [
      'operation',
    ]);
    this.snapshotDuration = histogram('snapshot_duration_seconds', 'Snapshots written', LATENCY_BUCKETS);

    // Fan-out and scopes.
    this.fanoutLag = histogram(
      'fanout_lag_seconds',
      'From a change accepted to the broadcasts carrying it written to the sockets',
      LATENCY_BUCKETS,
    );
    gauge('scopes_loaded', 'Scopes in memory', () => source.scopes().length);
    gauge('scope_objects', 'Objects in every scope in memory', () =>
      source.scopes().reduce((n, s) => n + s.size, 0),
    );
    gauge('scope_objects_max', 'Objects in the largest scope in memory', () =>
      source.scopes().reduce((n, s) => Math.max(n, s.size), 0),
    );

    // Cluster.
    gauge(
      'cluster_scopes_owned',
      'Scopes this process owns in its cluster (0 outside a cluster)',
      () => source.ownedScopes() ?? 0,
    );
    this.forwardDuration = histogram(
      'cluster_forward_duration_seconds',
      'Changesets forwarded to the owner of their scope, until answered',
      LATENCY_BUCKETS,
      ['outcome'],
    );
    this.streamLag = histogram(
      'cluster_stream_lag_seconds',
      "From a change's append to its scope's log to its replica here applying it (the clocks of two machines may differ)",
      LATENCY_BUCKETS,
    );
  }

  /** The Prometheus text exposition (for `GET /metrics`). */
  async text(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }

  messageIn(type: string): void {
    this.messagesIn.set(type, (this.messagesIn.get(type) ?? 0) + 1);
  }

  messageOut(type: string, n = 1): void {
    this.messagesOut.set(type, (this.messagesOut.get(type) ?? 0) + n);
  }

  /** A client's changeset has its result. */
  changeset(fragments: number, results: readonly (WireError | null)[]): void {
    let rejected = 0;
    for (const r of results) {
      if (r === null || r === undefined) continue;
      rejected++;
      this.fragmentsRejected.inc({ type: r.type ?? 'unknown' });
    }
    this.changesets.inc({
      outcome: rejected === 0 ? 'accepted' : rejected === results.length ? 'rejected' : 'partial',
    });
    this.changesetFragments.observe(fragments);
  }

  /** A change accepted at `at` (performance.now()) is being broadcast: its lag is observed once written. */
  accepted(at: number): void {
    // Bounded: past this many in one turn, the rest of the turn's changes are not sampled.
    if (this.#accepted.length < 10_000) this.#accepted.push(at);
  }

  /** Every session's frame of this turn is written: the changes accepted so far reached the sockets. */
  flushed(): void {
    if (this.#accepted.length === 0) return;
    const now = performance.now();
    for (const t of this.#accepted) this.fanoutLag.observe((now - t) / 1000);
    this.#accepted = [];
  }

  /** Wraps the procedure step so that every call is counted and timed. */
  procedures(inner: ProcedureStep): ProcedureStep {
    return {
      run: async (scope: Scope, name: string, fragments: readonly Fragment[]): Promise<ProcedureUpdate[]> => {
        const end = this.procedureDuration.startTimer({ procedure: name });
        try {
          const updates = await inner.run(scope, name, fragments);
          this.procedureCalls.inc({ procedure: name, outcome: 'ok' });
          return updates;
        } catch (err) {
          this.procedureCalls.inc({
            procedure: name,
            outcome: err instanceof JetstreamError ? err.code : 'error',
          });
          throw err;
        } finally {
          end();
        }
      },
    };
  }

  /** Wraps a store so that commits and snapshots are timed. */
  store(inner: Store): Store {
    return new MeteredStore(inner, this);
  }
}

/** A store whose appends (group commits) and snapshots feed the metrics. */
class MeteredStore extends DelegatingStore {
  readonly #metrics: ServerMetrics;

  constructor(inner: Store, metrics: ServerMetrics) {
    super(inner);
    this.#metrics = metrics;
    if (inner.compact) {
      this.compact = (scope: string, version: number, schema: FoldSchema) =>
        this.#timed(this.#metrics.snapshotDuration, 'compact', () => inner.compact!(scope, version, schema));
    }
  }

  override append(records: ChangeRecord[]): Promise<void> {
    if (records.length > 0) this.#metrics.storeCommitRecords.observe(records.length);
    return this.#timed(this.#metrics.storeCommitDuration, 'append', () => super.append(records));
  }

  override writeSnapshot(snapshot: Snapshot): Promise<void> {
    return this.#timed(this.#metrics.snapshotDuration, 'writeSnapshot', () => super.writeSnapshot(snapshot));
  }

  async #timed(histogram: Histogram<string>, operation: string, call: () => Promise<void>): Promise<void> {
    const end = histogram.startTimer();
    try {
      await call();
      end();
    } catch (err) {
      this.#metrics.storeFailures.inc({ operation });
      throw err;
    }
  }
}
