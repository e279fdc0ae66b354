// Key paths of the update operators (docs/protocol.md §10): dot-separated property names, with
// collection elements addressed as `name[2]`, `name.2`, `name[-1]` or `name.-1` (negative
// indices count from the end).
//
// A key path is resolved in two ways:
//   - against an object, to the model object it names (every segment must be a reference);
//   - against a class, to the property it names, the class that owns that property, and the key
//     path of the owner. Resolving against a class also searches derived classes, since the
//     object found at run time may be an instance of one.
// Resolution never throws for a bad path: it returns `{ok: false, error}` with a QueryError.
import { QueryError } from '../errors.js';
import { isModelClass, type ModelClass, ModelObject } from '../model/model-object.js';
import { Kind, type Property } from '../model/property.js';

export type KeyPathResult<T> = { ok: true; value: T } | { ok: false; error: QueryError };

/** What a key path names when resolved against a class. */
export interface ResolvedProperty {
  /** The property the last segment names. */
  property: Property;
  /** The class that declares or inherits it (a derived class when found through one). */
  ownerType: ModelClass;
  /** Key path from the starting object to the object that owns the property (`''` = itself). */
  ownerKeyPath: string;
  /** When the path ends with an index into the collection `property`, that index; else null. */
  index: number | null;
}

/** One parsed segment: a property name and an optional `[n]` index. */
interface Segment {
  /** The segment as written, for messages. */
  text: string;
  name: string;
  index: number | null;
}

const BRACKET_INDEX = /^(.+)\[(-?\d+)\]$/;
const DOT_INDEX = /^-?\d+$/;

function ok<T>(value: T): KeyPathResult<T> {
  return { ok: true, value };
}

function fail<T>(message: string): KeyPathResult<T> {
  return { ok: false, error: new QueryError(message) };
}

function parseSegment(text: string): Segment {
  const m = BRACKET_INDEX.exec(text);
  if (m) return { text, name: m[1]!, index: Number.parseInt(m[2]!, 10) };
  return { text, name: text, index: null };
}

/** Splits a key path into its segments; `''` has none. */
function split(keyPath: string): string[] {
  return keyPath === '' ? [] : keyPath.split('.');
}

/** Every class derived from `cls`, depth-first (not `cls` itself). */
export function derivedClasses(cls: ModelClass): ModelClass[] {
  const out: ModelClass[] = [];
  const stack = cls.$subclasses.slice().reverse();
  while (stack.length) {
    const c = stack.pop()!;
    out.push(c);
    for (let i = c.$subclasses.length - 1; i >= 0; i--) stack.push(c.$subclasses[i]!);
  }
  return out;
}

/**
 * The property `name` of `cls`, or else of exactly one class derived from it (several derived
 * classes may inherit it from one that declares it: that is the same property).
 */
function findProperty(
  cls: ModelClass,
  name: string,
  where: () => string,
): KeyPathResult<{ property: Property; owner: ModelClass } | null> {
  const own = cls.$propMap[name];
  if (own) return ok({ property: own, owner: cls });
  let found: { property: Property; owner: ModelClass } | null = null;
  for (const sub of derivedClasses(cls)) {
    const p = sub.$propMap[name];
    if (!p) continue;
    if (!found) {
      found = { property: p, owner: p.owner };
    } else if (found.property !== p) {
      return fail(
        `Property '${name}' is ambiguous as derived classes ${found.owner.typeName} and ${p.owner.typeName} both declare the same property at keyPath: ${where()}`,
      );
    }
  }
  return ok(found);
}

/** The model object at `keyPath` from `obj` (`''` = `obj` itself). */
export function resolveModelObject(obj: unknown, keyPath: string): KeyPathResult<ModelObject> {
  if (!(obj instanceof ModelObject)) return fail('Requires modelObject');
  if (typeof keyPath !== 'string') return fail('Requires keyPath as string');
  const start = obj;
  const parts = split(keyPath);
  let traversed = '';
  let current: ModelObject = obj;
  const at = (text: string) => `${start.typeName}('${start.uuid}')${traversed}.${text}`;
  while (parts.length) {
    const seg = parseSegment(parts.shift()!);
    let text = seg.text;
    const prop = current.getProperty(seg.name);
    if (!prop) return fail(`No property '${seg.name}' at keyPath: ${at(text)}`);
    if (prop.kind !== Kind.Model) {
      return fail(`Property '${seg.name}' is not a ModelObject property at keyPath: ${at(text)}`);
    }
    if (prop.isCollection) {
      let index = seg.index;
      if (index === null) {
        const next = parts[0];
        if (next !== undefined && DOT_INDEX.test(next)) {
          parts.shift();
          text += `.${next}`;
          index = Number.parseInt(next, 10);
        } else {
          if (next !== undefined) text += `.${next}`;
          return fail(
            `No index found for ModelObject in collection on property '${seg.name}' at keyPath: ${at(text)}`,
          );
        }
      }
      const item = current._collection(prop).at(index);
      if (!item) {
        return fail(
          `No ModelObject instance at index ${index} on property '${seg.name}' at keyPath: ${at(text)}`,
        );
      }
      current = item;
    } else {
      if (seg.index !== null) {
        return fail(`Property '${seg.name}' is not a collection property at keyPath: ${at(text)}`);
      }
      const value = current._get(prop);
      if (!value) return fail(`No ModelObject instance on property '${seg.name}' at keyPath: ${at(text)}`);
      current = value as ModelObject;
    }
    traversed += `.${text}`;
  }
  return ok(current);
}

/**
 * The property `keyPath` names on instances of `cls`, the class that owns it, and the key path
 * of its owner. A trailing index (`many[1]`, `many.1`) names the collection property itself;
 * the index is returned in `index`.
 */
export function resolveProperty(cls: unknown, keyPath: string): KeyPathResult<ResolvedProperty> {
  if (!isModelClass(cls) || (cls as unknown) === ModelObject) {
    return fail('Requires typeClass to derive from ModelObject');
  }
  if (typeof keyPath !== 'string' || keyPath === '') return fail('Requires a non-empty keyPath');
  const origin = cls.typeName;
  const parts = split(keyPath);
  const ownerParts: string[] = [];
  let traversed = '';
  let type: ModelClass = cls;
  const at = (text: string) => `${origin}${traversed}.${text}`;
  for (;;) {
    const seg = parseSegment(parts.shift()!);
    let text = seg.text;
    const found = findProperty(type, seg.name, () => at(text));
    if (!found.ok) return found;
    if (!found.value) return fail(`No property '${seg.name}' at keyPath: ${at(text)}`);
    const { property, owner } = found.value;
    let index = seg.index;
    if (index !== null && !property.isCollection) {
      return fail(`Property '${seg.name}' is not a collection property at keyPath: ${at(text)}`);
    }
    // A dot index right after a collection belongs to it (`many.0`, also at the end).
    if (property.isCollection && index === null && parts.length && DOT_INDEX.test(parts[0]!)) {
      const next = parts.shift()!;
      text += `.${next}`;
      index = Number.parseInt(next, 10);
    }
    if (parts.length === 0) {
      return ok({ property, ownerType: owner, ownerKeyPath: ownerParts.join('.'), index });
    }
    if (property.kind !== Kind.Model) {
      return fail(`Property '${seg.name}' is not a ModelObject property at keyPath: ${at(text)}`);
    }
    if (property.isCollection && index === null) {
      text += `.${parts[0]}`;
      return fail(
        `No index found for ModelObject in collection on property '${seg.name}' at keyPath: ${at(text)}`,
      );
    }
    ownerParts.push(text);
    traversed += `.${text}`;
    type = property.type;
  }
}

/**
 * The resolvers as one object. Callable (doing nothing) like the original's KeyPathNotation
 * constructor, which code may call.
 */
export const KeyPath: {
  (): void;
  resolveModelObject: typeof resolveModelObject;
  resolveProperty: typeof resolveProperty;
} = Object.assign(function KeyPath(): void {}, { resolveModelObject, resolveProperty });

/** The original's name. */
export const KeyPathNotation = KeyPath;
