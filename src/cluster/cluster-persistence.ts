// Durability in a cluster (docs/cluster.md): the third Persistence. Every process loads the
// scopes its sessions use from the shared store; one of them owns each scope (lease.ts) and
// the others keep replicas that follow the owner's log (replica.ts).
//
// - The owner records and group-commits changes exactly as a single process does (it uses a
//   StorePersistence for that), then appends what it committed to the scope's log.
// - A non-owner forwards its clients' changesets to the owner (inbox.ts) and answers its client
//   once its replica shows the change, so that a client never gets an acknowledgement for a
//   change its own process does not show yet.
// - When the owner's lease expires (it died) or is released (it shut down), a process with a
//   replica of the scope takes the lease, catches up from the store, and becomes the owner.
import type { Redis } from 'ioredis';
import { ErrorType, OutcomeUnknownError, type WireError } from '../errors.js';
import type { ModelClass } from '../model/model-object.js';
import { restoreScope } from '../persistence/restore.js';
import { StorePersistence } from '../persistence/store-persistence.js';
import type { CommitCallback, OpenScopeOptions, Persistence, PersistenceHost } from '../persistence/types.js';
import type { ChangesetRequest } from '../pipeline/pipeline.js';
import { encodeFragments, encodeFragmentsOnce } from '../protocol/codec.js';
import type { Scope } from '../scope/scope.js';
import type { AppliedFragment, ChangeContext, ChangesetResult, Fragment } from '../scope/types.js';
import {
  ForwardedListBase,
  listBaseToWire,
  listWritesFromWire,
  listWritesToWire,
  type WireListBase,
  type WireListWrite,
} from '../server/seen-collections.js';
import type { Store } from '../store/types.js';
import type { Logger } from '../util/logger.js';
import { FencedStore } from './fenced-store.js';
import { Inbox } from './inbox.js';
import { Leases } from './lease.js';
import { type LogEntry, LogReader, LogWriter, readLog } from './log.js';
import { Replica } from './replica.js';

export interface ClusterPersistenceOptions {
  /** Sends commands (leases, log appends, requests). */
  redis: Redis;
  /** Opens another connection to the same Redis (two are used for blocking reads). */
  connect: () => Redis;
  /** This process's id in the cluster: unique among live processes. */
  processId: string;
  /** Key prefix. Default `jetstream:`. */
  prefix?: string;
  /** Lease time to live, ms. Default 2000. */
  leaseTtlMs?: number;
  /** How long a forwarded changeset waits for the owner's answer, ms. Default 5000. */
  forwardTimeoutMs?: number;
  /** How long opening a scope waits for its owner to create it in the store, ms. Default 10000. */
  createWaitMs?: number;
  /**
   * An owner none of whose own sessions has held a scope for this long hands its lease back,
   * so that the scope comes to be owned where it is used (docs/cluster.md, "Unloading"), ms.
   * Default 30000; 0 never.
   */
  releaseIdleAfterMs?: number;
  snapshotEvery?: number;
  /** Called with how long after its append each log entry was applied here (a replica's lag). */
  observeLag?: (seconds: number) => void;
  /** Called with the time a changeset forwarded to another process took, and how it ended. */
  observeForward?: (seconds: number, outcome: 'answered' | 'unknown') => void;
}

/** What the cluster needs from the server, besides what every persistence gets. */
export interface ClusterHost extends PersistenceHost {
  /** Runs a changeset through this process's pipeline (the owner's side of a forward). */
  submit(scope: Scope, req: ChangesetRequest): ChangesetResult | Promise<ChangesetResult>;
  /** True while a session of this process holds `scope` (fetched it and has not ended). */
  held(scope: Scope): boolean;
}

/** A changeset on its way to the owner. */
interface ForwardRequest {
  scope: string;
  fragments: Fragment[];
  atomic?: boolean;
  procedure?: string;
  /** Names the change in the log: `<processId>:<n>`. */
  origin: string;
  /** What the sending client last saw of the collections (docs/protocol.md §7.10). */
  listBase?: WireListBase;
}

/** A process about to send a scope's state asks its owner how far the scope is stored. */
interface VersionRequest {
  kind: 'version';
  scope: string;
}

/** The owner's answer: one result per fragment, and the version the change led to (0: none). */
interface ForwardAnswer {
  results: (WireError | null)[];
  version: number;
  /** The collections it set, and where the merge made them differ from what was sent. */
  lists?: WireListWrite[];
}

interface Served {
  scope: Scope;
  rootClass: ModelClass;
  owned: boolean;
  replica: Replica | null;
  /** Owned: the entries committed and not yet in the log, in order. */
  unpublished: LogEntry[];
  /** The run appending `unpublished` to the log, while one is under way (see #publish). */
  publishing: Promise<void> | null;
  /**
   * Set while this process gives the scope up (it unloads it, or hands an idle scope's lease
   * back): nothing new is accepted for it, and changesets wait for it to settle.
   */
  leaving: Promise<void> | null;
  /** Owned: since when (ms) no session of this process has held the scope; 0 while one does. */
  idleSince: number;
  /** Versions a forwarder waits for, with what to do once the replica shows them. */
  waiters: { version: number; done: () => void }[];
  /** A claim of the scope's lease in progress (see #claim). */
  claiming: Promise<void> | null;
  /**
   * Requests to the owner not answered yet (forwarded changesets, version checks): to whom, and
   * how to give up on them.
   */
  forwards: Set<{ owner: string; abandon: (err: Error) => void }>;
  /** The owner as last read from Redis, and when (performance.now()): see #ownerOf. */
  knownOwner: { id: string | null; at: number } | null;
  /**
   * This process's changesets for the scope that are not answered yet, in arrival order, with
   * where each went (a process id; null between attempts). See #inTurn.
   */
  outgoing: { target: string | null }[];
  /** Changesets waiting for their turn (#inTurn): called when `outgoing` changes. */
  turnWaiters: (() => void)[];
}

const NOT_OWNER = 'not the owner';

/**
 * What writeBlocked answers for a scope this process no longer owns. Never sent to a client:
 * recognized by identity (lostMeanwhile) and the changeset sent to the owner instead.
 */
const LOST_SCOPE: WireError = Object.freeze({
  message: 'This process no longer owns the scope',
  type: ErrorType.outcomeUnknown,
});

function lostMeanwhile(result: ChangesetResult): boolean {
  return result.results.length > 0 && result.results[0] === LOST_SCOPE;
}

export class ClusterPersistence implements Persistence {
  readonly durable = true;
  readonly store: Store;
  readonly processId: string;
  readonly #host: ClusterHost;
  readonly #logger: Logger;
  readonly #inner: StorePersistence;
  readonly #leases: Leases;
  readonly #writer: LogWriter;
  readonly #reader: LogReader;
  readonly #inbox: Inbox;
  readonly #redis: Redis;
  readonly #options: ClusterPersistenceOptions;
  readonly #served = new Map<string, Served>();
  readonly #forwardTimeoutMs: number;
  readonly #releaseIdleAfterMs: number;
  /** Forwarded changesets of this process, by origin id: the local session they came from. */
  readonly #forwarded = new Map<string, unknown>();
  /** Origin ids of changes this process owns and serves for others → the version they made. */
  readonly #originVersions = new Map<string, number>();
  readonly #watcher: ReturnType<typeof setInterval>;
  #started: Promise<void> | null = null;
  #nextForward = 0;
  #closed = false;

  constructor(store: Store, host: ClusterHost, options: ClusterPersistenceOptions) {
    if (store.kind !== 'postgres') {
      throw new TypeError(
        `A cluster needs the PostgreSQL store (every process must see every change); got the ${store.kind} store`,
      );
    }
    this.store = store;
    this.#host = host;
    this.#logger = host.logger;
    this.#options = options;
    this.processId = options.processId;
    this.#forwardTimeoutMs = options.forwardTimeoutMs ?? 5000;
    this.#releaseIdleAfterMs = options.releaseIdleAfterMs ?? 30_000;
    this.#redis = options.redis;
    // Appends go through the fence: only for scopes this process owns and trusts its lease on.
    const fenced = new FencedStore(store, (name) => {
      const served = this.#served.get(name);
      return served?.owned === true && this.#leases.holds(name);
    });
    this.#inner = new StorePersistence(fenced, host, { snapshotEvery: options.snapshotEvery });
    const prefix = options.prefix;
    this.#leases = new Leases(options.redis, options.processId, {
      prefix,
      ttlMs: options.leaseTtlMs,
      logger: this.#logger,
    });
    this.#leases.on('lost', (name) => this.#demote(name));
    this.#writer = new LogWriter(options.redis, { prefix });
    this.#reader = new LogReader(options.connect(), options.redis, { prefix, logger: this.#logger });
    this.#inbox = new Inbox(options.connect(), options.redis, options.processId, {
      prefix,
      logger: this.#logger,
      timeoutMs: options.forwardTimeoutMs,
    });
    // Scopes whose owner is gone are taken over by a process that has a replica of them.
    this.#watcher = setInterval(() => void this.#takeOver(), Math.max(100, (this.#leases.ttlMs / 2) | 0));
    this.#watcher.unref?.();
  }

  #start(): Promise<void> {
    this.#started ??= this.#inbox.start((from, body) =>
      (body as VersionRequest).kind === 'version'
        ? this.#storedVersion(body as VersionRequest)
        : this.#serve(from, body as ForwardRequest),
    );
    return this.#started;
  }

  /** How many scopes this process owns now (the metrics' cluster_scopes_owned). */
  get ownedScopes(): number {
    let n = 0;
    for (const served of this.#served.values())
      if (served.owned && this.#leases.holds(served.scope.name)) n++;
    return n;
  }

  /** True when this process owns `scope` now. */
  owns(scope: Scope): boolean {
    const s = this.#served.get(scope.name);
    return (
      s !== undefined && s.scope === scope && s.owned && s.leaving === null && this.#leases.holds(scope.name)
    );
  }

  async open(options: OpenScopeOptions): Promise<Scope> {
    await this.store.open();
    await this.#start();
    const name = options.name;
    const epoch = await this.#leases.acquire(name);
    let scope: Scope;
    if (epoch !== null) {
      scope = await this.#inner.open(options);
    } else {
      // Another process owns it: it creates the scope if it is new. Wait until it is stored.
      const deadline = Date.now() + (this.#options.createWaitMs ?? 10_000);
      let loaded = await this.store.load(name);
      while (loaded === null) {
        if (Date.now() > deadline) throw new Error(`Scope '${name}' is not stored yet by its owner`);
        await new Promise((r) => setTimeout(r, 50));
        loaded = await this.store.load(name);
      }
      scope = await this.#inner.open(options, loaded);
    }
    const served: Served = {
      scope,
      rootClass: scope.root!.constructor as ModelClass,
      owned: false,
      replica: null,
      unpublished: [],
      publishing: null,
      leaving: null,
      idleSince: 0,
      waiters: [],
      claiming: null,
      forwards: new Set(),
      knownOwner: null,
      outgoing: [],
      turnWaiters: [],
    };
    this.#served.set(name, served);
    scope.on('changes', (fragments, context) => this.#changed(served, fragments, context));
    if (epoch !== null && this.#leases.holds(name)) served.owned = true;
    else this.#follow(served);
    return scope;
  }

  writeBlocked(scope: Scope): WireError | null {
    // A changeset that was to run here as the owner, but the scope was lost (or is being given
    // up) while it waited in the scope's queue: Server.submit sends it on (see rerouted).
    const served = this.#served.get(scope.name);
    if (served !== undefined && served.scope === scope && !this.owns(scope)) return LOST_SCOPE;
    return this.#inner.writeBlocked(scope);
  }

  /**
   * The result of a changeset that ran in this process's pipeline: when it was refused because
   * this process no longer owned the scope by the time it ran (writeBlocked), it goes to the new
   * owner instead, so that the client gets that owner's answer rather than a refusal.
   */
  rerouted(
    scope: Scope,
    req: ChangesetRequest,
    result: ChangesetResult | Promise<ChangesetResult>,
  ): ChangesetResult | Promise<ChangesetResult> {
    if (!(result instanceof Promise)) return lostMeanwhile(result) ? this.#again(scope, req) : result;
    return result.then((r) => (lostMeanwhile(r) ? this.#again(scope, req) : r));
  }

  #again(scope: Scope, req: ChangesetRequest): ChangesetResult | Promise<ChangesetResult> {
    const served = this.#served.get(scope.name);
    if (served === undefined || served.scope !== scope) {
      return rejectAll(req.fragments.length, {
        message: `Scope '${scope.name}' is no longer served here: fetch it again`,
        type: ErrorType.storeFailed,
      });
    }
    return this.#forwardInTurn(served, req);
  }

  afterCommit(fn: CommitCallback): void {
    this.#inner.afterCommit(fn);
  }

  unstored(scope: Scope): number {
    return this.#inner.unstored(scope);
  }

  drain(): Promise<void> {
    return this.#inner.drain();
  }

  async release(scope: Scope): Promise<void> {
    const served = this.#served.get(scope.name);
    if (served?.scope !== scope) return this.#inner.release(scope);
    // Changesets forwarded here from now on wait and then go to the next owner: the scope
    // must not change between the last commit and the lease's release.
    const left = this.#leave(served);
    try {
      await this.#inner.release(scope);
      this.#served.delete(scope.name);
      served.replica?.stop();
      await this.#publish(served);
      if (served.owned) await this.#leases.release(scope.name);
    } finally {
      left();
    }
  }

  /** Marks `served` as being given up (see Served.leaving); call the answer when it is settled. */
  #leave(served: Served): () => void {
    let settle!: () => void;
    served.leaving = new Promise<void>((resolve) => {
      settle = resolve;
    });
    return () => {
      served.leaving = null;
      settle();
    };
  }

  /**
   * Hands back the lease of an owned scope no local session holds (see releaseIdleAfterMs):
   * once everything it accepted is stored and in the log, this process follows the log like
   * any replica, and the next process to need an owner (a write, or a session of its own)
   * takes the scope. Tried again later if something is still on its way.
   */
  async #resign(served: Served): Promise<void> {
    const name = served.scope.name;
    const left = this.#leave(served);
    try {
      await this.#inner.drain();
      // Entries still on their way to the log (Redis slow or away): try on a later round.
      if (served.publishing !== null || served.unpublished.length > 0 || !served.owned) return;
      this.#follow(served);
      await this.#leases.release(name);
      this.#logger.info({ scope: name }, 'no session here uses the scope: handed its lease back');
    } catch (err) {
      this.#logger.warn({ err, scope: name }, 'could not hand the lease of an idle scope back');
    } finally {
      left();
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#watcher);
    await this.#inner.close();
    for (const served of this.#served.values()) {
      served.replica?.stop();
      if (served.owned) await this.#publish(served);
    }
    await this.#leases.close(); // hands the scopes over at once
    await this.#reader.close();
    await this.#inbox.close();
  }

  // ---- writes ------------------------------------------------------------------------------------

  /**
   * The pipeline's routing step: null when this process owns the scope (the changeset runs
   * here), else the owner's answer to the forwarded changeset.
   */
  forward(scope: Scope, req: ChangesetRequest): Promise<ChangesetResult> | null {
    const served = this.#served.get(scope.name);
    if (served === undefined || served.scope !== scope) return null;
    // An owner runs changesets at once, unless earlier ones are still on their way (#inTurn).
    if (this.owns(scope) && served.outgoing.length === 0) return null;
    return this.#forwardInTurn(served, req);
  }

  /** #forward, in its place among this process's changesets of the scope (see #inTurn). */
  #forwardInTurn(served: Served, req: ChangesetRequest): Promise<ChangesetResult> {
    const mine: { target: string | null } = { target: null };
    served.outgoing.push(mine); // in arrival order, before anything is awaited
    return this.#forward(served, req, mine).finally(() => {
      served.outgoing.splice(served.outgoing.indexOf(mine), 1);
      this.#turnChanged(served);
    });
  }

  /**
   * Sends `body` to `owner`'s inbox and resolves with the answer. Given up early (rejects) when
   * the watcher sees that `owner` lost the scope (it died), or when this process takes the scope
   * over: waiting for the request's timeout would keep the client waiting longer than the
   * take-over. `sent` runs once the request is on its way.
   */
  async #ask(
    served: Served,
    owner: string,
    body: unknown,
    timeoutMs: number,
    sent?: () => void,
  ): Promise<unknown> {
    const waiting = { owner, abandon: (_err: Error) => {} };
    const abandoned = new Promise<never>((_, reject) => {
      waiting.abandon = reject;
    });
    served.forwards.add(waiting);
    try {
      const asked = this.#inbox.request(owner, body, Math.max(1, timeoutMs));
      sent?.();
      return await Promise.race([asked, abandoned]);
    } finally {
      served.forwards.delete(waiting);
    }
  }

  async #forward(
    served: Served,
    req: ChangesetRequest,
    mine: { target: string | null },
  ): Promise<ChangesetResult> {
    const n = req.fragments.length;
    if (req.authorize) {
      const denied = await req.authorize(served.scope);
      if (denied) return rejectAll(n, denied);
    }
    const origin = `${this.processId}:${++this.#nextForward}`;
    const request: ForwardRequest = {
      scope: served.scope.name,
      fragments: req.fragments as Fragment[],
      origin,
      ...(req.atomic === undefined ? {} : { atomic: req.atomic }),
      ...(req.procedure === undefined ? {} : { procedure: req.procedure }),
    };
    const listBase = listBaseToWire(req.listBase);
    if (listBase !== undefined) request.listBase = listBase;
    this.#forwarded.set(origin, req.origin);
    const deadline = Date.now() + this.#forwardTimeoutMs;
    const started = performance.now();
    try {
      for (let attempt = 0; ; attempt++) {
        mine.target = null;
        this.#turnChanged(served);
        // The scope is being given up here: once settled, it goes to whoever owns it next.
        if (served.leaving) await served.leaving;
        if (this.owns(served.scope)) {
          await this.#inTurn(served, mine, this.processId);
          if (!this.owns(served.scope)) continue;
          const running = this.#host.submit(served.scope, req);
          this.#turnChanged(served);
          const result = await running;
          if (lostMeanwhile(result)) continue; // lost while it waited in the queue: ask again
          return result;
        }
        if (attempt > 0) {
          // Ownership is moving (an owner leaving, a claim lost to another process): ask again
          // shortly, until the time a forward may take is up.
          if (Date.now() >= deadline) throw new Error('the scope has no reachable owner');
          await new Promise((r) => setTimeout(r, Math.min(200, 10 * 2 ** attempt)));
        }
        const owner = await this.#ownerOf(served, attempt > 0);
        if (owner === null || owner === this.processId) {
          await this.#claim(served);
          continue;
        }
        await this.#inTurn(served, mine, owner);
        let answer: ForwardAnswer;
        try {
          // Once sent, the next changesets for `owner` may follow it.
          answer = (await this.#ask(served, owner, request, deadline - Date.now(), () =>
            this.#turnChanged(served),
          )) as ForwardAnswer;
        } catch (err) {
          if ((err as Error).message === NOT_OWNER) continue; // ownership moved: ask again
          throw err;
        }
        if (answer.version > 0) await this.#shown(served, answer.version);
        this.#options.observeForward?.((performance.now() - started) / 1000, 'answered');
        if (answer.version <= 0) return { results: answer.results, applied: [] };
        const result: ChangesetResult = { results: answer.results, applied: [], version: answer.version };
        if (answer.lists !== undefined) result.lists = listWritesFromWire(served.scope, answer.lists);
        return result;
      }
    } catch (err) {
      this.#options.observeForward?.((performance.now() - started) / 1000, 'unknown');
      // The owner may have applied it before it died: neither an ack nor an error is true.
      throw new OutcomeUnknownError(
        `The scope's owner did not answer (${(err as Error).message}): start a new session`,
      );
    } finally {
      this.#forwarded.delete(origin);
    }
  }

  /**
   * Resolves once `mine` may go to `target`: every changeset that arrived here before it is
   * answered, or went to `target` already (one inbox stream per process, read in order). So a
   * session's changesets reach the scope in the order it sent them (docs/protocol.md §1: a changeset is applied in order) also
   * while ownership moves: none overtakes an earlier one still waiting on a dead owner or on
   * its way to another process. The caller sends at once, then calls #turnChanged.
   */
  async #inTurn(served: Served, mine: { target: string | null }, target: string): Promise<void> {
    for (;;) {
      const i = served.outgoing.indexOf(mine);
      let free = true;
      for (let k = 0; k < i && free; k++) free = served.outgoing[k]!.target === target;
      if (free) {
        mine.target = target;
        return;
      }
      await new Promise<void>((resolve) => served.turnWaiters.push(resolve));
    }
  }

  /** Lets changesets waiting in #inTurn look again. */
  #turnChanged(served: Served): void {
    const waiters = served.turnWaiters;
    if (waiters.length === 0) return;
    served.turnWaiters = [];
    for (const w of waiters) w();
  }

  /**
   * The scope's owner: as read from Redis less than half a lease ago (the watcher reads it that
   * often), else, or when `fresh`, read now. A stale answer costs a retry ("not the owner", or a
   * forward given up once the watcher sees the lease gone), never a wrong write: the owner
   * checks its own lease. It saves a Redis round trip per forwarded changeset and per fetch.
   */
  async #ownerOf(served: Served, fresh: boolean): Promise<string | null> {
    const known = served.knownOwner;
    if (!fresh && known !== null && performance.now() - known.at < this.#leases.ttlMs / 2) return known.id;
    const id = await this.#leases.owner(served.scope.name);
    served.knownOwner = { id, at: performance.now() };
    return id;
  }

  /**
   * Resolves once this process's replica of the scope is at `version` or later. The owner
   * stored that version before it answered: if the log does not bring it within
   * forwardTimeoutMs (Redis went away just after the answer), the replica reloads from the store.
   */
  #shown(served: Served, version: number): Promise<void> {
    if (served.scope.version >= version) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(
        () => served.replica?.reload('a change its owner stored is not in the log yet'),
        this.#forwardTimeoutMs,
      );
      timer.unref?.();
      served.waiters.push({
        version,
        done: () => {
          clearTimeout(timer);
          resolve();
        },
      });
    });
  }

  /**
   * Resolves once this process's copy of `scope` holds every change acknowledged anywhere
   * before the call (docs/cluster.md, "Reading your acknowledged writes"): the server awaits it
   * before it sends a scope's state. A client that reconnects to another process after its own
   * died must find there every change it was acknowledged; a replica may lag behind by what the
   * dead owner stored and acknowledged but had not put in the log yet. The owner says how far
   * the scope is stored; without an owner, this process takes the scope (which loads what the
   * store has). False when that could not be made sure of within forwardTimeoutMs plus a lease
   * time (the owner died and no process took over yet): the fetch then fails, and the client
   * asks again, rather than get a state that may lack its own acknowledged edits.
   */
  async caughtUp(scope: Scope): Promise<boolean> {
    const served = this.#served.get(scope.name);
    if (served === undefined || served.scope !== scope) return true;
    const deadline = Date.now() + this.#forwardTimeoutMs + this.#leases.ttlMs;
    try {
      for (let attempt = 0; Date.now() < deadline; attempt++) {
        if (served.leaving) await served.leaving;
        if (served.claiming) await served.claiming;
        if (this.owns(scope)) return true; // the owner's copy is the authority
        if (attempt > 0) await new Promise((r) => setTimeout(r, Math.min(200, 10 * 2 ** attempt)));
        if (this.#redis.status !== 'ready') return await this.#caughtUpWithStore(served);
        let owner: string | null;
        try {
          owner = await this.#ownerOf(served, attempt > 0);
        } catch {
          // Redis is away: nobody can say who owns the scope, but the store has every
          // acknowledged change. Reads go on (docs/cluster.md, "Faults"), from the store if
          // the replica is behind it.
          return await this.#caughtUpWithStore(served);
        }
        if (owner === null || owner === this.processId) {
          await this.#claim(served);
          continue;
        }
        let answer: { version: number };
        try {
          const request: VersionRequest = { kind: 'version', scope: scope.name };
          const timeoutMs = Math.min(deadline - Date.now(), this.#leases.ttlMs);
          answer = (await this.#ask(served, owner, request, timeoutMs)) as { version: number };
        } catch {
          continue; // the owner is gone or moving: ask again
        }
        await Promise.race([
          this.#shown(served, answer.version),
          new Promise((r) => setTimeout(r, Math.max(1, deadline - Date.now()))),
        ]);
        if (scope.version >= answer.version) return true;
      }
      this.#logger.warn({ scope: scope.name }, 'fetch refused: could not catch up with the owner in time');
    } catch (err) {
      this.#logger.warn(
        { err, scope: scope.name },
        'fetch refused: could not check how far the scope is stored',
      );
    }
    return false;
  }

  /** caughtUp without Redis: the replica is rebuilt from the store when the store is ahead. */
  async #caughtUpWithStore(served: Served): Promise<boolean> {
    const scope = served.scope;
    try {
      const loaded = await this.store.load(scope.name);
      if (loaded !== null && loaded.version > scope.version && !served.owned)
        await this.#reload(served, scope);
    } catch (err) {
      // Both away: what this process has is all there is to show.
      this.#logger.warn(
        { err, scope: scope.name },
        'neither Redis nor the store answered: sending the state as it is',
      );
    }
    return true;
  }

  /** The owner's side of caughtUp: the version every change accepted so far is stored at. */
  async #storedVersion(req: VersionRequest): Promise<{ version: number }> {
    const served = this.#served.get(req.scope);
    if (served === undefined || !this.owns(served.scope)) throw new Error(NOT_OWNER);
    const version = served.scope.version;
    // What is accepted is acknowledged once stored: answer once it is (or failed, and then the
    // scope is rebuilt from the store, whose version the asker gets from the log or a reload).
    await new Promise<void>((resolve) => this.#inner.afterCommit(() => resolve()));
    return { version: Math.min(version, served.scope.version) };
  }

  /** The owner's side of a forward. */
  async #serve(_from: string, req: ForwardRequest): Promise<ForwardAnswer> {
    const served = this.#served.get(req.scope);
    // Not (or no longer, or not for much longer: leaving) the owner: the sender asks again.
    if (served === undefined || !this.owns(served.scope)) throw new Error(NOT_OWNER);
    const result = await this.#host.submit(served.scope, {
      fragments: req.fragments,
      atomic: req.atomic,
      procedure: req.procedure,
      origin: req.origin,
      ...(req.listBase === undefined ? {} : { listBase: new ForwardedListBase(served.scope, req.listBase) }),
    });
    if (lostMeanwhile(result)) throw new Error(NOT_OWNER); // lost while it waited: ask the next owner
    const version = this.#originVersions.get(req.origin) ?? 0;
    this.#originVersions.delete(req.origin);
    if (version > 0) {
      const err = await new Promise<Error | null>((resolve) => this.#inner.afterCommit(resolve));
      if (err instanceof OutcomeUnknownError) throw err;
      if (err) {
        // Not stored, and known not to be: the sender's client gets what this process's own
        // clients get (never an ack for something not stored), not an unknown outcome.
        const failed: WireError = {
          message: `Could not apply SyncMessage: the changes could not be stored (${err.message})`,
          type: ErrorType.storeFailed,
        };
        return { results: result.results.map((r) => r ?? failed), version: 0 };
      }
    }
    const lists = listWritesToWire(result.lists);
    return lists === undefined
      ? { results: result.results, version }
      : { results: result.results, version, lists };
  }

  // ---- the log -----------------------------------------------------------------------------------

  #changed(served: Served, fragments: AppliedFragment[], context: ChangeContext): void {
    const version = served.scope.version;
    if (context.replicated || context.replay) {
      // A replica shows a new version: forwarders waiting for it may answer their clients.
      if (served.waiters.length > 0) {
        const ready = served.waiters.filter((w) => w.version <= version);
        served.waiters = served.waiters.filter((w) => w.version > version);
        for (const w of ready) w.done();
      }
      return;
    }
    if (!served.owned) return; // refused by the store (see writeBlocked): never published
    const entry: LogEntry = {
      version,
      epoch: this.#leases.epoch(served.scope.name) ?? 0,
      fragments: encodeFragmentsOnce(fragments),
    };
    if (typeof context.origin === 'string') {
      entry.origin = context.origin;
      this.#originVersions.set(context.origin, version);
    }
    this.#inner.afterCommit((err) => {
      if (err) return; // not stored: never published (replicas reload from the store)
      served.unpublished.push(entry);
      void this.#publish(served);
    });
  }

  /**
   * Appends the scope's committed entries to its log, in order, retrying while Redis is away.
   * One run at a time per scope; it also takes what is committed while it runs, so awaiting
   * it awaits everything committed so far.
   */
  #publish(served: Served): Promise<void> {
    served.publishing ??= this.#publishAll(served).finally(() => {
      served.publishing = null;
      // Committed after the run's last look (its callback ran before this one).
      if (served.unpublished.length > 0 && !this.#closed) void this.#publish(served);
    });
    return served.publishing;
  }

  async #publishAll(served: Served): Promise<void> {
    for (let attempt = 0; served.unpublished.length > 0; attempt++) {
      const batch = served.unpublished.slice();
      try {
        await this.#writer.append(served.scope.name, batch);
        served.unpublished.splice(0, batch.length);
        attempt = -1;
      } catch (err) {
        // A version already in the log (a previous attempt got through) is not an error.
        if (/equal or smaller/.test(String((err as Error).message))) {
          const logged = await readLog(
            this.#redis,
            served.scope.name,
            batch[0]!.version - 1,
            batch.length,
            this.#options.prefix,
          ).catch(() => []);
          const last = logged.at(-1)?.version ?? 0;
          served.unpublished = served.unpublished.filter((e) => e.version > last);
          continue;
        }
        if (this.#closed) return;
        this.#logger.warn({ err, scope: served.scope.name }, 'could not append to the change log; retrying');
        await new Promise((r) => setTimeout(r, Math.min(2000, 50 * 2 ** attempt)));
      }
    }
  }

  // ---- ownership ---------------------------------------------------------------------------------

  /**
   * Follows the scope's owner from now on. `fromStore`: rebuild the scope from the store first
   * (a deposed owner's memory may hold changes that were never stored).
   */
  #follow(served: Served, fromStore = false): void {
    served.owned = false;
    served.replica?.stop();
    const replica: Replica = new Replica(served.scope, this.#reader, {
      logger: this.#logger,
      originOf: (origin) => this.#forwarded.get(origin),
      applied: (_scope, entry) => {
        if (entry.at !== undefined) this.#options.observeLag?.(Math.max(0, Date.now() - entry.at) / 1000);
      },
      reload: (scope): Promise<void> => this.#reload(served, scope, replica),
    });
    served.replica = replica;
    if (fromStore) replica.reload('this process lost the scope: its state may hold changes never stored');
    else replica.start();
  }

  /**
   * Rebuilds a replica from the store, and has its state sent again to its sessions. `replica`:
   * the replica asking, which may have been stopped while the store answered (this process took
   * the scope over meanwhile and may already hold changes the load predates): then nothing is
   * touched.
   */
  async #reload(served: Served, scope: Scope, replica?: Replica): Promise<void> {
    const loaded = await this.store.load(scope.name);
    if (!loaded) throw new Error(`Scope '${scope.name}' is no longer stored`);
    if (replica !== undefined && (served.replica !== replica || served.owned)) return;
    scope._reset();
    for (const w of restoreScope(scope, served.rootClass, loaded))
      this.#logger.warn({ scope: scope.name }, w);
    this.#host.restored(scope);
    const ready = served.waiters.filter((w) => w.version <= scope.version);
    served.waiters = served.waiters.filter((w) => w.version > scope.version);
    for (const w of ready) w.done();
  }

  /** The lease of a scope was lost: this process follows the new owner from now on. */
  #demote(name: string): void {
    const served = this.#served.get(name);
    if (served === undefined || !served.owned || this.#closed) return;
    this.#logger.warn({ scope: name }, 'no longer the owner of the scope: following its new owner');
    this.#follow(served, true);
  }

  /**
   * The watcher: takes over every scope used here whose owner is gone, and hands back the
   * leases of owned scopes no session here has used for releaseIdleAfterMs.
   */
  async #takeOver(): Promise<void> {
    if (this.#closed) return;
    const now = Date.now();
    for (const served of [...this.#served.values()]) {
      if (served.owned) {
        this.#idleCheck(served, now);
        continue;
      }
      if (served.claiming || served.leaving) continue;
      let owner: string | null;
      try {
        owner = await this.#ownerOf(served, true);
      } catch {
        continue; // Redis away: the next round asks again
      }
      // Forwards waiting on a process that no longer owns the scope will not be answered.
      for (const waiting of served.forwards) {
        if (waiting.owner !== owner) waiting.abandon(new Error(`process ${waiting.owner} lost the scope`));
      }
      // A scope no session here uses is left to the processes that use it; a write from here
      // claims it anyway (#forward).
      if (owner === null && this.#host.held(served.scope)) await this.#claim(served);
    }
  }

  /** Resigns an owned scope once no session here has held it for releaseIdleAfterMs. */
  #idleCheck(served: Served, now: number): void {
    if (this.#releaseIdleAfterMs <= 0 || served.leaving || served.claiming) return;
    if (this.#host.held(served.scope)) {
      served.idleSince = 0;
    } else if (served.idleSince === 0) {
      served.idleSince = now;
    } else if (now - served.idleSince >= this.#releaseIdleAfterMs) {
      void this.#resign(served);
    }
  }

  /**
   * Becomes the owner of `served` if its lease is free: takes the lease, applies what the store
   * has beyond the replica, republishes it, and starts accepting. One claim per scope at a time:
   * a forwarder and the watcher asking together share it.
   */
  #claim(served: Served): Promise<void> {
    served.claiming ??= this.#doClaim(served).finally(() => {
      served.claiming = null;
    });
    return served.claiming;
  }

  async #doClaim(served: Served): Promise<void> {
    if (this.#closed || served.owned) return;
    const name = served.scope.name;
    try {
      const epoch = await this.#leases.acquire(name);
      if (epoch === null) return;
      served.replica?.stop();
      served.replica = null;
      const scope = served.scope;
      const unpublished: LogEntry[] = [];
      for (let attempt = 0; ; attempt++) {
        // Whatever the old owner stored and the log did not bring yet.
        const loaded = await this.store.load(name);
        if (!loaded) throw new Error(`Scope '${name}' is no longer stored`);
        if (loaded.version > scope.version) {
          const missing = loaded.changes.filter((c) => c.version > scope.version);
          if (missing.length > 0 && missing[0]!.version === scope.version + 1) {
            for (const c of missing) {
              if (c.fragments.length > 0)
                scope.applyChangeset(c.fragments, { replicated: true, atomic: true });
              scope.version = c.version;
            }
          }
          if (scope.version !== loaded.version) await this.#reload(served, scope);
          for (const c of missing) {
            unpublished.push({ version: c.version, epoch, fragments: encodeFragments(c.fragments) });
          }
        }
        // The fence: an empty change at the next version. An append the old owner still has on
        // its way now conflicts with it in the store, so nothing it stores from here on can be
        // acknowledged (fenced-store.ts). If one got in first, load it and fence after it.
        try {
          await this.store.append([{ scope: name, version: scope.version + 1, fragments: [] }]);
          scope.version++;
          unpublished.push({ version: scope.version, epoch, fragments: '[]' });
          break;
        } catch (err) {
          if (attempt >= 5) throw err;
        }
      }
      served.unpublished = unpublished;
      served.owned = true;
      this.#logger.info({ scope: name, epoch }, 'took over the scope');
      // Whatever still waits on the previous owner will not be answered: it gives up now (a
      // changeset's outcome is unknown; a fetch's check asks again, here).
      for (const waiting of served.forwards) {
        if (waiting.owner !== this.processId)
          waiting.abandon(new Error(`process ${waiting.owner} lost the scope`));
      }
      await this.#publish(served);
    } catch (err) {
      this.#logger.warn({ err, scope: name }, 'could not take over the scope');
    }
  }
}

function rejectAll(n: number, error: WireError): ChangesetResult {
  const results: WireError[] = new Array(n);
  for (let i = 0; i < n; i++) results[i] = error;
  return { results, applied: [] };
}
