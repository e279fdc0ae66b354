// The update operators (docs/protocol.md §10): `scope.update(query, update, options?)`, the
// server-side, MongoDB-flavoured way to change a scope: `$set`, `$push`, `$addToSet`, `$pull`.
//
// An update never touches objects directly. Each operator is turned into wire fragments — one
// `change` per owner object, an `add` per inline object — and applied through
// `scope.applyChangeset(…, {atomic: true})`, so it is validated exactly like a client's changeset
// and leaves through the scope's 'changes' event with no `origin` (every session receives it).
// Fragments the engine rejects are reported in `writeErrors`.
//
// Operators run in the order written, each as its own atomic changeset, and each sees the
// effect of the ones before it. Before anything is applied, every operator is built against the
// current state, so a malformed update (unknown operator, bad key path, bad value shape) throws
// and changes nothing.
import { ErrorType, QueryError, type WireError } from '../errors.js';
import { isClassNamed } from '../model/classes.js';
import { Collection } from '../model/collection.js';
import { type ModelClass, ModelObject } from '../model/model-object.js';
import { INVALID, Kind, type Property, toDate } from '../model/property.js';
import { uuidv4 } from '../model/uuid.js';
import { encodeElement, encodeItems, encodeValue } from '../model/wire.js';
import { derivedClasses, KeyPath, type ResolvedProperty } from './key-path.js';
import type { ApplyOptions, ChangesetResult, Fragment } from './types.js';

/** The operators, by name. */
export const Operator = {
  set: '$set',
  push: '$push',
  addToSet: '$addToSet',
  pull: '$pull',
} as const;
export type OperatorName = (typeof Operator)[keyof typeof Operator];

/** An object the update touched. */
export interface QueryResultEntry {
  uuid: string;
  clsName: string;
}

/** What an update did (the original's QueryResult JSON). */
export interface QueryResult {
  /** The object the query selected (empty when the selector's uuid is unknown). */
  matched: QueryResultEntry[];
  /** Objects added by accepted `add` fragments. */
  created: QueryResultEntry[];
  /** Objects changed by accepted `change` fragments, except those also created. */
  modified: QueryResultEntry[];
  /** Errors of the fragments the changeset engine rejected. */
  writeErrors: WireError[];
}

/** `null` or `{}` selects the root; `{$uuid, $cls}` selects that object. */
export type UpdateQuery = null | { $uuid?: string; $cls?: string };

/** `{$set: {keyPath: value}, $push: {…}, $addToSet: {…}, $pull: {…}}`. */
export type UpdateSpec = Partial<Record<OperatorName, Record<string, unknown>>> & Record<string, unknown>;

export interface UpdateOptions {
  /** Apply each operator all or nothing (default true). */
  atomic?: boolean;
}

/** What update() needs from a scope (Scope implements it). */
export interface UpdatableScope {
  readonly root: ModelObject | null;
  get(uuid: string): ModelObject | null;
  applyChangeset(fragments: readonly Fragment[], options?: ApplyOptions): ChangesetResult;
}

/** A result with nothing in it. */
export function emptyQueryResult(): QueryResult {
  return { matched: [], created: [], modified: [], writeErrors: [] };
}

/**
 * Merges the results of several operators: entries de-duplicated by uuid (first occurrence
 * kept), an object created by one operator is not also listed as modified, errors concatenated.
 */
export function mergeQueryResults(results: readonly QueryResult[]): QueryResult {
  const out = emptyQueryResult();
  const seen = { matched: new Set<string>(), created: new Set<string>(), modified: new Set<string>() };
  for (const r of results) {
    for (const key of ['matched', 'created', 'modified'] as const) {
      for (const e of r[key]) {
        if (seen[key].has(e.uuid)) continue;
        seen[key].add(e.uuid);
        out[key].push(e);
      }
    }
    out.writeErrors.push(...r.writeErrors);
  }
  out.modified = out.modified.filter((e) => !seen.created.has(e.uuid));
  return out;
}

/**
 * Applies `update` to the object `query` selects. Returns what changed; throws a QueryError
 * when the arguments, the selector, an operator, a key path or a value shape are invalid (then
 * nothing is changed). Values the changeset engine rejects are reported in `writeErrors`.
 */
export function update(
  scope: UpdatableScope,
  query: UpdateQuery | Record<string, unknown>,
  spec: UpdateSpec,
  options: UpdateOptions = {},
): QueryResult {
  if (!scope || typeof scope.applyChangeset !== 'function' || typeof scope.get !== 'function') {
    throw new QueryError('Requires scope to be a valid scope');
  }
  if (query !== null && !isPlainObject(query))
    throw new QueryError('Requires query as update object or null');
  if (!isPlainObject(spec)) throw new QueryError('Requires update as update object');
  if (options === null || options === undefined) options = {};
  if (!isPlainObject(options)) throw new QueryError('Requires options as object');

  const target = select(scope, query);
  if (!target) return emptyQueryResult();

  const ops = Object.keys(spec);
  for (const op of ops) {
    if (!isOperator(op)) throw new QueryError(`Unrecognized operator '${op}'`);
    if (!isPlainObject(spec[op])) throw new QueryError(`Illegal ${op} modification, must be object`);
  }
  const matched = { uuid: target.uuid, clsName: target.typeName };
  if (ops.length === 0) return { ...emptyQueryResult(), matched: [matched] };

  // Build every operator against the current state first: any malformed part throws here.
  const built = ops.map((op) =>
    build(scope, target, op as OperatorName, spec[op] as Record<string, unknown>),
  );

  const atomic = options.atomic !== false;
  const results: QueryResult[] = [];
  for (let i = 0; i < ops.length; i++) {
    let fragments: Fragment[];
    if (i === 0) {
      fragments = built[0]!;
    } else {
      // Later operators see what the earlier ones did: rebuild against the new state.
      try {
        fragments = build(scope, target, ops[i] as OperatorName, spec[ops[i]!] as Record<string, unknown>);
      } catch (e) {
        if (!(e instanceof QueryError)) throw e;
        results.push({ ...emptyQueryResult(), matched: [matched], writeErrors: [{ message: e.message }] });
        continue;
      }
    }
    results.push(apply(scope, matched, fragments, atomic));
  }
  return mergeQueryResults(results);
}

// ---- selection -------------------------------------------------------------------------------

function select(scope: UpdatableScope, query: Record<string, unknown> | null): ModelObject | null {
  const keys = query ? Object.keys(query) : [];
  if (keys.length === 0) {
    if (!scope.root) throw new QueryError('No root ModelObject for scope');
    return scope.root;
  }
  const q = query as Record<string, unknown>;
  if (keys.length !== 2 || typeof q.$uuid !== 'string' || typeof q.$cls !== 'string') {
    throw new QueryError('Supports only updating by root or $uuid and $cls');
  }
  const obj = scope.get(q.$uuid.toLowerCase());
  if (!obj) return null;
  if (!isClassNamed(obj.constructor as ModelClass, q.$cls)) {
    throw new QueryError(
      `ModelObject with uuid '${q.$uuid}' has type name '${obj.typeName}' and does not match $cls '${q.$cls}'`,
    );
  }
  return obj;
}

function isOperator(op: string): op is OperatorName {
  return op === Operator.set || op === Operator.push || op === Operator.addToSet || op === Operator.pull;
}

// ---- application -----------------------------------------------------------------------------

function apply(
  scope: UpdatableScope,
  matched: QueryResultEntry,
  fragments: Fragment[],
  atomic: boolean,
): QueryResult {
  const result: QueryResult = { ...emptyQueryResult(), matched: [matched] };
  if (fragments.length === 0) return result;
  const { results } = scope.applyChangeset(fragments, { atomic });
  const created = new Set<string>();
  for (let i = 0; i < fragments.length; i++) {
    const error = results[i];
    const f = fragments[i]!;
    if (error) {
      // The other fragments of a rejected atomic changeset carry a derived error: report causes.
      if (error.type !== ErrorType.atomicRejected) result.writeErrors.push(error);
    } else if (f.type === 'add') {
      if (!created.has(f.uuid)) {
        created.add(f.uuid);
        result.created.push({ uuid: f.uuid, clsName: f.clsName });
      }
    } else if (!created.has(f.uuid) && !result.modified.some((e) => e.uuid === f.uuid)) {
      result.modified.push({ uuid: f.uuid, clsName: f.clsName });
    }
  }
  return result;
}

// ---- building fragments ----------------------------------------------------------------------

/** Fragments being built for one operator. */
class Builder {
  /** `add` fragments of inline objects, outer objects before the ones nested in them. */
  readonly adds: Fragment[] = [];
  /** One `change` per owner object, in the order the key paths first touched it. */
  readonly owners = new Map<ModelObject, Record<string, unknown>>();
  /** `change` fragments of inline objects whose `$uuid` names an existing object. */
  readonly inlineChanges: Fragment[] = [];
  /** Classes of the objects this operator adds, by uuid. */
  readonly created = new Map<string, ModelClass>();

  constructor(
    readonly scope: UpdatableScope,
    readonly op: OperatorName,
  ) {}

  fragments(): Fragment[] {
    const out: Fragment[] = this.adds.slice();
    for (const [owner, properties] of this.owners) {
      if (Object.keys(properties).length)
        out.push({ type: 'change', uuid: owner.uuid, clsName: owner.typeName, properties });
    }
    for (const f of this.inlineChanges) if (Object.keys(f.properties!).length) out.push(f);
    return out;
  }

  propsOf(owner: ModelObject): Record<string, unknown> {
    let p = this.owners.get(owner);
    if (!p) this.owners.set(owner, (p = {}));
    return p;
  }

  /** The collection's wire value: what this operator already set for it, else the current one. */
  currentItems(owner: ModelObject, prop: Property): unknown[] {
    const pending = this.owners.get(owner)?.[prop.name];
    if (Array.isArray(pending)) return pending.slice();
    return encodeItems(prop, owner._collection(prop));
  }

  fail(keyPath: string, detail: string): QueryError {
    return new QueryError(`Illegal ${this.op} modification at keyPath '${keyPath}' ${detail}`);
  }
}

function build(
  scope: UpdatableScope,
  target: ModelObject,
  op: OperatorName,
  modification: Record<string, unknown>,
): Fragment[] {
  const b = new Builder(scope, op);
  if (op === Operator.set && ('$uuid' in modification || '$cls' in modification)) {
    throw new QueryError(
      'Illegal $set modification, $uuid or $cls cannot be set for an existing ModelObject',
    );
  }
  for (const keyPath of Object.keys(modification)) {
    const value = modification[keyPath];
    const r = KeyPath.resolveProperty(target.constructor, keyPath);
    if (!r.ok) throw new QueryError(`Illegal ${op} modification at keyPath '${keyPath}': ${r.error.message}`);
    const resolved = r.value;
    const owner = resolveOwner(b, target, keyPath, resolved);
    if (op === Operator.set) buildSet(b, owner, keyPath, resolved, value);
    else if (op === Operator.pull) buildPull(b, owner, keyPath, resolved, value);
    else buildPush(b, owner, keyPath, resolved, value);
  }
  return b.fragments();
}

function resolveOwner(b: Builder, target: ModelObject, keyPath: string, r: ResolvedProperty): ModelObject {
  const o = KeyPath.resolveModelObject(target, r.ownerKeyPath);
  if (!o.ok) throw b.fail(keyPath, `no such ModelObject exists at keyPath: ${o.error.message}`);
  const owner = o.value;
  if ((owner.constructor as ModelClass).$propMap[r.property.name] !== r.property) {
    throw b.fail(
      keyPath,
      `no such property: the ModelObject at '${r.ownerKeyPath}' is a ${owner.typeName}, which has no property '${r.property.name}'`,
    );
  }
  return owner;
}

function buildSet(
  b: Builder,
  owner: ModelObject,
  keyPath: string,
  r: ResolvedProperty,
  value: unknown,
): void {
  const prop = r.property;
  const props = b.propsOf(owner);
  if (r.index === null) {
    props[prop.name] = encodeInput(b, prop, keyPath, value);
    return;
  }
  // `name[i]`: replace one element of the collection.
  const items = b.currentItems(owner, prop);
  const i = r.index < 0 ? items.length + r.index : r.index;
  if (i < 0 || i >= items.length) throw b.fail(keyPath, `has no element at index ${r.index}`);
  items[i] = encodeInputElement(b, prop, keyPath, value);
  props[prop.name] = items;
}

function buildPush(
  b: Builder,
  owner: ModelObject,
  keyPath: string,
  r: ResolvedProperty,
  value: unknown,
): void {
  const prop = r.property;
  if (!prop.isCollection) throw b.fail(keyPath, `can only add values to a collection property`);
  if (r.index !== null) throw b.fail(keyPath, `must name the collection itself, not an element`);
  const values = eachValues(b, keyPath, value);
  const items = b.currentItems(owner, prop);
  const before = items.length;
  const unique = b.op === Operator.addToSet;
  for (const v of values) {
    if (Array.isArray(v)) throw b.fail(keyPath, `expects a single value; use {$each: [...]} to add several`);
    const encoded = encodeInputElement(b, prop, keyPath, v);
    if (unique && items.some((x) => sameEncoded(x, encoded))) continue;
    items.push(encoded);
  }
  // Nothing appended: no change for this property (the original server reported one anyway).
  if (items.length !== before) b.propsOf(owner)[prop.name] = items;
}

function buildPull(
  b: Builder,
  owner: ModelObject,
  keyPath: string,
  r: ResolvedProperty,
  value: unknown,
): void {
  const prop = r.property;
  if (!prop.isCollection) throw b.fail(keyPath, `can only pull values from a collection property`);
  if (r.index !== null) throw b.fail(keyPath, `must name the collection itself, not an element`);
  const filters = eachValues(b, keyPath, value);
  const items = b.currentItems(owner, prop);
  let remaining: unknown[];
  if (prop.kind === Kind.Model) {
    const type = prop.type;
    for (const f of filters) checkObjectFilter(b, keyPath, type, f);
    remaining = items.filter((u) => {
      const obj = b.scope.get(u as string);
      return !filters.some((f) => obj !== null && matchesFilter(obj, f as Record<string, unknown>));
    });
  } else {
    const encoded = filters.map((f) => {
      if (f !== null && typeof f === 'object' && !(f instanceof Date)) {
        throw b.fail(keyPath, `need to specify scalar value to filter collection of values, not an object`);
      }
      return encodeInputScalar(prop, f);
    });
    remaining = items.filter((x) => !encoded.some((f) => sameEncoded(x, f)));
  }
  // A pull that removes nothing is no change.
  if (remaining.length !== items.length) b.propsOf(owner)[prop.name] = remaining;
}

/** `{$each: [...]}` → its elements; anything else → [it]. */
function eachValues(b: Builder, keyPath: string, value: unknown): unknown[] {
  if (isPlainObject(value) && Object.hasOwn(value, '$each')) {
    if (Object.keys(value).length !== 1)
      throw b.fail(keyPath, `can only use $each without any other keys on object`);
    if (!Array.isArray(value.$each)) throw b.fail(keyPath, `$each expects an array value`);
    return value.$each.slice();
  }
  return [value];
}

function checkObjectFilter(b: Builder, keyPath: string, type: ModelClass, filter: unknown): void {
  if (!isPlainObject(filter))
    throw b.fail(keyPath, `need to specify object to filter collection of ModelObjects`);
  for (const key of Object.keys(filter)) {
    if (key === '$uuid') {
      if (typeof filter[key] !== 'string') throw b.fail(keyPath, `$uuid expects a uuid string`);
      continue;
    }
    if (type.$propMap[key] || derivedClasses(type).some((c) => c.$propMap[key])) continue;
    throw b.fail(
      keyPath,
      `bad field to match ModelObject specified '${type.typeName}' has no property '${key}'`,
    );
  }
}

/** True when every key of `filter` equals the object's value (`$uuid` matches the uuid). */
function matchesFilter(obj: ModelObject, filter: Record<string, unknown>): boolean {
  for (const key of Object.keys(filter)) {
    const want = filter[key];
    if (key === '$uuid') {
      if (obj.uuid !== (want as string).toLowerCase()) return false;
      continue;
    }
    const prop = obj.getProperty(key);
    if (!prop) return false;
    if (prop.isCollection) {
      if (!Array.isArray(want)) return false;
      const items = obj._collection(prop)._items;
      if (items.length !== want.length) return false;
      for (let i = 0; i < items.length; i++) {
        if (!sameEncoded(encodeElement(prop, items[i]), encodeFilterElement(prop, want[i]))) return false;
      }
    } else if (!sameEncoded(encodeValue(prop, obj._get(prop)), encodeFilterElement(prop, want))) {
      return false;
    }
  }
  return true;
}

function encodeFilterElement(prop: Property, v: unknown): unknown {
  if (v === undefined || v === null) return null;
  if (prop.kind === Kind.Model) {
    if (v instanceof ModelObject) return v.uuid;
    return typeof v === 'string' ? v.toLowerCase() : v;
  }
  return encodeInputScalar(prop, v);
}

function sameEncoded(a: unknown, b: unknown): boolean {
  return a === b;
}

// ---- input values ----------------------------------------------------------------------------
// Values written in an update (not stored values: those go through model/wire.ts), as the wire
// carries them. References may be uuids, model objects or inline objects; Dates may be Dates,
// millisecond numbers or ISO strings.

/** A whole property value ($set, and the properties of inline objects), wire-encoded. */
function encodeInput(b: Builder, prop: Property, keyPath: string, value: unknown): unknown {
  if (prop.isCollection) {
    const arr = value instanceof Collection ? value.toArray() : value;
    if (!Array.isArray(arr)) throw b.fail(keyPath, `expected array for collection property`);
    return arr.map((v) => encodeInputElement(b, prop, keyPath, v));
  }
  if (value === null || value === undefined) return null;
  return encodeInputElement(b, prop, keyPath, value);
}

/** One element (or a single value): a reference as a uuid, creating inline objects; a scalar. */
function encodeInputElement(b: Builder, prop: Property, keyPath: string, value: unknown): unknown {
  if (prop.kind !== Kind.Model) return encodeInputScalar(prop, value);
  if (value === null || value === undefined) return null; // the engine rejects null elements
  if (typeof value === 'string') return value.toLowerCase();
  if (value instanceof ModelObject) return value.uuid;
  if (isPlainObject(value)) return inlineObject(b, prop.type, keyPath, value);
  throw b.fail(keyPath, `expected a uuid or an object for ModelObject type '${prop.label}'`);
}

/** A scalar as the wire carries it; Dates (Date, ms number, ISO string) as seconds. */
function encodeInputScalar(prop: Property, value: unknown): unknown {
  if (value === undefined || value === null) return null;
  if (prop.kind === Kind.Date) {
    const d = toDate(value, 1);
    return d === INVALID ? value : d.getTime() / 1000;
  }
  return value;
}

/**
 * An inline object `{$uuid?, $cls?, ...properties}`: an `add` fragment for a new object, or a
 * `change` fragment when `$uuid` names an object of the scope. Returns its uuid.
 */
function inlineObject(b: Builder, base: ModelClass, keyPath: string, spec: Record<string, unknown>): string {
  const { $uuid, $cls } = spec;
  if ($uuid !== undefined && typeof $uuid !== 'string') throw b.fail(keyPath, `$uuid expects a uuid string`);
  if ($cls !== undefined && typeof $cls !== 'string') throw b.fail(keyPath, `$cls expects a class name`);
  let cls = base;
  if ($cls !== undefined && $cls !== base.typeName) {
    const sub = derivedClasses(base).find((c) => c.typeName === $cls);
    if (!sub) throw b.fail(keyPath, `no such $cls '${$cls}'`);
    cls = sub;
  }
  const uuid = $uuid === undefined ? uuidv4() : $uuid.toLowerCase();
  const properties: Record<string, unknown> = {};
  const existing = b.scope.get(uuid);
  const existingCls = existing ? (existing.constructor as ModelClass) : b.created.get(uuid);
  if (existingCls) {
    if (!existingCls.isSubclassOf(cls)) {
      throw new QueryError(
        `Illegal ${b.op} modification for ModelObject '${uuid}' has conflicting type '${existingCls.typeName}' with type being set '${cls.typeName}'`,
      );
    }
    b.inlineChanges.push({ type: 'change', uuid, clsName: existingCls.typeName, properties });
    cls = existingCls;
  } else {
    b.created.set(uuid, cls);
    b.adds.push({ type: 'add', uuid, clsName: cls.typeName, properties });
  }
  for (const key of Object.keys(spec)) {
    if (key === '$uuid' || key === '$cls') continue;
    const prop = cls.$propMap[key];
    if (!prop) throw b.fail(keyPath, `has no property at '${key}'`);
    properties[key] = encodeInput(b, prop, `${keyPath}.${key}`, spec[key]);
  }
  return uuid;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}
