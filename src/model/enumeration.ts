// Enumerations: named sets of string or integer values. On the wire an enumeration property
// carries the raw value.
import { DefinitionError } from '../errors.js';

export type EnumValue = string | number;

/** An enumeration type, usable as a property type: `this.has('status', Status)`. */
export interface Enumeration<V extends EnumValue = EnumValue> {
  readonly typeName: string;
  readonly isEnumeration: true;
  /** `String` or `Number`. */
  readonly valueType: StringConstructor | NumberConstructor;
  getKeys(): string[];
  getValues(): V[];
  keyForValue(value: V): string | undefined;
  has(value: unknown): value is V;
}

export type StringEnumeration<K extends string> = Enumeration<K> & { readonly [P in K]: P };
export type NumberEnumeration<M extends Record<string, number>> = Enumeration<M[keyof M]> & {
  readonly [P in keyof M]: M[P];
};

const RESERVED = new Set([
  'typeName',
  'isEnumeration',
  'valueType',
  'getKeys',
  'getValues',
  'keyForValue',
  'has',
]);

/**
 * Defines an enumeration.
 * - `enumeration('Status', String, ['Inactive', 'Active'])`: `Status.Active === 'Active'`.
 * - `enumeration('ChatRoomStatus', Number, {Open: 0, Closed: 1})`: `ChatRoomStatus.Open === 0`.
 */
export function enumeration<const K extends string>(
  name: string,
  type: StringConstructor,
  values: readonly K[],
): StringEnumeration<K>;
export function enumeration<const M extends Record<string, number>>(
  name: string,
  type: NumberConstructor,
  values: M,
): NumberEnumeration<M>;
export function enumeration(name: unknown, type: unknown, values: unknown): Enumeration {
  if (typeof name !== 'string' || name.length === 0) {
    throw new DefinitionError('Enumeration requires a type name');
  }
  let keys: string[];
  let vals: EnumValue[];
  let valueType: StringConstructor | NumberConstructor;
  if (type === String) {
    if (!Array.isArray(values) || values.some((v) => typeof v !== 'string')) {
      throw new DefinitionError(`Enumeration '${name}': values must be array of strings`);
    }
    if (values.length === 0) {
      throw new DefinitionError(`Enumeration '${name}': values must non-empty array of strings`);
    }
    keys = [...values];
    vals = [...values];
    valueType = String;
  } else if (type === Number) {
    if (typeof values !== 'object' || values === null || Array.isArray(values)) {
      throw new DefinitionError(`Enumeration '${name}': values must be map of string to integers`);
    }
    keys = Object.keys(values);
    if (keys.length === 0) {
      throw new DefinitionError(`Enumeration '${name}': values must non-empty map of string to integers`);
    }
    vals = keys.map((k) => (values as Record<string, unknown>)[k]) as EnumValue[];
    if (vals.some((v) => !Number.isInteger(v))) {
      throw new DefinitionError(`Enumeration '${name}': values must be map of string to integers`);
    }
    valueType = Number;
  } else {
    throw new DefinitionError(`Enumeration '${name}': type must be string or number`);
  }
  for (const k of keys) {
    if (RESERVED.has(k)) throw new DefinitionError(`Enumeration '${name}': key '${k}' is reserved`);
  }
  const valueSet = new Set<EnumValue>(vals);
  // The members (`Status.Active`) sit beside the methods, under their own keys.
  const enumType: Enumeration & Record<string, unknown> = {
    typeName: name,
    isEnumeration: true,
    valueType,
    getKeys: () => keys.slice(),
    getValues: () => vals.slice(),
    keyForValue: (v: EnumValue) => {
      const i = vals.indexOf(v);
      return i < 0 ? undefined : keys[i];
    },
    has: (v: unknown): v is EnumValue => (typeof v === 'string' || typeof v === 'number') && valueSet.has(v),
    toString: () => name,
  };
  keys.forEach((k, i) => {
    enumType[k] = vals[i];
  });
  return Object.freeze(enumType);
}

export function isEnumeration(value: unknown): value is Enumeration {
  return typeof value === 'object' && value !== null && (value as Enumeration).isEnumeration === true;
}
