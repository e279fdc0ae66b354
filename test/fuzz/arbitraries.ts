// Generators shared by the fuzz tests (test/fuzz/*.fuzz.test.ts):
// - hostile and valid client input for the frame codec (docs/protocol.md §2, §5, §6, §14, §15);
// - small models with self references, subclasses and collections, a pool of uuids, and random
//   changesets for the changeset engine (§7).
//
// Every property runs with a fixed seed so that a failure reproduces. `fuzzParameters` reads
// FUZZ_RUNS (runs per property) and FUZZ_SEED from the environment: `npm test` runs a few
// thousand cases, `npm run fuzz` many more with the same properties.
import fc from 'fast-check';
import { enumeration, type ModelClass, model } from '../../src/model/index.js';
import { Kind, type Property } from '../../src/model/property.js';

// ---------------------------------------------------------------------------------------------
// Run parameters

/** The seed every property uses unless FUZZ_SEED says otherwise. */
export const FUZZ_SEED = 20_240_611;

/**
 * `fc.assert` parameters: the fixed seed and `defaultRuns` runs, unless FUZZ_SEED or FUZZ_RUNS
 * are set. `share` scales FUZZ_RUNS for a property whose single run is costly (1 MiB frames).
 */
export function fuzzParameters(defaultRuns: number, share = 1): { seed: number; numRuns: number } {
  const env = process.env.FUZZ_RUNS;
  const numRuns = env === undefined ? defaultRuns : Math.max(1, Math.round(Number(env) * share));
  if (!Number.isInteger(numRuns)) throw new TypeError(`FUZZ_RUNS must be a number, got ${env}`);
  const seed = Number(process.env.FUZZ_SEED ?? FUZZ_SEED);
  if (!Number.isInteger(seed))
    throw new TypeError(`FUZZ_SEED must be an integer, got ${process.env.FUZZ_SEED}`);
  return { seed, numRuns };
}

// ---------------------------------------------------------------------------------------------
// JSON text with tokens JSON.stringify cannot write

/**
 * A placeholder string that {@link toJsonText} replaces by the raw JSON number token inside it:
 * `1e400` parses as Infinity, `-0` as negative zero, `1.0` as the integer 1, and
 * `9007199254740993` loses precision. JSON.stringify writes none of them.
 */
export const rawNumber = (token: string): string => `@@raw:${token}@@`;

/** JSON text of `value`, with every {@link rawNumber} placeholder replaced by its token. */
export function toJsonText(value: unknown): string {
  const text = JSON.stringify(value) ?? 'null';
  return text.replace(/"@@raw:([-+.0-9eE]+)@@"/g, '$1');
}

/**
 * Sets `obj[key] = value` as an own property, even for `__proto__` (a plain assignment would
 * call the prototype setter instead of creating a key JSON.stringify writes out).
 */
export function defineOwn(obj: object, key: string, value: unknown): void {
  Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
}

// ---------------------------------------------------------------------------------------------
// Hostile values

export const UNSAFE_KEYS = ['__proto__', 'constructor', 'prototype'] as const;

const RAW_NUMBER_TOKENS = [
  '1e400',
  '-1e400',
  '1E-400',
  '-0',
  '1.0',
  '0.1e1',
  '9007199254740993',
  '123456789012345678901234567890',
];

/** Numbers a peer may put where an unsigned integer or a finite number belongs. */
export const hostileNumber: fc.Arbitrary<number | string> = fc.oneof(
  fc.constantFrom(
    0,
    -0,
    1,
    -1,
    0.5,
    -0.5,
    1e-7,
    2 ** 31,
    2 ** 32,
    Number.MAX_SAFE_INTEGER,
    Number.MAX_SAFE_INTEGER + 1,
    2 ** 53 + 2,
    1e21,
    1e308,
    -1e308,
    Number.MIN_VALUE,
  ),
  fc.integer(),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.constantFrom(...RAW_NUMBER_TOKENS).map(rawNumber),
);

/** A lone UTF-16 surrogate: JSON.stringify escapes it, a binary frame turns it into U+FFFD. */
const loneSurrogate = fc
  .tuple(fc.integer({ min: 0xd800, max: 0xdfff }), fc.string({ maxLength: 3 }))
  .map(([code, rest]) => String.fromCharCode(code) + rest);

/** Strings a peer may send: unicode, control characters, uuid look-alikes, special names. */
export const hostileString: fc.Arbitrary<string> = fc.oneof(
  fc.string({ maxLength: 12 }),
  fc.string({ unit: 'binary', maxLength: 12 }),
  fc.string({ unit: 'grapheme', maxLength: 6 }),
  loneSurrogate,
  fc.uuid(),
  fc.uuid().map((u) => u.toUpperCase()),
  fc.constantFrom(
    '',
    ...UNSAFE_KEYS,
    'add',
    'change',
    'remove',
    'ScopeSync',
    'SessionCreate',
    'A.b',
    '.',
    'a.b.c',
    '.b',
    '0.1.0',
    'v1.0.0',
    '01.0.0',
    '00000000-0000-0000-0000-000000000000',
    'ffffffff-ffff-ffff-ffff-ffffffffffff',
    '00000000-0000-0000-0000-000000000001',
    '2021-02-30T00:00:00Z',
    '\u0000',
    '\u2028\u2029',
    '\ufeff',
  ),
  // Long-ish: over the small limits the fuzz tests also run with.
  fc.string({ minLength: 1, maxLength: 4 }).map((s) => s.repeat(40)),
);

/** Object keys: the names fields really have, unsafe keys, and anything else. */
export const hostileKey: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom(
    'type',
    'index',
    'scopeIndex',
    'fragments',
    'atomic',
    'procedure',
    'ack',
    'resendMissing',
    'replyTo',
    'version',
    'params',
    'name',
    'uuid',
    'clsName',
    'properties',
    'error',
    '0',
    'length',
  ),
  fc.constantFrom(...UNSAFE_KEYS),
  fc.string({ maxLength: 6 }),
);

function objectOf(entries: [string, unknown][]): Record<string, unknown> {
  const obj: Record<string, unknown> = {};
  for (const [k, v] of entries) defineOwn(obj, k, v);
  return obj;
}

/** Values nested `depth` levels: `{"a":{"a":…}}` or `[[…]]`, around a leaf. */
export const deepValue: fc.Arbitrary<unknown> = fc
  .tuple(fc.integer({ min: 1, max: 120 }), fc.boolean(), fc.constantFrom<unknown>(1, 'x', null, [], {}))
  .map(([depth, arrays, leaf]) => {
    let v: unknown = leaf;
    for (let i = 0; i < depth; i++) v = arrays ? [v] : { a: v };
    return v;
  });

/** Any JSON-able value, with hostile leaves, unsafe keys and some deep nesting. */
export const hostileValue: fc.Arbitrary<unknown> = fc.letrec<{ value: unknown }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    hostileNumber,
    hostileString,
    fc.boolean(),
    fc.constant(null),
    fc.array(tie('value'), { maxLength: 4 }),
    fc.array(fc.tuple(hostileKey, tie('value')), { maxLength: 4 }).map(objectOf),
    deepValue,
  ),
})).value;

// ---------------------------------------------------------------------------------------------
// Valid client messages (docs/protocol.md §5)

export const uint: fc.Arbitrary<number> = fc.oneof(
  fc.constantFrom(0, 1, 2, Number.MAX_SAFE_INTEGER),
  fc.nat(),
  fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }),
);

/** A finite number that JSON round-trips exactly (no -0). */
const jsonNumber = fc.oneof(
  fc.integer(),
  fc.double({ noNaN: true, noDefaultInfinity: true }).map((n) => (Object.is(n, -0) ? 0 : n)),
);

/** A string of well-formed UTF-16 (it survives a trip through UTF-8 bytes). */
const wellFormedString = (maxLength: number) =>
  fc.oneof(fc.string({ maxLength }), fc.string({ unit: 'grapheme', maxLength }));

export const wireScalar: fc.Arbitrary<null | string | number | boolean> = fc.oneof(
  fc.constant(null),
  wellFormedString(8),
  jsonNumber,
  fc.boolean(),
);
export const wireValue = fc.oneof(wireScalar, fc.array(wireScalar, { maxLength: 4 }));

const isUnsafe = (key: string) => (UNSAFE_KEYS as readonly string[]).includes(key);
export const safeKey: fc.Arbitrary<string> = wellFormedString(8).filter((k) => !isUnsafe(k));

/** A uuid in any case: the decoder lowercases it (§6.1). */
export const anyCaseUuid: fc.Arbitrary<string> = fc.oneof(
  { weight: 4, arbitrary: fc.uuid() },
  { weight: 1, arbitrary: fc.uuid().map((u) => u.toUpperCase()) },
  { weight: 1, arbitrary: fc.mixedCase(fc.uuid()) },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      '00000000-0000-0000-0000-000000000000',
      'FFFFFFFF-FFFF-FFFF-FFFF-FFFFFFFFFFFF',
    ),
  },
);

export interface WireFragmentInput {
  type: 'add' | 'change';
  uuid: string;
  clsName: string;
  properties?: Record<string, unknown> | null;
}

export const wireFragment: fc.Arbitrary<WireFragmentInput> = fc.record(
  {
    type: fc.constantFrom('add' as const, 'change' as const),
    uuid: anyCaseUuid,
    clsName: wellFormedString(8).filter((s) => s.length > 0),
    properties: fc.oneof(
      { weight: 6, arbitrary: fc.dictionary(safeKey, wireValue, { maxKeys: 4, noNullPrototype: true }) },
      { weight: 1, arbitrary: fc.constant(null) },
    ),
  },
  { noNullPrototype: true, requiredKeys: ['type', 'uuid', 'clsName'] },
);

/** `params`: nested JSON without unsafe keys, within the default limits. */
export const validParams: fc.Arbitrary<Record<string, unknown>> = fc.dictionary(
  safeKey,
  fc.letrec<{ v: unknown }>((tie) => ({
    v: fc.oneof(
      { depthSize: 'small' },
      wireScalar,
      fc.array(tie('v'), { maxLength: 3 }),
      fc.dictionary(safeKey, tie('v'), { maxKeys: 3, noNullPrototype: true }),
    ),
  })).v,
  { maxKeys: 4, noNullPrototype: true },
);

const numericId = fc.nat({ max: 999 }).map(String);
const alphaId = fc.stringMatching(/^[0-9A-Za-z-]{0,4}[A-Za-z-][0-9A-Za-z-]{0,4}$/);
/** A Semantic Versioning 2.0.0 version. */
export const semver: fc.Arbitrary<string> = fc
  .tuple(
    fc.nat({ max: 99 }),
    fc.nat({ max: 99 }),
    fc.nat({ max: 99 }),
    fc.option(fc.array(fc.oneof(numericId, alphaId), { minLength: 1, maxLength: 3 })),
    fc.option(fc.array(fc.stringMatching(/^[0-9A-Za-z-]{1,6}$/), { minLength: 1, maxLength: 2 })),
  )
  .map(
    ([a, b, c, pre, build]) =>
      `${a}.${b}.${c}` + (pre ? `-${pre.join('.')}` : '') + (build ? `+${build.join('.')}` : ''),
  );

export const procedureName: fc.Arbitrary<string> = fc
  .tuple(
    fc.string({ minLength: 1, maxLength: 6 }).filter((s) => !s.includes('.')),
    fc.string({ minLength: 1, maxLength: 6 }).filter((s) => !s.includes('.')),
  )
  .map(([m, p]) => `${m}.${p}`);

const optionalParams = fc.option(fc.oneof(validParams, fc.constant(null)), { nil: undefined });

/** A valid client → server message as a plain object (optional keys may be absent). */
export const validClientMessage: fc.Arbitrary<Record<string, unknown>> = fc.oneof(
  fc.record(
    {
      type: fc.constant('SessionCreate'),
      index: fc.oneof({ weight: 4, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: uint }),
      version: semver,
      params: optionalParams,
    },
    { noNullPrototype: true, requiredKeys: ['type', 'index', 'version'] },
  ),
  fc.record(
    { type: fc.constant('ScopeFetch'), index: uint, name: wellFormedString(10), params: optionalParams },
    { noNullPrototype: true, requiredKeys: ['type', 'index', 'name'] },
  ),
  fc
    .record(
      {
        type: fc.constant('ScopeSync'),
        index: uint,
        scopeIndex: uint,
        fragments: fc.array(wireFragment, { maxLength: 5 }),
        atomic: fc.boolean(),
        procedure: procedureName,
      },
      { noNullPrototype: true, requiredKeys: ['type', 'index', 'scopeIndex', 'fragments'] },
    )
    // "procedure requires the atomic key" (§5).
    .filter((m) => m.procedure === undefined || m.atomic !== undefined),
  fc.record(
    { type: fc.constant('Ping'), index: uint, ack: uint, resendMissing: fc.boolean() },
    { noNullPrototype: true, requiredKeys: ['type', 'index', 'ack'] },
  ),
  fc.record({ type: fc.constant('Reply'), index: uint, replyTo: uint }, { noNullPrototype: true }),
  fc.record(
    { type: fc.constantFrom('SessionCreateReply', 'ScopeState'), index: uint },
    { noNullPrototype: true },
  ),
);

// ---------------------------------------------------------------------------------------------
// Mutated messages

export interface Mutation {
  /** Change the message object itself rather than a container inside it. */
  atRoot: boolean;
  /** Picks the container (object or array, pre-order) and the key to change, modulo their number. */
  at: number;
  /**
   * replace: an existing key's value; set: any key (known field names, unsafe keys, others);
   * delete: an existing key or element; unsafe: add `__proto__`, `constructor` or `prototype`;
   * wrap: put the whole message in an array.
   */
  op: 'replace' | 'set' | 'delete' | 'unsafe' | 'wrap';
  key: string;
  value: unknown;
}

export const mutation: fc.Arbitrary<Mutation> = fc.record(
  {
    atRoot: fc.boolean(),
    at: fc.nat(),
    op: fc.oneof(
      { weight: 6, arbitrary: fc.constant('replace' as const) },
      { weight: 3, arbitrary: fc.constant('set' as const) },
      { weight: 2, arbitrary: fc.constant('delete' as const) },
      { weight: 2, arbitrary: fc.constant('unsafe' as const) },
      { weight: 1, arbitrary: fc.constant('wrap' as const) },
    ),
    key: hostileKey,
    value: hostileValue,
  },
  { noNullPrototype: true },
);

/**
 * A deep copy that keeps own `__proto__` keys. Generated values may share instances (constants)
 * and fast-check reuses them while shrinking, so they are copied before anything is changed.
 */
export function cloneValue(value: unknown): unknown {
  if (typeof value !== 'object' || value === null) return value;
  if (Array.isArray(value)) return value.map(cloneValue);
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(value))
    defineOwn(out, key, cloneValue((value as Record<string, unknown>)[key]));
  return out;
}

/** Applies mutations to a copy of `message`: generated values are never changed in place. */
export function mutate(message: unknown, mutations: readonly Mutation[]): unknown {
  let root: unknown = cloneValue(message);
  for (const m of mutations) {
    const containers: object[] = [];
    const collect = (v: unknown) => {
      if (typeof v !== 'object' || v === null) return;
      containers.push(v);
      for (const child of Object.values(v)) collect(child);
    };
    collect(root);
    const value = cloneValue(m.value);
    if (containers.length === 0 || m.op === 'wrap') {
      root = m.op === 'wrap' ? [root] : value;
      continue;
    }
    const target = m.atRoot ? containers[0]! : containers[m.at % containers.length]!;
    if (Array.isArray(target)) {
      const i = target.length === 0 ? 0 : m.at % target.length;
      if (m.op === 'delete') target.splice(i, 1);
      else target[i] = value;
      continue;
    }
    const keys = Object.keys(target);
    const existing = keys.length > 0 ? keys[m.at % keys.length]! : m.key;
    if (m.op === 'delete') delete (target as Record<string, unknown>)[existing];
    else if (m.op === 'replace') defineOwn(target, existing, value);
    else if (m.op === 'unsafe') defineOwn(target, UNSAFE_KEYS[m.at % UNSAFE_KEYS.length]!, value);
    else defineOwn(target, m.key, value);
  }
  return root;
}

export const mutatedClientMessage: fc.Arbitrary<unknown> = fc
  .tuple(validClientMessage, fc.array(mutation, { minLength: 1, maxLength: 3 }))
  .map(([message, mutations]) => mutate(message, mutations));

/** Characters JSON is made of, for text that is almost JSON. */
const jsonSoup = fc
  .array(
    fc.constantFrom(
      '{',
      '}',
      '[',
      ']',
      '"',
      ',',
      ':',
      '0',
      '-',
      'e',
      '.',
      '\\',
      'u',
      'true',
      'null',
      '"type"',
      '"ScopeSync"',
      ' ',
      '\n',
    ),
    { maxLength: 40 },
  )
  .map((parts) => parts.join(''));

/** The text of an inbound frame: valid, mutated, arrays of both, random JSON, non-JSON. */
export const clientFrameText: fc.Arbitrary<string> = fc.oneof(
  { weight: 3, arbitrary: validClientMessage.map(toJsonText) },
  { weight: 6, arbitrary: mutatedClientMessage.map(toJsonText) },
  {
    weight: 3,
    arbitrary: fc
      .array(fc.oneof(validClientMessage, mutatedClientMessage, hostileValue), { maxLength: 8 })
      .map(toJsonText),
  },
  { weight: 1, arbitrary: hostileValue.map(toJsonText) },
  { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 4 }).map((v) => JSON.stringify(v)) },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 40 }) },
  { weight: 1, arbitrary: jsonSoup },
  {
    weight: 1,
    arbitrary: fc
      .tuple(fc.oneof(validClientMessage, mutatedClientMessage).map(toJsonText), fc.nat())
      .map(([text, cut]) => text.slice(0, cut % (text.length + 1))),
  },
);

/** Frame data as transports deliver it: text, UTF-8 bytes (a Buffer or not), an ArrayBuffer, or raw bytes. */
export const clientFrameData: fc.Arbitrary<string | Uint8Array | ArrayBuffer> = fc.oneof(
  { weight: 6, arbitrary: clientFrameText },
  { weight: 2, arbitrary: clientFrameText.map((t) => new TextEncoder().encode(t)) },
  { weight: 1, arbitrary: clientFrameText.map((t) => Buffer.from(t, 'utf8')) },
  {
    weight: 1,
    arbitrary: clientFrameText.map((t) => {
      const bytes = new TextEncoder().encode(t);
      return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
    }),
  },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 64 }) },
);

// ---------------------------------------------------------------------------------------------
// Models, uuids and changesets for the engine (docs/protocol.md §6.4, §7)

export const FuzzColor = enumeration('FuzzColor', String, ['red', 'green', 'blue']);
export const FuzzLevel = enumeration('FuzzLevel', Number, { Low: 0, High: 1 });

/** A tree node: scalars of every kind, a self reference, collections of itself and of items. */
export const FuzzNode = model('FuzzNode', function () {
  this.has('name', String);
  this.has('n', Number);
  this.has('on', Boolean);
  this.has('when', Date);
  this.has('color', FuzzColor);
  this.has('partner', this);
  this.has('children', [this]);
  this.has('tags', [String]);
  this.has('dates', [Date]);
});
/** A submodel that no property names: it may stand wherever a FuzzNode is expected. */
export const FuzzLeaf = FuzzNode.model('FuzzLeaf', function () {
  this.has('weight', Number);
  this.has('level', FuzzLevel);
});
/** Points back up (owner) and sideways (next): references that make cycles and shared children. */
export const FuzzItem = model('FuzzItem', function () {
  this.has('label', String);
  this.has('owner', FuzzNode);
  this.has('next', this);
});
FuzzNode.has('items', [FuzzItem]);
/** A class no FuzzNode tree may hold. */
export const FuzzStranger = model('FuzzStranger', function () {
  this.has('x', Number);
});

/** The uuid of every root the engine fuzz creates. */
export const ROOT_UUID = '00000000-0000-4000-8000-000000000000';
/** Uuids fragments pick from, so that later fragments and changesets meet earlier ones. */
export const UUID_POOL: readonly string[] = Array.from(
  { length: 10 },
  (_, i) => `00000000-0000-4000-8000-${String(i + 1).padStart(12, '0')}`,
);

/** A uuid a fragment or reference names: the root, the pool (in any case), unknown, invalid. */
export const poolUuid: fc.Arbitrary<string> = fc.oneof(
  { weight: 2, arbitrary: fc.constant(ROOT_UUID) },
  { weight: 10, arbitrary: fc.constantFrom(...UUID_POOL) },
  { weight: 1, arbitrary: fc.constantFrom(...UUID_POOL).map((u) => u.toUpperCase()) },
  { weight: 1, arbitrary: fc.uuid() },
  { weight: 1, arbitrary: fc.constantFrom('not-a-uuid', '', '00000000-0000-4000-8000-00000000000') },
);

const isoDate = fc
  .date({ min: new Date(-30_000_000_000_000), max: new Date(30_000_000_000_000), noInvalidDate: true })
  .map((d) => d.toISOString());

/** A wire value for a Date property: seconds, an ISO-8601 string, or a string that is not a date. */
const dateValue = fc.oneof(
  { weight: 3, arbitrary: fc.double({ min: -1e10, max: 1e10, noNaN: true }) },
  { weight: 3, arbitrary: fc.integer({ min: -1e10, max: 1e10 }) },
  { weight: 3, arbitrary: isoDate },
  {
    weight: 1,
    arbitrary: fc.constantFrom('2021-02-30T00:00:00Z', '2021-03-01T24:00:00Z', '2024-02-29', 'yesterday'),
  },
);

function scalarValue(prop: Property, ref: fc.Arbitrary<string>): fc.Arbitrary<unknown> {
  switch (prop.kind) {
    case Kind.String:
      return fc.string({ maxLength: 6 });
    case Kind.Number:
      return fc.oneof(
        fc.integer({ min: -1000, max: 1000 }),
        fc.double({ noNaN: true, noDefaultInfinity: true }),
      );
    case Kind.Boolean:
      return fc.boolean();
    case Kind.Date:
      return dateValue;
    case Kind.Enum:
      return fc.constantFrom(...prop.type.getValues());
    case Kind.Model:
      return ref;
  }
}

/** Values a property does not take, or not in that form: wrong types, non-finite numbers. */
const wrongValue = fc.constantFrom<unknown>(
  'x',
  7,
  true,
  null,
  [],
  [null],
  ['x', 1],
  Number.POSITIVE_INFINITY,
  Number.NaN,
  {},
);

/**
 * A value for `prop`: mostly valid, sometimes of the wrong type. `ref` picks the uuids a
 * reference names (by default anything from the pool, of any class).
 */
export function propertyValue(prop: Property, ref: fc.Arbitrary<string> = poolUuid): fc.Arbitrary<unknown> {
  const valid = prop.isCollection
    ? fc.array(scalarValue(prop, ref), { maxLength: prop.kind === Kind.Model ? 4 : 3 })
    : prop.kind === Kind.Model
      ? fc.oneof({ weight: 4, arbitrary: ref }, { weight: 1, arbitrary: fc.constant(null) })
      : fc.oneof(
          { weight: 6, arbitrary: scalarValue(prop, ref) },
          { weight: 1, arbitrary: fc.constant(null) },
        );
  return fc.oneof({ weight: 24, arbitrary: valid }, { weight: 1, arbitrary: wrongValue });
}

export interface EngineFragment {
  type: string;
  uuid: string;
  clsName: string;
  properties?: Record<string, unknown>;
}

/** Every class a fragment under a root of class `rootClass` may name (§6.1). */
export function classesUnder(rootClass: ModelClass): ModelClass[] {
  const out: ModelClass[] = [];
  const queue: ModelClass[] = [rootClass];
  while (queue.length) {
    const c = queue.shift()!;
    if (out.includes(c)) continue;
    out.push(c);
    queue.push(...c.$subclasses);
    for (const p of c.$props) if (p.kind === Kind.Model) queue.push(p.type);
  }
  return out;
}

/**
 * A fragment for `cls`. `uuid` names its object; `ref(prop)` the uuids its references name.
 * Mostly well-formed; sometimes of an unknown type, naming another class, or with a property
 * the class does not have.
 */
function fragmentOf(
  cls: ModelClass,
  uuid: fc.Arbitrary<string>,
  type: fc.Arbitrary<string>,
  ref: (prop: Property) => fc.Arbitrary<string>,
): fc.Arbitrary<EngineFragment> {
  const props = cls.$props;
  const names = [cls.typeName, ...(cls.$super ? [cls.$super.typeName] : [])];
  // A few properties per fragment, as clients send them: each one is a chance to fail.
  const properties = fc
    .subarray([...props], { maxLength: Math.min(3, props.length) })
    .chain((chosen) =>
      fc.tuple(...chosen.map((p) => propertyValue(p, ref(p)).map((v) => [p.name, v] as const))),
    )
    .map((entries) => Object.fromEntries(entries) as Record<string, unknown>);
  return fc
    .record(
      {
        type: fc.oneof({ weight: 30, arbitrary: type }, { weight: 1, arbitrary: fc.constant('remove') }),
        uuid,
        clsName: fc.oneof(
          { weight: 30, arbitrary: fc.constantFrom(...names) },
          {
            weight: 1,
            arbitrary: fc.constantFrom('FuzzStranger', 'Nope', FuzzItem.typeName, FuzzNode.typeName),
          },
        ),
        properties: fc.oneof(
          { weight: 12, arbitrary: properties },
          { weight: 1, arbitrary: fc.constant(undefined) },
        ),
        unknownProperty: fc.oneof(
          { weight: 40, arbitrary: fc.constant(false) },
          { weight: 1, arbitrary: fc.constant(true) },
        ),
      },
      { noNullPrototype: true },
    )
    .map(({ unknownProperty, properties, ...rest }): EngineFragment => {
      const f: EngineFragment = rest;
      if (properties !== undefined) f.properties = properties;
      if (unknownProperty) f.properties = { ...f.properties, nope: 1 };
      return f;
    });
}

export interface EngineChangeset {
  fragments: EngineFragment[];
  atomic: boolean;
}

/** A uuid as a client may write it: lowercase mostly, sometimes uppercase (§6.1). */
const anyCase = (uuid: string): fc.Arbitrary<string> =>
  fc.oneof(
    { weight: 8, arbitrary: fc.constant(uuid) },
    { weight: 1, arbitrary: fc.constant(uuid.toUpperCase()) },
  );

/**
 * Changesets under a root of class `rootClass`. Each run first gives every pool uuid a class
 * (one that some reference property can hold), so that most fragments are well-typed: the root
 * is changed, pool uuids are added or changed with their class, and references name the root or
 * pool uuids of a compatible class. Each changeset works on a few pool uuids (its "slots"), so
 * that its adds, changes and references meet; whether each meets an existing object, one added
 * by the same changeset, or nothing depends on the earlier changesets. One fragment in ~12 is
 * drawn without regard to classes (wrong classes, unknown uuids, invalid uuids), and one value
 * in ~25 is of the wrong type.
 */
export function engineChangesets(
  rootClass: ModelClass,
  { maxChangesets = 8, maxFragments = 4 } = {},
): fc.Arbitrary<EngineChangeset[]> {
  const classes = classesUnder(rootClass);
  const held = classes.filter((c) =>
    classes.some((o) => o.$props.some((p) => p.kind === Kind.Model && c.isSubclassOf(p.type))),
  );
  const anyFragment = fc.constantFrom('add', 'change');
  const untyped = fc.oneof(
    ...classes.map((cls) => fragmentOf(cls, poolUuid, anyFragment, () => poolUuid)),
    fragmentOf(FuzzStranger, poolUuid, anyFragment, () => poolUuid),
  );
  const slots = UUID_POOL.map((_, i) => i);
  return fc
    .array(fc.constantFrom(...held), { minLength: UUID_POOL.length, maxLength: UUID_POOL.length })
    .chain((typing) => {
      const changeset = fc.subarray(slots, { minLength: 1, maxLength: 4 }).chain((mine) => {
        const ref = (prop: Property): fc.Arbitrary<string> => {
          const fits = mine.filter((i) => typing[i]!.isSubclassOf(prop.type)).map((i) => UUID_POOL[i]!);
          if (rootClass.isSubclassOf(prop.type)) fits.push(ROOT_UUID);
          if (fits.length === 0) return poolUuid;
          return fc.oneof(
            { weight: 12, arbitrary: fc.constantFrom(...fits).chain(anyCase) },
            { weight: 1, arbitrary: poolUuid },
          );
        };
        // A change that points a reference property of `owner` at this changeset's slots: what
        // attaches added objects to the tree (and, replacing a collection, detaches others).
        const attach = (owner: string, cls: ModelClass): fc.Arbitrary<EngineFragment>[] => {
          const choices: fc.Arbitrary<EngineFragment>[] = [];
          for (const p of cls.$props) {
            if (p.kind !== Kind.Model) continue;
            const fits = mine.filter((i) => typing[i]!.isSubclassOf(p.type)).map((i) => UUID_POOL[i]!);
            if (fits.length === 0) continue;
            const value: fc.Arbitrary<unknown> = p.isCollection
              ? fc.shuffledSubarray(fits, { minLength: 1 })
              : fc.constantFrom(...fits);
            choices.push(
              value.map((v) => ({
                type: 'change',
                uuid: owner,
                clsName: cls.typeName,
                properties: { [p.name]: v },
              })),
            );
          }
          return choices;
        };
        const attachments = [
          ...attach(ROOT_UUID, rootClass).map((arbitrary) => ({ weight: 4, arbitrary })),
          ...mine.flatMap((i) =>
            attach(UUID_POOL[i]!, typing[i]!).map((arbitrary) => ({ weight: 1, arbitrary })),
          ),
        ];
        const typed = fc.oneof(
          { weight: 2, arbitrary: fragmentOf(rootClass, anyCase(ROOT_UUID), fc.constant('change'), ref) },
          ...mine.map((i) => ({
            weight: 2,
            arbitrary: fragmentOf(typing[i]!, anyCase(UUID_POOL[i]!), anyFragment, ref),
          })),
          ...attachments,
        );
        // Most slots get an add (accepted when the slot is new and something attaches it),
        // one or two attachments, and a few other fragments; in any order.
        const adds = mine.map((i) =>
          fc.option(fragmentOf(typing[i]!, anyCase(UUID_POOL[i]!), fc.constant('add'), ref), {
            freq: 3,
            nil: undefined,
          }),
        );
        const attachment = attachments.length > 0 ? fc.oneof(...attachments) : typed;
        const others = fc.array(
          fc.oneof({ weight: 12, arbitrary: typed }, { weight: 1, arbitrary: untyped }),
          {
            maxLength: maxFragments,
          },
        );
        const fragments = fc
          .tuple(fc.tuple(...adds), fc.array(attachment, { minLength: 1, maxLength: 2 }), others)
          .map(([a, b, c]) => [...a.filter((f) => f !== undefined), ...b, ...c])
          .chain((all) => fc.shuffledSubarray(all, { minLength: all.length }));
        return fc.record({ fragments, atomic: fc.boolean() }, { noNullPrototype: true });
      });
      return fc.array(changeset, { minLength: 1, maxLength: maxChangesets });
    });
}
