// The client side: encoders for client → server messages, and decodeServerFrame.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  decodeFrame,
  decodeServerFrame,
  defaultLimits,
  encodeClientScopeSync,
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
  type Fragment,
  type ServerDecodeResult,
} from '../../src/protocol/index.js';
import { assertKeys, assertMessage, UUID_A, UUID_B } from './helpers.js';

const fragments: Fragment[] = [
  { type: 'add', uuid: UUID_B, clsName: 'Shape', properties: { x: 5 } },
  { type: 'change', uuid: UUID_A, clsName: 'Canvas', properties: { shapes: [UUID_B] } },
];

describe('client encoders', () => {
  test('SessionCreate: exactly {type, index:0, version, params} (params defaulted)', () => {
    const parsed = JSON.parse(encodeSessionCreate('1.0.0'));
    assert.deepEqual(parsed, { type: 'SessionCreate', index: 0, version: '1.0.0', params: {} });
    assertKeys(parsed, ['type', 'index', 'version', 'params']);
    assert.deepEqual(JSON.parse(encodeSessionCreate('0.2.0', { a: 1 })).params, { a: 1 });
  });
  test('ScopeFetch: exactly {type, index, name, params}', () => {
    const parsed = JSON.parse(encodeScopeFetch(2, 'TestScope'));
    assert.deepEqual(parsed, { type: 'ScopeFetch', index: 2, name: 'TestScope', params: {} });
    assertKeys(parsed, ['type', 'index', 'name', 'params']);
  });
  test('ScopeSync: atomic always sent (false by default)', () => {
    const parsed = JSON.parse(encodeClientScopeSync(2, 0, fragments));
    assert.deepEqual(parsed, { type: 'ScopeSync', index: 2, scopeIndex: 0, atomic: false, fragments });
    assertKeys(parsed, ['type', 'index', 'scopeIndex', 'atomic', 'fragments']);
  });
  test('ScopeSync with atomic and procedure', () => {
    const parsed = JSON.parse(
      encodeClientScopeSync(2, 0, [{ type: 'add', uuid: UUID_A, clsName: 'clsName' }], {
        atomic: true,
        procedure: 'Model.procedure',
      }),
    );
    assert.deepEqual(parsed, {
      type: 'ScopeSync',
      index: 2,
      scopeIndex: 0,
      atomic: true,
      procedure: 'Model.procedure',
      fragments: [{ type: 'add', uuid: UUID_A, clsName: 'clsName', properties: {} }],
    });
  });
  test('the server decodes what the client encodes', () => {
    const frames = [
      encodeSessionCreate('0.1.0', { token: 'x' }),
      encodeScopeFetch(1, 'Canvas', { id: 7 }),
      encodeClientScopeSync(2, 0, fragments, { procedure: 'Canvas.add' }),
      encodePing(3, true),
    ];
    for (const frame of frames) {
      const result = decodeFrame(frame, defaultLimits, { handshake: false });
      assert.ok(result.ok);
      assert.equal(result.items[0]!.kind, 'message', frame);
    }
  });
});

function ok(result: ServerDecodeResult): Extract<ServerDecodeResult, { ok: true }> {
  assert.ok(result.ok, JSON.stringify(result));
  return result;
}

describe('decodeServerFrame', () => {
  test('decodes every server message the server encodes, in order', () => {
    const json = encodeFragments(fragments);
    const frame = encodeFrame([
      encodeSessionCreateReply(0, 'token'),
      encodeScopeFetchReply(1, 1, 0),
      encodeScopeState(2, 0, UUID_A, json),
      encodeScopeSync(3, 0, json),
      encodeScopeSyncReply(4, 2, [
        {},
        { error: { message: 'no', type: 'invalid-fragment' } },
        { modifications: { x: 1 } },
      ]),
      encodePing(1, true),
    ]);
    const result = ok(decodeServerFrame(frame));
    assert.deepEqual(result.dropped, []);
    assert.deepEqual(result.messages, [
      { type: 'SessionCreateReply', index: 0, sessionToken: 'token' },
      { type: 'ScopeFetchReply', index: 1, replyTo: 1, scopeIndex: 0 },
      { type: 'ScopeState', index: 2, scopeIndex: 0, rootUUID: UUID_A, fragments },
      { type: 'ScopeSync', index: 3, scopeIndex: 0, fragments },
      {
        type: 'ScopeSyncReply',
        index: 4,
        replyTo: 2,
        fragmentReplies: [
          {},
          { error: { message: 'no', type: 'invalid-fragment' } },
          { modifications: { x: 1 } },
        ],
      },
      { type: 'Ping', index: 0, ack: 1, resendMissing: true },
    ]);
  });

  test('error forms of SessionCreateReply and ScopeFetchReply', () => {
    const frame = encodeFrame([
      encodeSessionCreateReply(0, { message: 'Session creation denied' }),
      encodeScopeFetchReply(1, 1, { message: 'No such scope', type: 'rejected' }),
    ]);
    assert.deepEqual(ok(decodeServerFrame(frame)).messages, [
      { type: 'SessionCreateReply', index: 0, error: { message: 'Session creation denied' } },
      {
        type: 'ScopeFetchReply',
        index: 1,
        replyTo: 1,
        error: { message: 'No such scope', type: 'rejected' },
      },
    ]);
  });

  test('unknown types and invalid messages are dropped, the rest kept', () => {
    const frame = JSON.stringify([
      { type: 'Reply', index: 1, replyTo: 1 },
      { type: 'ScopeFetchReply', index: 1, replyTo: 1 },
      { type: 'SessionCreateReply', index: 0 },
      { type: 'Ping', index: 0, ack: -1 },
      {
        type: 'ScopeSync',
        index: 2,
        scopeIndex: 0,
        fragments: [{ type: 'add', uuid: 'nope', clsName: 'X' }],
      },
      { type: 'ScopeState', index: 2, scopeIndex: 0, fragments: [] },
      { type: 'ScopeSyncReply', index: 2, replyTo: 1, fragmentReplies: [{ modifications: { a: { b: 1 } } }] },
      { type: 'ScopeSyncReply', index: 2, replyTo: 1, fragmentReplies: {} },
      5,
      { index: 1 },
      { type: 'Ping', index: 0, ack: 0 },
    ]);
    const result = ok(decodeServerFrame(frame));
    assert.deepEqual(result.messages, [{ type: 'Ping', index: 0, ack: 0, resendMissing: false }]);
    const messages = result.dropped.map((e) => e.message);
    assert.equal(messages.length, 10);
    const expected = [
      'Unknown message type "Reply"',
      'requires scopeIndex or error',
      'requires sessionToken or error',
      'Invalid ack',
      'Fragment 0: invalid uuid',
      'Requires rootUUID',
      'modifications: property "a"',
      'Invalid fragmentReplies',
      'must be an object',
      'Requires type',
    ];
    expected.forEach((text, i) => {
      assertMessage(messages[i]!, text);
    });
  });

  test('a bare object is accepted; uppercase uuids are lowercased', () => {
    const result = ok(
      decodeServerFrame(
        JSON.stringify({
          type: 'ScopeState',
          index: 2,
          scopeIndex: 0,
          rootUUID: UUID_A.toUpperCase(),
          fragments: [{ type: 'change', uuid: UUID_A.toUpperCase(), clsName: 'Canvas' }],
        }),
      ),
    );
    assert.deepEqual(result.messages, [
      {
        type: 'ScopeState',
        index: 2,
        scopeIndex: 0,
        rootUUID: UUID_A,
        fragments: [{ type: 'change', uuid: UUID_A, clsName: 'Canvas', properties: {} }],
      },
    ]);
  });

  test('binary input', () => {
    const bytes = new TextEncoder().encode(encodeFrame([encodePing(4, false)]));
    assert.deepEqual(ok(decodeServerFrame(bytes)).messages, [
      { type: 'Ping', index: 0, ack: 4, resendMissing: false },
    ]);
    assert.equal(ok(decodeServerFrame(bytes.buffer)).messages.length, 1);
  });

  test('frame errors: not JSON, not an object or array, too big', () => {
    for (const [data, text] of [
      ['nope', 'not JSON'],
      ['3', 'must be a message object or an array'],
    ] as const) {
      const result = decodeServerFrame(data);
      assert.ok(!result.ok);
      assertMessage(result.error.message, text);
    }
    const big = decodeServerFrame('[]'.padEnd(100, ' '), { ...defaultLimits, maxFrameBytes: 10 });
    assert.ok(!big.ok);
    assertMessage(big.error.message, 'maxFrameBytes (10)');
  });

  test('no size limits by default: a large ScopeState decodes', () => {
    const many: Fragment[] = Array.from({ length: 20_000 }, () => ({
      type: 'add',
      uuid: UUID_B,
      clsName: 'Shape',
      properties: { x: 1 },
    }));
    const frame = encodeFrame([encodeScopeState(2, 0, UUID_A, encodeFragments(many))]);
    const message = ok(decodeServerFrame(frame)).messages[0]!;
    assert.ok(message.type === 'ScopeState');
    assert.equal(message.fragments.length, 20_000);
  });
});
