// A declared property of a model: its type, default, and the three conversions every value
// goes through: from JavaScript (assignments in server or client code), from the wire
// (fragments), and to the wire (PROTOCOL.md §6).
import { DefinitionError, ValidationError } from '../errors.js';
import { type Enumeration, isEnumeration } from './enumeration.js';

// Structural view of a model class, to avoid an import cycle with model-object.ts.
export interface ModelClassLike {
  readonly typeName: string;
  readonly prototype: object;
  isSubclassOf(other: ModelClassLike): boolean;
}

export enum Kind {
  String = 0,
  Number = 1,
  Boolean = 2,
  Date = 3,
  Enum = 4,
  Model = 5,
}

export type ScalarType =
  | StringConstructor
  | NumberConstructor
  | BooleanConstructor
  | DateConstructor
  | Enumeration;
export type ElementType = ScalarType | ModelClassLike;

/** Returned by the wire decoders instead of throwing: the caller builds the message. */
export const INVALID: unique symbol = Symbol('invalid');

const ISO_8601 = /^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?$/;

export function kindOf(type: unknown, isModelClass: (t: unknown) => boolean): Kind | undefined {
  if (type === String) return Kind.String;
  if (type === Number) return Kind.Number;
  if (type === Boolean) return Kind.Boolean;
  if (type === Date) return Kind.Date;
  if (isEnumeration(type)) return Kind.Enum;
  if (isModelClass(type)) return Kind.Model;
  return undefined;
}

function typeLabel(kind: Kind, type: ElementType): string {
  switch (kind) {
    case Kind.Enum:
      return `one of [${(type as Enumeration).getValues().join(', ')}]`;
    case Kind.Model:
      return (type as ModelClassLike).typeName;
    default:
      return (type as { name: string }).name;
  }
}

export class Property {
  /** Name of the instance field that holds the value. */
  readonly slot: string;
  readonly label: string;

  constructor(
    readonly name: string,
    readonly kind: Kind,
    readonly type: ElementType,
    readonly isCollection: boolean,
    readonly defaultValue: unknown,
    readonly owner: ModelClassLike,
  ) {
    this.slot = `$${name}`;
    this.label = typeLabel(kind, type);
  }

  get isModel(): boolean {
    return this.kind === Kind.Model;
  }

  /** The original's name for the element type. */
  get singleType(): ElementType {
    return this.type;
  }

  // ---- from JavaScript ---------------------------------------------------------------------

  /** Validates one element assigned from code; returns the value to store or throws. */
  coerceElement(value: unknown): unknown {
    switch (this.kind) {
      case Kind.String:
        if (typeof value === 'string') return value;
        break;
      case Kind.Number:
        if (typeof value === 'number' && Number.isFinite(value)) return value;
        break;
      case Kind.Boolean:
        if (typeof value === 'boolean') return value;
        break;
      case Kind.Date: {
        const d = toDate(value, 1);
        if (d !== INVALID) return d;
        break;
      }
      case Kind.Enum:
        if ((this.type as Enumeration).has(value)) return value;
        break;
      case Kind.Model:
        if (value instanceof (this.type as unknown as new () => object)) return value;
        break;
    }
    throw new ValidationError(
      `Invalid value for '${this.owner.typeName}.${this.name}': expected ${this.isCollection ? 'elements of type ' : ''}${this.label}, got ${describe(value)}`,
    );
  }

  /** Validates a single (non-collection) assignment; null and undefined clear the value. */
  coerce(value: unknown): unknown {
    if (value === null || value === undefined) return null;
    return this.coerceElement(value);
  }

  // ---- from the wire -------------------------------------------------------------------------

  /**
   * Decodes one scalar element from the wire, or returns INVALID. Model references are
   * resolved by the caller (they need the scope), so this handles scalars only.
   */
  decodeScalar(value: unknown): unknown {
    switch (this.kind) {
      case Kind.String:
        return typeof value === 'string' ? value : INVALID;
      case Kind.Number:
        return typeof value === 'number' && Number.isFinite(value) ? value : INVALID;
      case Kind.Boolean:
        return typeof value === 'boolean' ? value : INVALID;
      case Kind.Date:
        return toDate(value, 1000);
      case Kind.Enum:
        return (this.type as Enumeration).has(value) ? value : INVALID;
      default:
        return INVALID;
    }
  }

  // ---- to the wire ---------------------------------------------------------------------------

  /** Encodes one stored scalar element (Dates as seconds since the epoch). */
  encodeScalar(value: unknown): unknown {
    if (this.kind === Kind.Date && value instanceof Date) return value.getTime() / 1000;
    return value;
  }

  /** The initial value of a fresh instance (a copy for collections). */
  initialValue(): unknown {
    if (this.isCollection) return Array.isArray(this.defaultValue) ? this.defaultValue.slice() : [];
    return this.defaultValue;
  }
}

/**
 * Converts a Date, an ISO-8601 string, or a number into a Date. `numberScale` says what a
 * number means: 1 = milliseconds (JavaScript's convention, for code), 1000 = seconds (the
 * wire's convention, PROTOCOL.md §6).
 */
export function toDate(value: unknown, numberScale: 1 | 1000): Date | typeof INVALID {
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? INVALID : value;
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) return INVALID;
    const d = new Date(numberScale === 1 ? value : Math.round(value * 1000));
    return Number.isNaN(d.getTime()) ? INVALID : d;
  }
  if (typeof value === 'string' && ISO_8601.test(value)) {
    const d = new Date(value);
    return Number.isNaN(d.getTime()) ? INVALID : d;
  }
  return INVALID;
}

export function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? 'an invalid Date' : 'a Date';
  const t = typeof value;
  if (t === 'string') {
    const s = value as string;
    return `string ${JSON.stringify(s.length > 40 ? `${s.slice(0, 40)}…` : s)}`;
  }
  if (t === 'number' || t === 'boolean') return `${t} ${String(value)}`;
  if (t === 'object') {
    const ctor = (value as object).constructor as { typeName?: string; name?: string } | undefined;
    if (ctor?.typeName) return `a ${ctor.typeName}`;
    return 'an object';
  }
  return t;
}

export function checkDefinitionName(owner: string, name: unknown, reserved: (n: string) => boolean): string {
  if (typeof name !== 'string' || name.length === 0) {
    throw new DefinitionError(`Model '${owner}': a property requires a name`);
  }
  if (name.startsWith('$') || name === '__proto__' || name === 'constructor' || name === 'prototype') {
    throw new DefinitionError(`Model '${owner}': property name '${name}' is not allowed`);
  }
  if (reserved(name)) {
    throw new DefinitionError(`Model '${owner}': property name '${name}' is reserved by ModelObject`);
  }
  return name;
}
