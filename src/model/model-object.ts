// ModelObject, the base class of every model, and model(), the schema DSL of the original
// Jetstream: `model('Shape', function () { this.has('x', Number) })`.
//
// Layout, chosen for memory (docs/architecture.md: memory per object matters at 100,000 objects): each
// property's value lives in its own instance field (`$x`), initialised in declaration order so
// that every instance of a class shares one hidden class; accessors on the prototype validate
// assignments. The first parent link takes two fields; further links go to an array that most
// objects never allocate.
import { DefinitionError, ScopeError, ValidationError } from '../errors.js';
import { forgetReachable } from './classes.js';
import { Collection, sameValue } from './collection.js';
import { isEnumeration } from './enumeration.js';
import {
  checkDefinitionName,
  createProperty,
  elementOf,
  Kind,
  type ModelProperty,
  type Property,
} from './property.js';
import { uuidv4 } from './uuid.js';
import { encodeProperties, encodeValue } from './wire.js';

/**
 * What an object in a scope reports to its scope. Implemented by the server's Scope and by the
 * client SDK's scope; the model layer knows nothing else about scopes.
 */
export interface ScopeLink {
  readonly name: string;
  /** The scope's root object, which is never removed as an orphan. */
  readonly root: ModelObject | null;
  /** The object of the scope with this uuid, or null. */
  get(uuid: string): ModelObject | null;
  /** `child` became reachable from an object of this scope: index it (and its subtree; see joinTree). */
  _join(child: ModelObject): void;
  /**
   * A property of an object in the scope was assigned by code (not by a fragment). For a
   * collection, `previous` is its items array before the change.
   */
  _propertyChanged(obj: ModelObject, prop: Property, previous?: readonly unknown[]): void;
  /** An object of the scope lost a parent link; it may now be an orphan. */
  _lostParent(obj: ModelObject): void;
}

/** A (parent, key) relationship: `parent[key]` holds the child, or contains it. */
export interface ParentRelationship {
  parent: ModelObject;
  key: string;
}

type Callback<T> = (err: Error | null, result?: T) => void;

const RESERVED_NAMES = new Set<string>();

export class ModelObject {
  // ---- class-side state (set by model() and has()) -------------------------------------------
  static typeName = 'ModelObject';
  /** @internal Own and inherited properties, inherited first, in declaration order. */
  static $props: Property[] = [];
  /** @internal Property lookup by name (null prototype). */
  static $propMap: Record<string, Property> = Object.create(null);
  /** @internal Properties this class declared itself. */
  static $own: Property[] = [];
  /** @internal The model this one inherits from, if any. */
  static $super: ModelClass | null = null;
  /** @internal Direct submodels. */
  static $subclasses: ModelClass[] = [];
  /** @internal Procedures by name (see procedures/). */
  static $procedures: Map<string, unknown> = new Map();
  /** @internal This class's reachableClasses() as a root, until a definition changes them. */
  static $reachable: Map<string, ModelClass> | null = null;
  /** @internal The roots whose cached reachableClasses() include this class. */
  static $reachedFrom: Set<ModelClass> = new Set();

  declare readonly typeName: string;

  /** @internal Each property's value lives in its own field, named by `Property.slot` (`$x`). */
  [slot: `$${string}`]: unknown;

  /** Lowercase RFC 4122 uuid; the object's identity on the wire. */
  readonly uuid: string;
  /** @internal */ _scope: ScopeLink | null = null;
  /** @internal First parent link. */ _p0: ModelObject | null = null;
  /** @internal */ _k0: string | null = null;
  /** @internal Further links as a flat [parent, key, parent, key, …] list, or null. */
  _px: (ModelObject | string)[] | null = null;

  constructor(init?: { uuid?: string } & Record<string, unknown>) {
    if (new.target === ModelObject) throw new DefinitionError('ModelObject is abstract: define a model');
    const cls: ModelClass = new.target;
    const uuid = init?.uuid;
    if (uuid !== undefined && typeof uuid !== 'string') throw new ValidationError('uuid must be a string');
    this.uuid = uuid === undefined ? uuidv4() : uuid.toLowerCase();
    const props = cls.$props;
    for (let i = 0; i < props.length; i++) {
      const p = props[i]!;
      this[p.slot] = p.isCollection
        ? new Collection(this, p, p.initialValue() as unknown[])
        : p.kind === Kind.Date && p.defaultValue
          ? new Date((p.defaultValue as Date).getTime()) // a Date is mutable: one per instance
          : p.defaultValue;
    }
    if (init) {
      for (const key of Object.keys(init)) {
        if (key === 'uuid') continue;
        const p = cls.$propMap[key];
        if (!p) throw new ValidationError(`Model '${cls.typeName}' has no property '${key}'`);
        this._set(p, init[key]);
      }
    }
  }

  // ---- class-side DSL --------------------------------------------------------------------------

  /** Declares a property: `this.has('x', Number, {defaultValue: 0})`, `this.has('tags', [String])`. */
  static has(this: ModelClass, name: string, type: unknown, options?: { defaultValue?: unknown }): Property {
    checkDefinitionName(this.typeName, name, (n) => RESERVED_NAMES.has(n));
    if (this.$propMap[name]) {
      throw new DefinitionError(`Model '${this.typeName}': property '${name}' already exists`);
    }
    let isCollection = false;
    let elementType: unknown = type;
    if (Array.isArray(type)) {
      if (type.length !== 1) {
        throw new DefinitionError(
          `Model '${this.typeName}': collection property '${name}' must be declared as [Type]`,
        );
      }
      isCollection = true;
      elementType = type[0];
    }
    const element = elementOf(elementType, isModelClass);
    if (element === undefined) {
      throw new DefinitionError(
        `Model '${this.typeName}': property '${name}' has an unknown type (${describeType(elementType)}); ` +
          'use String, Number, Boolean, Date, an enumeration, a model, or [one of these]',
      );
    }
    let defaultValue: unknown = isCollection ? [] : null;
    if (options && options.defaultValue !== undefined && options.defaultValue !== null) {
      if (element.kind === Kind.Model) {
        throw new DefinitionError(
          `Model '${this.typeName}': model property '${name}' cannot have a default value`,
        );
      }
      const probe = createProperty(name, element, isCollection, null, this);
      try {
        if (isCollection) {
          if (!Array.isArray(options.defaultValue)) throw new ValidationError('default must be an array');
          defaultValue = options.defaultValue.map((v) => probe.coerceElement(v));
        } else {
          defaultValue = probe.coerceElement(options.defaultValue);
        }
      } catch (err) {
        throw new DefinitionError(
          `Model '${this.typeName}': invalid default value for '${name}': ${(err as Error).message}`,
        );
      }
    }
    const prop = createProperty(name, element, isCollection, defaultValue, this);
    this.$own.push(prop);
    defineAccessor(this, prop);
    refreshProps(this);
    return prop;
  }

  /** Makes this model inherit `Super`'s properties (including ones `Super` declares later). */
  static inherit(this: ModelClass, Super: ModelClass): void {
    if (!isModelClass(Super) || Super === ModelObject) {
      throw new DefinitionError(`Model '${this.typeName}' can only inherit from a model`);
    }
    if (Super === this || Super.isSubclassOf(this)) {
      throw new DefinitionError(`Model '${this.typeName}' cannot inherit from '${Super.typeName}': cycle`);
    }
    if (this.$super) {
      this.$super.$subclasses = this.$super.$subclasses.filter((c) => c !== this);
    }
    for (const p of this.$own) {
      if (Super.$propMap[p.name]) {
        throw new DefinitionError(
          `Model '${this.typeName}': property '${p.name}' already exists in '${Super.typeName}'`,
        );
      }
    }
    this.$super = Super;
    Super.$subclasses.push(this);
    forgetReachable(Super);
    Object.setPrototypeOf(this, Super);
    Object.setPrototypeOf(this.prototype, Super.prototype);
    refreshProps(this);
  }

  /** Defines a submodel: `Shape.model('Circle', function () { this.has('radius', Number) })`. */
  static model<T extends ModelObject>(
    this: ModelClass<T>,
    name: string,
    definition?: (this: ModelClass, cls: ModelClass) => void,
    methods?: Record<string, unknown>,
  ): ModelClass<DynamicModelObject> {
    const Super = this;
    return model(
      name,
      function (this: ModelClass) {
        this.inherit(Super);
        definition?.call(this, this);
      },
      methods,
    );
  }

  /** True when this class is `other` or inherits from it. */
  static isSubclassOf(this: ModelClass, other: unknown): boolean {
    let c: ModelClass | null = this;
    while (c) {
      if (c === other) return true;
      c = c.$super;
    }
    return other === ModelObject;
  }

  static getProperties(this: ModelClass): Property[] {
    return this.$props.slice();
  }

  static getProperty(this: ModelClass, name: string): Property | undefined {
    return this.$propMap[name];
  }

  // ---- instance API ------------------------------------------------------------------------------

  /** The scope this object belongs to, if any. */
  get scope(): ScopeLink | null {
    return this._scope;
  }

  get isScopeRoot(): boolean {
    return this._scope !== null && this._scope.root === this;
  }

  getProperty(name: string): Property | undefined {
    return (this.constructor as ModelClass).$propMap[name];
  }

  getProperties(): Property[] {
    return (this.constructor as ModelClass).$props.slice();
  }

  /** Reads a property by name. */
  get(name: string): unknown {
    return this[this._prop(name).slot];
  }

  /** Assigns several properties at once (each validated; collections take arrays). */
  assign(values: Record<string, unknown>): this {
    for (const key of Object.keys(values)) this._set(this._prop(key), values[key]);
    return this;
  }

  /**
   * The original's value view: scalars as held (Dates as Date), collections as plain arrays,
   * a model reference as its uuid (key omitted when null), model collections as uuid arrays.
   */
  getValues(): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    for (const p of (this.constructor as ModelClass).$props) {
      const v = this[p.slot];
      if (p.kind === Kind.Model) {
        if (p.isCollection || v) out[p.name] = encodeValue(p, v);
      } else {
        out[p.name] = p.isCollection ? this._collection(p).toArray() : v;
      }
    }
    return out;
  }

  /**
   * Every property encoded for the wire (docs/protocol.md §6): unset scalars as null, Dates as
   * seconds, references as uuids; a null single reference is omitted.
   */
  toWireProperties(): Record<string, unknown> {
    return encodeProperties(this);
  }

  /** The `add` fragment that creates this object with all its properties. */
  getAddSyncFragment(): { type: 'add'; uuid: string; clsName: string; properties: Record<string, unknown> } {
    return { type: 'add', uuid: this.uuid, clsName: this.typeName, properties: this.toWireProperties() };
  }

  /** Direct children: single references, then collection elements, in declaration order. */
  getChildModelObjects(): ModelObject[];
  getChildModelObjects(cb: Callback<ModelObject[]>): void;
  getChildModelObjects(cb?: Callback<ModelObject[]>): ModelObject[] | undefined {
    const out: ModelObject[] = [];
    this._forEachChild((child) => {
      out.push(child);
    });
    return answer(out, cb);
  }

  getChildModelObjectUUIDs(): string[] {
    return this.getChildModelObjects().map((c) => c.uuid);
  }

  /** Pre-order depth-first walk from this object; each object once (cycles are fine). */
  getTreeModelObjects(): ModelObject[];
  getTreeModelObjects(cb: Callback<ModelObject[]>): void;
  getTreeModelObjects(cb?: Callback<ModelObject[]>): ModelObject[] | undefined {
    return answer(walkTree(this), cb);
  }

  hasParents(): boolean {
    return this._p0 !== null;
  }

  getParentRelationships(): ParentRelationship[] {
    const out: ParentRelationship[] = [];
    if (this._p0) out.push({ parent: this._p0, key: this._k0! });
    const px = this._px;
    if (px)
      for (let i = 0; i < px.length; i += 2)
        out.push({ parent: px[i] as ModelObject, key: px[i + 1] as string });
    return out;
  }

  toJSON(): Record<string, unknown> {
    return { uuid: this.uuid, clsName: this.typeName, ...this.getValues() };
  }

  // ---- internals shared with scope/ and client/ ------------------------------------------------

  /** @internal The stored value of `prop`: the value (null when unset), or its Collection. */
  _get(prop: Property): unknown {
    return this[prop.slot];
  }

  /** @internal The Collection that holds the elements of the collection property `prop`. */
  _collection(prop: ModelProperty): Collection<ModelObject>;
  _collection(prop: Property): Collection;
  _collection(prop: Property): Collection {
    return this[prop.slot] as Collection;
  }

  /** @internal */
  _prop(name: string): Property {
    const p = (this.constructor as ModelClass).$propMap[name];
    if (!p) throw new ValidationError(`Model '${this.typeName}' has no property '${name}'`);
    return p;
  }

  /** @internal Validated assignment from code; reports the change to the scope. */
  _set(prop: Property, value: unknown): void {
    if (prop.isCollection) {
      if (!Array.isArray(value) && !(value instanceof Collection)) {
        throw new ValidationError(
          `Invalid value for '${this.typeName}.${prop.name}': a collection takes an array, got ${value === null ? 'null' : typeof value}`,
        );
      }
      const items = value instanceof Collection ? value.toArray() : value;
      this._collection(prop).setAsArray(items);
      return;
    }
    const next = prop.coerce(value);
    if (prop.kind === Kind.Model && next !== null) this._checkJoinable(next as ModelObject, prop);
    if (this._setValue(prop, next) && this._scope) this._scope._propertyChanged(this, prop);
  }

  /**
   * @internal Stores an already-validated single value, keeping parent links right.
   * Returns false when the value did not change.
   */
  _setValue(prop: Property, next: unknown): boolean {
    const prev = this[prop.slot];
    if (prev === next || (prop.kind === Kind.Date && sameValue(prev, next))) return false;
    this[prop.slot] = next;
    if (prop.kind === Kind.Model) {
      if (next) (next as ModelObject)._addParent(this, prop.name);
      if (prev) (prev as ModelObject)._removeParent(this, prop.name);
    }
    return true;
  }

  /** @internal Stores an already-validated collection, keeping parent links right. */
  _setItems(prop: Property, next: unknown[]): boolean {
    const col = this._collection(prop);
    const prev = col._items;
    if (prev.length === next.length && prev.every((v, i) => sameValue(v, next[i]))) return false;
    col._items = next;
    if (prop.kind === Kind.Model) this._relinkCollection(prop, prev, next);
    return true;
  }

  /** @internal Called by Collection before a mutation: validates every element. */
  _collectionWillChange(prop: Property, next: unknown[]): unknown[] {
    const out = new Array(next.length);
    for (let i = 0; i < next.length; i++) {
      const v = next[i];
      if (v === null || v === undefined) {
        throw new ValidationError(
          `Invalid value for '${this.typeName}.${prop.name}': collections cannot hold null`,
        );
      }
      out[i] = prop.coerceElement(v);
      if (prop.kind === Kind.Model) this._checkJoinable(out[i] as ModelObject, prop);
    }
    return out;
  }

  /** @internal Called by Collection after a mutation. */
  _collectionDidChange(prop: Property, previous: unknown[], next: unknown[]): void {
    if (prop.kind === Kind.Model) this._relinkCollection(prop, previous, next);
    if (this._scope) this._scope._propertyChanged(this, prop, previous);
  }

  private _relinkCollection(prop: Property, previous: unknown[], next: unknown[]): void {
    const before = new Set(previous as ModelObject[]);
    const after = new Set(next as ModelObject[]);
    for (const child of after) if (!before.has(child)) child._addParent(this, prop.name);
    for (const child of before) if (!after.has(child)) child._removeParent(this, prop.name);
  }

  /**
   * Throws, before anything changes, when `child` (with the part of its subtree that is not in
   * this object's scope yet) cannot join that scope: an object of another scope, or a uuid the
   * scope already holds for another object. Checking first keeps a failed assignment from
   * leaving the value stored but half-joined.
   */
  private _checkJoinable(child: ModelObject, prop: Property): void {
    const scope = this._scope;
    if (!scope || child._scope === scope) return;
    const seen = new Set<ModelObject>();
    const stack = [child];
    while (stack.length) {
      const o = stack.pop()!;
      if (o._scope === scope || seen.has(o)) continue;
      seen.add(o);
      const where = `Cannot set '${this.typeName}.${prop.name}'`;
      if (o._scope) {
        throw new ValidationError(
          `${where}: the ${o.typeName} ${o.uuid} belongs to scope '${o._scope.name}', not '${scope.name}'`,
        );
      }
      const existing = scope.get(o.uuid);
      if (existing && existing !== o) {
        throw new ValidationError(
          `${where}: scope '${scope.name}' already has another object with uuid '${o.uuid}'`,
        );
      }
      o._forEachChild((c) => {
        stack.push(c);
      });
    }
  }

  /** @internal Records a (parent, key) link, once per pair; joins the parent's scope. */
  _addParent(parent: ModelObject, key: string): void {
    this._link(parent, key);
    const scope = parent._scope;
    if (scope && this._scope !== scope) scope._join(this);
  }

  /** @internal Records a (parent, key) link, once per pair, without touching scopes. */
  _link(parent: ModelObject, key: string): void {
    if (!this._hasLink(parent, key)) {
      if (this._p0 === null) {
        this._p0 = parent;
        this._k0 = key;
      } else if (this._px === null) {
        this._px = [parent, key];
      } else {
        this._px.push(parent, key);
      }
    }
  }

  /** @internal Drops a (parent, key) link if present; tells the scope when it was the last. */
  _removeParent(parent: ModelObject, key: string): void {
    if (this._p0 === parent && this._k0 === key) {
      const px = this._px;
      if (px?.length) {
        this._p0 = px[0] as ModelObject;
        this._k0 = px[1] as string;
        px.splice(0, 2);
        if (px.length === 0) this._px = null;
      } else {
        this._p0 = null;
        this._k0 = null;
      }
    } else {
      const px = this._px;
      if (!px) return;
      let i = 0;
      for (; i < px.length; i += 2) if (px[i] === parent && px[i + 1] === key) break;
      if (i >= px.length) return;
      px.splice(i, 2);
      if (px.length === 0) this._px = null;
    }
    const scope = this._scope;
    if (scope && scope.root !== this) scope._lostParent(this);
  }

  private _hasLink(parent: ModelObject, key: string): boolean {
    if (this._p0 === parent && this._k0 === key) return true;
    const px = this._px;
    if (px) for (let i = 0; i < px.length; i += 2) if (px[i] === parent && px[i + 1] === key) return true;
    return false;
  }

  /** @internal True when some parent belongs to the same scope as this object. */
  _hasParentInScope(): boolean {
    const s = this._scope;
    if (this._p0 && this._p0._scope === s) return true;
    const px = this._px;
    if (px) for (let i = 0; i < px.length; i += 2) if ((px[i] as ModelObject)._scope === s) return true;
    return false;
  }

  /** @internal Visits each (child, key) edge in declaration order; duplicates included. */
  _forEachChild(fn: (child: ModelObject, key: string) => void): void {
    const props = (this.constructor as ModelClass).$props;
    for (let i = 0; i < props.length; i++) {
      const p = props[i]!;
      if (p.kind !== Kind.Model) continue;
      if (p.isCollection) {
        const items = this._collection(p)._items;
        for (let j = 0; j < items.length; j++) fn(items[j]!, p.name);
      } else {
        const v = this[p.slot];
        if (v) fn(v as ModelObject, p.name);
      }
    }
  }
}

for (
  let p: object | null = ModelObject.prototype;
  p && p !== Object.prototype;
  p = Object.getPrototypeOf(p)
) {
  for (const n of Object.getOwnPropertyNames(p)) RESERVED_NAMES.add(n);
}
// The instance fields are reserved too: they are own properties of every instance, so a
// property named `_scope` would be shadowed by the field, and assigning it would overwrite the
// object's scope link instead of going through the validating accessor.
for (const n of ['uuid', 'typeName', 'scope', 'isScopeRoot', 'then', '_scope', '_p0', '_k0', '_px']) {
  RESERVED_NAMES.add(n);
}
Object.defineProperty(ModelObject.prototype, 'typeName', {
  get(this: ModelObject) {
    return (this.constructor as ModelClass).typeName;
  },
  configurable: true,
});

/** A model class: the constructor plus the static DSL. */
export type ModelClass<T extends ModelObject = ModelObject> = {
  new (init?: { uuid?: string } & Record<string, unknown>): T;
  readonly prototype: T;
} & Omit<typeof ModelObject, 'prototype'>;

/**
 * An instance of a model defined with the untyped DSL: its properties are only known at run
 * time, so they are typed loosely. Use defineModel() for compiler-checked properties.
 */
// biome-ignore lint/suspicious/noExplicitAny: properties declared at run time by this.has()
export type DynamicModelObject = ModelObject & { [property: string]: any };

export function isModelClass(value: unknown): value is ModelClass {
  return typeof value === 'function' && (value === ModelObject || value.prototype instanceof ModelObject);
}

/**
 * Defines a model, as in the original: `model('Shape', function () { this.has('x', Number) })`.
 * The definition runs once with `this` (and its argument) bound to the new class. The optional
 * `methods` become instance methods; an object as second argument means methods only.
 */
export function model(
  name: string,
  definition?: ((this: ModelClass, cls: ModelClass) => void) | Record<string, unknown>,
  methods?: Record<string, unknown>,
): ModelClass<DynamicModelObject> {
  if (typeof name !== 'string' || name.length === 0) {
    throw new DefinitionError('A model requires a model name');
  }
  if (definition !== undefined && typeof definition !== 'function') {
    // model(name, methods) — or model(name, methods, moreMethods): keep both.
    methods = methods ? { ...definition, ...methods } : definition;
    definition = undefined;
  }
  // A computed key gives the class its name (for stack traces and the debugger).
  const cls: ModelClass = { [name]: class extends ModelObject {} }[name]!;
  cls.typeName = name;
  cls.$own = [];
  cls.$props = [];
  cls.$propMap = Object.create(null);
  cls.$super = null;
  cls.$subclasses = [];
  cls.$procedures = new Map();
  cls.$reachable = null;
  cls.$reachedFrom = new Set();
  if (methods) {
    for (const key of Object.keys(methods)) {
      if (RESERVED_NAMES.has(key))
        throw new DefinitionError(`Model '${name}': method name '${key}' is reserved`);
      Object.defineProperty(cls.prototype, key, { value: methods[key], writable: true, configurable: true });
    }
  }
  if (typeof definition === 'function') definition.call(cls, cls);
  return cls as ModelClass<DynamicModelObject>;
}

function defineAccessor(cls: ModelClass, prop: Property): void {
  const slot = prop.slot;
  Object.defineProperty(cls.prototype, prop.name, {
    get(this: ModelObject) {
      return this[slot];
    },
    set(this: ModelObject, value: unknown) {
      this._set(prop, value);
    },
    enumerable: true,
    configurable: true,
  });
}

/** Recomputes the effective property list of `cls` and of every submodel. */
function refreshProps(cls: ModelClass): void {
  forgetReachable(cls);
  const inherited = cls.$super ? cls.$super.$props : [];
  cls.$props = inherited.concat(cls.$own);
  const map: Record<string, Property> = Object.create(null);
  for (const p of cls.$props) map[p.name] = p;
  cls.$propMap = map;
  for (const sub of cls.$subclasses) {
    for (const p of cls.$props) {
      if (sub.$own.some((o) => o.name === p.name)) {
        throw new DefinitionError(
          `Model '${sub.typeName}': property '${p.name}' already exists in '${cls.typeName}'`,
        );
      }
    }
    refreshProps(sub);
  }
}

/** Pre-order depth-first walk, each object once; children in declaration order. */
export function walkTree(root: ModelObject): ModelObject[] {
  const out: ModelObject[] = [];
  const seen = new Set<ModelObject>();
  const stack: ModelObject[] = [root];
  const children: ModelObject[] = [];
  const collect = (c: ModelObject) => {
    children.push(c);
  };
  while (stack.length) {
    const obj = stack.pop()!;
    if (seen.has(obj)) continue;
    seen.add(obj);
    out.push(obj);
    children.length = 0;
    obj._forEachChild(collect);
    for (let i = children.length - 1; i >= 0; i--) {
      const c = children[i]!;
      if (!seen.has(c)) stack.push(c);
    }
  }
  return out;
}

/**
 * Adds `obj`, and every object reachable from it that is not in `scope` yet, to `scope`: each
 * new member gets its scope link and its entry in `index` (the scope's uuid index), then
 * `joined(member)` runs, then the member's children get their parent links. Throws a
 * ScopeError, before that object changes, for an object of another scope or a uuid `index`
 * holds for another object. Implements `ScopeLink._join` for the server and the client alike.
 */
export function joinTree(
  scope: ScopeLink,
  index: Map<string, ModelObject>,
  obj: ModelObject,
  joined: (member: ModelObject) => void,
): void {
  const stack = [obj];
  while (stack.length) {
    const o = stack.pop()!;
    if (o._scope === scope) continue;
    if (o._scope) throw new ScopeError(`ModelObject '${o.uuid}' belongs to scope '${o._scope.name}'`);
    const existing = index.get(o.uuid);
    if (existing && existing !== o) {
      throw new ScopeError(`Scope '${scope.name}' already has a ModelObject with UUID '${o.uuid}'`);
    }
    o._scope = scope;
    index.set(o.uuid, o);
    joined(o);
    o._forEachChild((child, key) => {
      child._link(o, key);
      if (child._scope !== scope) stack.push(child);
    });
  }
}

function answer<T>(value: T, cb?: Callback<T>): T | undefined {
  if (cb) {
    cb(null, value);
    return undefined;
  }
  return value;
}

function describeType(t: unknown): string {
  if (t === undefined) return 'undefined';
  if (t === null) return 'null';
  if (typeof t === 'function') return t.name || 'anonymous function';
  if (isEnumeration(t)) return t.typeName;
  return typeof t;
}
