// Limits (docs/protocol.md §11) and prototype-pollution safety of `params` and `properties`.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  decodeFrame,
  defaultLimits,
  encodeError,
  encodeScopeSyncReply,
  type ProtocolLimits,
  resolveLimits,
  type ScopeFetch,
  type SessionCreate,
} from '../../src/protocol/index.js';
import {
  answerable,
  decode,
  fragment,
  frameError,
  handshake,
  invalid,
  scopeSync,
  single,
  UUID_A,
  valid,
} from './helpers.js';

const small = (overrides: Partial<ProtocolLimits>): ProtocolLimits => resolveLimits(overrides);

describe('defaults and resolveLimits', () => {
  test('the documented defaults', () => {
    assert.deepEqual(
      { ...defaultLimits },
      {
        maxFrameBytes: 1024 * 1024,
        maxMessagesPerFrame: 1000,
        maxFragmentsPerChangeset: 10_000,
        maxPropertiesPerFragment: 1000,
        maxStringLength: 256 * 1024,
        maxArrayLength: 100_000,
        maxParamsDepth: 32,
      },
    );
    assert.ok(Object.isFrozen(defaultLimits));
  });
  test('overrides are merged; bad values throw', () => {
    const limits = resolveLimits({ maxFrameBytes: 10, maxArrayLength: Number.POSITIVE_INFINITY });
    assert.equal(limits.maxFrameBytes, 10);
    assert.equal(limits.maxArrayLength, Number.POSITIVE_INFINITY);
    assert.equal(limits.maxParamsDepth, 32);
    assert.deepEqual(resolveLimits(), defaultLimits);
    for (const bad of [0, -1, 1.5, Number.NaN, '10']) {
      assert.throws(
        () => resolveLimits({ maxFrameBytes: bad as number }),
        /maxFrameBytes must be a positive integer/,
      );
    }
  });
});

describe('maxFrameBytes', () => {
  test('a huge frame is refused before parsing', () => {
    const text = JSON.stringify(
      scopeSync({ fragments: [fragment({ properties: { s: 'x'.repeat(2 * 1024 * 1024) } })] }),
    );
    frameError(decode(text), 'Frame exceeds maxFrameBytes (1048576)');
    frameError(
      decodeFrame(new TextEncoder().encode(text), defaultLimits, { handshake: false }),
      'maxFrameBytes',
    );
  });
  test('counts UTF-8 bytes, not UTF-16 code units', () => {
    const limits = small({ maxFrameBytes: 60 });
    const ascii = JSON.stringify({ type: 'ScopeFetch', index: 1, name: 'x'.repeat(19) });
    assert.equal(ascii.length, 60);
    assert.equal(valid(ascii, limits).type, 'ScopeFetch');
    // 19 × "€" = 19 code units but 57 bytes.
    const euro = JSON.stringify({ type: 'ScopeFetch', index: 1, name: '€'.repeat(19) });
    assert.equal(euro.length, 60);
    frameError(decode(euro, limits), 'maxFrameBytes (60)');
    // Surrogate pairs: 4 bytes per 2 code units.
    const emoji = JSON.stringify({ type: 'ScopeFetch', index: 1, name: '😀'.repeat(8) });
    assert.equal(emoji.length, 16 + 41);
    frameError(decode(emoji, limits), 'maxFrameBytes');
    const fewEmoji = JSON.stringify({ type: 'ScopeFetch', index: 1, name: '😀'.repeat(2) });
    assert.equal(valid(fewEmoji, limits).type, 'ScopeFetch');
  });
  test('a byte frame of exactly the limit is accepted', () => {
    const text = '{"type":"Ping","index":0,"ack":1}';
    const bytes = new TextEncoder().encode(text);
    assert.equal(valid(bytes, small({ maxFrameBytes: bytes.length })).type, 'Ping');
    frameError(decode(bytes, small({ maxFrameBytes: bytes.length - 1 })), 'maxFrameBytes');
  });
  test('handshake frames too', () => {
    frameError(handshake('x'.repeat(defaultLimits.maxFrameBytes + 1)), 'maxFrameBytes');
  });
});

describe('maxMessagesPerFrame', () => {
  test('too many messages in one array frame is a frame error', () => {
    const ping = { type: 'Ping', index: 0, ack: 0 };
    const limits = small({ maxMessagesPerFrame: 3 });
    const ok = decode([ping, ping, ping], limits);
    assert.ok(ok.ok && ok.items.length === 3);
    frameError(
      decode([ping, ping, ping, ping], limits),
      'Frame holds 4 messages, more than maxMessagesPerFrame (3)',
    );
  });
});

describe('maxFragmentsPerChangeset', () => {
  test('too many fragments: answerable, naming the limit, with one error entry', () => {
    const limits = small({ maxFragmentsPerChangeset: 2 });
    assert.equal(valid(scopeSync({ fragments: [fragment(), fragment()] }), limits).type, 'ScopeSync');
    const item = answerable(
      scopeSync({ fragments: [fragment(), fragment(), fragment()] }),
      'Too many fragments: 3 exceeds maxFragmentsPerChangeset (2)',
      limits,
    );
    assert.equal(item.fragmentCount, 1);
  });
  test('at the default limit', () => {
    const fragments = Array.from({ length: 10_001 }, () => fragment());
    assert.equal(answerable(scopeSync({ fragments }), 'maxFragmentsPerChangeset (10000)').fragmentCount, 1);
  });
  test('an array within the limit gets one entry per element, whatever else is wrong', () => {
    const limits = small({ maxFragmentsPerChangeset: 3 });
    assert.equal(answerable(scopeSync({ fragments: [0, 0, 0] }), 'Fragment 0', limits).fragmentCount, 3);
    const badScope = scopeSync({ scopeIndex: -1, fragments: [0, 0, 0] });
    assert.equal(answerable(badScope, 'Invalid scopeIndex', limits).fragmentCount, 3);
    const tooMany = scopeSync({ scopeIndex: -1, fragments: [0, 0, 0, 0] });
    assert.equal(answerable(tooMany, 'Invalid scopeIndex', limits).fragmentCount, 1);
  });
});

describe('an error reply never grows with the size of invalid input', () => {
  const MiB = 1024 * 1024;
  const zeros = (n: number) => new Array(n).fill('0').join(',');
  /** The ScopeSyncReply the session builds for an answerable ScopeSync (docs/protocol.md §14). */
  const reply = (item: ReturnType<typeof answerable>) =>
    encodeScopeSyncReply(1, item.index, new Array(item.fragmentCount).fill({ error: item.error }));

  for (const [what, envelope] of [
    ['too many fragments', '"scopeIndex":0'],
    ['and a bad scopeIndex', '"scopeIndex":-1'],
    ['and a bad atomic', '"scopeIndex":0,"atomic":1'],
  ] as const) {
    test(`a 1 MiB frame of 520,000 zeros (${what}): one entry, a reply under 1 KiB`, () => {
      const text = `{"type":"ScopeSync","index":7,${envelope},"fragments":[${zeros(520_000)}]}`;
      assert.ok(text.length < MiB && text.length > MiB - 100_000);
      const item = answerable(text, /./);
      assert.equal(item.type, 'ScopeSync');
      assert.equal(item.fragmentCount, 1);
      const json = reply(item);
      assert.ok(Buffer.byteLength(json) < 1024, `${Buffer.byteLength(json)} bytes`);
      assert.equal(JSON.parse(json).fragmentReplies.length, 1);
    });
  }

  test('an error quotes at most 40 code units of client text: under 512 bytes encoded', () => {
    const uuid = UUID_A;
    for (const text of ['\u0001'.repeat(300), '\ud800'.repeat(300), '"'.repeat(300), '😀'.repeat(300)]) {
      const items = [
        { type: text, index: 1 },
        scopeSync({ fragments: [{ type: text }] }),
        scopeSync({ fragments: [{ type: 'add', uuid: text }] }),
        scopeSync({ fragments: [{ type: 'add', uuid, clsName: 'X', properties: { [text]: [1, {}] } }] }),
        scopeSync({
          fragments: [{ type: 'add', uuid, clsName: 'X', properties: { [text]: 'x'.repeat(300_000) } }],
        }),
      ];
      for (const value of items) {
        const item = single(value);
        assert.ok(item.kind !== 'message');
        const size = Buffer.byteLength(encodeError(item.error));
        assert.ok(size < 512, `${size} bytes: ${item.error.message}`);
      }
    }
  });

  test('as one of many messages of an array frame: every reply stays small', () => {
    const limits = small({ maxFragmentsPerChangeset: 100 });
    const one = `{"type":"ScopeSync","index":7,"scopeIndex":0,"fragments":[${zeros(1_000)}]}`;
    const result = decode(`[${new Array(500).fill(one).join(',')}]`, limits);
    assert.ok(result.ok);
    for (const item of result.items) {
      assert.ok(item.kind === 'answerable');
      assert.equal(item.fragmentCount, 1);
    }
  });
});

describe('maxPropertiesPerFragment, maxStringLength, maxArrayLength', () => {
  test('too many properties', () => {
    const limits = small({ maxPropertiesPerFragment: 2 });
    assert.equal(
      valid(scopeSync({ fragments: [fragment({ properties: { a: 1, b: 2 } })] }), limits).type,
      'ScopeSync',
    );
    answerable(
      scopeSync({ fragments: [fragment({ properties: { a: 1, b: 2, c: 3 } })] }),
      'Fragment 0: too many properties (maxPropertiesPerFragment 2)',
      limits,
    );
  });
  test('a long string value, in a property or in an array', () => {
    const limits = small({ maxStringLength: 5 });
    valid(scopeSync({ fragments: [fragment({ properties: { s: '12345', a: ['12345'] } })] }), limits);
    answerable(
      scopeSync({ fragments: [fragment({ properties: { s: '123456' } })] }),
      'Fragment 0: property "s" exceeds maxStringLength (5)',
      limits,
    );
    answerable(
      scopeSync({ fragments: [fragment({ properties: { a: ['1', '123456'] } })] }),
      'property "a"[1] exceeds maxStringLength (5)',
      limits,
    );
  });
  test('a long clsName or scope name', () => {
    const limits = small({ maxStringLength: 5 });
    answerable(
      scopeSync({ fragments: [fragment({ clsName: 'Shape6' })] }),
      'clsName exceeds maxStringLength',
      limits,
    );
    answerable(
      { type: 'ScopeFetch', index: 1, name: '123456' },
      'Invalid name: exceeds maxStringLength (5)',
      limits,
    );
  });
  test('a long array value', () => {
    const limits = small({ maxArrayLength: 3 });
    valid(scopeSync({ fragments: [fragment({ properties: { a: [1, 2, 3] } })] }), limits);
    answerable(
      scopeSync({ fragments: [fragment({ properties: { a: [1, 2, 3, 4] } })] }),
      'Fragment 0: property "a" exceeds maxArrayLength (3)',
      limits,
    );
  });
  test('limits inside params', () => {
    answerable(
      { type: 'ScopeFetch', index: 1, name: 'x', params: { a: [1, 2, 3, 4] } },
      'Invalid params: an array exceeds maxArrayLength (3)',
      small({ maxArrayLength: 3 }),
    );
    answerable(
      { type: 'ScopeFetch', index: 1, name: 'x', params: { a: { b: '123456' } } },
      'Invalid params: a string exceeds maxStringLength (5)',
      small({ maxStringLength: 5 }),
    );
  });
});

describe('maxParamsDepth', () => {
  const nested = (depth: number): Record<string, unknown> => {
    let value: Record<string, unknown> = {};
    for (let i = 1; i < depth; i++) value = { a: value };
    return value;
  };
  test('params of exactly maxParamsDepth are fine; one deeper is rejected', () => {
    assert.equal(
      valid({ type: 'SessionCreate', index: 0, version: '1.0.0', params: nested(32) }).type,
      'SessionCreate',
    );
    invalid(
      { type: 'SessionCreate', index: 0, version: '1.0.0', params: nested(33) },
      'Invalid params: nested deeper than maxParamsDepth (32)',
    );
    answerable({ type: 'ScopeFetch', index: 1, name: 'x', params: nested(33) }, 'maxParamsDepth (32)');
  });
  test('arrays count as nesting', () => {
    const limits = small({ maxParamsDepth: 3 });
    valid({ type: 'ScopeFetch', index: 1, name: 'x', params: { a: [[1]] } }, limits);
    answerable(
      { type: 'ScopeFetch', index: 1, name: 'x', params: { a: [[[1]]] } },
      'maxParamsDepth (3)',
      limits,
    );
  });
  test('very deep params (10,000 levels) do not overflow the stack', () => {
    const text = `{"type":"ScopeFetch","index":1,"name":"x","params":${'{"a":'.repeat(10_000)}1${'}'.repeat(10_000)}}`;
    answerable(text, 'maxParamsDepth');
  });
  test('with maxParamsDepth Infinity, params nested 170,000 levels deep still decode', () => {
    const limits = small({ maxParamsDepth: Number.POSITIVE_INFINITY });
    const depth = 170_000;
    const text = `{"type":"ScopeFetch","index":1,"name":"x","params":${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}}`;
    // Not through valid(): its failure message would JSON.stringify the params, which recurses.
    const result = decode(text, limits);
    assert.ok(result.ok && result.items[0]?.kind === 'message');
    const deepArray = `{"type":"SessionCreate","index":0,"version":"1.0.0","params":{"a":${'['.repeat(depth)}${']'.repeat(depth)}}}`;
    assert.equal(handshake(deepArray, limits).ok, true);
  });
  test('handshake: deep params deny the session', () => {
    frameError(
      handshake({ type: 'SessionCreate', index: 0, version: '1.0.0', params: nested(40) }),
      'maxParamsDepth',
    );
  });
});

describe('prototype pollution', () => {
  const pollutingParams =
    '{"__proto__":{"polluted":"yes","isAdmin":true},"constructor":{"prototype":{"polluted":"yes"}},' +
    '"prototype":{"x":1},"user":"u1","nested":{"__proto__":{"isAdmin":true},"deeper":[{"constructor":1,"ok":2}]}}';

  function assertClean(params: Record<string, unknown>): void {
    assert.equal(Object.getPrototypeOf(params), Object.prototype);
    assert.equal(Object.hasOwn(params, '__proto__'), false);
    assert.equal(Object.hasOwn(params, 'constructor'), false);
    assert.equal(Object.hasOwn(params, 'prototype'), false);
    const copy = Object.assign({}, params) as Record<string, unknown>;
    assert.equal(Object.getPrototypeOf(copy), Object.prototype);
    assert.equal(copy.isAdmin, undefined);
    assert.equal(copy.polluted, undefined);
    const spread = { ...params } as Record<string, unknown>;
    assert.equal(spread.isAdmin, undefined);
    const nested = params.nested as Record<string, unknown>;
    assert.equal(Object.hasOwn(nested, '__proto__'), false);
    assert.equal((Object.assign({}, nested) as Record<string, unknown>).isAdmin, undefined);
    assert.deepEqual(nested.deeper, [{ ok: 2 }]);
    assert.equal(params.user, 'u1');
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
    assert.equal(({} as Record<string, unknown>).isAdmin, undefined);
  }

  test('SessionCreate params: unsafe keys removed at every depth', () => {
    const text = `{"type":"SessionCreate","index":0,"version":"1.0.0","params":${pollutingParams}}`;
    const message = valid(text) as SessionCreate;
    assertClean(message.params);
    const result = handshake(text);
    assert.ok(result.ok);
    const item = result.items[0]!;
    assert.ok(item.kind === 'message' && item.message.type === 'SessionCreate');
    assertClean(item.message.params);
  });

  test('ScopeFetch params', () => {
    const message = valid(
      `{"type":"ScopeFetch","index":1,"name":"x","params":${pollutingParams}}`,
    ) as ScopeFetch;
    assertClean(message.params);
  });

  test('\\u-escaped keys are caught too', () => {
    const text =
      '{"type":"ScopeFetch","index":1,"name":"x","params":{"\\u005f_proto__":{"isAdmin":true},"a":1}}';
    const message = valid(text) as ScopeFetch;
    assert.deepEqual(Object.keys(message.params), ['a']);
    assert.equal((Object.assign({}, message.params) as Record<string, unknown>).isAdmin, undefined);
  });

  test('fragment properties named __proto__, constructor or prototype reject the fragment', () => {
    for (const key of ['__proto__', 'constructor', 'prototype']) {
      const text = `{"type":"ScopeSync","index":3,"scopeIndex":0,"fragments":[{"type":"change","uuid":"${UUID_A}","clsName":"Shape","properties":{"x":1,"${key}":null}}]}`;
      const item = answerable(text, `Fragment 0: property name "${key}" is not allowed`);
      assert.equal(item.error.type, 'invalid-fragment');
    }
    assert.equal(({} as Record<string, unknown>).x, undefined);
  });

  test('inherited enumerable keys (a polluted Object.prototype) are not read as properties', () => {
    const proto = Object.prototype as Record<string, unknown>;
    proto.injected = 1;
    try {
      answerable(
        scopeSync({ fragments: [fragment({ properties: { x: 1 } })] }),
        'property "injected" is not allowed',
      );
    } finally {
      delete proto.injected;
    }
  });
});
