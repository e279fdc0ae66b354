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
import { ErrorType } from '../errors.js';
import { isClassNamed, reachableClasses } from '../model/classes.js';
import { sameValue } from '../model/collection.js';
import { joinTree, type ModelClass, type ModelObject, type ScopeLink } from '../model/model-object.js';
import { INVALID, Kind, type Property } from '../model/property.js';
import { encodeValue } from '../model/wire.js';
import type { Fragment, FragmentReply, InboundFragment, WireError } from '../protocol/messages.js';
import { Emitter } from '../util/emitter.js';

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
    scope: ClientScope,
    fragments: Fragment[],
    options: SyncOptions,
    onReply: (replies: FragmentReply[] | null) => void,
  ): void;
  _pendingChanged(): void;
}

type Raw = unknown; // a stored value: scalar, model object, or a collection's items array

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
}

interface Record_ {
  obj: ModelObject;
  type: 'add' | 'change';
  props: Map<Property, Touch>;
}

interface Sealed {
  options: SyncOptions;
  fragments: Fragment[];
  records: Record_[];
  waiters: ((r: SyncResult) => void)[];
  dispatched: boolean;
  done: Promise<SyncResult>;
}

type Listener = (properties: string[], source: ChangeSource) => void;

const schedule: (fn: () => void) => void = (fn) => setTimeout(fn, 0);

export class ClientScope<T extends ModelObject = ModelObject>
  extends Emitter<ClientScopeEvents>
  implements ScopeLink
{
  readonly name: string;
  readonly params: Record<string, unknown>;
  readonly rootClass: ModelClass<T>;
  /** The position of the scope in the session (null until fetched, and during recovery). */
  scopeIndex: number | null = null;

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
      this.#detached.delete(o.uuid);
      this.#orphans.delete(o);
      if (this.#remote === 0) {
        const b = this.#batch();
        if (!b.addSet.has(o)) {
          b.addSet.add(o);
          b.adds.push(o);
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
    for (const s of this.#sealed) s.dispatched = false;
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
    for (const s of unanswered) {
      const batch: Batch = { ...newBatch(s.options), waiters: s.waiters };
      this.#current = batch;
      for (const rec of s.records) {
        if (rec.type === 'change') for (const [prop, t] of rec.props) this.#reapply(rec.obj, prop, t);
      }
      this.#seal(batch, true);
    }
    this.#transmit();
  }

  /** @internal The scope can be sent to now. */
  _fetched(scopeIndex: number): void {
    this.scopeIndex = scopeIndex;
    this.#transmit();
  }

  /** @internal */
  _setHost(host: ScopeHost): void {
    this.#host = host;
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
        s.fragments.map(() => ({ error })),
      );
  }

  // ---- batching -------------------------------------------------------------------------------

  #batch(): Batch {
    if (this.#current) return this.#current;
    const b = newBatch({});
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
      records.push({ obj, type: 'add', props: new Map() });
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
    });
    if (!quiet) this.#transmit();
    this.#host?._pendingChanged();
  }

  #transmit(): void {
    if (this.scopeIndex === null || !this.#host) return;
    for (const s of this.#sealed) {
      if (s.dispatched) continue;
      s.dispatched = true;
      this.#host._sendSync(this, s.fragments, s.options, (replies) => this.#onReply(s, replies));
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
    let list: FragmentReply[];
    if (!replies || replies.length !== sent.fragments.length) {
      const error = { message: 'The server did not answer every fragment', type: ErrorType.invalidReply };
      list = sent.fragments.map(() => ({ error }));
    } else if (sent.options.atomic && replies.some((r) => r.error)) {
      const error = { message: 'Atomic changeset rejected', type: ErrorType.atomicRejected };
      list = replies.map((r) => (r.error ? r : { error }));
    } else {
      list = replies;
    }
    this.#applyRemote(() => {
      for (let k = 0; k < sent.records.length; k++) {
        const rec = sent.records[k]!;
        const reply = list[k]!;
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
    const fragments: FragmentOutcome[] = sent.fragments.map((f, k) => {
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

  /** With no local change pending, the tree is the server's: nothing outside it needs keeping. */
  #releaseDetached(): void {
    if (this.#current === null && this.#sealed.length === 0) this.#detached.clear();
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

  /** Re-applies one touched property of an unanswered changeset on top of a fresh state. */
  #reapply(obj: ModelObject, prop: Property, t: Touch): void {
    const canonical = (o: unknown) => (o ? (this.#index.get((o as ModelObject).uuid) ?? o) : o);
    let value: unknown;
    if (prop.isCollection && prop.kind === Kind.Model) {
      const uuids = (list: unknown) => new Set((list as ModelObject[]).map((o) => o.uuid));
      const before = uuids(t.prev);
      const after = uuids(t.next);
      const current = (raw(obj, prop) as ModelObject[]).filter(
        (o) => !before.has(o.uuid) || after.has(o.uuid),
      );
      const present = new Set(current.map((o) => o.uuid));
      for (const o of t.next as ModelObject[])
        if (!before.has(o.uuid) && !present.has(o.uuid)) current.push(canonical(o) as ModelObject);
      value = current;
    } else {
      value = prop.kind === Kind.Model ? canonical(t.next) : t.next;
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
  return { options, adds: [], addSet: new Set(), changes: new Map(), waiters: [] };
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
