// What a session's client last saw of each scope it holds: the base a collection change of it
// is merged against (docs/protocol.md §7.10).
//
// The base of a collection is its value as of the last server message the client acknowledged
// (the Ping `ack` received last, docs/protocol.md §3.3), with the client's own accepted changes
// of it applied after it. A session knows it from two records:
// - per scope, the scope version each of its messages brought the client up to: a broadcast the
//   version of its change, a ScopeState the version it shows, the reply to an accepted changeset
//   (or the merge correction that follows it) the version of that changeset. The scope's
//   CollectionHistory then gives a collection's value at that version. Kept as runs (consecutive
//   indices bringing consecutive versions extend one run), at most MAX_RUNS per scope: older
//   messages are forgotten, and an acknowledgement older than what is kept gives an older
//   version (a base too old never loses an element, see docs/collaboration.md).
// - per collection, the list the client last sent and the server accepted, until the client
//   acknowledges the message that answered it: until then, the client's view of that collection
//   is its own list, whatever it was sent meanwhile (at most MAX_OWN per scope, the oldest
//   forgotten first).
// A client sends a changeset only for a scope whose ScopeFetchReply it received, and that reply
// arrives in the frame of the scope's first ScopeState: so the client saw at least that state.
import type { ModelClass, ModelObject } from '../model/model-object.js';
import type { Property } from '../model/property.js';
import { type ListKey, listKeys } from '../scope/list-merge.js';
import type { Scope } from '../scope/scope.js';
import type { AppliedFragment, ListBase, ListWrite } from '../scope/types.js';

/** Runs of (message index → scope version) a session keeps per scope. */
export const MAX_RUNS = 64;
/** Own lists awaiting acknowledgement a session keeps per scope. */
export const MAX_OWN = 256;

/** A list the client sent and the server accepted, and the message that answered it. */
export interface Own {
  mine: readonly ListKey[];
  /** The index of the reply (or of the correction after it); Infinity until it is sent. */
  index: number;
}

/** One scope's record for one session. */
class ScopeSeen {
  /** The scope's generation the versions below belong to (a rebuild starts afresh). */
  generation: number;
  /** The version of the first ScopeState the client was sent: it saw at least that; -1: none. */
  firstState = -1;
  /** Made because the scope was rebuilt: its next state is not the client's first. */
  readonly rebuilt: boolean;
  // Runs, oldest first: messages start … start + count − 1 brought versions version … + count − 1.
  readonly start: number[] = [];
  readonly version: number[] = [];
  readonly count: number[] = [];
  /** The last message of the runs forgotten (MAX_RUNS), and its version; -1: none forgotten. */
  droppedIndex = -1;
  droppedVersion = -1;
  /** The client's own accepted lists, by object and property (insertion order: oldest first). */
  readonly own = new Map<ModelObject, Map<Property, Own>>();
  ownCount = 0;

  constructor(generation: number, rebuilt: boolean) {
    this.generation = generation;
    this.rebuilt = rebuilt;
  }

  /** Message `index` brought the client up to scope version `version`. */
  add(index: number, version: number): void {
    const last = this.start.length - 1;
    if (last >= 0) {
      const end = this.start[last]! + this.count[last]!;
      if (index === end && version === this.version[last]! + this.count[last]!) {
        this.count[last]!++;
        return;
      }
    }
    this.start.push(index);
    this.version.push(version);
    this.count.push(1);
    if (this.start.length > MAX_RUNS) {
      this.droppedIndex = this.start[0]! + this.count[0]! - 1;
      this.droppedVersion = this.version[0]! + this.count[0]! - 1;
      this.start.shift();
      this.version.shift();
      this.count.shift();
    }
  }

  /**
   * The scope version the client saw once it had every message up to `ack`: that of the last
   * message at or below `ack` this record knows, never below the first state; -1 when unknown.
   */
  versionAt(ack: number): number {
    let v = -1;
    for (let r = this.start.length - 1; r >= 0; r--) {
      const s = this.start[r]!;
      if (s > ack) continue;
      const n = this.count[r]!;
      v = ack >= s + n - 1 ? this.version[r]! + n - 1 : this.version[r]! + (ack - s);
      break;
    }
    if (v < 0 && this.droppedIndex >= 0 && this.droppedIndex <= ack) v = this.droppedVersion;
    return Math.max(v, this.firstState);
  }

  ownOf(obj: ModelObject, prop: Property): Own | undefined {
    return this.own.get(obj)?.get(prop);
  }

  setOwn(obj: ModelObject, prop: Property, own: Own): void {
    let props = this.own.get(obj);
    if (!props) this.own.set(obj, (props = new Map()));
    if (!props.has(prop)) this.ownCount++;
    else props.delete(prop); // re-inserted: the newest last
    props.set(prop, own);
    while (this.ownCount > MAX_OWN) {
      const [o, ps] = this.own.entries().next().value as [ModelObject, Map<Property, Own>];
      const p = ps.keys().next().value as Property;
      ps.delete(p);
      if (ps.size === 0) this.own.delete(o);
      this.ownCount--;
    }
  }

  /** Forgets own lists the client acknowledged the answer to. */
  acknowledged(ack: number): void {
    if (this.ownCount === 0) return;
    for (const [obj, props] of this.own) {
      for (const [prop, own] of props) {
        if (own.index > ack) continue;
        props.delete(prop);
        this.ownCount--;
      }
      if (props.size === 0) this.own.delete(obj);
    }
  }
}

/**
 * A changeset's base as it travels with a changeset forwarded to the scope's owner in a cluster
 * (docs/cluster.md, "Forwarding"): scope versions are the same on every process, so the owner
 * finds the collections' values at `version` in its own history.
 */
export interface WireListBase {
  /** The scope version the client had seen; -1: unknown (the lists replace). */
  version: number;
  /** The client's own accepted lists it has not had the answer to yet: uuid, property, keys. */
  own: [string, string, ListKey[]][];
}

/** A collection a forwarded changeset set, as the owner answers it (see ListWrite). */
export interface WireListWrite {
  uuid: string;
  prop: string;
  mine: ListKey[];
  merged: unknown[] | null;
}

/** The base of one changeset: the client's view when the server received it. */
class ChangesetBase implements ListBase {
  readonly #scope: Scope;
  readonly #seen: ScopeSeen;
  readonly #ack: number;
  readonly #version: number;

  constructor(scope: Scope, seen: ScopeSeen, ack: number) {
    this.#scope = scope;
    this.#seen = seen;
    this.#ack = ack;
    this.#version = seen.versionAt(ack);
  }

  /**
   * This base for the owner of the scope (a forwarded changeset). Taken when it is sent: own
   * lists of the client's earlier changesets still on their way are not in it, so those
   * collections merge against the version seen, an older base, which never loses an element.
   */
  toWire(): WireListBase {
    const version = this.#seen.generation === this.#scope._generation ? this.#version : -1;
    const own: [string, string, ListKey[]][] = [];
    for (const [obj, props] of this.#seen.own) {
      for (const [prop, o] of props)
        if (o.index > this.#ack) own.push([obj.uuid, prop.name, o.mine as ListKey[]]);
    }
    return { version, own };
  }

  base(obj: ModelObject, prop: Property): readonly ListKey[] | null {
    // Looked up when the changeset is applied: its own earlier changesets are answered by then.
    const own = this.#seen.ownOf(obj, prop);
    if (own !== undefined && own.index > this.#ack) return own.mine;
    const scope = this.#scope;
    if (this.#version < 0 || this.#seen.generation !== scope._generation) return null;
    const items = scope._lists.valueAt(obj, prop, this.#version, scope.version, obj._collection(prop)._items);
    return items === null ? null : listKeys(items);
  }
}

/** One session's record of what its client saw, per scope (by scopeIndex). */
export class SeenCollections {
  readonly #scopes: (ScopeSeen | undefined)[] = [];
  /** The ack of the client's last Ping (not necessarily its highest): -1 before the first. */
  #ack = -1;

  #of(scopeIndex: number, scope: Scope): ScopeSeen {
    let seen = this.#scopes[scopeIndex];
    if (seen === undefined || seen.generation !== scope._generation) {
      // First message of the scope, or the scope was rebuilt: what was recorded is void.
      seen = new ScopeSeen(scope._generation, seen !== undefined);
      this.#scopes[scopeIndex] = seen;
    }
    return seen;
  }

  /** Message `index` (a broadcast of the change at `version`) was queued for the client. */
  delivered(scopeIndex: number, scope: Scope, index: number, version: number): void {
    this.#of(scopeIndex, scope).add(index, version);
  }

  /** A ScopeState showing scope version `version` was queued as message `index`. */
  stateSent(scopeIndex: number, scope: Scope, index: number, version: number): void {
    const seen = this.#of(scopeIndex, scope);
    // Only the first state of a scope is known to have arrived before the client's changesets;
    // after a rebuild, the client may still send changesets made before the new state.
    if (seen.firstState < 0 && !seen.rebuilt) seen.firstState = version;
    seen.add(index, version);
  }

  /** The client's Ping acknowledged message `ack`. */
  acknowledged(ack: number): void {
    this.#ack = ack;
    for (const seen of this.#scopes) seen?.acknowledged(ack);
  }

  /** The base of a changeset to `scope` received now (handed to the changeset engine). */
  baseFor(scopeIndex: number, scope: Scope): ListBase {
    return new ChangesetBase(scope, this.#of(scopeIndex, scope), this.#ack);
  }

  /**
   * The server accepted a changeset of the client that set `lists`: until the client has the
   * answer, those lists are its view. Returns what `answered` needs.
   */
  accepted(scopeIndex: number, scope: Scope, lists: readonly ListWrite[]): Own[] {
    const seen = this.#of(scopeIndex, scope);
    const owns: Own[] = [];
    for (const w of lists) {
      const own: Own = { mine: w.mine, index: Infinity };
      seen.setOwn(w.obj, w.prop, own);
      owns.push(own);
    }
    return owns;
  }

  /**
   * The accepted changeset that made scope version `version` was answered: its reply (and the
   * correction after it, if any) ends at message `index`. `owns` is what `accepted` returned.
   */
  answered(
    scopeIndex: number,
    scope: Scope,
    index: number,
    version: number,
    owns: readonly Own[] | null,
  ): void {
    if (owns !== null) for (const own of owns) own.index = index;
    this.#of(scopeIndex, scope).add(index, version);
  }

  /** The changeset's lists were not stored after all: they are not the client's view. */
  failed(owns: readonly Own[] | null): void {
    // The scope is rebuilt from the store and sent again (a new generation): own lists go with
    // it; until then, no base is better than the lists of a change that never happened.
    if (owns !== null) for (const own of owns) own.index = -1;
  }
}

/**
 * The `change` fragments that bring a changeset's sender to the merged value of each collection
 * the server merged into something else than it sent (docs/protocol.md §7.10); null when none.
 */
export function mergeCorrections(lists: readonly ListWrite[]): AppliedFragment[] | null {
  let out: AppliedFragment[] | null = null;
  let byObject: Map<ModelObject, AppliedFragment> | null = null;
  for (const w of lists) {
    if (w.merged === null) continue;
    out ??= [];
    byObject ??= new Map();
    let f = byObject.get(w.obj);
    if (f === undefined) {
      f = { type: 'change', uuid: w.obj.uuid, clsName: w.obj.typeName, properties: {} };
      byObject.set(w.obj, f);
      out.push(f);
    }
    f.properties[w.prop.name] = w.merged;
  }
  return out;
}

/** The base of a changeset to forward, for the owner (undefined: none, the lists replace). */
export function listBaseToWire(base: ListBase | null | undefined): WireListBase | undefined {
  return base instanceof ChangesetBase ? base.toWire() : undefined;
}

/** On the owner: the base a forwarded changeset carries (see WireListBase). */
export class ForwardedListBase implements ListBase {
  readonly #scope: Scope;
  readonly #version: number;
  readonly #own = new Map<string, readonly ListKey[]>();

  constructor(scope: Scope, wire: WireListBase) {
    this.#scope = scope;
    this.#version = wire.version;
    for (const [uuid, prop, keys] of wire.own) this.#own.set(`${uuid}\u0000${prop}`, keys);
  }

  base(obj: ModelObject, prop: Property): readonly ListKey[] | null {
    const own = this.#own.get(`${obj.uuid}\u0000${prop.name}`);
    if (own !== undefined) return own;
    const scope = this.#scope;
    if (this.#version < 0) return null;
    const items = scope._lists.valueAt(obj, prop, this.#version, scope.version, obj._collection(prop)._items);
    return items === null ? null : listKeys(items);
  }
}

/** The owner's answer's lists, for the wire. */
export function listWritesToWire(lists: readonly ListWrite[] | undefined): WireListWrite[] | undefined {
  if (lists === undefined || lists.length === 0) return undefined;
  return lists.map((w) => ({
    uuid: w.obj.uuid,
    prop: w.prop.name,
    mine: w.mine as ListKey[],
    merged: w.merged as unknown[] | null,
  }));
}

/** The owner's answer's lists on the forwarding process (objects no longer in its replica left out). */
export function listWritesFromWire(scope: Scope, wire: readonly WireListWrite[]): ListWrite[] {
  const out: ListWrite[] = [];
  for (const w of wire) {
    const obj = scope.get(w.uuid);
    if (obj === null) continue;
    const prop = (obj.constructor as ModelClass).$propMap[w.prop];
    if (prop === undefined) continue;
    out.push({ obj, prop, mine: w.mine, merged: w.merged });
  }
  return out;
}
