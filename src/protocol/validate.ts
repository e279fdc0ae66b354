// Hand-written checks on the hot path: uuids, fragments and their property values, and the
// `params` walk (nesting depth and prototype-polluting keys). They return an error message
// (a string naming the fragment, property or limit) or `undefined` when the input is valid.

import { normalizeUUID } from '../model/uuid.js';
import type { InboundFragment, WireValue } from './messages.js';

/** Limits on what a peer may send. Every violation is reported with the limit's name. */
export interface ProtocolLimits {
  /** Size of one inbound frame in bytes (UTF-8). */
  readonly maxFrameBytes: number;
  /** Messages in one array frame. */
  readonly maxMessagesPerFrame: number;
  /** Fragments in one ScopeSync (and fragment replies in one ScopeSyncReply). */
  readonly maxFragmentsPerChangeset: number;
  /** Properties in one fragment. */
  readonly maxPropertiesPerFragment: number;
  /** Length (UTF-16 code units) of a string in fragments, `name` and `params`. */
  readonly maxStringLength: number;
  /** Elements of one array property value (and of any array inside `params`). */
  readonly maxArrayLength: number;
  /** Nesting depth of `params`; the `params` object itself is depth 1. */
  readonly maxParamsDepth: number;
}

/** Keys that must never reach an object through `params` or fragment `properties`. */
export function isUnsafeKey(key: string): boolean {
  return key === '__proto__' || key === 'constructor' || key === 'prototype';
}

// ---------------------------------------------------------------------------------------------
// Fragments

/** A short, JSON-quoted excerpt of untrusted text for an error message. */
export function quote(value: unknown): string {
  if (typeof value !== 'string') return value === undefined ? 'undefined' : typeof value;
  return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
}

/**
 * Checks a property map (fragment `properties`, reply `modifications`): at most
 * `maxPropertiesPerFragment` keys, no unsafe key, every value a {@link WireValue} within the
 * string and array limits. Returns an error message or `undefined`.
 */
export function checkProperties(props: Record<string, unknown>, limits: ProtocolLimits): string | undefined {
  let count = 0;
  // for…in rather than Object.keys: no array allocated per fragment. JSON.parse makes only
  // own enumerable data properties, and inherited enumerable keys (a polluted
  // Object.prototype elsewhere in the process) are rejected by the hasOwn test below.
  for (const key in props) {
    if (++count > limits.maxPropertiesPerFragment) {
      return `too many properties (maxPropertiesPerFragment ${limits.maxPropertiesPerFragment})`;
    }
    if (isUnsafeKey(key)) return `property name ${quote(key)} is not allowed`;
    const value = props[key];
    switch (typeof value) {
      case 'string':
        if (value.length > limits.maxStringLength) {
          return `property ${quote(key)} exceeds maxStringLength (${limits.maxStringLength})`;
        }
        break;
      case 'number':
      case 'boolean':
        break;
      case 'object': {
        if (value === null) break;
        if (!Array.isArray(value)) {
          return `property ${quote(key)} must be null, a string, a number, a boolean or an array of those`;
        }
        if (value.length > limits.maxArrayLength) {
          return `property ${quote(key)} exceeds maxArrayLength (${limits.maxArrayLength})`;
        }
        for (let i = 0; i < value.length; i++) {
          const element: unknown = value[i];
          const t = typeof element;
          if (t === 'string') {
            if ((element as string).length > limits.maxStringLength) {
              return `property ${quote(key)}[${i}] exceeds maxStringLength (${limits.maxStringLength})`;
            }
          } else if (t !== 'number' && t !== 'boolean' && element !== null) {
            return `property ${quote(key)}[${i}] must be null, a string, a number or a boolean`;
          }
        }
        break;
      }
      default:
        return `property ${quote(key)} must be null, a string, a number, a boolean or an array of those`;
    }
    if (!Object.hasOwn(props, key)) return `property ${quote(key)} is not allowed`;
  }
  return undefined;
}

/** Where {@link checkFragments} writes its output: the fragments or the first error. */
export interface FragmentsResult {
  fragments: InboundFragment[];
  error: string | undefined;
}

/**
 * Validates every element of a fragments array and builds clean fragment objects (exactly
 * `type`, `uuid` lowercased, `clsName`, `properties` — `{}` when missing or null). Stops at the
 * first bad fragment; the error names it by its position (0-based, as in `fragmentReplies`).
 */
export function checkFragments(raw: readonly unknown[], limits: ProtocolLimits): FragmentsResult {
  const n = raw.length;
  if (n > limits.maxFragmentsPerChangeset) {
    return {
      fragments: [],
      error: `Too many fragments: ${n} exceeds maxFragmentsPerChangeset (${limits.maxFragmentsPerChangeset})`,
    };
  }
  const out = new Array<InboundFragment>(n);
  for (let i = 0; i < n; i++) {
    const f = raw[i];
    if (typeof f !== 'object' || f === null || Array.isArray(f)) {
      return { fragments: [], error: `Fragment ${i}: must be an object` };
    }
    const { type, uuid, clsName } = f as Record<string, unknown>;
    let properties = (f as Record<string, unknown>).properties;
    if (type !== 'add' && type !== 'change') {
      return {
        fragments: [],
        error: `Fragment ${i}: invalid type ${quote(type)}, must be "add" or "change"`,
      };
    }
    const id = normalizeUUID(uuid);
    if (id === undefined) {
      return {
        fragments: [],
        error:
          uuid === undefined ? `Fragment ${i}: requires uuid` : `Fragment ${i}: invalid uuid ${quote(uuid)}`,
      };
    }
    if (typeof clsName !== 'string' || clsName.length === 0) {
      return { fragments: [], error: `Fragment ${i}: clsName must be a non-empty string` };
    }
    if (clsName.length > limits.maxStringLength) {
      return {
        fragments: [],
        error: `Fragment ${i}: clsName exceeds maxStringLength (${limits.maxStringLength})`,
      };
    }
    if (properties === undefined || properties === null) {
      properties = {};
    } else if (typeof properties !== 'object' || Array.isArray(properties)) {
      return { fragments: [], error: `Fragment ${i}: properties must be an object` };
    } else {
      const error = checkProperties(properties as Record<string, unknown>, limits);
      if (error !== undefined) return { fragments: [], error: `Fragment ${i}: ${error}` };
    }
    out[i] = { type, uuid: id, clsName, properties: properties as Record<string, WireValue> };
  }
  return { fragments: out, error: undefined };
}

// ---------------------------------------------------------------------------------------------
// params

/**
 * Walks `params` once: enforces `maxParamsDepth`, `maxStringLength` and `maxArrayLength`, and
 * removes every own `__proto__` / `constructor` / `prototype` key, at any depth, in place.
 *
 * Why delete rather than rebuild or null-prototype: JSON.parse already made these keys own
 * data properties (harmless by themselves); the danger is later code copying them with
 * `Object.assign`/spread/`obj[k] = v`, where `__proto__` hits the setter. Deleting leaves plain
 * objects (what applications expect: `hasOwnProperty`, `instanceof Object` work) and costs
 * nothing when the keys are absent. We always walk (no `indexOf` pre-scan of the raw text):
 * the depth limit needs the walk anyway, and a pre-scan would miss `\u`-escaped keys.
 */
export function sanitizeParams(params: object, limits: ProtocolLimits): string | undefined {
  // An explicit stack, not recursion: `maxParamsDepth` may be configured as Infinity, and a
  // 1 MiB frame nests ~500,000 levels deep (JSON.parse copes), which would overflow the call
  // stack and make the decoder throw. Values are visited in the order a recursive pre-order
  // walk would visit them, so the first error reported is the same.
  const values: unknown[] = [params];
  const depths: number[] = [1];
  while (values.length > 0) {
    const value = values.pop();
    const depth = depths.pop()!;
    if (typeof value === 'string') {
      if (value.length > limits.maxStringLength) {
        return `Invalid params: a string exceeds maxStringLength (${limits.maxStringLength})`;
      }
      continue;
    }
    if (typeof value !== 'object' || value === null) continue;
    if (depth > limits.maxParamsDepth) {
      return `Invalid params: nested deeper than maxParamsDepth (${limits.maxParamsDepth})`;
    }
    if (Array.isArray(value)) {
      if (value.length > limits.maxArrayLength) {
        return `Invalid params: an array exceeds maxArrayLength (${limits.maxArrayLength})`;
      }
      for (let i = value.length - 1; i >= 0; i--) {
        values.push(value[i]);
        depths.push(depth + 1);
      }
      continue;
    }
    const obj = value as Record<string, unknown>;
    const keys = Object.keys(obj);
    for (let i = keys.length - 1; i >= 0; i--) {
      const key = keys[i]!;
      if (isUnsafeKey(key)) {
        delete obj[key];
        continue;
      }
      values.push(obj[key]);
      depths.push(depth + 1);
    }
  }
  return undefined;
}
