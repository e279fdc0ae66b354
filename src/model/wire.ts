// Model values as the wire carries them (docs/protocol.md §6): a reference as the referenced
// object's uuid, a Date as seconds since the epoch, a collection as an array of its elements,
// an unset value as null. The one encoder of stored values, for the server (scope state,
// captured server-side edits, update operators, procedure expressions) and the client SDK.
import { Collection } from './collection.js';
import type { ModelClass, ModelObject } from './model-object.js';
import { Kind, type Property } from './property.js';

/** One stored element of `prop` (never null) as the wire carries it. */
export function encodeElement(prop: Property, value: unknown): unknown {
  return prop.kind === Kind.Model ? (value as ModelObject).uuid : prop.encodeScalar(value);
}

/** The elements of a collection property (its Collection, or the items array) as a new array. */
export function encodeItems(prop: Property, value: Collection | readonly unknown[]): unknown[] {
  const items = value instanceof Collection ? value._items : value;
  switch (prop.kind) {
    case Kind.Model:
      return items.map((o) => (o as ModelObject).uuid);
    case Kind.Date:
      return items.map((d) => prop.encodeScalar(d));
    default:
      return items.slice();
  }
}

/**
 * A stored value of `prop` as the wire carries it: for a collection property, its elements
 * (the Collection, or the items array); otherwise the value, null when unset.
 */
export function encodeValue(prop: Property, value: unknown): unknown {
  if (prop.isCollection) return encodeItems(prop, value as Collection | readonly unknown[]);
  return value === null || value === undefined ? null : encodeElement(prop, value);
}

/**
 * The wire properties of `obj`. Without `props`: every property, as an `add` fragment carries
 * them, where a null single reference is left out (as the original server sends it). With
 * `props`: those properties, as a `change` fragment carries them, where a cleared reference
 * must be sent as null.
 */
export function encodeProperties(obj: ModelObject, props?: Iterable<Property>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (props === undefined) {
    const all = (obj.constructor as ModelClass).$props;
    for (let i = 0; i < all.length; i++) {
      const p = all[i]!;
      const v = obj._get(p);
      if (p.kind === Kind.Model && !p.isCollection && !v) continue;
      out[p.name] = encodeValue(p, v);
    }
  } else {
    for (const p of props) out[p.name] = encodeValue(p, obj._get(p));
  }
  return out;
}
