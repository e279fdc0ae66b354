// Fuzzing the frame codec (docs/protocol.md §2, §5, §6, §11, §14, §15): whatever a client sends,
// decodeFrame returns a typed error or valid messages and never throws, and every reply the
// session builds from its result is bounded by the limits, never by the size of the input.
// Valid messages round-trip in both directions.
//
// The reply bound checked here:
// - every error the decoder produces encodes (encodeError) to at most MAX_ERROR_BYTES (512) bytes
//   of UTF-8: messages quote at most 40 code units of client text (validate.ts `quote`);
// - a ScopeFetchReply with an error is at most ENVELOPE + MAX_ERROR_BYTES bytes;
// - a ScopeSyncReply for an answerable ScopeSync carries `fragmentCount` entries, where
//   fragmentCount ≤ maxFragmentsPerChangeset, and is 1 whenever the `fragments` array is longer
//   than that limit; so it is at most ENVELOPE + fragmentCount × (MAX_ERROR_BYTES + 11) bytes:
//   under 64 KiB with the small limits below, and at most ~5.3 MB at the defaults (10,000 entries)
//   whatever the frame holds.
//
// `npm run fuzz` runs the same properties with FUZZ_RUNS runs each.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { isUUID } from '../../src/model/uuid.js';
import {
  type ClientMessage,
  type DecodeResult,
  decodeFrame,
  decodeServerFrame,
  defaultLimits,
  encodeClientScopeSync,
  encodeError,
  encodeFragments,
  encodeFrame,
  encodePing,
  encodeScopeFetch,
  encodeScopeFetchReply,
  encodeScopeState,
  encodeScopeSync,
  encodeScopeSyncReply,
  encodeSessionCreate,
  encodeSessionCreateReply,
  type FragmentReply,
  type FrameData,
  type ProtocolLimits,
  resolveLimits,
  type ServerMessage,
  type WireError,
} from '../../src/protocol/index.js';
import {
  anyCaseUuid,
  clientFrameData,
  fuzzParameters,
  hostileString,
  hostileValue,
  mutate,
  mutation,
  toJsonText,
  UNSAFE_KEYS,
  uint,
  validClientMessage,
  type WireFragmentInput,
  wireFragment,
  wireScalar,
  wireValue,
} from './arbitraries.js';

const KiB = 1024;
const MAX_ERROR_BYTES = 512;
const MAX = Number.MAX_SAFE_INTEGER;
/** The envelope of a ScopeSyncReply / ScopeFetchReply with the longest indices. */
const SYNC_ENVELOPE = bytes(encodeScopeSyncReply(MAX, MAX, []));
const FETCH_ENVELOPE = bytes(encodeScopeFetchReply(MAX, MAX, { message: '', type: '' }));
/** `{"error":…}` and a comma around each entry's error. */
const ENTRY_OVERHEAD = 11;

/** Small limits, so that every limit is reached by small inputs. */
const SMALL = resolveLimits({
  maxFrameBytes: 2 * KiB,
  maxMessagesPerFrame: 4,
  maxFragmentsPerChangeset: 3,
  maxPropertiesPerFragment: 3,
  maxStringLength: 32,
  maxArrayLength: 3,
  maxParamsDepth: 3,
});
const LIMITS: [string, ProtocolLimits][] = [
  ['default limits', defaultLimits],
  ['small limits', SMALL],
];

function bytes(text: string): number {
  return Buffer.byteLength(text, 'utf8');
}

const prototypeKeys = Object.getOwnPropertyNames(Object.prototype).sort().join();

// ---------------------------------------------------------------------------------------------
// What a decode result must look like

function assertWireError(error: WireError): void {
  assert.equal(typeof error.message, 'string');
  assert.ok(error.message.length > 0);
  assert.equal(typeof error.type, 'string');
  const json = encodeError(error);
  assert.ok(bytes(json) <= MAX_ERROR_BYTES, `error of ${bytes(json)} bytes: ${json}`);
  assert.deepEqual(Object.keys(JSON.parse(json)).sort(), ['message', 'type']);
}

const isUint = (v: unknown) => typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= MAX;

/**
 * A plain value without unsafe own keys, within the params limits; `params` itself is depth 1.
 * Iterative: with maxParamsDepth Infinity, accepted params may nest 170,000 levels deep.
 */
function assertCleanParams(params: unknown, limits: ProtocolLimits): void {
  const stack: [unknown, number][] = [[params, 1]];
  while (stack.length > 0) {
    const [value, depth] = stack.pop()!;
    if (typeof value === 'string') assert.ok(value.length <= limits.maxStringLength);
    if (typeof value !== 'object' || value === null) continue;
    assert.ok(depth <= limits.maxParamsDepth, 'params deeper than maxParamsDepth');
    if (Array.isArray(value)) {
      assert.ok(value.length <= limits.maxArrayLength);
      for (const v of value) stack.push([v, depth + 1]);
      continue;
    }
    for (const key of Object.keys(value)) {
      assert.ok(!(UNSAFE_KEYS as readonly string[]).includes(key), `unsafe key ${key} left in params`);
      stack.push([(value as Record<string, unknown>)[key], depth + 1]);
    }
  }
}

function assertValidMessage(m: ClientMessage, limits: ProtocolLimits): void {
  assert.ok(isUint(m.index), 'index');
  switch (m.type) {
    case 'SessionCreate':
      assert.equal(typeof m.version, 'string');
      assert.ok(m.version.length <= 256);
      assertCleanParams(m.params, limits);
      assert.ok(!Array.isArray(m.params) && typeof m.params === 'object' && m.params !== null);
      break;
    case 'ScopeFetch':
      assert.equal(typeof m.name, 'string');
      assert.ok(m.name.length <= limits.maxStringLength);
      assertCleanParams(m.params, limits);
      assert.ok(!Array.isArray(m.params) && typeof m.params === 'object' && m.params !== null);
      break;
    case 'ScopeSync': {
      assert.ok(isUint(m.scopeIndex));
      assert.equal(typeof m.atomic, 'boolean');
      if (m.procedure !== undefined) assert.match(m.procedure, /^[^.]+\.[^.]+$/);
      assert.ok(m.fragments.length <= limits.maxFragmentsPerChangeset);
      for (const f of m.fragments) {
        assert.deepEqual(Object.keys(f).sort(), ['clsName', 'properties', 'type', 'uuid']);
        assert.ok(f.type === 'add' || f.type === 'change');
        assert.ok(isUUID(f.uuid) && f.uuid === f.uuid.toLowerCase(), `uuid ${f.uuid}`);
        assert.ok(typeof f.clsName === 'string' && f.clsName.length > 0);
        assert.ok(f.clsName.length <= limits.maxStringLength);
        const keys = Object.keys(f.properties);
        assert.ok(keys.length <= limits.maxPropertiesPerFragment);
        for (const key of keys) {
          assert.ok(!(UNSAFE_KEYS as readonly string[]).includes(key), `property named ${key}`);
          const v = f.properties[key];
          const scalars = Array.isArray(v) ? v : [v];
          if (Array.isArray(v)) assert.ok(v.length <= limits.maxArrayLength);
          for (const s of scalars) {
            assert.ok(s === null || ['string', 'number', 'boolean'].includes(typeof s), `value ${typeof s}`);
            if (typeof s === 'string') assert.ok(s.length <= limits.maxStringLength);
          }
        }
      }
      break;
    }
    case 'Ping':
      assert.ok(isUint(m.ack));
      assert.equal(typeof m.resendMissing, 'boolean');
      break;
    case 'Reply':
      assert.ok(isUint(m.replyTo));
      break;
    case 'SessionCreateReply':
    case 'ScopeState':
      assert.deepEqual(Object.keys(m).sort(), ['index', 'type']);
      break;
    default:
      assert.fail(`unexpected message type ${(m as { type: string }).type}`);
  }
}

/** The reply the session queues for an answerable item (src/server/session.ts), as JSON text. */
function replyTo(item: Extract<DecodeResult, { ok: true }>['items'][number]): string | undefined {
  if (item.kind !== 'answerable') return undefined;
  if (item.type === 'ScopeFetch') return encodeScopeFetchReply(MAX, item.index, item.error);
  const replies: FragmentReply[] = new Array(item.fragmentCount).fill({ error: item.error });
  return encodeScopeSyncReply(MAX, item.index, replies);
}

/** The `fragments` array of the message an item was decoded from, when it had one. */
function rawFragmentsLength(raw: unknown): number | undefined {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return undefined;
  const fragments = (raw as Record<string, unknown>).fragments;
  return Array.isArray(fragments) ? fragments.length : undefined;
}

/** The parsed JSON of frame data, or undefined when it is not JSON (decoding it as the codec does). */
function parsed(data: FrameData): unknown {
  const text = typeof data === 'string' ? data : new TextDecoder().decode(data);
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** Checks everything decodeFrame promises about one result; returns the replies' total size. */
function checkDecode(data: FrameData, limits: ProtocolLimits, handshake: boolean): number {
  let result: DecodeResult;
  try {
    result = decodeFrame(data, limits, { handshake });
  } catch (err) {
    assert.fail(`decodeFrame threw: ${(err as Error).stack}`);
  }
  if (!result.ok) {
    assertWireError(result.error);
    return 0;
  }
  if (handshake) {
    assert.equal(result.items.length, 1);
    const item = result.items[0]!;
    assert.ok(item.kind === 'message' && item.message.type === 'SessionCreate');
    assertValidMessage(item.message, limits);
    return 0;
  }
  const value = parsed(data);
  const raws = Array.isArray(value) ? value : [value];
  assert.equal(result.items.length, raws.length);
  assert.ok(result.items.length <= limits.maxMessagesPerFrame);
  let total = 0;
  result.items.forEach((item, i) => {
    if (item.kind === 'message') {
      assertValidMessage(item.message, limits);
      assertIdempotent(item.message, limits);
      return;
    }
    assertWireError(item.error);
    if (item.kind === 'invalid') return;
    assert.ok(isUint(item.index));
    const n = rawFragmentsLength(raws[i]);
    if (item.type === 'ScopeFetch' || n === undefined) assert.equal(item.fragmentCount, 0);
    else if (n > limits.maxFragmentsPerChangeset) assert.equal(item.fragmentCount, 1);
    else assert.equal(item.fragmentCount, n);
    const reply = replyTo(item)!;
    const size = bytes(reply);
    const bound =
      item.type === 'ScopeFetch'
        ? FETCH_ENVELOPE + MAX_ERROR_BYTES
        : SYNC_ENVELOPE + item.fragmentCount * (MAX_ERROR_BYTES + ENTRY_OVERHEAD);
    assert.ok(size <= bound, `reply of ${size} bytes over ${bound}`);
    if (limits === SMALL) assert.ok(size <= 64 * KiB);
    const json = JSON.parse(reply);
    if (item.type === 'ScopeSync') assert.equal(json.fragmentReplies.length, item.fragmentCount);
    total += size;
  });
  return total;
}

/**
 * A decoded message, sent again as JSON, decodes to itself: decoding normalizes once. Skipped
 * when JSON cannot carry the message unchanged: a `-0` or a `1e400` (Infinity) property value
 * passes the codec as a JSON number and is rejected per fragment by the engine (§6.4); and params
 * too deep for JSON.stringify.
 */
function assertIdempotent(message: ClientMessage, limits: ProtocolLimits): void {
  let text: string;
  try {
    text = JSON.stringify(message);
  } catch {
    return; // params nested too deep for JSON.stringify's recursion (maxParamsDepth Infinity)
  }
  if (!isDeepStrictEqual(JSON.parse(text), message)) return;
  const again = decodeFrame(
    text,
    { ...limits, maxFrameBytes: Number.POSITIVE_INFINITY },
    { handshake: false },
  );
  assert.ok(again.ok && again.items.length === 1);
  const item = again.items[0]!;
  assert.equal(item.kind, 'message');
  assert.deepEqual(item.kind === 'message' ? item.message : undefined, message);
}

function isDeepStrictEqual(a: unknown, b: unknown): boolean {
  try {
    assert.deepStrictEqual(a, b);
    return true;
  } catch {
    return false;
  }
}

function assertNoPollution(): void {
  assert.equal(Object.getOwnPropertyNames(Object.prototype).sort().join(), prototypeKeys);
  assert.equal(({} as Record<string, unknown>).polluted, undefined);
}

// ---------------------------------------------------------------------------------------------
// Properties

describe('decodeFrame on any input never throws; replies stay bounded (docs/protocol.md §14)', () => {
  for (const [name, limits] of LIMITS) {
    test(`any frame data, after the handshake, ${name}`, () => {
      fc.assert(
        fc.property(clientFrameData, (data) => {
          checkDecode(data, limits, false);
          assertNoPollution();
        }),
        fuzzParameters(1500),
      );
    });
    test(`any frame data as the first frame (handshake), ${name}`, () => {
      fc.assert(
        fc.property(clientFrameData, (data) => {
          checkDecode(data, limits, true);
          assertNoPollution();
        }),
        fuzzParameters(700),
      );
    });
  }

  test('a valid SessionCreate mutated anywhere, as the first frame', () => {
    const sessionCreate = validClientMessage.filter((m) => m.type === 'SessionCreate');
    fc.assert(
      fc.property(sessionCreate, fc.array(mutation, { maxLength: 3 }), (message, mutations) => {
        for (const [, limits] of LIMITS) checkDecode(toJsonText(mutate(message, mutations)), limits, true);
        assertNoPollution();
      }),
      fuzzParameters(700),
    );
  });

  test('ScopeSync with an invalid fragments array of any size: reply entries ≤ the limit, or 1', () => {
    const element = fc.oneof(
      { weight: 3, arbitrary: fc.constant(0) },
      { weight: 1, arbitrary: wireFragment as fc.Arbitrary<unknown> },
      { weight: 1, arbitrary: hostileValue },
    );
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 40 }),
        element,
        fc.array(mutation, { maxLength: 2 }),
        (count, fill, mutations) => {
          const message = {
            type: 'ScopeSync',
            index: 3,
            scopeIndex: 0,
            fragments: new Array(count).fill(fill),
          };
          const text = toJsonText(mutate(message, mutations));
          for (const [, limits] of LIMITS) checkDecode(text, limits, false);
        },
      ),
      fuzzParameters(700),
    );
  });

  test('frames up to 1 MiB: decoding and replies bounded by the limits', () => {
    // Costly runs (each decodes up to 1 MiB), so few of them: FUZZ_RUNS / 200 under `npm run fuzz`.
    // Sizes near the limits as often as anywhere else (fast-check biases integers towards 0).
    const size = (max: number, ...special: number[]) =>
      fc.oneof(fc.noBias(fc.integer({ min: 1, max })), fc.constantFrom(...special));
    const big = fc.oneof(
      fc.record({
        kind: fc.constant('zeros' as const),
        count: size(520_000, 9_999, 10_000, 10_001, 520_000),
        envelope: fc.constantFrom(
          '"scopeIndex":0',
          '"scopeIndex":-1',
          '"scopeIndex":0,"atomic":1',
          '"scopeIndex":0,"procedure":"A.b"',
        ),
      }),
      fc.record({
        kind: fc.constant('deep' as const),
        depth: size(170_000, 31, 32, 33, 170_000),
        arrays: fc.boolean(),
      }),
      fc.record({
        kind: fc.constant('messages' as const),
        count: size(1_200, 999, 1_000, 1_001),
        each: size(800, 0, 1),
      }),
      fc.record({ kind: fc.constant('keys' as const), count: size(60_000, 999, 1_000, 1_001) }),
    );
    fc.assert(
      fc.property(big, (spec: BigFrame) => {
        const frame = build(spec);
        checkDecode(frame, defaultLimits, false);
        checkDecode(frame, defaultLimits, true);
        checkDecode(
          frame,
          resolveLimits({ maxParamsDepth: Number.POSITIVE_INFINITY, maxFrameBytes: 2 * 1024 * KiB }),
          false,
        );
      }),
      fuzzParameters(12, 1 / 200),
    );
  });
});

type BigFrame =
  | { kind: 'zeros'; count: number; envelope: string }
  | { kind: 'deep'; depth: number; arrays: boolean }
  | { kind: 'messages'; count: number; each: number }
  | { kind: 'keys'; count: number };

function build(spec: BigFrame): string {
  const zeros = (n: number) => (n === 0 ? '' : `0${',0'.repeat(n - 1)}`);
  switch (spec.kind) {
    case 'zeros':
      return `{"type":"ScopeSync","index":1,${spec.envelope},"fragments":[${zeros(spec.count)}]}`;
    case 'deep': {
      const [open, close] = spec.arrays ? ['[', ']'] : ['{"a":', '}'];
      const params = `${open.repeat(spec.depth)}1${close.repeat(spec.depth)}`;
      return `{"type":"ScopeFetch","index":1,"name":"x","params":{"p":${params}}}`;
    }
    case 'messages': {
      const one = `{"type":"ScopeSync","index":1,"scopeIndex":0,"fragments":[${zeros(spec.each)}]}`;
      return `[${new Array(spec.count).fill(one).join(',')}]`;
    }
    case 'keys': {
      const keys = Array.from({ length: spec.count }, (_, i) => `"k${i}":${i}`).join(',');
      return `{"type":"ScopeSync","index":1,"scopeIndex":0,"fragments":[{"type":"add","uuid":"${UUID}","clsName":"X","properties":{${keys}}}]}`;
    }
  }
}
const UUID = '5d1e9b9a-3c44-4f0b-8d7a-0f2b6c1e2a33';

// ---------------------------------------------------------------------------------------------
// Round trips

/** What the decoder makes of a valid message (docs/protocol.md §5, §6.1). */
function expectedDecoded(m: Record<string, unknown>): ClientMessage {
  const params = (m.params ?? {}) as Record<string, unknown>;
  switch (m.type) {
    case 'SessionCreate':
      return { type: 'SessionCreate', index: m.index as number, version: m.version as string, params };
    case 'ScopeFetch':
      return { type: 'ScopeFetch', index: m.index as number, name: m.name as string, params };
    case 'ScopeSync': {
      const out: ClientMessage = {
        type: 'ScopeSync',
        index: m.index as number,
        scopeIndex: m.scopeIndex as number,
        atomic: m.atomic === true,
        fragments: (m.fragments as WireFragmentInput[]).map((f) => ({
          type: f.type,
          uuid: f.uuid.toLowerCase(),
          clsName: f.clsName,
          properties: (f.properties ?? {}) as Record<string, never>,
        })),
      };
      if (m.procedure !== undefined) out.procedure = m.procedure as string;
      return out;
    }
    case 'Ping':
      return {
        type: 'Ping',
        index: m.index as number,
        ack: m.ack as number,
        resendMissing: m.resendMissing === true,
      };
    case 'Reply':
      return { type: 'Reply', index: m.index as number, replyTo: m.replyTo as number };
    default:
      return { type: m.type as 'ScopeState', index: m.index as number };
  }
}

/** The message as a client encoder writes it, when there is one for its type; else as JSON. */
function clientText(m: Record<string, unknown>, useEncoder: boolean): string {
  if (!useEncoder) return JSON.stringify(m);
  const params = (m.params ?? undefined) as Record<string, unknown> | undefined;
  switch (m.type) {
    case 'SessionCreate':
      return m.index === 0 ? encodeSessionCreate(m.version as string, params) : JSON.stringify(m);
    case 'ScopeFetch':
      return encodeScopeFetch(m.index as number, m.name as string, params);
    case 'ScopeSync':
      // The client encoder always sends `atomic` (false by default).
      return encodeClientScopeSync(m.index as number, m.scopeIndex as number, m.fragments as never[], {
        atomic: m.atomic === true,
        ...(m.procedure === undefined ? {} : { procedure: m.procedure as string }),
      });
    case 'Ping':
      return m.index === 0 ? encodePing(m.ack as number, m.resendMissing === true) : JSON.stringify(m);
    default:
      return JSON.stringify(m);
  }
}

describe('valid messages round-trip', () => {
  test('client → server: a valid message, as JSON text or bytes, decodes to its normal form', () => {
    fc.assert(
      fc.property(
        validClientMessage,
        fc.boolean(),
        fc.constantFrom('text', 'bytes', 'array'),
        (m, useEncoder, form) => {
          const text = clientText(m, useEncoder);
          const data =
            form === 'bytes' ? new TextEncoder().encode(text) : form === 'array' ? `[${text}]` : text;
          const result = decodeFrame(data, defaultLimits, { handshake: false });
          assert.ok(result.ok && result.items.length === 1, JSON.stringify(result));
          const item = result.items[0]!;
          assert.equal(item.kind, 'message', JSON.stringify(item));
          assert.deepStrictEqual(item.kind === 'message' ? item.message : undefined, expectedDecoded(m));
          if (m.type === 'SessionCreate' && form !== 'array') {
            const first = decodeFrame(data, defaultLimits, { handshake: true });
            assert.ok(first.ok);
            assert.deepStrictEqual(first.items[0], { kind: 'message', message: expectedDecoded(m) });
          }
        },
      ),
      fuzzParameters(1500),
    );
  });

  const error: fc.Arbitrary<WireError> = fc.record(
    { message: hostileString, type: fc.constantFrom('invalid-message', 'rejected', 'x') },
    { noNullPrototype: true, requiredKeys: ['message'] },
  );
  const fragment = fc.record(
    {
      type: fc.constantFrom('add' as const, 'change' as const),
      uuid: fc.uuid(),
      clsName: fc.string({ minLength: 1, maxLength: 8 }),
      properties: fc.dictionary(
        fc.string({ maxLength: 6 }).filter((k) => !(UNSAFE_KEYS as readonly string[]).includes(k)),
        wireValue,
        { maxKeys: 4, noNullPrototype: true },
      ),
    },
    { noNullPrototype: true },
  );
  const sm = (text: string, expected: ServerMessage) => ({ text, expected });
  const serverMessage: fc.Arbitrary<{ text: string; expected: ServerMessage }> = fc.oneof(
    fc
      .tuple(uint, fc.oneof(fc.string(), error))
      .map(([index, r]) =>
        sm(
          encodeSessionCreateReply(index, r),
          typeof r === 'string'
            ? { type: 'SessionCreateReply', index, sessionToken: r }
            : { type: 'SessionCreateReply', index, error: r },
        ),
      ),
    fc
      .tuple(uint, uint, fc.oneof(uint, error))
      .map(([index, replyTo, r]) =>
        sm(
          encodeScopeFetchReply(index, replyTo, r),
          typeof r === 'number'
            ? { type: 'ScopeFetchReply', index, replyTo, scopeIndex: r }
            : { type: 'ScopeFetchReply', index, replyTo, error: r },
        ),
      ),
    fc
      .tuple(uint, uint, anyCaseUuid, fc.array(fragment, { maxLength: 4 }))
      .map(([index, scopeIndex, root, fragments]) =>
        sm(encodeScopeState(index, scopeIndex, root, encodeFragments(fragments)), {
          type: 'ScopeState',
          index,
          scopeIndex,
          rootUUID: root.toLowerCase(),
          fragments,
        }),
      ),
    fc.tuple(uint, uint, fc.array(fragment, { maxLength: 4 })).map(([index, scopeIndex, fragments]) =>
      sm(encodeScopeSync(index, scopeIndex, encodeFragments(fragments)), {
        type: 'ScopeSync',
        index,
        scopeIndex,
        fragments,
      }),
    ),
    fc
      .tuple(
        uint,
        uint,
        fc.array(
          fc.record(
            {
              error,
              modifications: fc.dictionary(fc.constantFrom('a', 'b', 'c'), wireScalar, {
                noNullPrototype: true,
              }),
            },
            { noNullPrototype: true, requiredKeys: [] },
          ),
          { maxLength: 4 },
        ),
      )
      .map(([index, replyTo, fragmentReplies]) =>
        sm(encodeScopeSyncReply(index, replyTo, fragmentReplies), {
          type: 'ScopeSyncReply',
          index,
          replyTo,
          fragmentReplies,
        }),
      ),
    fc
      .tuple(uint, fc.boolean())
      .map(([ack, resendMissing]) =>
        sm(encodePing(ack, resendMissing), { type: 'Ping', index: 0, ack, resendMissing }),
      ),
  );

  test('server → client: every server encoder, in one frame, decodes to the same messages', () => {
    fc.assert(
      fc.property(fc.array(serverMessage, { maxLength: 5 }), (list) => {
        const frame = encodeFrame(list.map((m) => m.text));
        const result = decodeServerFrame(frame);
        assert.ok(result.ok);
        assert.deepStrictEqual(result.dropped, []);
        assert.deepStrictEqual(
          result.messages,
          list.map((m) => m.expected),
        );
      }),
      fuzzParameters(1000),
    );
  });

  test('decodeServerFrame never throws on any input either', () => {
    const mutatedServer = fc
      .tuple(serverMessage, fc.array(mutation, { minLength: 1, maxLength: 3 }))
      .map(([m, mutations]) => toJsonText(mutate(JSON.parse(m.text), mutations)));
    fc.assert(
      fc.property(fc.oneof(clientFrameData, mutatedServer), (data) => {
        let result: ReturnType<typeof decodeServerFrame>;
        try {
          result = decodeServerFrame(data);
        } catch (err) {
          assert.fail(`decodeServerFrame threw: ${(err as Error).stack}`);
        }
        if (!result.ok) assertWireError(result.error);
        else for (const e of result.dropped) assertWireError(e);
        assertNoPollution();
      }),
      fuzzParameters(1000),
    );
  });
});
