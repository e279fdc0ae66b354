// The typed form of the schema DSL, for TypeScript users: the compiler knows each instance's
// properties. It produces exactly the classes that model() produces.
//
//   const Shape = defineModel('Shape', { x: Number, y: Number, tags: [String] });
//   const s = new Shape();  s.x = 10;  // s.x: number | null
//   const Canvas = defineModel('Canvas', { name: String, shapes: [Shape] });
//   const Circle = defineModel('Circle', { radius: Number }, { extends: Shape });
import type { Collection } from './collection.js';
import type { Enumeration, EnumValue } from './enumeration.js';
import { type ModelClass, type ModelObject, model } from './model-object.js';

type Scalar = StringConstructor | NumberConstructor | BooleanConstructor | DateConstructor | Enumeration;
type Element = Scalar | ModelClass<ModelObject>;
/** A property type: an element type, `[element]`, or `{type, defaultValue}`. */
export type PropertySpec =
  | Element
  | readonly [Element]
  | { type: Element | readonly [Element]; defaultValue?: unknown };
export type Schema = Record<string, PropertySpec>;

type ElementValue<T> = T extends StringConstructor
  ? string
  : T extends NumberConstructor
    ? number
    : T extends BooleanConstructor
      ? boolean
      : T extends DateConstructor
        ? Date
        : T extends Enumeration<infer V extends EnumValue>
          ? V
          : T extends ModelClass<infer I>
            ? I
            : never;

type ValueOf<S> = S extends { type: infer T }
  ? ValueOf<T>
  : S extends readonly [infer E]
    ? Collection<ElementValue<E>>
    : ElementValue<S> | null;

/** The instance type a schema describes. */
export type Instance<S extends Schema, Base extends ModelObject = ModelObject> = Base & {
  -readonly [K in keyof S]: ValueOf<S[K]>;
};

/** The declared properties of an instance type: its own keys, minus ModelObject's and methods. */
type PropertyKeys<I> = {
  [K in Exclude<keyof I, keyof ModelObject>]: I[K] extends (...args: never[]) => unknown ? never : K;
}[Exclude<keyof I, keyof ModelObject>];

/**
 * What the constructor of a typed model takes: a uuid, and any of the declared properties, each
 * with the type an assignment takes (a collection takes an array of its elements). Checked by
 * the compiler, so `new Shape({ x: 'a' })` does not compile; the run-time rules are the same
 * (docs/client.md, "Values: one rule").
 */
export type ModelInit<I extends ModelObject> = { uuid?: string } & {
  [K in PropertyKeys<I>]?: I[K] extends Collection<infer E> ? readonly E[] | Collection<E> : I[K];
};

/** A model class defined with {@link defineModel}: its constructor and instances are typed. */
export type TypedModelClass<I extends ModelObject> = {
  new (init?: ModelInit<I>): I;
  readonly prototype: I;
} & Omit<ModelClass<I>, 'prototype'>;

/**
 * Defines a model from a schema object. Property order is the object's key order. Use
 * `{ extends: Base }` to inherit. A model that refers to itself is declared with the DSL form
 * after definition: `Node.has('children', [Node])` (TypeScript cannot infer a self-referencing
 * schema; declare the property in an interface if you need it typed).
 */
export function defineModel<const S extends Schema, B extends ModelObject = ModelObject>(
  name: string,
  schema: S,
  options?: { extends?: ModelClass<B>; methods?: Record<string, unknown> },
): TypedModelClass<Instance<S, B>> {
  return model(
    name,
    function (this: ModelClass) {
      if (options?.extends) this.inherit(options.extends);
      for (const key of Object.keys(schema)) {
        const spec = schema[key] as PropertySpec;
        if (
          spec &&
          typeof spec === 'object' &&
          !Array.isArray(spec) &&
          'type' in spec &&
          !('isEnumeration' in spec)
        ) {
          this.has(key, spec.type, { defaultValue: spec.defaultValue });
        } else {
          this.has(key, spec);
        }
      }
    },
    options?.methods,
    // The schema describes what model() just defined from it: the instance type is the schema's.
  ) as TypedModelClass<Instance<S, B>>;
}
