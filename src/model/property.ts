// A declared property of a model: its type, default, and the three conversions every value
// goes through: from JavaScript (assignments in server or client code), from the wire
// (fragments), and to the wire (docs/protocol.md §6).
//
// `Property` is a union discriminated by `kind`: checking `prop.kind === Kind.Model` narrows
// `prop.type` to the model class, `Kind.Enum` to the enumeration, and so on.
import { DefinitionError, ValidationError } from '../errors.js';
import { type Enumeration, isEnumeration } from './enumeration.js';
import type { ModelClass } from './model-object.js';

export enum Kind {
  String = 0,
  Number = 1,
  Boolean = 2,
  Date = 3,
  Enum = 4,
  Model = 5,
}

/** The element type of a property, tagged with its kind. */
export type PropertyElement =
  | { readonly kind: Kind.String; readonly type: StringConstructor }
  | { readonly kind: Kind.Number; readonly type: NumberConstructor }
  | { readonly kind: Kind.Boolean; readonly type: BooleanConstructor }
  | { readonly kind: Kind.Date; readonly type: DateConstructor }
  | { readonly kind: Kind.Enum; readonly type: Enumeration }
  | { readonly kind: Kind.Model; readonly type: ModelClass };

/** Returned by the wire decoders instead of throwing: the caller builds the message. */
export const INVALID: unique symbol = Symbol('invalid');

// The ISO-8601 forms docs/protocol.md §6.3 accepts, with the fields captured: year, month, day,
// then optionally hours, minutes, seconds, fraction, and the zone (`Z`, or sign, hours, minutes).
const ISO_8601 =
  /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d+))?)?(?:(Z)|([+-])(\d{2}):?(\d{2}))?)?$/;

/** `type` tagged with its kind, or undefined when it is not a property type. */
export function elementOf(
  type: unknown,
  isModelClass: (t: unknown) => t is ModelClass,
): PropertyElement | undefined {
  if (type === String) return { kind: Kind.String, type: String };
  if (type === Number) return { kind: Kind.Number, type: Number };
  if (type === Boolean) return { kind: Kind.Boolean, type: Boolean };
  if (type === Date) return { kind: Kind.Date, type: Date };
  if (isEnumeration(type)) return { kind: Kind.Enum, type };
  if (isModelClass(type)) return { kind: Kind.Model, type };
  return undefined;
}

function typeLabel(e: PropertyElement): string {
  switch (e.kind) {
    case Kind.Enum:
      return `one of [${e.type.getValues().join(', ')}]`;
    case Kind.Model:
      return e.type.typeName;
    default:
      return e.type.name;
  }
}

/** A declared property whose element is `E`; see {@link Property}. */
export class PropertyOf<E extends PropertyElement = PropertyElement> {
  /** Name of the instance field that holds the value. */
  readonly slot: `$${string}`;
  readonly label: string;
  readonly kind: E['kind'];
  readonly type: E['type'];

  constructor(
    readonly name: string,
    element: E,
    readonly isCollection: boolean,
    readonly defaultValue: unknown,
    readonly owner: ModelClass,
  ) {
    this.slot = `$${name}`;
    this.kind = element.kind;
    this.type = element.type;
    this.label = typeLabel(element);
  }

  get isModel(): boolean {
    return this.kind === Kind.Model;
  }

  /** The original's name for the element type. */
  get singleType(): E['type'] {
    return this.type;
  }

  // ---- from JavaScript ---------------------------------------------------------------------

  /**
   * Validates one element assigned from code; returns the value to store or throws. Nothing is
   * converted: a String takes a string, a Number a finite number, a Boolean a boolean, a Date a
   * valid Date object, an enumeration one of its values, a reference an instance of its model
   * (docs/client.md, "Values: one rule"). Wire values go through decodeScalar instead.
   */
  coerceElement(this: Property, value: unknown): unknown {
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
      case Kind.Date:
        // A Date object only: no number (ms in code, seconds on the wire) or string is guessed
        // at (docs/client.md, "Values: one rule").
        if (value instanceof Date && !Number.isNaN(value.getTime())) return value;
        break;
      case Kind.Enum:
        if (this.type.has(value)) return value;
        break;
      case Kind.Model:
        if (value instanceof this.type) return value;
        break;
    }
    throw new ValidationError(
      `Invalid value for '${this.owner.typeName}.${this.name}': expected ${this.isCollection ? 'elements of type ' : ''}${this.label}, got ${describe(value)}`,
    );
  }

  /** Validates a single (non-collection) assignment; null and undefined clear the value. */
  coerce(this: Property, value: unknown): unknown {
    if (value === null || value === undefined) return null;
    return this.coerceElement(value);
  }

  // ---- from the wire -------------------------------------------------------------------------

  /**
   * Decodes one scalar element from the wire, or returns INVALID. Model references are
   * resolved by the caller (they need the scope), so this handles scalars only.
   */
  decodeScalar(this: Property, value: unknown): unknown {
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
        return this.type.has(value) ? value : INVALID;
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

/** A property of a model class: one member per kind, so `kind` narrows `type`. */
export type Property =
  | PropertyOf<Extract<PropertyElement, { kind: Kind.String }>>
  | PropertyOf<Extract<PropertyElement, { kind: Kind.Number }>>
  | PropertyOf<Extract<PropertyElement, { kind: Kind.Boolean }>>
  | PropertyOf<Extract<PropertyElement, { kind: Kind.Date }>>
  | PropertyOf<Extract<PropertyElement, { kind: Kind.Enum }>>
  | PropertyOf<Extract<PropertyElement, { kind: Kind.Model }>>;

/** A property whose elements are model objects. */
export type ModelProperty = Extract<Property, { kind: Kind.Model }>;

/** The class of every property, whatever its kind: `prop instanceof Property`. */
export const Property = PropertyOf;

/** Creates the property of `owner` named `name` whose elements are `element`. */
export function createProperty(
  name: string,
  element: PropertyElement,
  isCollection: boolean,
  defaultValue: unknown,
  owner: ModelClass,
): Property {
  // One case per kind, so that each `new` sees `element` narrowed and builds that member.
  switch (element.kind) {
    case Kind.String:
      return new PropertyOf(name, element, isCollection, defaultValue, owner);
    case Kind.Number:
      return new PropertyOf(name, element, isCollection, defaultValue, owner);
    case Kind.Boolean:
      return new PropertyOf(name, element, isCollection, defaultValue, owner);
    case Kind.Date:
      return new PropertyOf(name, element, isCollection, defaultValue, owner);
    case Kind.Enum:
      return new PropertyOf(name, element, isCollection, defaultValue, owner);
    case Kind.Model:
      return new PropertyOf(name, element, isCollection, defaultValue, owner);
  }
}

/**
 * Converts a Date, an ISO-8601 string, or a number into a Date. `numberScale` says what a
 * number means: 1 = milliseconds (JavaScript's convention, for code), 1000 = seconds (the
 * wire's convention, docs/protocol.md §6).
 */
export function toDate(value: unknown, numberScale: 1 | 1000): Date | typeof INVALID {
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? INVALID : value;
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) return INVALID;
    const d = new Date(numberScale === 1 ? value : Math.round(value * 1000));
    return Number.isNaN(d.getTime()) ? INVALID : d;
  }
  if (typeof value === 'string') return parseIsoDate(value);
  return INVALID;
}

/**
 * An ISO-8601 string (docs/protocol.md §6.3) as a Date, or INVALID unless it names a real
 * calendar date and time: a day that exists in its month (February 29 in leap years only),
 * hours below 24, minutes and seconds below 60 (no `24:00`, no leap second), and a zone offset
 * below 24 hours with minutes below 60. `new Date(text)` is not used to decide: it rolls
 * `2021-02-30` over to March 2 and reads `24:00` as the next midnight, and it leaves the forms
 * without a `T` or with a `±HHMM` offset to engine-specific parsing. Digits of a fraction beyond
 * the millisecond are dropped, as `new Date` does. A time without a zone is local time; a date
 * alone is UTC (as `new Date` reads them).
 */
function parseIsoDate(text: string): Date | typeof INVALID {
  const m = ISO_8601.exec(text);
  if (m === null) return INVALID;
  const year = Number(m[1]);
  const month = Number(m[2]);
  const day = Number(m[3]);
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) return INVALID;
  const d = new Date(0);
  if (m[4] === undefined) {
    // setUTCFullYear, not Date.UTC: Date.UTC maps the years 0–99 to 1900–1999.
    d.setUTCFullYear(year, month - 1, day);
    return d;
  }
  const hours = Number(m[4]);
  const minutes = Number(m[5]);
  const seconds = m[6] === undefined ? 0 : Number(m[6]);
  const ms = m[7] === undefined ? 0 : Number(m[7].slice(0, 3).padEnd(3, '0'));
  if (hours > 23 || minutes > 59 || seconds > 59) return INVALID;
  if (m[8] === undefined && m[9] === undefined) {
    d.setFullYear(year, month - 1, day);
    d.setHours(hours, minutes, seconds, ms);
  } else {
    let offset = 0;
    if (m[9] !== undefined) {
      const offsetHours = Number(m[10]);
      const offsetMinutes = Number(m[11]);
      if (offsetHours > 23 || offsetMinutes > 59) return INVALID;
      offset = (m[9] === '-' ? -1 : 1) * (offsetHours * 60 + offsetMinutes);
    }
    d.setUTCFullYear(year, month - 1, day);
    d.setUTCHours(hours, minutes - offset, seconds, ms);
  }
  return Number.isNaN(d.getTime()) ? INVALID : d;
}

function daysInMonth(year: number, month: number): number {
  if (month === 2) return year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0) ? 29 : 28;
  return month === 4 || month === 6 || month === 9 || month === 11 ? 30 : 31;
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
