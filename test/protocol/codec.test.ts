// decodeFrame: client → server frames. Mirrors the original server's message tests
// (docs/protocol.md §2, §5, §6, §11, §14).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { decodeFrame, defaultLimits, type Ping, type ScopeSync } from '../../src/protocol/index.js';
import {
  answerable,
  assertMessage,
  decode,
  fragment,
  frameError,
  handshake,
  invalid,
  scopeSync,
  single,
  UUID_A,
  UUID_B,
  valid,
} from './helpers.js';

describe('frames (network_message_parser)', () => {
  test('a non-JSON string is a frame error', () => {
    frameError(decode('{not json'), 'input was not JSON');
  });

  test('a bare Reply object gives one Reply message', () => {
    assert.deepEqual(valid('{"type":"Reply","index":0,"replyTo":0}'), {
      type: 'Reply',
      index: 0,
      replyTo: 0,
    });
  });

  test('an array of two messages gives two items in array order, not sorted by index', () => {
    const result = decode([
      { type: 'ScopeFetch', index: 3, name: 'B' },
      { type: 'Ping', index: 0, ack: 1 },
      { type: 'ScopeFetch', index: 1, name: 'A' },
    ]);
    assert.ok(result.ok);
    assert.deepEqual(
      result.items.map((i) => (i.kind === 'message' ? i.message.index : -1)),
      [3, 0, 1],
    );
  });

  test('null, a number, a string, true are frame errors', () => {
    for (const text of ['null', '42', '"hello"', 'true']) {
      frameError(decode(text), 'must be a message object or an array');
    }
  });

  test('an empty array is a frame with no items', () => {
    assert.deepEqual(decode('[]'), { ok: true, items: [] });
  });

  test('array elements that are not objects, or {} are invalid items; the others still decode', () => {
    const result = decode([1, null, 'x', [], {}, { type: 'Ping', index: 0, ack: 0 }]);
    assert.ok(result.ok);
    assert.deepEqual(
      result.items.map((i) => i.kind),
      ['invalid', 'invalid', 'invalid', 'invalid', 'invalid', 'message'],
    );
    const first = result.items[0]!;
    assert.ok(first.kind === 'invalid');
    assertMessage(first.error.message, 'must be an object');
    const empty = result.items[4]!;
    assert.ok(empty.kind === 'invalid');
    assertMessage(empty.error.message, 'Requires type');
  });

  test('an unknown type is invalid and named', () => {
    invalid({ type: 'ScopeDelete', index: 1 }, 'Unknown message type "ScopeDelete"');
    invalid({ type: 42, index: 1 }, 'Requires type');
  });

  test('a very long unknown type is truncated in the error', () => {
    const message = invalid({ type: 'x'.repeat(10_000), index: 1 }, 'Unknown message type');
    assert.ok(message.length < 100);
  });

  test('binary input (Uint8Array, ArrayBuffer) is decoded as UTF-8', () => {
    const text = JSON.stringify({ type: 'ScopeFetch', index: 1, name: 'Café ☕', params: { who: 'Zoë' } });
    const bytes = new TextEncoder().encode(text);
    for (const data of [bytes, bytes.buffer.slice(0), new Uint8Array(bytes)]) {
      const result = decodeFrame(data, defaultLimits, { handshake: false });
      assert.ok(result.ok);
      const item = result.items[0]!;
      assert.ok(item.kind === 'message');
      assert.deepEqual(item.message, {
        type: 'ScopeFetch',
        index: 1,
        name: 'Café ☕',
        params: { who: 'Zoë' },
      });
    }
  });

  test('a Uint8Array view into a larger buffer decodes only its own bytes', () => {
    const text = '{"type":"Ping","index":0,"ack":7}';
    const backing = new Uint8Array(100).fill(32);
    const encoded = new TextEncoder().encode(text);
    backing.set(encoded, 10);
    const view = new Uint8Array(backing.buffer, 10, encoded.length);
    assert.deepEqual(valid(view), { type: 'Ping', index: 0, ack: 7, resendMissing: false });
  });

  test('invalid UTF-8 bytes do not throw', () => {
    const result = decodeFrame(new Uint8Array([0xff, 0xfe, 0x7b]), defaultLimits, { handshake: false });
    frameError(result, 'not JSON');
  });

  test('extra keys on a message are ignored and not passed on', () => {
    const message = valid({ type: 'Ping', index: 0, ack: 1, resendMissing: true, extra: { a: 1 } });
    assert.deepEqual(message, { type: 'Ping', index: 0, ack: 1, resendMissing: true });
  });
});

describe('index (abstract_network_message)', () => {
  const cases: Array<[string, unknown]> = [
    ['missing', undefined],
    ['negative', -1],
    ['float', 1.5],
    ['string', '1'],
    ['null', null],
    ['beyond MAX_SAFE_INTEGER', 2 ** 53],
  ];
  for (const [name, index] of cases) {
    test(`${name} index is invalid, never answerable`, () => {
      for (const base of [
        { type: 'Ping', ack: 0 },
        { type: 'ScopeFetch', name: 'x' },
        { type: 'ScopeSync', scopeIndex: 0, fragments: [] },
        { type: 'Reply', replyTo: 0 },
      ]) {
        invalid({ ...base, index }, /index/);
      }
    });
  }
  test('index 0 and large safe integers are fine', () => {
    assert.equal(valid({ type: 'Ping', index: 0, ack: 0 }).index, 0);
    assert.equal(valid({ type: 'ScopeFetch', index: 2 ** 53 - 1, name: 'x' }).index, 2 ** 53 - 1);
  });
});

describe('SessionCreate (session_create_message)', () => {
  test('valid, params defaulted to {}', () => {
    assert.deepEqual(valid({ type: 'SessionCreate', index: 0, version: '1.0.0' }), {
      type: 'SessionCreate',
      index: 0,
      version: '1.0.0',
      params: {},
    });
  });
  test('params kept; null params read as {}', () => {
    const params = { userId: 'u-42', nested: { a: [1, 2, { b: null }] } };
    assert.deepEqual(valid({ type: 'SessionCreate', index: 0, version: '0.2.0', params }), {
      type: 'SessionCreate',
      index: 0,
      version: '0.2.0',
      params,
    });
    assert.deepEqual(
      valid({ type: 'SessionCreate', index: 0, version: '0.1.0', params: null }).type,
      'SessionCreate',
    );
  });
  test('a numeric version: "Requires version"', () => {
    invalid({ type: 'SessionCreate', index: 0, version: 1 }, 'Requires version');
    invalid({ type: 'SessionCreate', index: 0 }, 'Requires version');
  });
  test('a non-semver version: "Requires valid version"', () => {
    for (const version of ['1.0', 'v1.0.0', '01.0.0', '1.0.0-', 'latest', '', '1.0.0 ']) {
      invalid({ type: 'SessionCreate', index: 0, version }, 'Requires valid version');
    }
  });
  test('semver with pre-release and build metadata is accepted', () => {
    for (const version of [
      '1.0.0-alpha.1',
      '1.0.0-0.3.7',
      '1.0.0+20130313144700',
      '1.0.0-beta+exp.sha.5114f85',
    ]) {
      assert.equal(valid({ type: 'SessionCreate', index: 0, version }).type, 'SessionCreate');
    }
  });
  test('params must be an object', () => {
    for (const params of [[], 'x', 3, true]) {
      invalid({ type: 'SessionCreate', index: 0, version: '1.0.0', params }, 'Invalid params');
    }
  });
  test('{type:"SessionCreate"} alone is invalid', () => {
    invalid({ type: 'SessionCreate' }, 'index');
  });
  test('after the handshake, a valid SessionCreate is a known (ignorable) message', () => {
    assert.equal(valid({ type: 'SessionCreate', index: 0, version: '1.0.0' }).type, 'SessionCreate');
  });
});

describe('handshake mode', () => {
  test('a bare valid SessionCreate is accepted', () => {
    const result = handshake({ type: 'SessionCreate', index: 0, version: '0.2.0', params: { token: 't' } });
    assert.ok(result.ok);
    assert.equal(result.items.length, 1);
    const item = result.items[0]!;
    assert.ok(item.kind === 'message');
    assert.deepEqual(item.message, {
      type: 'SessionCreate',
      index: 0,
      version: '0.2.0',
      params: { token: 't' },
    });
  });
  test('an array, even [SessionCreate], is an unrecognized handshake', () => {
    frameError(
      handshake([{ type: 'SessionCreate', index: 0, version: '0.2.0' }]),
      'Unrecognized handshake',
      'unrecognized-handshake',
    );
  });
  test('another message type or a non-object is an unrecognized handshake', () => {
    for (const value of [{ type: 'Ping', index: 0, ack: 0 }, { index: 0 }, 'null', '3']) {
      frameError(handshake(value), 'Unrecognized handshake', 'unrecognized-handshake');
    }
  });
  test('not JSON', () => {
    frameError(handshake('SessionCreate'), 'Could not parse message input, input was not JSON');
  });
  test('a bad version is a frame error with the reason', () => {
    frameError(handshake({ type: 'SessionCreate', index: 0, version: 'one' }), 'Requires valid version');
    frameError(handshake({ type: 'SessionCreate', index: 0 }), 'Requires version');
  });
  test('bad params in the handshake', () => {
    frameError(
      handshake({ type: 'SessionCreate', index: 0, version: '1.0.0', params: [] }),
      'Invalid params',
    );
  });
  test('errors fit a WebSocket close reason (123 bytes) as JSON', () => {
    for (const value of [
      [{}],
      'x',
      { type: 'SessionCreate', index: 0, version: 'x' },
      { type: 'SessionCreate', index: -1, version: '1.0.0' },
      'x'.repeat(defaultLimits.maxFrameBytes + 1),
    ]) {
      const result = handshake(value);
      assert.ok(!result.ok);
      assert.ok(
        new TextEncoder().encode(JSON.stringify(result.error)).length <= 123,
        JSON.stringify(result.error),
      );
    }
  });
});

describe('ScopeFetch (scope_fetch_message)', () => {
  test('valid, params defaulted to {}', () => {
    assert.deepEqual(valid({ type: 'ScopeFetch', index: 2, name: 'TestScope' }), {
      type: 'ScopeFetch',
      index: 2,
      name: 'TestScope',
      params: {},
    });
  });
  test('params kept', () => {
    const message = valid({ type: 'ScopeFetch', index: 1, name: 'Canvas', params: { canvasId: 'c-7' } });
    assert.deepEqual(message, { type: 'ScopeFetch', index: 1, name: 'Canvas', params: { canvasId: 'c-7' } });
  });
  test('a non-string name is answerable ("Invalid name")', () => {
    const item = answerable({ type: 'ScopeFetch', index: 4, name: 5 }, 'Invalid name');
    assert.deepEqual(item, {
      kind: 'answerable',
      type: 'ScopeFetch',
      index: 4,
      error: item.error,
      fragmentCount: 0,
    });
    assert.equal(item.error.type, 'invalid-message');
    answerable({ type: 'ScopeFetch', index: 4 }, 'Requires name');
  });
  test('bad params are answerable', () => {
    answerable({ type: 'ScopeFetch', index: 4, name: 'x', params: [1] }, 'Invalid params');
  });
  test('{type:"ScopeFetch"} without index is invalid (not answerable)', () => {
    invalid({ type: 'ScopeFetch' }, 'index');
  });
});

describe('ScopeSync (scope_sync_message)', () => {
  test('a full message with one add fragment', () => {
    const message = valid(
      scopeSync({ fragments: [{ type: 'add', uuid: UUID_B, clsName: 'Shape', properties: { x: 5, y: 5 } }] }),
    );
    assert.deepEqual(message, {
      type: 'ScopeSync',
      index: 2,
      scopeIndex: 0,
      atomic: false,
      fragments: [{ type: 'add', uuid: UUID_B, clsName: 'Shape', properties: { x: 5, y: 5 } }],
    });
  });
  test('atomic absent → false; atomic true kept; procedure kept', () => {
    const { atomic: _, ...noAtomic } = scopeSync();
    assert.equal((valid(noAtomic) as ScopeSync).atomic, false);
    assert.equal((valid(scopeSync({ atomic: true })) as ScopeSync).atomic, true);
    const withProcedure = valid(scopeSync({ atomic: true, procedure: 'ChatRoom.setName' })) as ScopeSync;
    assert.equal(withProcedure.procedure, 'ChatRoom.setName');
    assert.equal(withProcedure.atomic, true);
    assert.equal((valid(scopeSync({ procedure: 'A.b' })) as ScopeSync).atomic, false);
    assert.equal('procedure' in (valid(scopeSync()) as ScopeSync), false);
  });
  test('an empty fragments array is valid', () => {
    assert.deepEqual((valid(scopeSync({ fragments: [] })) as ScopeSync).fragments, []);
  });
  test('negative scopeIndex: answerable "Invalid scopeIndex" with the fragment count', () => {
    const item = answerable(scopeSync({ scopeIndex: -1 }), 'Invalid scopeIndex');
    assert.equal(item.type, 'ScopeSync');
    assert.equal(item.index, 2);
    assert.equal(item.fragmentCount, 1);
  });
  test('non-array fragments: answerable with fragmentCount 0', () => {
    const item = answerable(scopeSync({ fragments: { 0: fragment() } }), 'Invalid fragments');
    assert.equal(item.fragmentCount, 0);
    assert.equal(answerable(scopeSync({ fragments: undefined }), 'Requires fragments').fragmentCount, 0);
  });
  test('non-boolean atomic ("yes", null): "Invalid atomic"', () => {
    answerable(scopeSync({ atomic: 'yes' }), 'Invalid atomic');
    answerable(scopeSync({ atomic: null }), 'Invalid atomic');
  });
  test('non-string procedure: "Invalid procedure"', () => {
    answerable(scopeSync({ atomic: true, procedure: 5 }), 'Invalid procedure');
  });
  test('procedure without atomic: "requires the atomic key"', () => {
    const { atomic: _, ...noAtomic } = scopeSync({ procedure: 'ChatRoom.setName' });
    answerable(noAtomic, 'Procedure requires the atomic key');
  });
  test('procedure without exactly one dot, or an empty side', () => {
    for (const procedure of ['setName', 'A.b.c', '.b', 'A.', '']) {
      answerable(
        scopeSync({ atomic: true, procedure }),
        'Procedure must be of the format "ModelName.procedureName"',
      );
    }
  });
  test('{type:"ScopeSync"} and {type:"ScopeSync",fragments:[]} without index are invalid', () => {
    invalid({ type: 'ScopeSync' }, 'index');
    invalid({ type: 'ScopeSync', fragments: [] }, 'index');
  });
  test('with an index but no scopeIndex: answerable', () => {
    answerable({ type: 'ScopeSync', index: 5, fragments: [] }, 'Requires scopeIndex');
  });
});

describe('fragments', () => {
  const sync = (...fragments: unknown[]) => scopeSync({ fragments });
  const fragmentsOf = (value: unknown) => (valid(value) as ScopeSync).fragments;

  test('uppercase uuid is accepted and lowercased', () => {
    assert.equal(fragmentsOf(sync(fragment({ uuid: UUID_A.toUpperCase() })))[0]!.uuid, UUID_A);
    const mixed = 'A9F0c1d2-7B3E-4c5d-9E8F-1a2b3c4d5e6f';
    assert.equal(fragmentsOf(sync(fragment({ uuid: mixed })))[0]!.uuid, UUID_B);
  });
  test('missing or null properties → {}', () => {
    const { properties: _, ...noProps } = fragment({ type: 'add' });
    const [a, b] = fragmentsOf(sync(noProps, fragment({ properties: null })));
    assert.deepEqual(a, { type: 'add', uuid: UUID_A, clsName: 'Shape', properties: {} });
    assert.deepEqual(b!.properties, {});
  });
  test('fragments are clean objects: extra keys dropped', () => {
    const [f] = fragmentsOf(sync(fragment({ extra: 1, objectUUID: 'x' })));
    assert.deepEqual(Object.keys(f!), ['type', 'uuid', 'clsName', 'properties']);
  });
  test('all allowed value types', () => {
    const properties = {
      s: 'x',
      n: -1.5,
      b: false,
      z: null,
      arr: ['a', 1, true, null],
      empty: [],
      refs: [UUID_A, UUID_B],
    };
    assert.deepEqual(fragmentsOf(sync(fragment({ properties })))[0]!.properties, properties);
  });
  test('order is kept', () => {
    const fs = fragmentsOf(sync(fragment({ uuid: UUID_B, type: 'add' }), fragment()));
    assert.deepEqual(
      fs.map((f) => f.uuid),
      [UUID_B, UUID_A],
    );
  });

  const bad: Array<[string, unknown, string]> = [
    ['a non-object fragment', 'x', 'Fragment 1: must be an object'],
    ['a null fragment', null, 'Fragment 1: must be an object'],
    ['type remove', fragment({ type: 'remove' }), 'Fragment 1: invalid type "remove"'],
    ['type missing', fragment({ type: undefined }), 'Fragment 1: invalid type'],
    ['uuid "xyz"', fragment({ uuid: 'xyz' }), 'Fragment 1: invalid uuid "xyz"'],
    ['uuid missing', fragment({ uuid: undefined }), 'Fragment 1: requires uuid'],
    ['uuid a number', fragment({ uuid: 5 }), 'Fragment 1: invalid uuid'],
    ['uuid without dashes', fragment({ uuid: UUID_A.replaceAll('-', '') }), 'invalid uuid'],
    ['uuid with braces', fragment({ uuid: `{${UUID_A.slice(1, -1)}}` }), 'invalid uuid'],
    ['uuid with a bad variant', fragment({ uuid: '5d1e9b9a-3c44-4f0b-cd7a-0f2b6c1e2a33' }), 'invalid uuid'],
    ['uuid with version 0', fragment({ uuid: '5d1e9b9a-3c44-0f0b-8d7a-0f2b6c1e2a33' }), 'invalid uuid'],
    ['uuid with a non-hex digit', fragment({ uuid: '5d1e9b9a-3c44-4f0b-8d7a-0f2b6c1e2a3g' }), 'invalid uuid'],
    ['clsName missing', fragment({ clsName: undefined }), 'Fragment 1: clsName must be a non-empty string'],
    ['clsName empty', fragment({ clsName: '' }), 'Fragment 1: clsName must be a non-empty string'],
    ['clsName a number', fragment({ clsName: 3 }), 'clsName must be a non-empty string'],
    ['properties an array', fragment({ properties: [1] }), 'Fragment 1: properties must be an object'],
    ['properties a string', fragment({ properties: 'x' }), 'Fragment 1: properties must be an object'],
    [
      'a nested object value',
      fragment({ properties: { a: { b: 1 } } }),
      'Fragment 1: property "a" must be null',
    ],
    [
      'a nested array value',
      fragment({ properties: { a: [[1]] } }),
      'Fragment 1: property "a"[0] must be null',
    ],
    ['an object in an array', fragment({ properties: { a: [1, {}] } }), 'Fragment 1: property "a"[1]'],
  ];
  for (const [name, f, message] of bad) {
    test(`${name}: the whole ScopeSync is answerable, naming the fragment`, () => {
      const item = answerable(sync(fragment(), f), message);
      assert.equal(item.error.type, 'invalid-fragment');
      assert.equal(item.fragmentCount, 2);
    });
  }
  test('nil and max uuids are valid', () => {
    for (const uuid of ['00000000-0000-0000-0000-000000000000', 'FFFFFFFF-FFFF-FFFF-FFFF-FFFFFFFFFFFF']) {
      assert.equal(fragmentsOf(sync(fragment({ uuid })))[0]!.uuid, uuid.toLowerCase());
    }
  });
});

describe('Ping (ping_message)', () => {
  test('negative ack: "Invalid ack"', () => {
    invalid({ type: 'Ping', index: 0, ack: -1 }, 'Invalid ack');
    invalid({ type: 'Ping', index: 0, ack: 0.5 }, 'Invalid ack');
  });
  test('resendMissing true is kept', () => {
    assert.equal(
      (valid({ type: 'Ping', index: 0, ack: 1, resendMissing: true }) as Ping).resendMissing,
      true,
    );
  });
  test('omitted resendMissing defaults to false', () => {
    assert.deepEqual(valid({ type: 'Ping', index: 2, ack: 1 }), {
      type: 'Ping',
      index: 2,
      ack: 1,
      resendMissing: false,
    });
  });
  test('non-boolean resendMissing', () => {
    invalid({ type: 'Ping', index: 0, ack: 1, resendMissing: 'yes' }, 'Invalid resendMissing');
  });
  test('{type:"Ping"} without index/ack', () => {
    invalid({ type: 'Ping' }, 'index');
    invalid({ type: 'Ping', index: 0 }, 'Requires ack');
  });
});

describe('Reply (reply_message)', () => {
  test('negative replyTo: "Invalid replyTo"', () => {
    invalid({ type: 'Reply', index: 0, replyTo: -1 }, 'Invalid replyTo');
  });
  test('{type:"Reply"} without index/replyTo', () => {
    invalid({ type: 'Reply' }, 'index');
    invalid({ type: 'Reply', index: 1 }, 'Requires replyTo');
  });
  test('{type:"Reply",index:2,replyTo:1} parses', () => {
    assert.deepEqual(valid({ type: 'Reply', index: 2, replyTo: 1 }), { type: 'Reply', index: 2, replyTo: 1 });
  });
});

describe('known but ignored: SessionCreateReply and ScopeState from a client', () => {
  test('they decode to {type, index} only', () => {
    assert.deepEqual(valid({ type: 'SessionCreateReply', index: 2, sessionToken: 't' }), {
      type: 'SessionCreateReply',
      index: 2,
    });
    assert.deepEqual(
      valid({ type: 'ScopeState', index: 2, scopeIndex: 0, rootUUID: UUID_A, fragments: [] }),
      {
        type: 'ScopeState',
        index: 2,
      },
    );
  });
  test('they still need an index', () => {
    invalid({ type: 'ScopeState', fragments: [] }, 'index');
    invalid({ type: 'SessionCreateReply' }, 'index');
  });
  test('server-only types (ScopeSyncReply, ScopeFetchReply) are unknown to the server', () => {
    invalid({ type: 'ScopeSyncReply', index: 2, replyTo: 1, fragmentReplies: [] }, 'Unknown message type');
    invalid({ type: 'ScopeFetchReply', index: 2, replyTo: 1, scopeIndex: 0 }, 'Unknown message type');
  });
});

describe('a table of bad inputs', () => {
  const table: Array<[string, unknown, 'frame' | 'invalid' | 'answerable', string]> = [
    ['not JSON', 'nope', 'frame', 'not JSON'],
    ['truncated JSON', '{"type":"Ping"', 'frame', 'not JSON'],
    ['a number', '1', 'frame', 'must be a message object'],
    ['null', 'null', 'frame', 'must be a message object'],
    ['a string', '"Ping"', 'frame', 'must be a message object'],
    ['unknown type', { type: 'Nope', index: 1 }, 'invalid', 'Unknown message type "Nope"'],
    ['missing index', { type: 'ScopeFetch', name: 'x' }, 'invalid', 'Requires index'],
    ['negative index', { type: 'ScopeFetch', index: -3, name: 'x' }, 'invalid', 'Invalid index'],
    ['float index', { type: 'ScopeFetch', index: 1.1, name: 'x' }, 'invalid', 'Invalid index'],
    ['string scopeIndex', scopeSync({ scopeIndex: '0' }), 'answerable', 'Invalid scopeIndex'],
    ['string name', { type: 'ScopeFetch', index: 1, name: ['x'] }, 'answerable', 'Invalid name'],
    ['string ack', { type: 'Ping', index: 0, ack: '1' }, 'invalid', 'Invalid ack'],
    ['procedure without dot', scopeSync({ procedure: 'x' }), 'answerable', 'ModelName.procedureName'],
    ['bad semver', { type: 'SessionCreate', index: 0, version: '1' }, 'invalid', 'Requires valid version'],
    [
      'bad uuid',
      scopeSync({ fragments: [fragment({ uuid: 'xyz' })] }),
      'answerable',
      'Fragment 0: invalid uuid "xyz"',
    ],
    [
      'nested object property',
      scopeSync({ fragments: [fragment({ properties: { p: { q: 1 } } })] }),
      'answerable',
      'Fragment 0: property "p"',
    ],
  ];
  for (const [name, value, kind, message] of table) {
    test(name, () => {
      if (kind === 'frame') frameError(decode(value), message);
      else if (kind === 'invalid') invalid(value, message);
      else answerable(value, message);
    });
  }
});

describe('never throws', () => {
  test('on odd inputs', () => {
    const inputs: unknown[] = [
      '',
      ' ',
      '[[[[[[]]]]]]',
      '[null]',
      '{"__proto__":{"polluted":1},"type":"Ping","index":0,"ack":0}',
      '{"type":"ScopeSync","index":1,"scopeIndex":0,"fragments":[null,1,"x",[]]}',
      '{"type":"ScopeSync","index":1,"scopeIndex":0,"fragments":[{"type":"add","uuid":null,"clsName":null,"properties":null}]}',
      `${'['.repeat(100_000)}${']'.repeat(100_000)}`,
      new Uint8Array(0),
      new ArrayBuffer(4),
    ];
    for (const input of inputs) {
      for (const handshakeMode of [false, true]) {
        assert.doesNotThrow(() =>
          decodeFrame(input as string | Uint8Array | ArrayBuffer, defaultLimits, {
            handshake: handshakeMode,
          }),
        );
      }
    }
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
  });

  test('a constructor-named type is unknown, not Object', () => {
    for (const type of ['constructor', '__proto__', 'toString', 'hasOwnProperty']) {
      invalid({ type, index: 1 }, 'Unknown message type');
    }
  });
});

test('single helper sanity: a ScopeSync with a usable index and bad fragment is answerable', () => {
  const item = single(scopeSync({ fragments: [fragment({ type: 'x' })] }));
  assert.equal(item.kind, 'answerable');
});
