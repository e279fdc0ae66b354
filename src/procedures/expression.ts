// Binding expressions of remote procedures (docs/protocol.md §9): `expr('$incoming.ChatRoom.change.uuid')`.
// An expression is parsed once, when the procedure is defined (a malformed one throws a
// DefinitionError there), and evaluated synchronously for each call against the scope's state
// *before* the changeset is applied and the changeset's raw fragments.
//
//   $incoming.<Cls>.<add|change>.<field>      field = uuid | prop | prop[N] | prop[inserted[N]] | prop[removed[N]]
//   $scope.name  $scope.uuid  $scope.params.<dot.path>
//   $rootModel.<keyPath>                       keyPath = prop(.prop)*, any segment may be indexed prop[N]
//   $model.find(<expression>).<keyPath>        the inner expression yields a uuid of the scope
//   $case.<name>(<expression>)                 remote.cases[name][value of the inner expression]
//
// Values read from the model are wire-encoded as in fragments (Dates as seconds since the epoch,
// enumerations as their raw value); values read from fragments are passed on exactly as sent.
import { DefinitionError, ErrorCode, JetstreamError } from '../errors.js';
import type { Collection } from '../model/collection.js';
import type { ModelObject } from '../model/model-object.js';
import { Kind } from '../model/property.js';
import { encodeItems } from '../model/wire.js';
import type { Fragment } from '../scope/types.js';

/** What an expression is evaluated against. */
export interface ExpressionContext {
  scope: {
    readonly name: string;
    readonly uuid: string;
    readonly params: Record<string, unknown>;
    readonly root: ModelObject | null;
    get(uuid: string): ModelObject | null;
  };
  /** The changeset's fragments, as the client sent them. */
  fragments: readonly Fragment[];
  /** `remote.cases` of the procedure, for `$case`: case maps by name (checked when read). */
  cases?: Readonly<Record<string, unknown>> | undefined;
}

/** The expression forms, for editors: `expr('$incoming.ChatRoom.change.uuid')`. */
export type ExpressionSource =
  | `$incoming.${string}.${'add' | 'change'}.${string}`
  | `$scope.${string}`
  | `$rootModel.${string}`
  | `$model.find(${string}).${string}`
  | `$case.${string}(${string})`;

/** Thrown while evaluating; the message says which expression and why. */
export class ExpressionError extends JetstreamError {
  constructor(
    readonly source: string,
    reason: string,
  ) {
    super(ErrorCode.EXPRESSION, `Expression '${source}': ${reason}`);
    this.name = 'ExpressionError';
  }
}

type Evaluator = (ctx: ExpressionContext) => unknown;

export interface ExpressionOptions {
  /**
   * When the value cannot be bound (an index out of range, a null reference on the path…),
   * use `default` instead of failing the procedure; an undefined result leaves the key out
   * of the headers/body. For values that legitimately may not exist, such as the previous
   * message of an empty room.
   */
  optional?: boolean;
  default?: unknown;
}

export class Expression {
  readonly value: string;
  readonly optional: boolean;
  readonly defaultValue: unknown;
  readonly #evaluate: Evaluator;

  constructor(value: string, options: ExpressionOptions = {}) {
    if (typeof value !== 'string' || value.length === 0)
      throw new DefinitionError('An expression requires a value');
    this.value = value;
    this.optional = options.optional === true;
    this.defaultValue = options.default;
    this.#evaluate = parse(value);
  }

  /** The type before the first dot: `$incoming`, `$scope`, `$rootModel`, `$model` or `$case`. */
  get type(): string {
    return this.value.slice(0, this.value.indexOf('.'));
  }

  /** Evaluates against `ctx`; throws an ExpressionError when the value cannot be bound. */
  evaluate(ctx: ExpressionContext): unknown {
    if (!this.optional) return this.#evaluate(ctx);
    try {
      return this.#evaluate(ctx);
    } catch (err) {
      if (err instanceof ExpressionError) return this.defaultValue;
      throw err;
    }
  }

  toString(): string {
    return this.value;
  }

  toJSON(): string {
    return this.value;
  }
}

/** `expr('$scope.params.accessToken')`: a binding evaluated when the procedure runs. */
export function expr(value: ExpressionSource | (string & {}), options?: ExpressionOptions): Expression {
  return new Expression(value, options);
}

/**
 * Replaces every Expression inside `value` (through nested plain objects and arrays) by its
 * value; literals are kept. The result is built fresh: `value` is not modified.
 */
export function bindValues(value: unknown, ctx: ExpressionContext): unknown {
  if (value instanceof Expression) return value.evaluate(ctx);
  if (Array.isArray(value)) return value.map((v) => bindValues(v, ctx));
  if (value !== null && typeof value === 'object' && !(value instanceof Date)) {
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(value)) {
      const source = (value as Record<string, unknown>)[key];
      const bound = bindValues(source, ctx);
      if (bound === undefined && source instanceof Expression) continue; // optional, unbound
      Object.defineProperty(out, key, {
        value: bound,
        enumerable: true,
        writable: true,
        configurable: true,
      });
    }
    return out;
  }
  return value;
}

// ---- parsing -----------------------------------------------------------------------------------

const IDENT = /^[A-Za-z_][A-Za-z0-9_-]*$/;
const FIELD = /^([A-Za-z_][A-Za-z0-9_]*)(?:\[(?:(-?\d+)|(inserted|removed)\[(-?\d+)\])\])?$/;
const SEGMENT = /^([A-Za-z_][A-Za-z0-9_]*)(?:\[(-?\d+)\])?$/;

function bad(source: string, reason: string): DefinitionError {
  return new DefinitionError(`Invalid expression '${source}': ${reason}`);
}

function parse(source: string): Evaluator {
  const dot = source.indexOf('.');
  if (dot <= 0) throw bad(source, 'expected the form "$type.argument"');
  const type = source.slice(0, dot);
  const rest = source.slice(dot + 1);
  switch (type) {
    case '$incoming':
      return parseIncoming(source);
    case '$scope':
      return parseScope(source, rest);
    case '$rootModel': {
      const path = parseKeyPath(source, rest);
      return (ctx) => {
        const root = ctx.scope.root;
        if (!root) throw new ExpressionError(source, 'the scope has no root');
        return resolveKeyPath(source, root, path);
      };
    }
    case '$model':
      return parseModel(source, rest);
    case '$case':
      return parseCase(source, rest);
    default:
      throw bad(
        source,
        `expression type '${type}' is unrecognized (use $incoming, $scope, $rootModel, $model or $case)`,
      );
  }
}

function parseIncoming(source: string): Evaluator {
  const parts = source.split('.');
  if (parts.length !== 4) throw bad(source, 'expected $incoming.<clsName>.<add|change>.<field>');
  const clsName = parts[1]!;
  const changeType = parts[2]!;
  if (!IDENT.test(clsName)) throw bad(source, `'${clsName}' is not a class name`);
  if (changeType !== 'add' && changeType !== 'change') {
    throw bad(source, `change type '${changeType}' is not one of: add, change`);
  }
  const m = FIELD.exec(parts[3]!);
  if (!m)
    throw bad(source, `'${parts[3]}' is not a field (name, name[N], name[inserted[N]] or name[removed[N]])`);
  const field = m[1]!;
  const plainIndex = m[2] === undefined ? null : Number.parseInt(m[2], 10);
  const diff = (m[3] as 'inserted' | 'removed' | undefined) ?? null;
  const diffIndex = m[4] === undefined ? 0 : Number.parseInt(m[4], 10);
  if (field === 'uuid' && (plainIndex !== null || diff !== null)) throw bad(source, 'uuid cannot be indexed');

  return (ctx) => {
    let frag: Fragment | undefined;
    const fragments = ctx.fragments;
    // Several matching fragments: the last one wins.
    for (let i = fragments.length - 1; i >= 0; i--) {
      const f = fragments[i]!;
      if (f.type === changeType && f.clsName === clsName) {
        frag = f;
        break;
      }
    }
    if (!frag)
      throw new ExpressionError(
        source,
        `the changeset has no '${changeType}' fragment of class '${clsName}'`,
      );
    if (field === 'uuid') return frag.uuid;
    const props = frag.properties;
    if (!props || !Object.hasOwn(props, field)) {
      throw new ExpressionError(
        source,
        `the '${changeType}' fragment of '${clsName}' has no property '${field}'`,
      );
    }
    const value = props[field];
    if (plainIndex === null && diff === null) return value;
    if (!Array.isArray(value)) throw new ExpressionError(source, `'${field}' is not an array`);
    let list: unknown[] = value;
    if (diff !== null) {
      let current: unknown[] = [];
      if (changeType === 'change') {
        const obj = ctx.scope.get(frag.uuid);
        if (!obj) throw new ExpressionError(source, `no ModelObject '${frag.uuid}' in the scope`);
        const prop = obj.getProperty(field);
        if (!prop?.isCollection)
          throw new ExpressionError(source, `'${clsName}.${field}' is not a collection`);
        current = encodeItems(prop, obj._collection(prop));
      }
      list = diff === 'inserted' ? difference(value, current) : difference(current, value);
    }
    const index = plainIndex ?? diffIndex;
    const item = list.at(index);
    if (item === undefined) {
      const what = diff === null ? `'${field}'` : `the ${diff} elements of '${field}'`;
      throw new ExpressionError(source, `index ${index} is out of range for ${what} (length ${list.length})`);
    }
    return item;
  };
}

/** Elements of `a` that are not in `b`, in `a`'s order (uuids compared case-insensitively). */
function difference(a: readonly unknown[], b: readonly unknown[]): unknown[] {
  const key = (v: unknown) => (typeof v === 'string' ? v.toLowerCase() : v);
  const exclude = new Set(b.map(key));
  return a.filter((v) => !exclude.has(key(v)));
}

function parseScope(source: string, rest: string): Evaluator {
  if (rest === 'name') return (ctx) => ctx.scope.name;
  if (rest === 'uuid') return (ctx) => ctx.scope.uuid;
  if (!rest.startsWith('params.') || rest.length === 'params.'.length) {
    throw bad(source, 'expected $scope.name, $scope.uuid or $scope.params.<path>');
  }
  const path = rest.slice('params.'.length).split('.');
  if (path.some((p) => p.length === 0)) throw bad(source, 'empty path segment');
  return (ctx) => {
    let v: unknown = ctx.scope.params;
    for (const p of path) {
      if (v === null || typeof v !== 'object' || !Object.hasOwn(v, p)) {
        throw new ExpressionError(source, `scope '${ctx.scope.name}' has no params.${path.join('.')}`);
      }
      v = (v as Record<string, unknown>)[p];
    }
    if (v === undefined)
      throw new ExpressionError(source, `scope '${ctx.scope.name}' has no params.${path.join('.')}`);
    return v;
  };
}

/** `find(<inner>).<keyPath>`, with the inner expression's parentheses balanced. */
function parseModel(source: string, rest: string): Evaluator {
  if (!rest.startsWith('find(')) throw bad(source, 'expected $model.find(<expression>).<keyPath>');
  const close = matchingParen(rest, 'find'.length);
  if (close < 0 || rest[close + 1] !== '.' || close + 2 >= rest.length) {
    throw bad(source, 'expected $model.find(<expression>).<keyPath>');
  }
  const inner = new Expression(rest.slice('find('.length, close));
  const path = parseKeyPath(source, rest.slice(close + 2));
  return (ctx) => {
    const uuid = inner.evaluate(ctx);
    if (typeof uuid !== 'string') throw new ExpressionError(source, `'${inner.value}' did not yield a uuid`);
    const obj = ctx.scope.get(uuid);
    if (!obj) throw new ExpressionError(source, `no ModelObject '${uuid}' in the scope`);
    return resolveKeyPath(source, obj, path);
  };
}

function parseCase(source: string, rest: string): Evaluator {
  const open = rest.indexOf('(');
  const name = open < 0 ? rest : rest.slice(0, open);
  if (open < 0 || !IDENT.test(name) || matchingParen(rest, open) !== rest.length - 1) {
    throw bad(source, 'expected $case.<caseName>(<expression>)');
  }
  const inner = new Expression(rest.slice(open + 1, -1));
  return (ctx) => {
    const cases = ctx.cases;
    const map = cases && Object.hasOwn(cases, name) ? cases[name] : undefined;
    if (!isCaseMap(map)) {
      throw new ExpressionError(source, `the procedure has no case map '${name}' (remote.cases)`);
    }
    const value = inner.evaluate(ctx);
    const key = String(value);
    if (!Object.hasOwn(map, key))
      throw new ExpressionError(source, `case '${name}' has no entry for ${JSON.stringify(value)}`);
    return map[key];
  };
}

/** A case map is any object: its own keys are the cases. */
function isCaseMap(v: unknown): v is Readonly<Record<string, unknown>> {
  return v !== null && typeof v === 'object';
}

/** Index of the `)` matching the `(` at `open`, or -1. */
function matchingParen(s: string, open: number): number {
  let depth = 0;
  for (let i = open; i < s.length; i++) {
    const c = s[i];
    if (c === '(') depth++;
    else if (c === ')' && --depth === 0) return i;
  }
  return -1;
}

// ---- key paths from an object ------------------------------------------------------------------

interface Segment {
  name: string;
  index: number | null;
}

function parseKeyPath(source: string, keyPath: string): Segment[] {
  const segs = keyPath.split('.').map((text) => {
    const m = SEGMENT.exec(text);
    if (!m) throw bad(source, `'${text}' is not a key path segment (name or name[N])`);
    return { name: m[1]!, index: m[2] === undefined ? null : Number.parseInt(m[2], 10) };
  });
  const last = segs[segs.length - 1]!;
  if (last.name === 'uuid' && last.index !== null) throw bad(source, 'uuid cannot be indexed');
  return segs;
}

/** Follows `path` from `obj`; the last segment must name a value (or `uuid`), not an object. */
function resolveKeyPath(source: string, obj: ModelObject, path: readonly Segment[]): unknown {
  let current = obj;
  for (let i = 0; i < path.length; i++) {
    const { name, index } = path[i]!;
    const isLast = i === path.length - 1;
    if (isLast && name === 'uuid' && index === null) return current.uuid;
    const prop = current.getProperty(name);
    if (!prop) throw new ExpressionError(source, `${current.typeName} has no property '${name}'`);
    const raw = current.get(name);
    let value: unknown;
    if (prop.isCollection) {
      const items = (raw as Collection)._items;
      if (index === null) {
        if (!isLast || prop.kind === Kind.Model) {
          throw new ExpressionError(
            source,
            `'${name}' is a collection of ${prop.label}: index it, e.g. ${name}[0]`,
          );
        }
        return encodeItems(prop, items);
      }
      value = items.at(index);
      if (value === undefined) {
        throw new ExpressionError(
          source,
          `index ${index} is out of range for '${name}' (length ${items.length})`,
        );
      }
    } else {
      if (index !== null) throw new ExpressionError(source, `'${name}' is not a collection`);
      value = raw;
    }
    if (prop.kind === Kind.Model) {
      if (isLast)
        throw new ExpressionError(source, `'${name}' is a ${prop.label}, not a value: use '${name}.uuid'`);
      if (value === null || value === undefined) throw new ExpressionError(source, `'${name}' is null`);
      current = value as ModelObject;
      continue;
    }
    if (!isLast) throw new ExpressionError(source, `'${name}' is not a model reference`);
    return value === null || value === undefined ? null : prop.encodeScalar(value);
  }
  return current.uuid;
}
