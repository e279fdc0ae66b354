// applySync: the one door through which a client's changeset reaches a scope (PROTOCOL.md §7).
//
// Changesets to one scope are applied strictly in arrival order. While a procedure's downstream
// call is in flight, later changesets to that scope wait in a per-scope queue (a promise chain
// kept in a WeakMap) and are validated against the state the earlier ones left. When the queue
// is idle and no procedure is named, the changeset is applied synchronously with no extra
// allocation: that is the server's hot path.
import { SyncError, type WireError } from '../errors.js';
import type { Scope } from '../scope/scope.js';
import type { ChangesetResult, Fragment } from '../scope/types.js';
import { log } from './log.js';
import { resolveProcedure } from './procedure.js';
import type { ProcedureUpdate } from './types.js';

export interface SyncRequest {
  fragments: Fragment[];
  atomic?: boolean;
  /** `Model.procedure` to run before the changeset is applied. */
  procedure?: string;
  /** The session the changeset came from (handed to 'changes' listeners; not echoed to it). */
  origin?: unknown;
}

/** Tail of each busy scope's queue; absent when the scope is idle. */
const queues = new WeakMap<Scope, Promise<unknown>>();

/**
 * Applies a client's changeset to a scope: strictly ordered per scope. Synchronous (returns the
 * result directly) when the scope has nothing in flight and no procedure is named; otherwise a
 * Promise. Never rejects: failures become per-fragment errors.
 */
export function applySync(scope: Scope, req: SyncRequest): ChangesetResult | Promise<ChangesetResult> {
  if ((req.procedure === undefined || req.procedure === null) && !queues.has(scope))
    return applyNow(scope, req);
  const previous = queues.get(scope);
  const next = () => runQueued(scope, req);
  const run = previous === undefined ? next() : previous.then(next, next);
  queues.set(scope, run);
  // Registered before the caller's continuation, so the queue is clear when the caller resumes.
  void run.then(() => {
    if (queues.get(scope) === run) queues.delete(scope);
  });
  return run;
}

/** True while a changeset to `scope` is waiting or in flight (for tests and diagnostics). */
export function isScopeBusy(scope: Scope): boolean {
  return queues.has(scope);
}

/** The changeset engine, with every throw turned into per-fragment errors. */
function applyNow(scope: Scope, req: SyncRequest): ChangesetResult {
  try {
    // `req` carries atomic/origin/procedure: it is the options object (no copy on the hot path).
    return scope.applyChangeset(req.fragments, req);
  } catch (e) {
    const error = e instanceof SyncError ? e : new SyncError('Internal error while applying the changeset');
    if (!(e instanceof SyncError))
      log().warn({ scope: scope.name, error: (e as Error)?.message }, 'applyChangeset threw');
    return rejectAll(req.fragments, error.toWire());
  }
}

function rejectAll(fragments: unknown, error: WireError): ChangesetResult {
  const n = Array.isArray(fragments) ? fragments.length : 0;
  const results: WireError[] = new Array(n);
  for (let i = 0; i < n; i++) results[i] = error;
  return { results, applied: [] };
}

async function runQueued(scope: Scope, req: SyncRequest): Promise<ChangesetResult> {
  const name = req.procedure;
  if (name === undefined || name === null) return applyNow(scope, req);
  if (!Array.isArray(req.fragments)) return applyNow(scope, req);
  let updates: ProcedureUpdate[];
  try {
    const procedure = resolveProcedure(scope, name);
    updates = (await procedure.verifyAndExecute(scope, req.fragments)).updates;
  } catch (e) {
    const error =
      e instanceof SyncError
        ? e
        : new SyncError(`Procedure '${name}' failed: ${(e as Error)?.message ?? String(e)}`);
    return rejectAll(req.fragments, error.toWire());
  }
  const result = applyNow(scope, req);
  if (updates.length > 0 && result.applied.length > 0) await applyUpdates(scope, updates, name);
  return result;
}

interface UpdateResultLike {
  writeErrors?: unknown[];
}
type UpdateFn = (
  query: unknown,
  update: unknown,
  options?: unknown,
) => UpdateResultLike | PromiseLike<UpdateResultLike> | undefined;

/**
 * Applies a downstream's `_updates` with the update operators, in order. They carry no origin,
 * so they are broadcast to every session of the scope, the sender included. Failures are
 * logged: the changeset itself has been applied and acknowledged.
 */
async function applyUpdates(scope: Scope, updates: ProcedureUpdate[], procedure: string): Promise<void> {
  const update = (scope as unknown as { update?: UpdateFn }).update;
  if (typeof update !== 'function') {
    log().warn(
      { scope: scope.name, procedure },
      'scope.update is not available: procedure updates were dropped',
    );
    return;
  }
  for (let i = 0; i < updates.length; i++) {
    const u = updates[i]!;
    try {
      let result = update.call(scope, u.query ?? null, u.update, u.options ?? undefined);
      if (result && typeof (result as PromiseLike<UpdateResultLike>).then === 'function')
        result = await result;
      const writeErrors = (result as UpdateResultLike | undefined)?.writeErrors;
      if (Array.isArray(writeErrors) && writeErrors.length > 0) {
        log().warn(
          { scope: scope.name, procedure, index: i, writeErrors },
          'procedure update had write errors',
        );
      }
    } catch (e) {
      log().warn(
        { scope: scope.name, procedure, index: i, error: (e as Error)?.message ?? String(e) },
        'procedure update failed',
      );
    }
  }
}
