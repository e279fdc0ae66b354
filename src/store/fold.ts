// The snapshot of a scope computed from stored data alone: a base snapshot plus the change records
// after it, folded at the level of JSON fragments into exactly the fragments `scope.getState()`
// gives at the last record's version (docs/architecture.md, "Durability"). The stores run it away
// from the server's event loop (Store.compact), where no model class is loaded: what it needs of
// the models is the plain FoldSchema (src/store/types.ts).
//
// It reproduces what the engine did when it applied those records (src/scope/changeset.ts,
// src/scope/scope.ts):
// - within one record, every `add` first, then every `change`, each in record order (commit()
//   creates the adds before it applies the changes, whatever their positions);
// - an `add` creates a new object: its class's defaults overlaid by the fragment's properties. It
//   replaces whatever the uuid named before (the engine accepts an add only for a uuid that is
//   not in the scope, so a removed object re-added starts fresh);
// - a `change` overlays its properties on the object;
// - after the last record, the scope is what the root reaches through reference properties (the
//   engine sweeps every object that no longer reaches the root, cycles included);
// - the output is the root as `change`, then every reachable object as `add`, in walkTree's
//   order (pre-order depth-first, each object once, children in `_forEachChild`'s order: the
//   reference properties in declaration order, a collection's elements in order), with every
//   property in declaration order and a null single reference left out (encodeProperties).
// Uuids and references are compared lowercased (docs/protocol.md §6); the engine and the models
// store them lowercased already, and so does the fold for anything stored otherwise. Dates are
// stored as seconds, as the wire carries them, so they need no conversion.
//
// Stored data is never lost by a snapshot: an object of a class the schema does not know is kept,
// as it was stored, when something reaches it (as a leaf: its references are not known), and so
// is a property a class no longer declares. Loading such a snapshot drops them with a warning,
// as it does for the change log (src/persistence/restore.ts).
import type { FoldClass, FoldSchema, StoredFragment } from './types.js';

interface ClassInfo {
  name: string;
  properties: [string, unknown][];
  references: [string, boolean][];
  /** Reference properties by name: true for a collection. */
  refs: Map<string, boolean>;
  declared: Set<string>;
}

interface FoldedObject {
  uuid: string;
  /** The last state() that listed it. */
  mark: number;
  /** null: a class the schema does not know. */
  cls: ClassInfo | null;
  clsName: string;
  /** The stored values set by fragments (defaults are filled in when the state is encoded). */
  props: Record<string, unknown>;
  /** `props` is the fold's own object (else a caller's, copied before the first write). */
  owned: boolean;
  /**
   * `props` holds exactly the properties the state lists, in its order (declared ones in
   * declaration order, a null single reference left out), so it is the encoding as it is: what
   * a snapshot written by getState() holds for every object until a change adds a key.
   */
  canonical: boolean;
}

/** A scope's state as a snapshot stores it. */
export interface FoldedState {
  rootUUID: string;
  fragments: StoredFragment[];
}

/**
 * Folds change records into a base snapshot, one record at a time (so a store can parse each
 * stored record only when it applies it), then gives the resulting state.
 */
export class Folder {
  readonly #classes = new Map<string, ClassInfo>();
  readonly #root: ClassInfo | null;
  readonly #rootUUID: string;
  readonly #objects = new Map<string, FoldedObject>();
  /** The fragments handed in are the fold's to modify (foldStored parsed them). */
  readonly #owned: boolean;
  #epoch = 0;

  /**
   * `owned`: the fragments of `base` and of every record applied are the fold's own (parsed for
   * it): their property objects are used, and changed, in place. Otherwise they are copied on
   * the first change and the caller's objects are left as they are.
   */
  constructor(schema: FoldSchema, base: FoldedState, owned = false) {
    this.#owned = owned;
    for (const c of schema.classes) {
      // The first class keeps a name two classes share, as reachableClasses() does.
      if (!this.#classes.has(c.name)) this.#classes.set(c.name, classInfo(c));
    }
    this.#root = this.#classes.get(schema.root) ?? null;
    this.#rootUUID = lower(base.rootUUID);
    for (const f of base.fragments) {
      const uuid = lower(f.uuid);
      // The root is an instance of the application's root class (restoreScope creates it so).
      const cls = uuid === this.#rootUUID && this.#root ? this.#root : (this.#classes.get(f.clsName) ?? null);
      this.#objects.set(uuid, this.#create(uuid, cls, f));
    }
    if (!this.#objects.has(this.#rootUUID)) {
      this.#objects.set(this.#rootUUID, {
        uuid: this.#rootUUID,
        mark: 0,
        cls: this.#root,
        clsName: schema.root,
        props: {},
        owned: true,
        canonical: false,
      });
    }
  }

  /** Applies one change record's fragments, as the engine applied them. */
  apply(fragments: readonly StoredFragment[]): void {
    for (const f of fragments) {
      if (f.type !== 'add') continue;
      const uuid = lower(f.uuid);
      if (uuid === this.#rootUUID) continue; // never accepted by the engine: the root exists
      this.#objects.set(uuid, this.#create(uuid, this.#classes.get(f.clsName) ?? null, f));
    }
    for (const f of fragments) {
      if (f.type !== 'change') continue;
      const o = this.#objects.get(lower(f.uuid));
      if (o) this.#overlay(o, f.properties);
    }
  }

  /** The state: the root as `change`, then every object it reaches as `add` (walkTree's order). */
  state(): FoldedState {
    const fragments: StoredFragment[] = [];
    const objects = this.#objects;
    // A mark on each object, not a set of uuids: one lookup per reference instead of three.
    const epoch = ++this.#epoch;
    const stack: FoldedObject[] = [objects.get(this.#rootUUID)!];
    const children: FoldedObject[] = [];
    while (stack.length) {
      const o = stack.pop()!;
      if (o.mark === epoch) continue;
      o.mark = epoch;
      fragments.push({
        type: fragments.length === 0 ? 'change' : 'add',
        uuid: o.uuid,
        clsName: o.clsName,
        properties: encode(o),
      });
      const cls = o.cls;
      if (cls === null) continue;
      children.length = 0;
      for (const [name, many] of cls.references) {
        if (!Object.hasOwn(o.props, name)) continue; // a reference's default is null or []
        const v = o.props[name];
        if (many) {
          if (Array.isArray(v)) for (const u of v) visit(objects, u, epoch, children);
        } else visit(objects, v, epoch, children);
      }
      for (let i = children.length - 1; i >= 0; i--) stack.push(children[i]!);
    }
    return { rootUUID: this.#rootUUID, fragments };
  }

  #create(uuid: string, cls: ClassInfo | null, f: StoredFragment): FoldedObject {
    const props = f.properties ?? {};
    const o: FoldedObject = {
      uuid,
      mark: 0,
      cls,
      clsName: cls ? cls.name : f.clsName,
      props,
      owned: this.#owned && f.properties != null,
      canonical: false,
    };
    if (cls !== null) {
      // References are compared lowercased; written back only when something changes.
      for (const [name, many] of cls.references) {
        if (!Object.hasOwn(props, name)) continue;
        const v = props[name];
        const l = many ? lowerAll(v) : lower(v);
        if (l !== v) writable(o)[name] = l;
      }
      o.canonical = isCanonical(cls, o.props);
    }
    return o;
  }

  #overlay(o: FoldedObject, properties: Record<string, unknown> | undefined): void {
    if (properties == null) return;
    const cls = o.cls;
    const props = writable(o);
    for (const key of Object.keys(properties)) {
      let v = properties[key];
      if (cls !== null) {
        const many = cls.refs.get(key);
        if (many !== undefined) {
          v = many ? lowerAll(v) : lower(v);
          // A single reference set to null leaves the state's encoding.
          if (v === null && !many) o.canonical = false;
        }
      }
      // A key the object did not have goes last: no longer in declaration order.
      if (!Object.hasOwn(props, key)) o.canonical = false;
      setOwn(props, key, v);
    }
  }
}

/** The snapshot at the last record's version: `base` with every record of `records` applied in order. */
export function fold(
  schema: FoldSchema,
  base: FoldedState,
  records: Iterable<readonly StoredFragment[]>,
): FoldedState {
  const folder = new Folder(schema, base);
  for (const fragments of records) folder.apply(fragments);
  return folder.state();
}

/**
 * The same from stored JSON texts, as the stores keep them: each record is parsed only when it is
 * applied. Returns the root uuid and the JSON text of the snapshot's fragments.
 */
export function foldStored(
  schema: FoldSchema,
  base: { rootUUID: string; fragments: string },
  changes: Iterable<string>,
): { rootUUID: string; fragments: string } {
  const folder = new Folder(schema, { rootUUID: base.rootUUID, fragments: JSON.parse(base.fragments) }, true);
  for (const text of changes) folder.apply(JSON.parse(text));
  const state = folder.state();
  return { rootUUID: state.rootUUID, fragments: JSON.stringify(state.fragments) };
}

function classInfo(c: FoldClass): ClassInfo {
  return {
    name: c.name,
    properties: c.properties,
    references: c.references,
    refs: new Map(c.references),
    declared: new Set(c.properties.map((p) => p[0])),
  };
}

/**
 * Adds the object `uuid` names to `children` unless this walk has listed it. A reference to
 * nothing stored cannot come from the engine; it is skipped, not invented.
 */
function visit(
  objects: Map<string, FoldedObject>,
  uuid: unknown,
  epoch: number,
  children: FoldedObject[],
): void {
  if (typeof uuid !== 'string' || uuid === '') return;
  const child = objects.get(uuid);
  if (child !== undefined && child.mark !== epoch) children.push(child);
}

/** The wire properties of an object: declared ones in order, defaults filled in, then the rest. */
function encode(o: FoldedObject): Record<string, unknown> {
  const cls = o.cls;
  const props = o.props;
  if (cls === null || o.canonical) return props;
  const out: Record<string, unknown> = {};
  let undeclared = false;
  for (const key in props) {
    if (!cls.declared.has(key)) {
      undeclared = true;
      break;
    }
  }
  for (const [name, defaultValue] of cls.properties) {
    const own = Object.hasOwn(props, name);
    const v = own ? props[name] : defaultValue;
    // A state leaves a null single reference out (encodeProperties).
    if ((v === null || v === undefined) && cls.refs.get(name) === false) continue;
    out[name] = !own && Array.isArray(v) ? v.slice() : v;
  }
  if (undeclared) {
    for (const key of Object.keys(props)) if (!cls.declared.has(key)) setOwn(out, key, props[key]);
  }
  return out;
}

/**
 * True when `props` holds the declared properties in declaration order, every one of them but
 * single references (which a state leaves out when null, and which may then be absent), and
 * nothing else: then it is its own encoding.
 */
function isCanonical(cls: ClassInfo, props: Record<string, unknown>): boolean {
  const list = cls.properties;
  let i = 0;
  for (const key in props) {
    if (!Object.hasOwn(props, key)) return false;
    for (; i < list.length && list[i]![0] !== key; i++) {
      if (cls.refs.get(list[i]![0]) !== false) return false; // a property left out
    }
    if (i === list.length) return false; // not declared, or out of order
    if (props[key] === null && cls.refs.get(key) === false) return false;
    i++;
  }
  for (; i < list.length; i++) if (cls.refs.get(list[i]![0]) !== false) return false;
  return true;
}

/** The object's properties, copied first when they are still the caller's. */
function writable(o: FoldedObject): Record<string, unknown> {
  if (!o.owned) {
    const copy: Record<string, unknown> = {};
    for (const key of Object.keys(o.props)) setOwn(copy, key, o.props[key]);
    o.props = copy;
    o.owned = true;
  }
  return o.props;
}

/** `obj[key] = value` as an own property, even for `__proto__` (stored data may hold any key). */
function setOwn(obj: Record<string, unknown>, key: string, value: unknown): void {
  if (key === '__proto__') {
    Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
  } else obj[key] = value;
}

function lower<T>(s: T): T {
  return (typeof s === 'string' ? s.toLowerCase() : s) as T;
}

/** A collection of uuids, lowercased (a copy only when something changes). */
function lowerAll(v: unknown): unknown {
  if (!Array.isArray(v)) return v;
  let out = v;
  for (let i = 0; i < v.length; i++) {
    const u = v[i];
    if (typeof u !== 'string') continue;
    const l = u.toLowerCase();
    if (l !== u) {
      if (out === v) out = v.slice();
      out[i] = l;
    }
  }
  return out;
}
