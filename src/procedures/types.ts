import type { Scope } from '../scope/scope.js';
import type { Fragment } from '../scope/types.js';

/** One entry of a downstream response's `_updates`: run with `scope.update(query, update, options)`. */
export interface ProcedureUpdate {
  /** `null`/absent/`{}` = the root; or `{$uuid, $cls}`. */
  query?: Record<string, unknown> | null;
  update: Record<string, unknown>;
  options?: Record<string, unknown>;
}

/** What a procedure's remote step produced. */
export interface ProcedureResult {
  updates: ProcedureUpdate[];
}

/** What a remote step may answer with (a result, a bare list of updates, or nothing). */
export type RemoteOutcome = ProcedureResult | ProcedureUpdate[] | null | undefined;

/**
 * A remote step, as `registerRemoteProcedureType` expects instances of its class to be. It runs
 * before the changeset is applied, against the scope's current state; failing (throwing,
 * rejecting or calling back with an error) rejects the whole changeset. Either return a
 * promise or call `callback` (the original's style), not both.
 */
export interface RemoteProcedure {
  execute(
    scope: Scope,
    fragments: readonly Fragment[],
    callback?: (err: Error | null, result?: RemoteOutcome) => void,
    // biome-ignore lint/suspicious/noConfusingVoidType: callback-style implementations return nothing
  ): PromiseLike<RemoteOutcome> | RemoteOutcome | void;
}

/** The options a remote type's constructor receives: the procedure's definition. */
export interface RemoteTypeOptions<R = Record<string, unknown>> {
  /** `Model.procedure`. */
  name: string;
  remote: R & { type: string };
}

export type RemoteProcedureType = new (options: RemoteTypeOptions) => RemoteProcedure;
