// The client side of a scope: a live copy of the server's tree of model objects.
//
// Local edits (property assignments, collection changes, attaching objects) apply at once and
// are reported here through the model layer's ScopeLink hooks. They are collected into one
// batch per event-loop turn (or per `transaction()` block), sealed into a changeset and sent as
// a ScopeSync. Every sealed changeset remembers, per fragment, the previous value of each
// property it touched, so that a rejection can roll back exactly those properties.
//
// Rules:
// - A property is "unconfirmed" while some sealed-but-unanswered changeset or the open batch
//   touches it. A remote value for an unconfirmed property does not overwrite the local value:
//   the server applied that remote change before ours (it orders both in one stream), so ours
//   wins; the remote value becomes the base a rollback would restore.
// - A rejected fragment restores its properties' previous values, unless a newer changeset
//   touched the property since; then that newer change inherits the previous value instead.
// - Remote application and rollbacks run with `#remote` set, so nothing is echoed back.
// - Objects leave the scope when they lose their last parent (cascade); for local edits this is
//   decided when the batch is sealed, so moving an object within one turn is a plain change.
// - While a local change is unanswered, the server may hold objects the local tree does not:
//   ones that change removed, and ones another client added under a property whose local value
//   wins. They are kept aside (`#detached`), remote fragments resolve uuids against them and
//   update them, so that a rollback that brings them back restores them as the server has them.
// - Edits of an object that leaves the tree in the same changeset are not sent (the server
//   removes the object anyway); they are undone when it is sealed, for the same reason.
// - Offline persistence (docs/client.md, "Offline edits"): the client saves what
//   `_offlineExport` gives (the state the server confirmed, and the unanswered changesets), and
//   a page after a reload shows it again with `_offlineRestore`.
import { ErrorType } from '../errors.js';
import { isClassNamed, reachableClasses } from '../model/classes.js';
import { sameValue } from '../model/collection.js';
import { joinTree, type ModelClass, type ModelObject, type ScopeLink } from '../model/model-object.js';
import { INVALID, Kind, type Property } from '../model/property.js';
import { encodeValue } from '../model/wire.js';
import type {
  Fragment,
  FragmentReply,
  InboundFragment,
  PresenceGrant,
  WireError,
} from '../protocol/messages.js';
import { Emitter } from '../util/emitter.js';
import type { OfflineChangeset, OfflineScope, OfflineState } from './offline-store.js';
import { type PresenceState, ScopePresence } from './presence.js';

/** What caused a change event. */
export type ChangeSource = 'local' | 'remote' | 'rollback' | 'modification';

/** Options of a change block: sent as the ScopeSync's `atomic` and `procedure`. */
export interface SyncOptions {
  /** All or nothing: if one fragment is rejected, the whole block is rolled back. */
  atomic?: boolean;
  /** A server procedure to run with the changeset, `"Model.name"`. */
  procedure?: string;
}

/** The outcome of one fragment of a changeset. */
export interface FragmentOutcome {
  type: 'add' | 'change';
  uuid: string;
  clsName: string;
  error?: WireError;
}

/** The outcome of one changeset, once the server replied. */
export interface SyncResult {
  /** `completed`: every fragment accepted; `reverted`: none; `partiallyReverted`: some. */
  status: 'completed' | 'partiallyReverted' | 'reverted';
  ok: boolean;
  atomic: boolean;
  procedure?: string;
  fragments: FragmentOutcome[];
  /** The errors of the rejected fragments, in order. */
  errors: WireError[];
}

export interface ClientScopeEvents {
  /** An object's properties changed (names listed once per object and cause). */
  change: (obj: ModelObject, properties: string[], source: ChangeSource) => void;
  /** An object joined the scope. */
  add: (obj: ModelObject, source: ChangeSource) => void;
  /** An object left the scope. */
  remove: (obj: ModelObject, source: ChangeSource) => void;
  /** A changeset was answered. */
  sync: (result: SyncResult) => void;
  /** A full state (ScopeState) was applied. */
  state: () => void;
}

/** What a scope needs from its client. */
export interface ScopeHost {
  _sendSync(
    scope: ClientScope<ModelObject, object>,
    fragments: Fragment[],
    options: SyncOptions,
    onReply: (replies: FragmentReply[] | null) => void,
    /** Called with the ScopeSync's client index once it has one (offline persistence). */
    onIndex?: (index: number) => void,
    /** The server index the edits were made on (see `_ackIndex`): acknowledged with the ScopeSync. */
    ack?: number,
  ): void;
  _pendingChanged(): void;
  /**
   * The highest server index received: what the server merges a collection change against once
   * acknowledged (docs/protocol.md §7.10). A batch takes it when it opens.
   */
  _ackIndex?(): number;
  /** Presence (docs/protocol.md §17): what the server granted; absent or null = no presence. */
  _presenceGrant?(): PresenceGrant | null;
  /** Writes a Presence message; false when the session is not live. */
  _sendPresence?(scopeIndex: number, stateJson: string): boolean;
}

type Raw = unknown; // a stored value: scalar, model object, or a collection's items array

/** One property a local changeset set: its stored values before and after (undo.ts). */
export interface LocalEdit {
  obj: ModelObject;
  prop: Property;
  prev: unknown;
  next: unknown;
}

interface Touch {
  prev: Raw;
  next: Raw;
}

interface Batch {
  options: SyncOptions;
  adds: ModelObject[];
  addSet: Set<ModelObject>;
  /** Previous value of each touched property, from the batch's first touch. */
  changes: Map<ModelObject, Map<Property, Raw>>;
  waiters: ((r: SyncResult) => void)[];
  /** Added objects the server cannot have yet: created here, not re-attached after a removal. */
  fresh: Set<ModelObject>;
  /** An edit-by-edit batch: the server index its first edit was made on (see `_ackIndex`). */
  ack?: number;
}

interface Record_ {
  obj: ModelObject;
  type: 'add' | 'change';
  props: Map<Property, Touch>;
  /** An `add` of an object new to the server: seeing it in a state proves the changeset applied. */
  fresh?: boolean;
}

interface Sealed {
  options: SyncOptions;
  fragments: Fragment[];
  records: Record_[];
  waiters: ((r: SyncResult) => void)[];
  dispatched: boolean;
  done: Promise<SyncResult>;
  /** The client index of its ScopeSync in the current session, once it has one. */
  index?: number;
  /** The server index its edits were made on (see `_ackIndex`). */
  ack?: number;
  /**
   * A changeset a stored record had in flight (`_offlineRestore`): the server answers its
   * original fragments, which `records` (re-applied to the stored state) need not match one
   * for one.
   */
  original?: OfflineChangeset;
}

type Listener = (properties: string[], source: ChangeSource) => void;

const schedule: (fn: () => void) => void = (fn) => setTimeout(fn, 0);

export class ClientScope<T extends ModelObject = ModelObject, P extends object = PresenceState>
  extends Emitter<ClientScopeEvents>
  implements ScopeLink
{
  readonly name: string;
  readonly params: Record<string, unknown>;
  readonly rootClass: ModelClass<T>;
  /** The position of the scope in the session (null until fetched, and during recovery). */
  scopeIndex: number | null = null;
  /**
   * This client's ephemeral state in the scope and the other sessions' (cursors, selections,
   * names): never stored (docs/client.md, "Presence"). `P` is the state's type.
   */
  readonly presence: ScopePresence<P>;

  #root: T | null = null;
  readonly #index = new Map<string, ModelObject>();
  /**
   * Objects outside the tree that the server may still hold because of an unanswered local
   * change, by uuid: every object that left the tree, and every object a remote fragment
   * created that did not attach. Remote fragments resolve uuids against them (after the tree
   * and the message's own adds) and update them. Emptied whenever no local change is pending:
   * the tree then is exactly the server's, so nothing outside it is on the server.
   */
  readonly #detached = new Map<string, ModelObject>();
  /** Last value seen per object and property: gives `_propertyChanged` the previous value. */
  readonly #shadow = new Map<ModelObject, Record<string, Raw>>();
  #host: ScopeHost | null;
  #remote = 0;
  #inTransaction = false;
  #current: Batch | null = null;
  #sealed: Sealed[] = [];
  #orphans = new Set<ModelObject>();
  #flushScheduled = false;
  /** A release of `#detached` is due at the end of the current frame (see #releaseDetached). */
  #releaseQueued = false;
  /** Stored changesets waiting for the first state (a record kept without state). */
  #restoredPending: OfflineChangeset[] | null = null;
  /** Told of every changeset of local edits (not of the scope's own re-applications): undo.ts. */
  #undoHook: ((edits: LocalEdit[]) => void) | null = null;
  #observers = new Map<ModelObject, Set<{ prop: string | null; fn: Listener }>>();
  // Events collected while applying remote changes, emitted once the tree is consistent.
  #events: {
    added: Set<ModelObject>;
    removed: Set<ModelObject>;
    changed: Map<ModelObject, { names: Set<string>; source: ChangeSource }>;
  } | null = null;

  constructor(
    name: string,
    rootClass: ModelClass<T>,
    params: Record<string, unknown> = {},
    host: ScopeHost | null = null,
  ) {
    super();
    this.name = name;
    this.rootClass = rootClass;
    this.params = params;
    this.#host = host;
    this.presence = new ScopePresence<P>({
      scopeIndex: () => this.scopeIndex,
      grant: () => this.#host?._presenceGrant?.() ?? null,
      send: (scopeIndex, json) => this.#host?._sendPresence?.(scopeIndex, json) ?? false,
    });
  }

  /** The root object (null until the first state arrived). */
  get root(): T | null {
    return this.#root;
  }

  /** The object with this uuid, if it is in the scope. */
  get(uuid: string): ModelObject | null {
    return this.#index.get(uuid.toLowerCase()) ?? null;
  }

  /** Every object in the scope. */
  get objects(): ModelObject[] {
    return [...this.#index.values()];
  }

  get size(): number {
    return this.#index.size;
  }

  /** Changesets not answered yet (including the open batch). */
  get pendingCount(): number {
    return this.#sealed.length + (this.#current ? 1 : 0);
  }

  /**
   * Calls `listener(properties, source)` when `obj` changes (or only property `prop`).
   * Returns the function that stops it.
   */
  observe(obj: ModelObject, listener: Listener): () => void;
  observe(obj: ModelObject, prop: string, listener: Listener): () => void;
  observe(obj: ModelObject, a: string | Listener, b?: Listener): () => void {
    const entry = typeof a === 'function' ? { prop: null, fn: a } : { prop: a, fn: b! };
    let set = this.#observers.get(obj);
    if (!set) this.#observers.set(obj, (set = new Set()));
    set.add(entry);
    return () => {
      set.delete(entry);
      if (set.size === 0 && this.#observers.get(obj) === set) this.#observers.delete(obj);
    };
  }

  /**
   * Runs `fn` (synchronously) and sends its edits as one changeset with these options.
   * Resolves with the outcome once the server answered. If `fn` throws, its edits are undone.
   */
  transaction(fn: () => void, options: SyncOptions = {}): Promise<SyncResult> {
    if (this.#inTransaction) {
      fn();
      return this.#current ? promiseOf(this.#current) : Promise.resolve(emptyResult(options));
    }
    this.#seal();
    const batch = newBatch(options);
    const done = promiseOf(batch);
    this.#current = batch;
    this.#inTransaction = true;
    try {
      fn();
    } catch (err) {
      this.#inTransaction = false;
      this.#current = null;
      this.#undo(batch);
      this.#host?._pendingChanged();
      throw err;
    }
    this.#inTransaction = false;
    this.#seal(batch);
    return done;
  }

  /** Sends the edits of this turn now; resolves with their outcome. */
  flush(): Promise<SyncResult> {
    const batch = this.#current;
    if (!batch) return Promise.resolve(emptyResult({}));
    const done = promiseOf(batch);
    this.#seal();
    return done;
  }

  /** Resolves once every local change made so far has been answered by the server. */
  async settled(): Promise<void> {
    for (;;) {
      if (this.#current) await this.flush();
      else if (this.#sealed.length) await this.#sealed[this.#sealed.length - 1]!.done;
      else return;
    }
  }

  // ---- ScopeLink (called by the model layer) --------------------------------------------------

  /** @internal */
  _join(obj: ModelObject): void {
    joinTree(this, this.#index, obj, (o) => {
      this.#shadow.set(o, snapshot(o));
      const rejoined = this.#detached.delete(o.uuid);
      this.#orphans.delete(o);
      if (this.#remote === 0) {
        const b = this.#batch();
        if (!b.addSet.has(o)) {
          b.addSet.add(o);
          b.adds.push(o);
          if (!rejoined) b.fresh.add(o);
        }
        this.emit('add', o, 'local');
      } else if (this.#events) {
        this.#events.added.add(o);
        this.#events.removed.delete(o);
      }
    });
  }

  /** @internal */
  _propertyChanged(obj: ModelObject, prop: Property): void {
    const shadow = this.#shadowOf(obj);
    const prev = shadow[prop.name];
    shadow[prop.name] = raw(obj, prop);
    if (this.#remote > 0) return;
    const b = this.#batch();
    if (!b.addSet.has(obj)) {
      let m = b.changes.get(obj);
      if (!m) b.changes.set(obj, (m = new Map()));
      if (!m.has(prop)) m.set(prop, prev);
    }
    this.#notify(obj, [prop.name], 'local');
  }

  /** @internal */
  _lostParent(obj: ModelObject): void {
    this.#orphans.add(obj);
    if (this.#remote === 0) this.#batch();
  }

  // ---- from the client ------------------------------------------------------------------------

  /** @internal Applies a ScopeState: the whole tree; objects absent from it leave the scope. */
  _applyState(rootUUID: string, fragments: InboundFragment[]): void {
    this.#applyRemote(() => {
      let root = this.#root;
      if (!root) {
        root = new this.rootClass({ uuid: rootUUID });
        this.#root = root;
        this._join(root);
      } else if (root.uuid !== rootUUID) {
        this.#index.delete(root.uuid);
        (root as { uuid: string }).uuid = rootUUID;
        this.#index.set(rootUUID, root);
      }
      this.#applyFragments(fragments, true);
      const keep = new Set<string>([rootUUID]);
      for (const f of fragments) keep.add(f.uuid);
      for (const o of [...this.#index.values()]) if (!keep.has(o.uuid)) this.#leave(o, 'remote');
      // The state is the whole tree: what it does not contain is not on the server.
      for (const uuid of [...this.#detached.keys()]) if (!keep.has(uuid)) this.#detached.delete(uuid);
    });
    this.emit('state');
  }

  /** @internal Applies a ScopeSync from the server. */
  _applySync(fragments: InboundFragment[]): void {
    this.#applyRemote(() => this.#applyFragments(fragments, false));
  }

  /** @internal The session was lost: nothing is in flight any more; hold changesets. */
  _suspend(): void {
    this.scopeIndex = null;
    this.#seal();
    for (const s of this.#sealed) {
      s.dispatched = false;
      delete s.index;
    }
    if (this.#restoredPending) for (const pc of this.#restoredPending) pc.index = null;
  }

  /**
   * @internal A new session fetched the scope again: apply its state, then re-apply every
   * changeset that was never answered, on top of it, as new changesets with the same options.
   */
  _recover(scopeIndex: number, rootUUID: string, fragments: InboundFragment[]): void {
    this.#seal();
    const unanswered = this.#sealed;
    this.#sealed = [];
    // The current values are the user's intent; the state is about to overwrite them.
    this._applyState(rootUUID, fragments);
    this.scopeIndex = scopeIndex;
    const fresh = new Set<ModelObject>();
    for (const s of unanswered) for (const rec of s.records) if (rec.fresh) fresh.add(rec.obj);
    for (const s of unanswered) {
      // In flight in this session (a stored record's, after a resume): the server processed it
      // before the fetch this state answers (docs/protocol.md §3.1), so the state shows it.
      // An object it created is on the server: the server applied it, and the reply was lost.
      // Either way, sending it again would apply it twice.
      if (s.dispatched || s.records.some((r) => r.fresh && this.#index.has(r.obj.uuid))) {
        this.#settleFromState(s);
        continue;
      }
      const batch: Batch = { ...newBatch(s.options), waiters: s.waiters };
      this.#current = batch;
      for (const rec of s.records) {
        if (rec.type !== 'change') continue;
        for (const [prop, t] of rec.props) this.#reapply(rec.obj, prop, t.next, uuidsOf(prop, t.prev));
      }
      this.#sealFresh(batch, (o) => fresh.has(o));
    }
    this.#transmit();
  }

  /** @internal The scope can be sent to now. */
  _fetched(scopeIndex: number): void {
    this.scopeIndex = scopeIndex;
    this.#replayRestored();
    this.#transmit();
  }

  /** @internal */
  _setHost(host: ScopeHost): void {
    this.#host = host;
  }

  /** @internal The UndoManager of this scope (null: none). */
  _setUndoHook(hook: ((edits: LocalEdit[]) => void) | null): void {
    this.#undoHook = hook;
  }

  /** @internal Every unanswered changeset fails (the client closed, or the fetch failed for good). */
  _failAll(error: WireError): void {
    this.#seal();
    const all = this.#sealed;
    this.#sealed = [];
    this.#releaseDetached();
    for (const s of all)
      this.#settle(
        s,
        wireOf(s).map(() => ({ error })),
      );
  }

  // ---- offline persistence (docs/client.md, "Offline edits") ---------------------------------

  /**
   * @internal What a stored record keeps of this scope: the state the server last confirmed
   * (with `withState`) and the unanswered changesets. Null while there is nothing to keep.
   */
  _offlineExport(withState: boolean): Pick<OfflineScope, 'state' | 'pending'> | null {
    // This turn's edits too (a save may run in the turn that made them: close(), persisted()).
    if (!this.#inTransaction) this.#seal();
    const pending = [...(this.#restoredPending ?? []), ...this.#sealed.map((s) => this.#exportSealed(s))];
    if (!this.#root) return pending.length ? { state: null, pending } : null;
    return { state: withState ? this.#confirmedState() : null, pending };
  }

  /**
   * @internal Shows what a stored record kept of this scope, before the server answers: its
   * state with the pending changesets applied on top as local edits. Returns the reply handlers
   * of the changesets that were in flight in the stored session, by client index.
   */
  _offlineRestore(
    stored: Pick<OfflineScope, 'state' | 'pending'>,
  ): Map<number, (r: FragmentReply[] | null) => void> {
    const handlers = new Map<number, (r: FragmentReply[] | null) => void>();
    if (!stored.state) {
      // Nothing to show them on: they wait for the first state (`_fetched`).
      const list = stored.pending.slice();
      this.#restoredPending = list;
      for (const pc of list) {
        if (pc.index === null) continue;
        handlers.set(pc.index, () => {
          const i = this.#restoredPending?.indexOf(pc) ?? -1;
          if (i >= 0) this.#restoredPending!.splice(i, 1);
        });
      }
      return handlers;
    }
    this._applyState(stored.state.rootUUID, stored.state.fragments as InboundFragment[]);
    for (const pc of stored.pending) {
      const s = this.#replay(pc);
      if (!s || pc.index === null) continue;
      s.dispatched = true;
      s.index = pc.index;
      s.original = pc;
      handlers.set(pc.index, (replies) => this.#onReply(s, replies));
    }
    this.#host?._pendingChanged();
    return handlers;
  }

  #exportSealed(s: Sealed): OfflineChangeset {
    const index = s.dispatched && s.index !== undefined ? s.index : null;
    if (s.original) return { ...s.original, index };
    const prev: Record<string, Record<string, unknown>> = {};
    const created: string[] = [];
    for (const rec of s.records) {
      if (rec.type === 'add') {
        if (rec.fresh) created.push(rec.obj.uuid);
        continue;
      }
      const values: Record<string, unknown> = (prev[rec.obj.uuid] = {});
      for (const [prop, t] of rec.props) values[prop.name] = encodeValue(prop, t.prev);
    }
    const out: OfflineChangeset = { index, fragments: s.fragments, prev, created };
    if (s.options.atomic !== undefined) out.atomic = s.options.atomic;
    if (s.options.procedure !== undefined) out.procedure = s.options.procedure;
    return out;
  }

  /**
   * The tree as the server last confirmed it: every property a pending change touches at the
   * value before the first of them (which `#resetBase` keeps up to date with remote values),
   * walked from the root, so objects added by pending changes are left out and objects they
   * removed are in.
   */
  #confirmedState(): OfflineState {
    const base = new Map<ModelObject, Map<Property, Raw>>();
    const note = (obj: ModelObject, prop: Property, value: Raw) => {
      let m = base.get(obj);
      if (!m) base.set(obj, (m = new Map()));
      if (!m.has(prop)) m.set(prop, value);
    };
    for (const s of this.#sealed)
      for (const rec of s.records) for (const [p, t] of rec.props) note(rec.obj, p, t.prev);
    if (this.#current)
      for (const [obj, props] of this.#current.changes) for (const [p, v] of props) note(obj, p, v);
    const root = this.#root!;
    const fragments: Fragment[] = [];
    const seen = new Set<ModelObject>([root]);
    const stack: ModelObject[] = [root];
    while (stack.length) {
      const obj = stack.pop()!;
      const properties: Record<string, unknown> = {};
      const children: ModelObject[] = [];
      for (const p of obj.getProperties()) {
        const m = base.get(obj);
        const v = m?.has(p) ? m.get(p) : raw(obj, p);
        if (p.kind === Kind.Model) {
          if (p.isCollection) children.push(...(v as ModelObject[]));
          else if (v) children.push(v as ModelObject);
          else continue; // a null reference is left out, as in a ScopeState
        }
        properties[p.name] = encodeValue(p, v);
      }
      const type = obj === root ? 'change' : 'add';
      fragments.push({ type, uuid: obj.uuid, clsName: obj.typeName, properties });
      for (let k = children.length - 1; k >= 0; k--) {
        const c = children[k]!;
        if (!seen.has(c)) {
          seen.add(c);
          stack.push(c);
        }
      }
    }
    return { rootUUID: root.uuid, fragments };
  }

  /**
   * Applies a stored changeset to the tree as a local edit, as `_recover` re-applies one: the
   * objects it adds are created, collections get its insertions and removals, other properties
   * its values. Returns the changeset this makes (none when nothing differs).
   */
  #replay(pc: OfflineChangeset): Sealed | null {
    this.#seal();
    const classes = reachableClasses(this.rootClass);
    const created = new Map<string, ModelObject>();
    for (const f of pc.fragments) {
      if (f.type !== 'add' || this.#index.has(f.uuid) || created.has(f.uuid)) continue;
      const cls = classes.get(f.clsName);
      if (cls) created.set(f.uuid, this.#detached.get(f.uuid) ?? new cls({ uuid: f.uuid }));
    }
    const resolve = (uuid: string) =>
      this.#index.get(uuid) ?? created.get(uuid) ?? this.#detached.get(uuid) ?? null;
    const options: SyncOptions = {};
    if (pc.atomic !== undefined) options.atomic = pc.atomic;
    if (pc.procedure !== undefined) options.procedure = pc.procedure;
    const batch = newBatch(options);
    this.#current = batch;
    for (const f of pc.fragments) {
      const obj = resolve(f.uuid);
      if (!obj || !isClassNamed(obj.constructor as ModelClass, f.clsName)) continue;
      const isNew = created.get(f.uuid) === obj;
      for (const [name, wire] of Object.entries(f.properties ?? {})) {
        const prop = obj.getProperty(name);
        if (!prop) continue;
        const next = this.#decode(prop, wire, resolve);
        if (next === INVALID) continue;
        if (!isNew) this.#reapply(obj, prop, next, wireUUIDs(prop, pc.prev[f.uuid]?.[name]));
        else {
          try {
            obj._set(prop, next);
          } catch {
            // The value no longer fits (a reference to an object of another scope): leave it.
          }
        }
      }
    }
    const before = this.#sealed.length;
    const made = new Set(pc.created);
    this.#sealFresh(batch, (o) => made.has(o.uuid));
    return this.#sealed.length > before ? this.#sealed[this.#sealed.length - 1]! : null;
  }

  /** Seals a re-applied batch quietly; `fresh` says which of its added objects are new to the server. */
  #sealFresh(batch: Batch, fresh: (obj: ModelObject) => boolean): void {
    const before = this.#sealed.length;
    this.#seal(batch, true);
    if (this.#sealed.length === before) return;
    for (const rec of this.#sealed[this.#sealed.length - 1]!.records)
      if (rec.type === 'add') rec.fresh = fresh(rec.obj);
  }

  /** Re-applies the stored changesets that waited for the first state (`_offlineRestore` without state). */
  #replayRestored(): void {
    const list = this.#restoredPending;
    if (!list) return;
    this.#restoredPending = null;
    for (const pc of list) {
      // In flight in this session, or applied (an object it created is on the server): the
      // state shows it, as in `_recover`.
      if (pc.index !== null || pc.created.some((u) => this.#index.has(u))) continue;
      this.#replay(pc);
    }
    this.#host?._pendingChanged();
  }

  /**
   * Settles a changeset whose reply will never come, though the server processed it (see
   * `_recover`), from the state just applied: a fragment whose effect the state shows counts as
   * accepted, any other gets `outcome-unknown` (rejected, or changed again since by someone).
   */
  #settleFromState(s: Sealed): void {
    const error = {
      message: 'The reply was lost; the server state does not show this change',
      type: ErrorType.outcomeUnknown,
    };
    const list = wireOf(s).map((f): FragmentReply => {
      const obj = this.#index.get(f.uuid);
      if (!obj) return { error };
      if (f.type === 'add') return {};
      for (const [name, wire] of Object.entries(f.properties ?? {})) {
        const prop = obj.getProperty(name);
        if (prop && JSON.stringify(encodeValue(prop, raw(obj, prop))) !== JSON.stringify(wire))
          return { error };
      }
      return {};
    });
    this.#settle(s, list);
  }

  // ---- batching -------------------------------------------------------------------------------

  #batch(): Batch {
    if (this.#current) return this.#current;
    const b = newBatch({});
    // Remote changes that arrive before it is sealed do not reach what its edits are made on.
    b.ack = this.#host?._ackIndex?.();
    this.#current = b;
    if (!this.#flushScheduled) {
      this.#flushScheduled = true;
      schedule(() => {
        this.#flushScheduled = false;
        if (!this.#inTransaction) this.#seal();
      });
    }
    this.#host?._pendingChanged();
    return b;
  }

  /** Turns the open batch into a changeset and sends it when the scope can be sent to. */
  #seal(batch: Batch | null = this.#current, quiet = false): void {
    if (!batch || batch !== this.#current) return;
    this.#current = null;
    this.#sweep('local');
    const fragments: Fragment[] = [];
    const records: Record_[] = [];
    for (const obj of batch.adds) {
      if (obj._scope !== this) continue;
      fragments.push(obj.getAddSyncFragment());
      records.push({ obj, type: 'add', props: new Map(), fresh: batch.fresh.has(obj) });
    }
    for (const [obj, props] of batch.changes) {
      if (obj._scope !== this) {
        // The object left the tree (with this changeset, or removed remotely): its edits are not
        // sent, and nothing would undo them. Undo them now, so that if a rollback brings the
        // object back, it holds the values the server has.
        for (const [prop, prev] of props) this.#store(obj, prop, prev, 'rollback');
        continue;
      }
      const touched = new Map<Property, Touch>();
      const wire: Record<string, unknown> = {};
      for (const [prop, prev] of props) {
        const next = raw(obj, prop);
        if (sameRaw(prop, prev, next)) continue;
        touched.set(prop, { prev, next });
        wire[prop.name] = encodeValue(prop, next);
      }
      if (touched.size === 0) continue;
      fragments.push({ type: 'change', uuid: obj.uuid, clsName: obj.typeName, properties: wire });
      records.push({ obj, type: 'change', props: touched });
    }
    if (fragments.length === 0) {
      this.#releaseDetached();
      const r = emptyResult(batch.options);
      for (const w of batch.waiters) w(r);
      this.#host?._pendingChanged();
      return;
    }
    let resolveDone!: (r: SyncResult) => void;
    const done = new Promise<SyncResult>((res) => {
      resolveDone = res;
    });
    this.#sealed.push({
      options: batch.options,
      fragments,
      records,
      waiters: [...batch.waiters, resolveDone],
      dispatched: false,
      done,
      ack: batch.ack ?? this.#host?._ackIndex?.(),
    });
    if (!quiet && this.#undoHook) {
      const edits: LocalEdit[] = [];
      for (const r of records)
        for (const [prop, t] of r.props) edits.push({ obj: r.obj, prop, prev: t.prev, next: t.next });
      this.#undoHook(edits);
    }
    if (!quiet) this.#transmit();
    this.#host?._pendingChanged();
  }

  #transmit(): void {
    if (this.scopeIndex === null || !this.#host) return;
    for (const s of this.#sealed) {
      if (s.dispatched) continue;
      s.dispatched = true;
      this.#host._sendSync(
        this,
        s.fragments,
        s.options,
        (replies) => this.#onReply(s, replies),
        (index) => {
          s.index = index;
        },
        s.ack,
      );
    }
  }

  /** Undoes an open batch (a transaction block threw). */
  #undo(batch: Batch): void {
    this.#applyRemote(() => {
      for (const [obj, props] of batch.changes)
        for (const [prop, prev] of props) this.#store(obj, prop, prev, 'rollback');
      this.#sweep('rollback');
    });
  }

  // ---- replies --------------------------------------------------------------------------------

  #onReply(sent: Sealed, replies: FragmentReply[] | null): void {
    const i = this.#sealed.indexOf(sent);
    if (i < 0) return;
    this.#sealed.splice(i, 1);
    const wire = wireOf(sent);
    let list: FragmentReply[];
    if (!replies || replies.length !== wire.length) {
      const error = { message: 'The server did not answer every fragment', type: ErrorType.invalidReply };
      list = wire.map(() => ({ error }));
    } else if (sent.options.atomic && replies.some((r) => r.error)) {
      const error = { message: 'Atomic changeset rejected', type: ErrorType.atomicRejected };
      list = replies.map((r) => (r.error ? r : { error }));
    } else {
      list = replies;
    }
    const perRecord = sent.original ? alignReplies(wire, list, sent.records) : list;
    this.#applyRemote(() => {
      for (let k = 0; k < sent.records.length; k++) {
        const rec = sent.records[k]!;
        const reply = perRecord[k]!;
        if (reply.error) {
          for (const [prop, t] of rec.props) this.#resetBase(rec.obj, prop, t.prev, 'rollback', i);
        } else if (reply.modifications) {
          for (const name of Object.keys(reply.modifications)) {
            const prop = rec.obj.getProperty(name);
            if (!prop) continue;
            const value = this.#decode(prop, reply.modifications[name], (u) => this.#lookup(u));
            if (value !== INVALID) this.#resetBase(rec.obj, prop, value, 'modification', i);
          }
        }
      }
      this.#sweep('rollback');
    });
    this.#settle(sent, list);
  }

  #settle(sent: Sealed, list: FragmentReply[]): void {
    const fragments: FragmentOutcome[] = wireOf(sent).map((f, k) => {
      const o: FragmentOutcome = { type: f.type, uuid: f.uuid, clsName: f.clsName };
      const e = list[k]?.error;
      if (e) o.error = e;
      return o;
    });
    const errors = fragments.flatMap((f) => (f.error ? [f.error] : []));
    const status =
      errors.length === 0
        ? 'completed'
        : errors.length === fragments.length
          ? 'reverted'
          : 'partiallyReverted';
    const result: SyncResult = {
      status,
      ok: errors.length === 0,
      atomic: sent.options.atomic === true,
      fragments,
      errors,
    };
    if (sent.options.procedure !== undefined) result.procedure = sent.options.procedure;
    this.#host?._pendingChanged();
    this.emit('sync', result);
    for (const w of sent.waiters) w(result);
  }

  /**
   * The confirmed value of (obj, prop) is now `value`: if a newer unanswered change touches the
   * property, it becomes that change's previous value; otherwise the object takes the value.
   * `from` is the position in `#sealed` where the newer changes start: 0 for a remote value (the
   * server applied it before every change of ours it has not answered), the answered
   * changeset's former position for its own rollback or modification. Older changesets may
   * still be unanswered then (replies are matched by replyTo, docs/protocol.md §3, and need not
   * come in request order): the answered change's previous value is no base of theirs, and
   * giving it to them would make `_recover` after a new session take their edits for applied.
   */
  #resetBase(obj: ModelObject, prop: Property, value: Raw, source: ChangeSource, from = 0): void {
    for (let k = from; k < this.#sealed.length; k++) {
      for (const rec of this.#sealed[k]!.records) {
        if (rec.obj !== obj) continue;
        const t = rec.props.get(prop);
        if (t) {
          t.prev = value;
          return;
        }
      }
    }
    const m = this.#current?.changes.get(obj);
    if (m?.has(prop)) {
      m.set(prop, value);
      return;
    }
    this.#store(obj, prop, value, source);
  }

  // ---- remote application ---------------------------------------------------------------------

  #applyRemote(fn: () => void): void {
    const outer = this.#events === null;
    if (outer) this.#events = { added: new Set(), removed: new Set(), changed: new Map() };
    this.#remote++;
    try {
      fn();
    } finally {
      this.#remote--;
    }
    if (!outer) return;
    this.#releaseDetached();
    const ev = this.#events!;
    this.#events = null;
    for (const o of ev.added) if (o._scope === this) this.emit('add', o, 'remote');
    for (const [o, c] of ev.changed) {
      if (o._scope === this && !ev.added.has(o)) this.#notify(o, [...c.names], c.source);
    }
    for (const o of ev.removed) if (o._scope !== this) this.emit('remove', o, 'remote');
  }

  #applyFragments(fragments: InboundFragment[], full: boolean): void {
    const classes = reachableClasses(this.rootClass);
    // The objects this message adds that are not in the tree: new ones, and detached ones the
    // server (re)adds, which are reused so that references to them stay valid. A reused object
    // takes every property from its fragment, as a new one would.
    const created = new Map<string, ModelObject>();
    const reused = new Set<ModelObject>();
    for (const f of fragments) {
      if (f.type !== 'add' || this.#index.has(f.uuid) || created.has(f.uuid)) continue;
      const held = this.#detached.get(f.uuid);
      if (held && isClassNamed(held.constructor as ModelClass, f.clsName)) {
        created.set(f.uuid, held);
        reused.add(held);
        continue;
      }
      const cls = classes.get(f.clsName);
      if (cls) created.set(f.uuid, new cls({ uuid: f.uuid }));
    }
    const resolve = (uuid: string) =>
      this.#index.get(uuid) ?? created.get(uuid) ?? this.#detached.get(uuid) ?? null;
    for (const f of fragments) {
      const obj = resolve(f.uuid);
      if (!obj || !isClassNamed(obj.constructor as ModelClass, f.clsName)) continue;
      const names =
        full || reused.has(obj) ? obj.getProperties().map((p) => p.name) : Object.keys(f.properties);
      for (const name of names) {
        const prop = obj.getProperty(name);
        if (!prop) continue;
        const wire = f.properties[name];
        // Absent from a full fragment: a null reference (omitted on the wire) or the default.
        const value = wire === undefined ? prop.initialValue() : this.#decode(prop, wire, resolve);
        if (value === INVALID) continue;
        this.#resetBase(obj, prop, value, 'remote');
      }
    }
    this.#sweep('remote');
    // An added object that did not attach is referenced through a property whose unanswered
    // local value wins: the server has it, and a rollback of that value will attach it.
    for (const o of created.values()) if (o._scope !== this) this.#detached.set(o.uuid, o);
  }

  /** The object with this uuid, in the tree or held outside it for the server (`#detached`). */
  #lookup(uuid: string): ModelObject | null {
    return this.#index.get(uuid) ?? this.#detached.get(uuid) ?? null;
  }

  /**
   * With no local change pending, the tree is the server's: nothing outside it needs keeping.
   * Decided once the frame being read is done: the server follows the reply to a changeset whose
   * list it merged with the merged list, in the reply's frame, and that list may name objects
   * held here (docs/protocol.md §7.10).
   */
  #releaseDetached(): void {
    if (this.#releaseQueued || this.#detached.size === 0) return;
    this.#releaseQueued = true;
    queueMicrotask(() => {
      this.#releaseQueued = false;
      if (this.#current === null && this.#sealed.length === 0) this.#detached.clear();
    });
  }

  /** Stores a value without reporting it as a local edit; records the change event. */
  #store(obj: ModelObject, prop: Property, value: Raw, source: ChangeSource): void {
    this.#remote++;
    let changed: boolean;
    try {
      changed = prop.isCollection
        ? obj._setItems(prop, (value as unknown[]).slice())
        : obj._setValue(prop, value);
    } finally {
      this.#remote--;
    }
    if (!changed) return;
    if (obj._scope === this) this.#shadowOf(obj)[prop.name] = raw(obj, prop);
    const ev = this.#events;
    if (ev) {
      let c = ev.changed.get(obj);
      if (!c) ev.changed.set(obj, (c = { names: new Set(), source }));
      c.names.add(prop.name);
    } else if (obj._scope === this) {
      this.#notify(obj, [prop.name], source);
    }
  }

  #decode(
    prop: Property,
    wire: unknown,
    resolve: (uuid: string) => ModelObject | null,
  ): Raw | typeof INVALID {
    const one = (v: unknown): unknown => {
      if (prop.kind !== Kind.Model) return prop.decodeScalar(v);
      if (typeof v !== 'string') return INVALID;
      const o = resolve(v.toLowerCase());
      return o && o instanceof prop.type ? o : INVALID;
    };
    if (prop.isCollection) {
      if (!Array.isArray(wire)) return INVALID;
      const out: unknown[] = [];
      for (const v of wire) {
        const d = one(v);
        if (d !== INVALID) out.push(d);
      }
      return out;
    }
    if (wire === null) return null;
    return one(wire);
  }

  /**
   * Re-applies one touched property of an unanswered changeset on top of a fresh state: `next`
   * is the value it set; for a collection of objects, `before` holds the uuids it had before
   * (what it removed and added is re-applied, not the whole list; null: set the whole list).
   */
  #reapply(obj: ModelObject, prop: Property, next: Raw, before: Set<string> | null): void {
    const canonical = (o: unknown) => (o ? (this.#index.get((o as ModelObject).uuid) ?? o) : o);
    let value: unknown;
    if (prop.isCollection && prop.kind === Kind.Model && before) {
      const after = new Set((next as ModelObject[]).map((o) => o.uuid));
      const current = (raw(obj, prop) as ModelObject[]).filter(
        (o) => !before.has(o.uuid) || after.has(o.uuid),
      );
      const present = new Set(current.map((o) => o.uuid));
      for (const o of next as ModelObject[])
        if (!before.has(o.uuid) && !present.has(o.uuid)) current.push(canonical(o) as ModelObject);
      value = current;
    } else if (prop.isCollection && prop.kind === Kind.Model) {
      value = (next as ModelObject[]).map(canonical);
    } else {
      value = prop.kind === Kind.Model ? canonical(next) : next;
    }
    try {
      obj._set(prop, value);
    } catch {
      // The value no longer fits (e.g. it refers to an object of another scope): drop it.
    }
  }

  // ---- membership -----------------------------------------------------------------------------

  /** Removes every object that lost its last parent, with cascade. */
  #sweep(source: ChangeSource): void {
    while (this.#orphans.size) {
      const o = this.#orphans.values().next().value as ModelObject;
      this.#orphans.delete(o);
      if (o._scope !== this || o === this.#root || o._hasParentInScope()) continue;
      this.#leave(o, source);
    }
  }

  #leave(o: ModelObject, source: ChangeSource): void {
    if (o._scope !== this || o === this.#root) return;
    o._scope = null;
    this.#index.delete(o.uuid);
    // While a local change is unanswered, the server may still hold it (see `#detached`).
    this.#detached.set(o.uuid, o);
    this.#shadow.delete(o);
    this.#observers.delete(o);
    o._forEachChild((child, key) => child._removeParent(o, key));
    if (this.#events) {
      this.#events.removed.add(o);
      this.#events.added.delete(o);
    } else {
      this.emit('remove', o, source);
    }
  }

  #shadowOf(obj: ModelObject): Record<string, Raw> {
    let s = this.#shadow.get(obj);
    if (!s) this.#shadow.set(obj, (s = snapshot(obj)));
    return s;
  }

  #notify(obj: ModelObject, names: string[], source: ChangeSource): void {
    this.emit('change', obj, names, source);
    const set = this.#observers.get(obj);
    if (!set) return;
    for (const entry of [...set]) {
      if (entry.prop === null) entry.fn(names, source);
      else if (names.includes(entry.prop)) entry.fn([entry.prop], source);
    }
  }
}

// ---- helpers ------------------------------------------------------------------------------------

function newBatch(options: SyncOptions): Batch {
  return { options, adds: [], addSet: new Set(), changes: new Map(), waiters: [], fresh: new Set() };
}

/** The fragments the server answers for a changeset: a restored one's original fragments. */
function wireOf(s: Sealed): Fragment[] {
  return s.original?.fragments ?? s.fragments;
}

/** For a collection of objects, the uuids of a stored value; otherwise null. */
function uuidsOf(prop: Property, value: Raw): Set<string> | null {
  if (!prop.isCollection || prop.kind !== Kind.Model) return null;
  return new Set((value as ModelObject[]).map((o) => o.uuid));
}

/** For a collection of objects, the uuids of a wire value; otherwise null. */
function wireUUIDs(prop: Property, wire: unknown): Set<string> | null {
  if (!prop.isCollection || prop.kind !== Kind.Model || !Array.isArray(wire)) return null;
  return new Set(wire.map((u) => String(u).toLowerCase()));
}

/**
 * The replies of a restored changeset's original fragments, for the records re-applying it:
 * matched by type and uuid (a changeset has one fragment per object and type); a record with no
 * original fragment counts as accepted.
 */
function alignReplies(wire: Fragment[], list: FragmentReply[], records: Record_[]): FragmentReply[] {
  const byKey = new Map(wire.map((f, k) => [`${f.type} ${f.uuid}`, list[k]!] as const));
  return records.map((r) => byKey.get(`${r.type} ${r.obj.uuid}`) ?? {});
}

function promiseOf(batch: Batch): Promise<SyncResult> {
  return new Promise((resolve) => batch.waiters.push(resolve));
}

function emptyResult(options: SyncOptions): SyncResult {
  const r: SyncResult = {
    status: 'completed',
    ok: true,
    atomic: options.atomic === true,
    fragments: [],
    errors: [],
  };
  if (options.procedure !== undefined) r.procedure = options.procedure;
  return r;
}

/** The stored value: for a collection, its items array (replaced, never mutated, on change). */
function raw(obj: ModelObject, prop: Property): Raw {
  return prop.isCollection ? obj._collection(prop)._items : obj._get(prop);
}

function snapshot(obj: ModelObject): Record<string, Raw> {
  const out: Record<string, Raw> = Object.create(null);
  for (const p of obj.getProperties()) out[p.name] = raw(obj, p);
  return out;
}

function sameRaw(prop: Property, a: Raw, b: Raw): boolean {
  if (!prop.isCollection) return sameValue(a, b);
  const x = a as unknown[];
  const y = b as unknown[];
  return x.length === y.length && x.every((v, i) => sameValue(v, y[i]));
}
