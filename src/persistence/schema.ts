// What a store needs of a scope's models to compute its snapshot from stored fragments
// (Store.compact, src/store/fold.ts): for every class a fragment may name, its properties in
// declaration order with the wire value a new object starts with, and its reference properties.
// Plain JSON data, so that it crosses to a worker thread and the store never loads a model.
import { reachableClasses } from '../model/classes.js';
import type { ModelClass } from '../model/model-object.js';
import { Kind } from '../model/property.js';
import { encodeValue } from '../model/wire.js';
import type { FoldClass, FoldSchema } from '../store/types.js';

/**
 * Keyed by the cached reachableClasses() map of the root class: a definition that changes a
 * class of the graph drops that map (forgetReachable), so a schema is never used stale.
 */
const schemas = new WeakMap<Map<string, ModelClass>, FoldSchema>();

/** The fold schema of a scope whose root is of class `rootClass`. */
export function foldSchema(rootClass: ModelClass): FoldSchema {
  const classes = reachableClasses(rootClass);
  let schema = schemas.get(classes);
  if (schema === undefined) {
    schema = { root: rootClass.typeName, classes: [...classes.values()].map(foldClass) };
    schemas.set(classes, schema);
  }
  return schema;
}

function foldClass(cls: ModelClass): FoldClass {
  const properties: [string, unknown][] = [];
  const references: [string, boolean][] = [];
  // The order of $props is the order of a new object's fields, of encodeProperties and of
  // _forEachChild (src/model/model-object.ts).
  for (const p of cls.$props) {
    // As the constructor sets it: a collection starts with a copy of its default, a single
    // value with the default itself (null when there is none).
    properties.push([p.name, encodeValue(p, p.isCollection ? p.initialValue() : p.defaultValue)]);
    if (p.kind === Kind.Model) references.push([p.name, p.isCollection]);
  }
  return { name: cls.typeName, properties, references };
}
