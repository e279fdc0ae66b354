// Limits (docs/protocol.md §11) and prototype-pollution safety of `params` and `properties`.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  decodeFrame,
  defaultLimits,
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
  test('too many fragments: answerable, naming the limit, with the fragment count', () => {
    const limits = small({ maxFragmentsPerChangeset: 2 });
    assert.equal(valid(scopeSync({ fragments: [fragment(), fragment()] }), limits).type, 'ScopeSync');
    const item = answerable(
      scopeSync({ fragments: [fragment(), fragment(), fragment()] }),
      'Too many fragments: 3 exceeds maxFragmentsPerChangeset (2)',
      limits,
    );
    assert.equal(item.fragmentCount, 3);
  });
  test('at the default limit', () => {
    const fragments = Array.from({ length: 10_001 }, () => fragment());
    answerable(scopeSync({ fragments }), 'maxFragmentsPerChangeset (10000)');
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
