// Procedure constraints (docs/protocol.md §9): which fragments a procedure accepts. Every fragment of
// the changeset must match at least one constraint; a constraint that matches nothing is fine.
import { DefinitionError } from '../errors.js';
import type { Collection } from '../model/collection.js';
import type { ModelClass, ModelObject } from '../model/model-object.js';
import type { Fragment, ListBase } from '../scope/types.js';

/** Constraint value: the fragment only has to carry the key (any value, null included). */
export class HasNewValuePropertyConstraint {
  readonly kind = 'hasNewValue' as const;
}

export type ArrayConstraintType = 'insert' | 'remove';

/**
 * Constraint value for a collection property: `insert` = the collection grows, `remove` = it
 * shrinks (the original server tested "grows" for both). On an `add` fragment only `insert` can
 * match, with a non-empty array (a new object's collection starts empty).
 */
export class ArrayPropertyConstraint {
  readonly kind = 'array' as const;
  readonly type: ArrayConstraintType;

  constructor(options: { type: ArrayConstraintType }) {
    const type = options?.type;
    if (type !== 'insert' && type !== 'remove') {
      throw new DefinitionError(
        `Invalid array constraint type '${String(type)}', should be one of: insert, remove`,
      );
    }
    this.type = type;
  }
}

/** `properties: {name: hasNewValuePropertyConstraint()}`: the key must be present. */
export function hasNewValuePropertyConstraint(): HasNewValuePropertyConstraint {
  return new HasNewValuePropertyConstraint();
}

/** `properties: {messages: arrayPropertyConstraint({type: 'insert'})}`. */
export function arrayPropertyConstraint(options: { type: ArrayConstraintType }): ArrayPropertyConstraint {
  return new ArrayPropertyConstraint(options);
}

/** A value inside `properties`: a literal (compared with `===`) or one of the markers above. */
export type PropertyConstraintValue =
  | HasNewValuePropertyConstraint
  | ArrayPropertyConstraint
  | string
  | number
  | boolean
  | null;

/** A constraint as written in `defineProcedure(name, {constraints: [...]})`. */
export interface ConstraintSpec {
  type: 'add' | 'change';
  clsName: string;
  properties?: Record<string, PropertyConstraintValue>;
  /** Default false: the fragment may carry no key the constraint does not name. */
  allowAdditionalProperties?: boolean;
}

/** What matching needs from a scope. */
export interface ConstraintScope {
  get(uuid: string): ModelObject | null;
}

/** A validated, immutable constraint. */
export class Constraint {
  readonly type: 'add' | 'change';
  readonly clsName: string;
  readonly properties: Readonly<Record<string, PropertyConstraintValue>>;
  readonly allowAdditionalProperties: boolean;
  readonly #keys: string[];

  constructor(spec: ConstraintSpec) {
    if (spec === null || typeof spec !== 'object')
      throw new DefinitionError('A constraint must be an object');
    if (spec.type !== 'add' && spec.type !== 'change') {
      throw new DefinitionError(
        `Constraint requires type to be one of: add, change (got '${String(spec.type)}')`,
      );
    }
    if (typeof spec.clsName !== 'string' || spec.clsName.length === 0) {
      throw new DefinitionError('Constraint requires clsName');
    }
    const props = spec.properties ?? {};
    if (props === null || typeof props !== 'object' || Array.isArray(props)) {
      throw new DefinitionError('Constraint requires properties as object');
    }
    if (spec.allowAdditionalProperties !== undefined && typeof spec.allowAdditionalProperties !== 'boolean') {
      throw new DefinitionError('Constraint requires allowAdditionalProperties as boolean');
    }
    const copy: Record<string, PropertyConstraintValue> = Object.create(null);
    for (const key of Object.keys(props)) {
      const v = props[key];
      const ok =
        v instanceof HasNewValuePropertyConstraint ||
        v instanceof ArrayPropertyConstraint ||
        v === null ||
        typeof v === 'string' ||
        typeof v === 'number' ||
        typeof v === 'boolean';
      if (!ok) {
        throw new DefinitionError(
          `Constraint on '${spec.clsName}.${key}': a value must be a literal, hasNewValuePropertyConstraint() or arrayPropertyConstraint()`,
        );
      }
      if (v instanceof ArrayPropertyConstraint && spec.type === 'add' && v.type === 'remove') {
        throw new DefinitionError(
          `Constraint on '${spec.clsName}.${key}': an add fragment cannot remove from an array`,
        );
      }
      copy[key] = v as PropertyConstraintValue;
    }
    this.type = spec.type;
    this.clsName = spec.clsName;
    this.properties = copy;
    this.allowAdditionalProperties = spec.allowAdditionalProperties === true;
    this.#keys = Object.keys(copy);
  }

  /**
   * True when `fragment` satisfies this constraint. `classes` resolves class names (the scope
   * root's reachable classes); `scope` supplies current collections for array constraints.
   */
  matches(
    fragment: Fragment,
    classes: ReadonlyMap<string, ModelClass>,
    scope: ConstraintScope,
    listBase: ListBase | null = null,
  ): boolean {
    if (fragment.type !== this.type || fragment.clsName !== this.clsName) return false;
    const props = fragment.properties ?? EMPTY;
    const keys = this.#keys;
    if (keys.length === 0) return this.allowAdditionalProperties || countKeys(props) === 0;
    if (!this.allowAdditionalProperties && countKeys(props) !== keys.length) return false;
    const cls = classes.get(this.clsName);
    if (!cls) return false;
    let target: ModelObject | null | undefined;
    for (const key of keys) {
      const prop = cls.$propMap[key];
      if (!prop || !Object.hasOwn(props, key)) return false;
      const expected = this.properties[key];
      const value = props[key];
      if (expected instanceof HasNewValuePropertyConstraint) continue;
      if (expected instanceof ArrayPropertyConstraint) {
        if (!prop.isCollection || !Array.isArray(value)) return false;
        if (this.type === 'add') {
          if (expected.type !== 'insert' || value.length === 0) return false;
          continue;
        }
        if (target === undefined) target = scope.get(fragment.uuid);
        if (!target) return false;
        // Grows or shrinks relative to the list the sender saw, when the server knows it: the
        // list is merged against that base (docs/protocol.md §7.10), so a client whose list is
        // behind by someone else's insert still inserts.
        const base = listBase === null ? null : listBase.base(target, prop);
        const current = base !== null ? base.length : (target.get(key) as Collection).length;
        if (expected.type === 'insert' ? value.length <= current : value.length >= current) return false;
        continue;
      }
      if (value !== expected) return false;
    }
    return true;
  }
}

const EMPTY: Record<string, unknown> = Object.freeze(Object.create(null));

function countKeys(o: Record<string, unknown>): number {
  let n = 0;
  for (const _ in o) n++;
  return n;
}

/** Index of the first fragment no constraint matches, or -1 when every fragment is matched. */
export function firstUnmatched(
  constraints: readonly Constraint[],
  fragments: readonly Fragment[],
  classes: ReadonlyMap<string, ModelClass>,
  scope: ConstraintScope,
  listBase: ListBase | null = null,
): number {
  outer: for (let i = 0; i < fragments.length; i++) {
    const f = fragments[i]!;
    for (const c of constraints) if (c.matches(f, classes, scope, listBase)) continue outer;
    return i;
  }
  return -1;
}

type OwnKeys<T> = Extract<Exclude<keyof T, keyof ModelObject>, string>;
/** Property names of a model's instances, or any string when the class is untyped (`model()`). */
export type PropertyNames<T> = [OwnKeys<T>] extends [never] ? string : OwnKeys<T>;

/**
 * The typed form of a constraint: the class instead of its name, and property names checked
 * against the model when it was defined with `defineModel`:
 * `constraint('change', ChatRoom, {name: hasNewValuePropertyConstraint()})`.
 */
export function constraint<T extends ModelObject>(
  type: 'add' | 'change',
  Model: ModelClass<T>,
  properties?: { [K in PropertyNames<T>]?: PropertyConstraintValue },
  options?: { allowAdditionalProperties?: boolean },
): ConstraintSpec {
  const spec: ConstraintSpec = { type, clsName: Model.typeName };
  if (properties) spec.properties = properties as Record<string, PropertyConstraintValue>;
  if (options?.allowAdditionalProperties !== undefined)
    spec.allowAdditionalProperties = options.allowAdditionalProperties;
  new Constraint(spec);
  return spec;
}
