// The changeset pipeline: the one path by which a client's changeset reaches a scope
// (docs/protocol.md §7). Its steps, in order:
//
//   1. queue      changesets to one scope run one at a time, in arrival order (§7 step 8)
//   2. gate       the scope may refuse the write: its persistence is restoring it after a store
//                 failure, or it accepts changes only through procedures and none is named
//   3. authorize  the application's per-changeset decision (a session's 'sync' hook), taken
//                 in the queue, against the state the earlier changesets left
//   4. procedure  a changeset that names a procedure is checked against its constraints and its
//                 remote step runs; a failure rejects the whole changeset (§7 step 2, §9)
//   5. engine     scope.applyChangeset validates and applies, atomically when asked, and emits
//                 the applied fragments as one 'changes' event (§7 steps 3–6)
//   6. updates    the procedure's `_updates`, applied with the update operators (§10)
//
// A refusal at steps 2–4 rejects every fragment and applies nothing.
//
// Commit and fan-out hang off the engine's 'changes' event: the persistence records the change
// in the open group commit, and the hub broadcasts it once that group is stored; the session
// replies once it is stored too (docs/architecture.md). Nothing here knows about sockets.
//
// When a scope's queue is idle and neither a procedure nor an authorization is asked for, the
// changeset is applied synchronously
// with no allocation beyond the engine's: that is the server's hot path. Otherwise the request
// joins the scope's queue (a promise chain) and is validated against the state the earlier
// changesets left.
import { ErrorCode, ErrorType, SyncError, type WireError } from '../errors.js';
import type { ProcedureUpdate } from '../procedures/types.js';
import type { Scope } from '../scope/scope.js';
import type { ChangesetResult, Fragment, ListBase } from '../scope/types.js';
import { type Logger, silentLogger } from '../util/logger.js';

/** A client's changeset, as the session hands it over. */
export interface ChangesetRequest {
  fragments: readonly Fragment[];
  /** All or nothing (§7 step 6). */
  atomic?: boolean;
  /** `Model.procedure` to run before the changeset is applied (§9). */
  procedure?: string;
  /** The session it came from: handed to 'changes' listeners, so the hub does not echo it back. */
  origin?: unknown;
  /**
   * The application's decision on this changeset, asked in the scope's queue: null accepts,
   * an error rejects every fragment with it.
   */
  authorize?: (scope: Scope) => Promise<WireError | null>;
  /**
   * What the sender last saw of the collections (docs/protocol.md §7.10): the engine merges a
   * collection change against it, and a procedure's array constraints compare with it.
   */
  listBase?: ListBase;
}

/** Step 3: runs named procedures. procedures/ implements it (`ProcedureRunner`). */
export interface ProcedureStep {
  /**
   * Checks `fragments` against the procedure `name` and runs its remote step against the scope's
   * current state. Resolves with the updates to apply after the changeset; rejects (with a
   * JetstreamError whose message the client may read) to reject the whole changeset.
   */
  run(
    scope: Scope,
    name: string,
    fragments: readonly Fragment[],
    listBase?: ListBase | null,
  ): Promise<ProcedureUpdate[]>;
}

/** Step 2: whether a scope accepts writes now. persistence/ implements it. */
export interface WriteGate {
  /** Null when `scope` accepts changesets, else the error every fragment is rejected with. */
  writeBlocked(scope: Scope): WireError | null;
}

export interface PipelineOptions {
  procedures: ProcedureStep;
  gate?: WriteGate | null;
  logger?: Logger;
}

export class ChangesetPipeline {
  readonly #procedures: ProcedureStep;
  readonly #gate: WriteGate | null;
  readonly #logger: Logger;
  /** Tail of each busy scope's queue; absent when the scope is idle. */
  readonly #queues = new WeakMap<Scope, Promise<ChangesetResult>>();
  /** Queued changesets not settled yet, every scope together (see idle). */
  readonly #running = new Set<Promise<unknown>>();

  constructor(options: PipelineOptions) {
    this.#procedures = options.procedures;
    this.#gate = options.gate ?? null;
    this.#logger = options.logger ?? silentLogger;
  }

  /**
   * Applies a client's changeset: synchronously (the result itself) when the scope has nothing
   * in flight and no procedure is named, else a promise. Never throws or rejects: every failure
   * becomes per-fragment errors, one per fragment of the request.
   */
  submit(scope: Scope, req: ChangesetRequest): ChangesetResult | Promise<ChangesetResult> {
    if (req.procedure === undefined && req.authorize === undefined && !this.#queues.has(scope))
      return this.#apply(scope, req);
    const previous = this.#queues.get(scope);
    const next = () => this.#runQueued(scope, req);
    const run = previous === undefined ? next() : previous.then(next, next);
    this.#queues.set(scope, run);
    this.#running.add(run);
    // Registered before the caller's continuation, so the queue is clear when the caller resumes.
    void run.then(() => {
      if (this.#queues.get(scope) === run) this.#queues.delete(scope);
      this.#running.delete(run);
    });
    return run;
  }

  /** Resolves once no changeset is queued or in flight (a server shutting down waits for it). */
  async idle(): Promise<void> {
    while (this.#running.size > 0) await Promise.allSettled([...this.#running]);
  }

  /** True while a changeset to `scope` is waiting or in flight. */
  isBusy(scope: Scope): boolean {
    return this.#queues.has(scope);
  }

  /** Step 2: null when the scope accepts this changeset now. */
  #refused(scope: Scope, req: ChangesetRequest): WireError | null {
    const blocked = this.#gate?.writeBlocked(scope);
    if (blocked) return blocked;
    if (scope.requireProcedures && req.procedure === undefined) {
      return {
        message: `Scope '${scope.name}' accepts changes only through its procedures`,
        type: ErrorType.rejected,
      };
    }
    return null;
  }

  /** Steps 2 and 5: the gate, then the engine, with every throw turned into per-fragment errors. */
  #apply(scope: Scope, req: ChangesetRequest): ChangesetResult {
    const refused = this.#refused(scope, req);
    if (refused) return rejectAll(req.fragments.length, refused);
    try {
      // `req` carries atomic/origin/procedure: it is the options object (no copy on the hot path).
      return scope.applyChangeset(req.fragments, req);
    } catch (e) {
      if (e instanceof SyncError) return rejectAll(req.fragments.length, e.toWire());
      this.#logger.error({ err: e, scope: scope.name }, 'the changeset engine threw');
      const error = new SyncError('Internal error while applying the changeset');
      return rejectAll(req.fragments.length, error.toWire());
    }
  }

  async #runQueued(scope: Scope, req: ChangesetRequest): Promise<ChangesetResult> {
    const refused = this.#refused(scope, req);
    if (refused) return rejectAll(req.fragments.length, refused);
    if (req.authorize) {
      const denied = await req.authorize(scope);
      if (denied) return rejectAll(req.fragments.length, denied);
    }
    const name = req.procedure;
    if (name === undefined) return this.#apply(scope, req);
    let updates: ProcedureUpdate[];
    try {
      updates = await this.#procedures.run(scope, name, req.fragments, req.listBase ?? null);
    } catch (e) {
      const error =
        e instanceof SyncError
          ? e
          : new SyncError(
              `Procedure '${name}' failed: ${e instanceof Error ? e.message : String(e)}`,
              ErrorCode.PROCEDURE_FAILED,
            );
      return rejectAll(req.fragments.length, error.toWire());
    }
    const result = this.#apply(scope, req);
    if (updates.length > 0 && result.applied.length > 0) this.#applyUpdates(scope, updates, name);
    return result;
  }

  /**
   * Step 5: a downstream's `_updates`, in order. They carry no origin, so they are broadcast to
   * every session of the scope, the sender included. Failures are logged: the changeset itself
   * has been applied and will be acknowledged.
   */
  #applyUpdates(scope: Scope, updates: readonly ProcedureUpdate[], procedure: string): void {
    for (let i = 0; i < updates.length; i++) {
      const u = updates[i]!;
      try {
        const { writeErrors } = scope.update(u.query ?? null, u.update, u.options ?? undefined);
        if (writeErrors.length > 0) {
          this.#logger.warn(
            { scope: scope.name, procedure, index: i, writeErrors },
            'procedure update had write errors',
          );
        }
      } catch (e) {
        this.#logger.warn(
          { scope: scope.name, procedure, index: i, error: e instanceof Error ? e.message : String(e) },
          'procedure update failed',
        );
      }
    }
  }
}

function rejectAll(n: number, error: WireError): ChangesetResult {
  const results: WireError[] = new Array(n);
  for (let i = 0; i < n; i++) results[i] = error;
  return { results, applied: [] };
}
