// Checks what the server sends against the client's models (docs/client.md, "Schema checks"):
// the root's class, every object's class, every property name and every value. The client and
// the server each define the models, so a deployment may pair a client with a server whose
// models differ; without these checks the client would drop what it cannot hold in silence (an
// unknown class's objects, a value of another type) and show an incomplete tree as if it were
// the server's.
//
// A mismatch in the state that answers a fetch rejects the fetch. In later messages (a
// ScopeSync, a state sent again) the client applies what fits, as before, and emits an `error`
// on the client for the rest.
import { ErrorCode, ErrorType, JetstreamError } from '../errors.js';
import { isClassNamed, reachableClasses } from '../model/classes.js';
import type { ModelClass, ModelObject } from '../model/model-object.js';
import { describe, INVALID, Kind, type Property } from '../model/property.js';
import type { InboundFragment } from '../protocol/messages.js';

/**
 * The server sent something the client's models cannot hold. `className` and `property` name
 * the first mismatch (`property` is null when the class itself is the problem); `problems` lists
 * every one, up to a few dozen.
 */
export class SchemaMismatchError extends JetstreamError {
  /** The scope, as given to `fetch()`. */
  readonly scope: string;
  /** The class of the first mismatch, as the server named it. */
  readonly className: string;
  /** The property of the first mismatch, or null when the class is unknown or not the root's. */
  readonly property: string | null;
  /** One line per mismatch found (at most MAX_PROBLEMS). */
  readonly problems: readonly string[];

  constructor(scope: string, first: Problem, problems: readonly string[]) {
    const more = problems.length > 1 ? ` (and ${problems.length - 1} more)` : '';
    super(
      ErrorCode.CLIENT_SCHEMA_MISMATCH,
      `Scope '${scope}': the server's data does not fit the client's models: ${first.message}${more}`,
      ErrorType.schemaMismatch,
    );
    this.name = 'SchemaMismatchError';
    this.scope = scope;
    this.className = first.className;
    this.property = first.property;
    this.problems = problems;
  }
}

/** One mismatch. */
export interface Problem {
  className: string;
  property: string | null;
  message: string;
}

/** Enough to say what is wrong; a whole state of mismatches would only repeat itself. */
const MAX_PROBLEMS = 20;

/**
 * Checks a ScopeState (the whole tree) against `rootClass`: the root fragment's class must be
 * the root class (or one it inherits from), every class must be one the root class reaches,
 * every property must exist on the client's class, and every value must be one it can hold,
 * references included (to an object of the state, of the property's class).
 */
export function checkState(
  scope: string,
  rootClass: ModelClass,
  rootUUID: string,
  fragments: readonly InboundFragment[],
): SchemaMismatchError | null {
  const problems: Problem[] = [];
  const classes = reachableClasses(rootClass);
  // Each object's class in the client's models, by uuid (null: the class is unknown).
  const classOf = new Map<string, ModelClass | null>();
  for (const f of fragments) {
    if (f.uuid === rootUUID) {
      if (!isClassNamed(rootClass, f.clsName) && !classes.get(f.clsName)?.isSubclassOf(rootClass)) {
        problems.push({
          className: f.clsName,
          property: null,
          message: `the scope's root is a ${f.clsName}, but fetch() was given ${rootClass.typeName}`,
        });
        // Nothing below the root can be judged against the wrong root class.
        return mismatch(scope, problems);
      }
      classOf.set(f.uuid, rootClass);
    } else {
      classOf.set(f.uuid, classes.get(f.clsName) ?? null);
    }
  }
  const lookup = (uuid: string) => classOf.get(uuid);
  for (const f of fragments) {
    if (problems.length >= MAX_PROBLEMS) break;
    const cls = classOf.get(f.uuid) ?? null;
    if (cls === null) {
      problems.push(unknownClass(f, rootClass));
      continue;
    }
    checkProperties(f, cls, lookup, problems);
  }
  return mismatch(scope, problems);
}

/**
 * Checks the fragments of a ScopeSync: the class of each added object, and each property and
 * value, against the objects the scope holds (`get`) and the ones the message adds. A change to
 * an object the client does not hold is left alone (the scope ignores it too).
 */
export function checkSync(
  scope: string,
  rootClass: ModelClass,
  fragments: readonly InboundFragment[],
  get: (uuid: string) => ModelObject | null,
): SchemaMismatchError | null {
  const problems: Problem[] = [];
  const classes = reachableClasses(rootClass);
  const added = new Map<string, ModelClass | null>();
  for (const f of fragments) if (f.type === 'add') added.set(f.uuid, classes.get(f.clsName) ?? null);
  const lookup = (uuid: string): ModelClass | null | undefined => {
    const held = get(uuid);
    return held ? (held.constructor as ModelClass) : added.get(uuid);
  };
  for (const f of fragments) {
    if (problems.length >= MAX_PROBLEMS) break;
    const held = get(f.uuid);
    const cls = held ? (held.constructor as ModelClass) : (added.get(f.uuid) ?? null);
    if (cls === null) {
      if (f.type === 'add') problems.push(unknownClass(f, rootClass));
      continue;
    }
    checkProperties(f, cls, lookup, problems);
  }
  return mismatch(scope, problems);
}

function mismatch(scope: string, problems: Problem[]): SchemaMismatchError | null {
  if (problems.length === 0) return null;
  return new SchemaMismatchError(
    scope,
    problems[0]!,
    problems.slice(0, MAX_PROBLEMS).map((p) => p.message),
  );
}

function unknownClass(f: InboundFragment, rootClass: ModelClass): Problem {
  return {
    className: f.clsName,
    property: null,
    message: `the object ${f.uuid} is a ${f.clsName}, a class the client's models (from the root ${rootClass.typeName}) do not have`,
  };
}

/** Every property of `f` against `cls`; `classOf` gives a referenced object's class (undefined: unknown uuid). */
function checkProperties(
  f: InboundFragment,
  cls: ModelClass,
  classOf: (uuid: string) => ModelClass | null | undefined,
  problems: Problem[],
): void {
  const properties = f.properties ?? {};
  for (const name of Object.keys(properties)) {
    const prop = cls.$propMap[name];
    if (!prop) {
      problems.push({
        className: cls.typeName,
        property: name,
        message: `'${cls.typeName}.${name}' is not a property of the client's ${cls.typeName}`,
      });
      continue;
    }
    const why = valueProblem(prop, properties[name], classOf);
    if (why !== null) {
      problems.push({
        className: cls.typeName,
        property: name,
        message: `'${cls.typeName}.${name}': ${why}`,
      });
    }
  }
}

/** Why the wire value `wire` does not fit `prop`, or null when it does. */
function valueProblem(
  prop: Property,
  wire: unknown,
  classOf: (uuid: string) => ModelClass | null | undefined,
): string | null {
  const expected = prop.isCollection ? `an array of ${prop.label}` : prop.label;
  if (prop.isCollection) {
    if (!Array.isArray(wire))
      return `the client's model expects ${expected}, the server sent ${describe(wire)}`;
    for (const v of wire) {
      const why = elementProblem(prop, v, classOf);
      if (why !== null) return `the client's model expects ${expected}; ${why}`;
    }
    return null;
  }
  if (wire === null) return null;
  const why = elementProblem(prop, wire, classOf);
  return why === null ? null : `the client's model expects ${expected}; ${why}`;
}

function elementProblem(
  prop: Property,
  v: unknown,
  classOf: (uuid: string) => ModelClass | null | undefined,
): string | null {
  if (prop.kind !== Kind.Model) {
    return prop.decodeScalar(v) === INVALID ? `the server sent ${describe(v)}` : null;
  }
  if (typeof v !== 'string') return `the server sent ${describe(v)} instead of a uuid`;
  const target = classOf(v.toLowerCase());
  // An unknown uuid is the server's business (it validated the reference); an unknown class is
  // reported on the object itself.
  if (target === undefined || target === null) return null;
  if (!target.isSubclassOf(prop.type)) return `the server's ${v} is a ${target.typeName}`;
  return null;
}
