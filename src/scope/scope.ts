// Scope: a named tree of model objects under one root, with a uuid index, the changeset engine
// (changeset.ts), and capture of server-side edits (docs/protocol.md §7 step 9).
//
// Every change to the tree leaves through one door, the 'changes' event, with the applied
// fragments in order: a changeset from a client emits synchronously when it is applied;
// assignments made by server code are collected and emitted once per event-loop turn. Pending
// server edits are always emitted before a changeset is applied, so every listener (sessions,
// the store) sees one total order.

import { ErrorCode, ErrorType, ScopeError, SyncError, type WireError } from '../errors.js';
import {
  joinTree,
  type ModelClass,
  type ModelObject,
  type ScopeLink,
  walkTree,
} from '../model/model-object.js';
import type { Property } from '../model/property.js';
import { uuidv4 } from '../model/uuid.js';
import { encodeProperties } from '../model/wire.js';
import { Emitter } from '../util/emitter.js';
import { type CommitLog, commit, plan } from './changeset.js';
import { CollectionHistory } from './collection-history.js';
import type { AppliedFragment, ApplyOptions, ChangeContext, ChangesetResult, Fragment } from './types.js';
import { type QueryResult, type UpdateOptions, type UpdateQuery, type UpdateSpec, update } from './update.js';

export interface ScopeOptions {
  /** The name clients fetch the scope by. */
  name: string;
  /** Application data, readable by procedure expressions (`$scope.params.…`). */
  params?: Record<string, unknown>;
  /** Skip procedure constraint matching for this scope (procedures still run). */
  disableProcedureConstraints?: boolean;
  /**
   * Clients may change this scope only through named procedures: a changeset without a
   * `procedure` is rejected whole. Server-side edits are not affected.
   */
  requireProcedures?: boolean;
}

export interface ScopeEvents {
  /** Applied fragments, in order, and what caused them. */
  changes: (fragments: AppliedFragment[], context: ChangeContext) => void;
}

type Callback<T> = (err: Error | null, result?: T) => void;

const ATOMIC_REJECTED: WireError = {
  message: 'Atomic changeset rejected: another fragment of it failed',
  type: ErrorType.atomicRejected,
};

const schedule: (fn: () => void) => void =
  typeof setImmediate === 'function' ? (fn) => setImmediate(fn) : (fn) => setTimeout(fn, 0);

export class Scope extends Emitter<ScopeEvents> implements ScopeLink {
  readonly name: string;
  readonly uuid: string;
  params: Record<string, unknown>;
  disableProcedureConstraints: boolean;
  /** Clients may change this scope only through named procedures (see ScopeOptions). */
  requireProcedures: boolean;
  /** Number of change batches emitted so far (the store's version counter). */
  version = 0;
  /**
   * @internal Incremented by every `_reset()`: after a rebuild from the store, a version number
   * may come again with other contents, so what is cached by version is keyed by this too.
   */
  _generation = 0;

  #root: ModelObject | null = null;
  /** @internal uuid → object, for every object in the scope. */
  readonly _index = new Map<string, ModelObject>();
  /**
   * @internal Past values of the collections, by version: the bases that collection changes are
   * merged against (docs/protocol.md §7.10).
   */
  readonly _lists = new CollectionHistory();

  // Server-side edit capture (§7.9).
  #capturing = true;
  #pendingAdds = new Set<ModelObject>();
  #pendingChanges = new Map<ModelObject, Set<Property>>();
  /** The items of each pending collection change before it: for the history (§7.10). */
  #pendingBefore = new Map<ModelObject, Map<Property, readonly unknown[]>>();
  #orphans = new Set<ModelObject>();
  #flushScheduled = false;

  constructor(options: ScopeOptions) {
    super();
    if (!options || typeof options.name !== 'string' || options.name.length === 0) {
      throw new ScopeError('A scope requires a name');
    }
    this.name = options.name;
    this.uuid = uuidv4();
    this.params = options.params ?? {};
    this.disableProcedureConstraints = options.disableProcedureConstraints === true;
    this.requireProcedures = options.requireProcedures === true;
  }

  // ---- root and lookup -----------------------------------------------------------------------

  get root(): ModelObject | null {
    return this.#root;
  }

  /** Makes `obj` the root; its whole tree joins the scope (without emitting changes). */
  setRoot(obj: ModelObject): this;
  setRoot(obj: ModelObject, cb: Callback<ModelObject>): void;
  setRoot(obj: ModelObject, cb?: Callback<ModelObject>): this | undefined {
    try {
      if (this.#root) throw new ScopeError('Already has root modelObject set');
      if (!obj || typeof (obj as ModelObject)._forEachChild !== 'function') {
        throw new ScopeError('The root must be a model object');
      }
      if (obj._scope && obj._scope !== this) {
        throw new ScopeError(`The object already belongs to scope '${obj._scope.name}'`);
      }
      this.#root = obj;
      this.#withoutCapture(() => this._join(obj));
    } catch (e) {
      if (cb) return void cb(e as Error);
      throw e;
    }
    if (cb) return void cb(null, obj);
    return this;
  }

  getRootModelObject(): ModelObject | null;
  getRootModelObject(cb: Callback<ModelObject>): void;
  getRootModelObject(cb?: Callback<ModelObject>): ModelObject | null | undefined {
    if (!cb) return this.#root;
    if (!this.#root) return void cb(new ScopeError('No root modelObject set', ErrorCode.NO_ROOT));
    cb(null, this.#root);
  }

  getRootModelObjectUUID(): string | null {
    return this.#root ? this.#root.uuid : null;
  }

  getRootModelObjectType(): ModelClass | null {
    return this.#root ? (this.#root.constructor as ModelClass) : null;
  }

  /** The object with this uuid in the scope, or null. */
  get(uuid: string): ModelObject | null {
    return this._index.get(typeof uuid === 'string' ? uuid.toLowerCase() : uuid) ?? null;
  }

  getModelObjectByUUID(uuid: string): ModelObject | null;
  getModelObjectByUUID(uuid: string, cb: Callback<ModelObject | null>): void;
  getModelObjectByUUID(uuid: string, cb?: Callback<ModelObject | null>): ModelObject | null | undefined {
    const obj = this.get(uuid);
    if (!cb) return obj;
    cb(null, obj);
  }

  containsModelObject(obj: ModelObject): boolean {
    return this._index.get(obj.uuid) === obj;
  }

  /** Number of objects in the scope. */
  get size(): number {
    return this._index.size;
  }

  /** Every object, pre-order depth-first from the root, each once. */
  getAllModelObjects(): ModelObject[];
  getAllModelObjects(cb: Callback<ModelObject[]>): void;
  getAllModelObjects(cb?: Callback<ModelObject[]>): ModelObject[] | undefined {
    if (!this.#root) {
      if (cb) return void cb(new ScopeError('No root modelObject set', ErrorCode.NO_ROOT));
      return [];
    }
    this.flush();
    const all = walkTree(this.#root);
    if (cb) return void cb(null, all);
    return all;
  }

  /** The scope as the protocol's ScopeState carries it: root first as `change`, then adds. */
  getState(): { rootUUID: string; fragments: AppliedFragment[] } {
    if (!this.#root) throw new ScopeError(`Scope '${this.name}' has no root`, ErrorCode.NO_ROOT);
    const all = this.getAllModelObjects();
    const fragments: AppliedFragment[] = new Array(all.length);
    for (let i = 0; i < all.length; i++) {
      const o = all[i]!;
      fragments[i] = {
        type: i === 0 ? 'change' : 'add',
        uuid: o.uuid,
        clsName: o.typeName,
        properties: o.toWireProperties(),
      };
    }
    return { rootUUID: this.#root.uuid, fragments };
  }

  // ---- changesets ------------------------------------------------------------------------------

  /**
   * Applies a changeset (docs/protocol.md §7 steps 3–6): one result per fragment, in input order.
   * With `atomic`, either every fragment applies or none does. Emits 'changes' with the
   * applied fragments (when there are any) before returning.
   */
  applyChangeset(fragments: readonly Fragment[], options: ApplyOptions = {}): ChangesetResult {
    this.#checkOpen();
    if (!Array.isArray(fragments))
      throw new SyncError('fragments must be an array', ErrorCode.SYNC_FRAGMENTS);
    if (!this.#root) {
      const error = new SyncError('No root model set', ErrorCode.NO_ROOT).toWire();
      return { results: fragments.map(() => error), applied: [] };
    }
    this.flush();
    const listBase = options.listBase ?? null;
    const p = plan(this, fragments, listBase);
    const results: (WireError | null)[] = new Array(fragments.length);
    if (options.atomic === true && p.failed > 0) {
      for (let i = 0; i < p.entries.length; i++) results[i] = p.entries[i]!.error ?? ATOMIC_REJECTED;
      return { results, applied: [] };
    }
    let applied: AppliedFragment[] = [];
    // A replay rebuilds a state that starts the history afresh (see CollectionHistory).
    const log: CommitLog | null = options.replay === true ? null : { collections: [], lists: [] };
    if (p.failed < fragments.length) {
      this.#capturing = false;
      try {
        applied = commit(this, p, log);
        this.#sweepOrphans();
      } finally {
        this.#capturing = true;
      }
    }
    for (let i = 0; i < p.entries.length; i++) results[i] = p.entries[i]!.error;
    if (applied.length) {
      // Recorded under the version the change is emitted with, before any listener can start
      // another change.
      if (log !== null) {
        for (const c of log.collections)
          this._lists.record(this.version + 1, c.obj, c.prop, c.before, c.after);
      }
      this.#emitChanges(applied, contextOf(options));
    }
    if (listBase !== null && log !== null && log.lists.length > 0)
      return { results, applied, lists: log.lists };
    return { results, applied };
  }

  /** The original's callback form: `cb(err, results)` with `{accepted, error?}` per fragment. */
  applySyncFragments(
    fragments: Fragment[],
    options: ApplyOptions | Callback<{ accepted: boolean; error?: WireError }[]> = {},
    cb?: Callback<{ accepted: boolean; error?: WireError }[]>,
  ): { accepted: boolean; error?: WireError }[] | undefined {
    if (typeof options === 'function') {
      cb = options;
      options = {};
    }
    let out: { accepted: boolean; error?: WireError }[];
    try {
      out = this.applyChangeset(fragments, options).results.map((e) =>
        e ? { accepted: false, error: e } : { accepted: true },
      );
    } catch (e) {
      if (cb) return void cb(e as Error);
      throw e;
    }
    if (cb) return void cb(null, out);
    return out;
  }

  /**
   * The update operators (docs/protocol.md §10; see update.ts). Returns the result, or with a
   * callback answers `cb(err, result)` instead of throwing.
   */
  update(query: UpdateQuery, spec: UpdateSpec, options?: UpdateOptions): QueryResult;
  update(query: UpdateQuery, spec: UpdateSpec, cb: Callback<QueryResult>): void;
  update(
    query: UpdateQuery,
    spec: UpdateSpec,
    options: UpdateOptions | undefined,
    cb: Callback<QueryResult>,
  ): void;
  update(
    query: UpdateQuery,
    spec: UpdateSpec,
    options?: UpdateOptions | Callback<QueryResult>,
    cb?: Callback<QueryResult>,
  ): QueryResult | undefined {
    if (typeof options === 'function') [cb, options] = [options, undefined];
    this.#checkOpen();
    if (!cb) return update(this, query, spec, options);
    let result: QueryResult;
    try {
      result = update(this, query, spec, options);
    } catch (e) {
      return void cb(e as Error);
    }
    cb(null, result);
  }

  // ---- server-side edits (§7.9) ----------------------------------------------------------------

  /** Emits pending server-side edits now instead of at the end of the event-loop turn. */
  flush(): void {
    if (this.#pendingAdds.size === 0 && this.#pendingChanges.size === 0 && this.#orphans.size === 0) return;
    this.#sweepOrphans();
    const fragments: AppliedFragment[] = [];
    for (const obj of this.#pendingAdds) {
      if (obj._scope === this) fragments.push(obj.getAddSyncFragment());
    }
    const lists: [ModelObject, Property][] = [];
    for (const [obj, props] of this.#pendingChanges) {
      if (obj._scope !== this || this.#pendingAdds.has(obj)) continue;
      fragments.push({
        type: 'change',
        uuid: obj.uuid,
        clsName: obj.typeName,
        properties: encodeProps(obj, props),
      });
      for (const prop of props) if (prop.isCollection) lists.push([obj, prop]);
    }
    const before = this.#pendingBefore;
    this.#pendingAdds.clear();
    this.#pendingChanges.clear();
    if (before.size > 0) this.#pendingBefore = new Map();
    if (fragments.length) {
      const version = this.version + 1;
      for (const [obj, prop] of lists) {
        this._lists.record(version, obj, prop, before.get(obj)?.get(prop), obj._collection(prop)._items);
      }
      this.#emitChanges(fragments, {});
    }
  }

  /**
   * @internal Forgets the whole tree (root included) without emitting anything, so that the
   * scope can be rebuilt from a store after a failed append. Sessions keep holding the scope.
   */
  _reset(): void {
    this._generation++;
    this._lists.reset();
    for (const o of this._index.values()) o._scope = null;
    this._index.clear();
    this.#pendingAdds.clear();
    this.#pendingChanges.clear();
    this.#pendingBefore.clear();
    this.#orphans.clear();
    this.#root = null;
  }

  /** @internal */
  _join(obj: ModelObject): void {
    this.#checkOpen();
    joinTree(this, this._index, obj, (o) => {
      if (this.#capturing) {
        this.#pendingAdds.add(o);
        this.#scheduleFlush();
      }
    });
  }

  /** @internal */
  _propertyChanged(obj: ModelObject, prop: Property, previous?: readonly unknown[]): void {
    this.#checkOpen();
    if (!this.#capturing || this.#pendingAdds.has(obj)) return;
    let set = this.#pendingChanges.get(obj);
    if (!set) this.#pendingChanges.set(obj, (set = new Set()));
    if (previous !== undefined && !set.has(prop)) {
      let before = this.#pendingBefore.get(obj);
      if (!before) this.#pendingBefore.set(obj, (before = new Map()));
      before.set(prop, previous);
    }
    set.add(prop);
    this.#scheduleFlush();
  }

  /** @internal */
  _lostParent(obj: ModelObject): void {
    this.#checkOpen();
    this.#orphans.add(obj);
    if (this.#capturing) this.#scheduleFlush();
  }

  /** True once the server unloaded the scope (see `server.openScope`'s `unloadWhenIdle`). */
  get unloaded(): boolean {
    return this.#unloaded;
  }

  /**
   * @internal The server unloaded this scope: it is no longer recorded or served, and a later
   * openScope of its name loads a new Scope. Changing this one now throws, so that an
   * application holding it on to it learns at once instead of losing the change.
   */
  _unload(): void {
    this.#unloaded = true;
  }

  // ---- internals -------------------------------------------------------------------------------

  #unloaded = false;

  #checkOpen(): void {
    if (this.#unloaded) {
      throw new ScopeError(
        `Scope '${this.name}' was unloaded (no session used it): get it again with server.openScope()`,
      );
    }
  }

  #withoutCapture(fn: () => void): void {
    const was = this.#capturing;
    this.#capturing = false;
    try {
      fn();
    } finally {
      this.#capturing = was;
    }
  }

  #scheduleFlush(): void {
    if (this.#flushScheduled) return;
    this.#flushScheduled = true;
    schedule(() => {
      this.#flushScheduled = false;
      this.flush();
    });
  }

  /** Removes every object that lost its last parent, with cascade (§7 step 5). */
  #sweepOrphans(): void {
    const orphans = this.#orphans;
    while (orphans.size) {
      const o = orphans.values().next().value as ModelObject;
      orphans.delete(o);
      if (o._scope !== this || o === this.#root) continue;
      // A parent in the scope is not enough: a cycle cut off from the root (a ⇄ b) keeps
      // parents in the scope forever. Keep the object only when the root is still an ancestor.
      if (o._hasParentInScope() && this.#reachesRoot(o)) continue;
      o._scope = null;
      this._index.delete(o.uuid);
      this.#pendingAdds.delete(o);
      this.#pendingChanges.delete(o);
      // The removed object keeps its values, but its children forget it: a detached subtree
      // must not keep links (and memory) alive. Re-attaching it re-links (see _join).
      o._forEachChild((child, key) => child._removeParent(o, key));
    }
  }

  /**
   * True when the root is an ancestor of `obj`, following parent links within the scope.
   * Walks upwards only, so its cost is bounded by the object's ancestry, not the scope's size;
   * it only runs for objects that lost a parent link.
   */
  #reachesRoot(obj: ModelObject): boolean {
    const root = this.#root;
    const seen = new Set<ModelObject>([obj]);
    const stack: ModelObject[] = [obj];
    const visit = (p: ModelObject): boolean => {
      if (p === root) return true;
      if (p._scope === this && !seen.has(p)) {
        seen.add(p);
        stack.push(p);
      }
      return false;
    };
    while (stack.length) {
      const o = stack.pop()!;
      if (o._p0 && visit(o._p0)) return true;
      const px = o._px;
      if (px) for (let i = 0; i < px.length; i += 2) if (visit(px[i] as ModelObject)) return true;
    }
    return false;
  }

  #emitChanges(fragments: AppliedFragment[], context: ChangeContext): void {
    // A replay rebuilds what a store holds, unrecorded: the history starts after it.
    if (context.replay === true) this._lists.reset();
    else this._lists.begin(this.version);
    this.version++;
    this.emit('changes', fragments, context);
  }
}

function contextOf(options: ApplyOptions): ChangeContext {
  const ctx: ChangeContext = {};
  if (options.origin !== undefined) ctx.origin = options.origin;
  if (options.atomic !== undefined) ctx.atomic = options.atomic;
  if (options.procedure !== undefined) ctx.procedure = options.procedure;
  if (options.replay === true) ctx.replay = true;
  if (options.replicated === true) ctx.replicated = true;
  return ctx;
}

/** The properties of a captured server-side change, as its `change` fragment carries them. */
function encodeProps(obj: ModelObject, props: Set<Property>): Record<string, unknown> {
  return encodeProperties(obj, props);
}

/** Creates a scope: `scope({name: 'Canvas'})`. */
export function scope(options: ScopeOptions): Scope {
  return new Scope(options);
}
