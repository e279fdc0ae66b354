// The changeset engine (docs/protocol.md §7 steps 3–6). It runs in two phases:
//
//   plan   — pure: resolves every fragment against the scope and the other fragments of the
//            batch, validates and decodes every property, and decides which fragments are
//            accepted. Nothing is mutated, so an atomic changeset that fails leaves no trace
//            (it is never "undone after the fact").
//   commit — creates the added objects, sets properties in the protocol's order (adds, then
//            changes in input order), and lets the scope sweep orphans.
//
// Rules a reader should know:
// - An add whose uuid exists (in the scope or earlier in the batch) is rejected.
// - A reference may point at an object in the scope or at any accepted add of the batch, of a
//   compatible class. An add that fails makes every fragment that references it fail too.
// - A change may target an object added by the same changeset.
// - An add must end up with a parent: it is accepted only when the batch's final reference
//   values connect it to an object already in the scope (directly or through other adds).
// - With the sender's base (a ListBase), a collection change of an existing object is merged with
//   the collection's current value instead of replacing it (docs/protocol.md §7.10): the merged
//   list is what is validated, applied and forwarded.
import { ErrorType, type WireError } from '../errors.js';
import { isClassNamed, reachableClasses } from '../model/classes.js';
import type { ModelClass, ModelObject } from '../model/model-object.js';
import { INVALID, Kind, type Property } from '../model/property.js';
import { isUUID } from '../model/uuid.js';
import { encodeItems, encodeValue } from '../model/wire.js';
import { type ListKey, listKeys, mergeLists } from './list-merge.js';
import type { AppliedFragment, Fragment, ListBase, ListWrite } from './types.js';

// Where persistence/ imports it from; it lives with the other class-graph questions in model/.

/** What the engine needs from a scope. */
export interface EngineScope {
  readonly root: ModelObject | null;
  readonly _index: Map<string, ModelObject>;
}

interface Decoded {
  prop: Property;
  /** Scalar: the decoded value. Reference: uuid or null. Collection: array of either. */
  value: unknown;
  /**
   * A collection of an existing object, with a ListBase: the sender's list as keys, and the wire
   * value of the merged list when the merge changed it (then `value` is the merged list).
   */
  list?: { mine: readonly ListKey[]; wire: readonly unknown[] | null };
}

interface Entry {
  frag: Fragment;
  /** `frag.uuid` lowercased (uuids compare lowercased, docs/protocol.md §6). */
  uuid: string;
  /** True when the forwarded fragment must be rebuilt (a uuid or reference was lowercased). */
  rewrite: boolean;
  /** add: the class to instantiate; change: the target's class. */
  cls: ModelClass | null;
  /** change: the existing target, when it is not an add of this batch. */
  target: ModelObject | null;
  decoded: Decoded[];
  /** uuids of staged adds this fragment references (for failure propagation). */
  refsToAdds: string[] | null;
  error: WireError | null;
  /** add only: set at commit. */
  obj: ModelObject | null;
}

export interface Plan {
  entries: Entry[];
  adds: Map<string, Entry>;
  failed: number;
}

const EMPTY: Record<string, unknown> = Object.freeze(Object.create(null));

function err(message: string): WireError {
  return { message, type: ErrorType.invalidFragment };
}

// ---- plan ------------------------------------------------------------------------------------

export function plan(
  scope: EngineScope,
  fragments: readonly Fragment[],
  listBase: ListBase | null = null,
): Plan {
  const root = scope.root!;
  const index = scope._index;
  const classes = reachableClasses(root.constructor as ModelClass);
  const entries: Entry[] = new Array(fragments.length);
  const adds = new Map<string, Entry>();
  let failed = 0;

  // Step 3a: stage the adds.
  for (let i = 0; i < fragments.length; i++) {
    const frag = fragments[i]!;
    // uuids are compared lowercased (§6). The protocol decoder lowercases them already, but
    // server code calls applyChangeset directly, and a mixed-case uuid would otherwise create
    // an object the index cannot find. toLowerCase() returns the same string when there is
    // nothing to lower, so the common case costs a scan, not an allocation.
    const raw = frag.uuid;
    const uuid = typeof raw === 'string' ? raw.toLowerCase() : '';
    const e: Entry = {
      frag,
      uuid,
      rewrite: uuid !== raw,
      cls: null,
      target: null,
      decoded: [],
      refsToAdds: null,
      error: null,
      obj: null,
    };
    entries[i] = e;
    // Malformed fragments (possible from server code, which skips the protocol decoder) are
    // rejected here rather than silently "accepted" and forwarded.
    if (frag.type !== 'add' && frag.type !== 'change') {
      e.error = err(`Unknown fragment type '${String(frag.type)}'`);
      failed++;
      continue;
    }
    if (typeof raw !== 'string') {
      e.error = err('Fragment uuid must be a string');
      failed++;
      continue;
    }
    if (frag.type !== 'add') continue;
    if (!isUUID(uuid)) {
      e.error = err(`Invalid uuid '${raw}': an added object needs an RFC 4122 uuid`);
      failed++;
      continue;
    }
    if (index.has(uuid) || adds.has(uuid)) {
      e.error = err(`ModelObject with UUID '${uuid}' already exists`);
      failed++;
      continue;
    }
    const cls = classes.get(frag.clsName);
    if (!cls) {
      e.error = err(`No such class type '${frag.clsName}'`);
      failed++;
      continue;
    }
    e.cls = cls;
    adds.set(uuid, e);
  }

  const lookup = (uuid: string): ModelClass | undefined => {
    const obj = index.get(uuid);
    if (obj) return obj.constructor as ModelClass;
    const a = adds.get(uuid);
    return a && a.error === null ? (a.cls as ModelClass) : undefined;
  };

  // Step 3b: decode the adds' properties.
  for (const e of adds.values()) {
    if (!decode(e, e.cls!, lookup, adds)) {
      failed++;
    }
  }
  // An add that references a failed add fails too (to a fixpoint).
  failed += failDependents(adds.values(), adds);

  // Step 3c: resolve and decode the changes.
  for (let i = 0; i < entries.length; i++) {
    const e = entries[i]!;
    const frag = e.frag;
    if (frag.type !== 'change' || e.error !== null) continue;
    let cls: ModelClass;
    const obj = index.get(e.uuid);
    if (obj) {
      e.target = obj;
      cls = obj.constructor as ModelClass;
    } else {
      const a = adds.get(e.uuid);
      if (!a || a.error !== null) {
        e.error = err(`No such ModelObject '${e.uuid}'`);
        failed++;
        continue;
      }
      cls = a.cls!;
    }
    // The class's own name first: the common case, and measurably cheaper than the call.
    if (frag.clsName !== cls.typeName && !isClassNamed(cls, frag.clsName)) {
      e.error = err(`ModelObject '${e.uuid}' is a ${cls.typeName}, not a ${frag.clsName}`);
      failed++;
      continue;
    }
    e.cls = cls;
    if (!decode(e, cls, lookup, adds, listBase)) failed++;
  }

  // Step 4: every add must end up with a parent.
  if (adds.size > 0) failed += checkParents(entries, adds, index);

  return { entries, adds, failed };
}

function decode(
  e: Entry,
  cls: ModelClass,
  lookup: (uuid: string) => ModelClass | undefined,
  adds: Map<string, Entry>,
  listBase: ListBase | null = null,
): boolean {
  const props = e.frag.properties ?? EMPTY;
  const map = cls.$propMap;
  for (const key in props) {
    const prop = map[key];
    if (prop === undefined) {
      e.error = err(`No property at '${key}'`);
      return false;
    }
    const raw = props[key];
    let value: unknown;
    /** The sender's base of this collection, once looked up (docs/protocol.md §7.10). */
    let base: readonly ListKey[] | null | undefined;
    if (prop.isCollection) {
      if (!Array.isArray(raw)) {
        e.error = err(`Collection type without array value at '${key}'`);
        return false;
      }
      if (prop.kind === Kind.Model) {
        const missing: string[] = [];
        let uuids = raw as string[];
        for (let j = 0; j < raw.length; j++) {
          let u = raw[j];
          if (typeof u !== 'string' || u.length === 0) {
            e.error = err(`Not valid type at '${key}', should be array of UUIDs`);
            return false;
          }
          // References compare lowercased too (§6); the forwarded fragment is rebuilt.
          const lower = u.toLowerCase();
          if (lower !== u) {
            if (uuids === raw) uuids = raw.slice();
            uuids[j] = u = lower;
            e.rewrite = true;
          }
          const target = lookup(u);
          if (!target) missing.push(u);
          else if (!target.isSubclassOf(prop.type)) {
            e.error = err(`ModelObject '${u}' at '${key}' is a ${target.typeName}, should be ${prop.label}`);
            return false;
          } else if (adds.has(u)) (e.refsToAdds ??= []).push(u);
        }
        if (missing.length) {
          // Objects removed from the scope since the sender's view are no error when the list is
          // merged: the merge drops them (docs/protocol.md §7.10).
          base = listBase !== null && e.target !== null ? listBase.base(e.target, prop) : null;
          if (base === null || !allIn(missing, base)) {
            e.error = err(`No such ModelObjects '${JSON.stringify(missing)}' at '${key}'`);
            return false;
          }
        }
        value = uuids;
      } else {
        const out = new Array(raw.length);
        for (let j = 0; j < raw.length; j++) {
          const v = raw[j] === null ? INVALID : prop.decodeScalar(raw[j]);
          if (v === INVALID) {
            e.error = err(`Not valid type at '${key}', should be array of ${prop.label}`);
            return false;
          }
          out[j] = v;
        }
        value = out;
      }
      if (listBase !== null && e.target !== null) {
        const d = mergeWithBase(e, e.target, prop, value as unknown[], base ?? listBase.base(e.target, prop));
        e.decoded.push(d);
        continue;
      }
    } else if (raw === null) {
      value = null;
    } else if (prop.kind === Kind.Model) {
      if (typeof raw !== 'string') {
        e.error = err(`Cannot set property at '${key}' as non-UUID`);
        return false;
      }
      const ref = raw.toLowerCase();
      if (ref !== raw) e.rewrite = true;
      const target = lookup(ref);
      if (!target) {
        e.error = err(`No such ModelObject '${ref}' at '${key}'`);
        return false;
      }
      if (!target.isSubclassOf(prop.type)) {
        e.error = err(`ModelObject '${ref}' at '${key}' is a ${target.typeName}, should be ${prop.label}`);
        return false;
      }
      if (adds.has(ref)) (e.refsToAdds ??= []).push(ref);
      value = ref;
    } else {
      value = prop.decodeScalar(raw);
      if (value === INVALID) {
        e.error = err(`Not valid type at '${key}', should be ${prop.label}`);
        return false;
      }
    }
    e.decoded.push({ prop, value });
  }
  return true;
}

/** True when every element of `items` is in `list`. */
function allIn(items: readonly string[], list: readonly ListKey[]): boolean {
  if (items.length <= 8) return items.every((u) => list.includes(u));
  const set = new Set(list);
  return items.every((u) => set.has(u));
}

/**
 * A collection change of `target` merged with what its sender last saw (docs/protocol.md §7.10):
 * the list the sender sent (`value`, decoded and validated) against the sender's base and the
 * collection's current items. Without a known base, the sender's list as it is (replace).
 */
function mergeWithBase(
  e: Entry,
  target: ModelObject,
  prop: Property,
  value: unknown[],
  base: readonly ListKey[] | null,
): Decoded {
  const isModel = prop.kind === Kind.Model;
  // References are decoded as lowercased uuids: their own keys.
  const mine: readonly ListKey[] = isModel ? (value as string[]) : listKeys(value);
  if (base === null) return { prop, value, list: { mine, wire: null } };
  const merged = mergeLists(base, mine, listKeys(target._collection(prop)._items));
  if (merged === mine) return { prop, value, list: { mine, wire: null } };
  // The merged list is forwarded instead of the sender's (encodeApplied).
  e.rewrite = true;
  if (isModel) return { prop, value: merged, list: { mine, wire: merged } };
  const decoded = prop.kind === Kind.Date ? merged.map((ms) => new Date(ms as number)) : merged.slice();
  return { prop, value: decoded, list: { mine, wire: encodeItems(prop, decoded) } };
}

/**
 * Rejects adds that the batch's final reference values do not connect to an object already in
 * the scope, then fragments that reference rejected adds, until nothing changes.
 */
/**
 * Rounds of checkParents before a changeset is refused instead. Each round fails the adds left
 * without a parent and what depends on them, which can change the final reference values and
 * unground more adds: a crafted changeset can make that take one round per few fragments (a
 * quadratic cost, seconds of a blocked event loop for one 1 MiB frame). Real changesets settle
 * in one or two rounds.
 */
const MAX_PARENT_ROUNDS = 64;

function checkParents(entries: Entry[], adds: Map<string, Entry>, index: Map<string, ModelObject>): number {
  let failed = 0;
  for (let round = 0; ; round++) {
    if (round === MAX_PARENT_ROUNDS) return failed + failUnsettled(entries);
    // The final value of each reference property touched by the batch: last writer wins.
    // Adds are applied before changes whatever their position, so they are read first.
    const finalRefs = new Map<string, Map<string, unknown>>();
    for (const pass of ['add', 'change']) {
      for (const e of entries) {
        if (e.error !== null || e.frag.type !== pass) continue;
        for (const d of e.decoded) {
          if (d.prop.kind !== Kind.Model) continue;
          let m = finalRefs.get(e.uuid);
          if (!m) finalRefs.set(e.uuid, (m = new Map()));
          m.set(d.prop.name, d.value);
        }
      }
    }
    const grounded = new Set<string>();
    const queue: string[] = [];
    const visit = (owner: string) => {
      const m = finalRefs.get(owner);
      if (!m) return;
      for (const v of m.values()) {
        if (v === null) continue;
        for (const u of Array.isArray(v) ? (v as string[]) : [v as string]) {
          const a = adds.get(u);
          if (a && a.error === null && !grounded.has(u)) {
            grounded.add(u);
            queue.push(u);
          }
        }
      }
    };
    for (const owner of finalRefs.keys()) if (index.has(owner)) visit(owner);
    while (queue.length) visit(queue.pop()!);

    let changed = false;
    for (const [u, a] of adds) {
      if (a.error === null && !grounded.has(u)) {
        a.error = err(`No parents: ModelObject '${u}' is not referenced by any object in the scope`);
        failed++;
        changed = true;
      }
    }
    if (!changed) return failed;
    failed += failDependents(entries, adds);
  }
}

/** Fails every fragment still live: the changeset's references did not settle (see MAX_PARENT_ROUNDS). */
function failUnsettled(entries: Entry[]): number {
  let failed = 0;
  for (const e of entries) {
    if (e.error !== null) continue;
    e.error = err(
      `The changeset's references did not settle in ${MAX_PARENT_ROUNDS} rounds: send it as smaller changesets`,
    );
    failed++;
  }
  return failed;
}

/**
 * Fails every live change that targets a rejected add and every live fragment that references
 * one, transitively: an add that fails because it references a rejected add makes the changes
 * that target it and the fragments that reference it fail in turn (a change left live on an add
 * that is never created would have no object to apply to).
 *
 * A worklist from the failed adds, over an index of who targets and references each add, so
 * the cost is linear in the fragments and their references: one changeset of 10,000 fragments
 * is a chain of adds as long as a client likes, and a pass-until-nothing-changes loop over it is
 * quadratic (seconds of a blocked event loop).
 */
function failDependents(entries: Iterable<Entry>, adds: Map<string, Entry>): number {
  const waiting = new Map<string, Entry[]>();
  const wait = (u: string, e: Entry) => {
    const list = waiting.get(u);
    if (list) list.push(e);
    else waiting.set(u, [e]);
  };
  for (const e of entries) {
    if (e.error !== null) continue;
    if (e.frag.type === 'change' && adds.has(e.uuid)) wait(e.uuid, e);
    if (e.refsToAdds !== null) for (const u of e.refsToAdds) wait(u, e);
  }
  const queue: string[] = [];
  for (const [u, a] of adds) if (a.error !== null && waiting.has(u)) queue.push(u);
  let failed = 0;
  while (queue.length > 0) {
    for (const e of waiting.get(queue.pop()!)!) {
      if (e.error !== null) continue;
      e.error = dependentError(e, adds);
      failed++;
      if (e.frag.type === 'add' && adds.get(e.uuid) === e && waiting.has(e.uuid)) queue.push(e.uuid);
    }
  }
  return failed;
}

/** Why `e` fails with a rejected add: the add it targets, else the first one it references. */
function dependentError(e: Entry, adds: Map<string, Entry>): WireError {
  if (e.frag.type === 'change' && adds.get(e.uuid)?.error) {
    return err(`No such ModelObject '${e.uuid}': its add fragment failed`);
  }
  const u = e.refsToAdds!.find((ref) => adds.get(ref)!.error !== null)!;
  return err(`No such ModelObject '${u}': its add fragment failed`);
}

// ---- commit ----------------------------------------------------------------------------------

/** What a commit reports about collections, when asked (see commit). */
export interface CommitLog {
  /** Each collection of an existing object that changed, with its items before and after. */
  collections: { obj: ModelObject; prop: Property; before: readonly unknown[]; after: readonly unknown[] }[];
  /** Planned with a ListBase: each collection of an existing object an accepted fragment set. */
  lists: ListWrite[];
}

/**
 * Applies the accepted entries of a plan. The caller has switched the scope's change capture
 * off and sweeps orphans afterwards. Returns the accepted fragments, wire-encoded, in order;
 * with a `log`, also reports there the collections of existing objects it set.
 */
export function commit(scope: EngineScope, p: Plan, log: CommitLog | null = null): AppliedFragment[] {
  const index = scope._index;
  const resolve = (uuid: string): ModelObject => (index.get(uuid) ?? p.adds.get(uuid)!.obj)!;

  for (const e of p.adds.values()) {
    if (e.error === null) e.obj = new e.cls!({ uuid: e.uuid });
  }
  for (const e of p.adds.values()) {
    if (e.error === null) setDecoded(e.obj!, e.decoded, resolve);
  }
  const applied: AppliedFragment[] = [];
  for (const e of p.entries) {
    if (e.error !== null) continue;
    if (e.frag.type === 'change') {
      const target = e.target ?? p.adds.get(e.uuid)!.obj!;
      if (log !== null && e.target !== null) setLogged(target, e.decoded, resolve, log);
      else setDecoded(target, e.decoded, resolve);
    }
    applied.push(encodeApplied(e));
  }
  return applied;
}

function setDecoded(obj: ModelObject, decoded: Decoded[], resolve: (uuid: string) => ModelObject): void {
  for (let i = 0; i < decoded.length; i++) {
    const { prop, value } = decoded[i]!;
    if (prop.isCollection) {
      const items = prop.kind === Kind.Model ? (value as string[]).map(resolve) : (value as unknown[]);
      obj._setItems(prop, items);
    } else if (prop.kind === Kind.Model) {
      obj._setValue(prop, value === null ? null : resolve(value as string));
    } else {
      obj._setValue(prop, value);
    }
  }
}

/** setDecoded on an existing object, reporting its collections in `log`. */
function setLogged(
  obj: ModelObject,
  decoded: Decoded[],
  resolve: (uuid: string) => ModelObject,
  log: CommitLog,
): void {
  let before: (readonly unknown[] | null)[] | null = null;
  for (let i = 0; i < decoded.length; i++) {
    const prop = decoded[i]!.prop;
    if (!prop.isCollection) continue;
    before ??= new Array(decoded.length).fill(null);
    before[i] = obj._collection(prop)._items;
  }
  setDecoded(obj, decoded, resolve);
  if (before === null) return;
  for (let i = 0; i < decoded.length; i++) {
    const d = decoded[i]!;
    const was = before[i];
    if (was === null || was === undefined) continue;
    const now = obj._collection(d.prop)._items;
    if (now !== was) log.collections.push({ obj, prop: d.prop, before: was, after: now });
    if (d.list !== undefined) log.lists.push({ obj, prop: d.prop, mine: d.list.mine, merged: d.list.wire });
  }
}

/** The fragment as forwarded: Dates re-encoded as seconds (clients may send ISO strings). */
function encodeApplied(e: Entry): AppliedFragment {
  const f = e.frag;
  let props = f.properties;
  let needsCopy = props === undefined || e.rewrite;
  if (!needsCopy) {
    for (const d of e.decoded) {
      if (d.prop.kind === Kind.Date) {
        needsCopy = true;
        break;
      }
    }
  }
  if (!needsCopy) return f as AppliedFragment;
  const out: Record<string, unknown> = {};
  for (const d of e.decoded) {
    const v = d.value;
    if (d.list !== undefined && d.list.wire !== null) {
      out[d.prop.name] = d.list.wire; // merged (docs/protocol.md §7.10)
    } else if (d.prop.kind === Kind.Date) {
      out[d.prop.name] = encodeValue(d.prop, v);
    } else if (d.prop.kind === Kind.Model) {
      out[d.prop.name] = v; // the lowercased uuid(s), or null
    } else {
      out[d.prop.name] = props![d.prop.name];
    }
  }
  props = out;
  return { type: f.type, uuid: e.uuid, clsName: f.clsName, properties: props };
}
