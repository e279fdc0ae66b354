// Encoders, server → client: exactly the fields of docs/protocol.md §5, nothing more.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  encodeError,
  encodeFragments,
  encodeFrame,
  encodePing,
  encodeScopeFetchReply,
  encodeScopeState,
  encodeScopeSync,
  encodeScopeSyncReply,
  encodeSessionCreateReply,
  type Fragment,
} from '../../src/protocol/index.js';
import { assertKeys, UUID_A, UUID_B } from './helpers.js';

/** Parses `text` and checks it deep-equals `expected` with exactly the same keys. */
function exactly(text: string, expected: Record<string, unknown>): Record<string, unknown> {
  const parsed = JSON.parse(text) as Record<string, unknown>;
  assert.deepEqual(parsed, expected);
  assertKeys(parsed, Object.keys(expected));
  return parsed;
}

const fragments: Fragment[] = [
  { type: 'change', uuid: UUID_A, clsName: 'Canvas', properties: { name: 'Shapes', shapes: [UUID_B] } },
  {
    type: 'add',
    uuid: UUID_B,
    clsName: 'Shape',
    properties: { x: 10, y: 20, color: 4278190335, label: null },
  },
];

describe('SessionCreateReply (session_create_reply_message)', () => {
  test('token form: exactly {type, index, sessionToken}', () => {
    exactly(encodeSessionCreateReply(0, 'sessionToken'), {
      type: 'SessionCreateReply',
      index: 0,
      sessionToken: 'sessionToken',
    });
    exactly(encodeSessionCreateReply(2, 'abc'), {
      type: 'SessionCreateReply',
      index: 2,
      sessionToken: 'abc',
    });
  });
  test('error form: exactly {type, index, error:{message}} — no replyTo, no token', () => {
    exactly(encodeSessionCreateReply(0, { message: 'An error' }), {
      type: 'SessionCreateReply',
      index: 0,
      error: { message: 'An error' },
    });
    exactly(encodeSessionCreateReply(0, { message: 'Denied', type: 'rejected' }), {
      type: 'SessionCreateReply',
      index: 0,
      error: { message: 'Denied', type: 'rejected' },
    });
  });
});

describe('ScopeFetchReply (scope_fetch_reply_message)', () => {
  test('success: exactly {type, index, replyTo, scopeIndex}', () => {
    exactly(encodeScopeFetchReply(2, 1, 0), { type: 'ScopeFetchReply', index: 2, replyTo: 1, scopeIndex: 0 });
  });
  test('error: no scopeIndex key, no error type for a plain error', () => {
    exactly(encodeScopeFetchReply(2, 1, { message: 'An error' }), {
      type: 'ScopeFetchReply',
      index: 2,
      replyTo: 1,
      error: { message: 'An error' },
    });
  });
});

describe('ScopeState (scope_state_message)', () => {
  test('exactly {type, index, scopeIndex, rootUUID, fragments}', () => {
    exactly(encodeScopeState(2, 0, 'uuid', '[]'), {
      type: 'ScopeState',
      index: 2,
      scopeIndex: 0,
      rootUUID: 'uuid',
      fragments: [],
    });
  });
  test('wraps a pre-encoded fragment list verbatim', () => {
    const json = encodeFragments(fragments);
    const text = encodeScopeState(2, 1, UUID_A, json);
    assert.ok(text.includes(json));
    exactly(text, { type: 'ScopeState', index: 2, scopeIndex: 1, rootUUID: UUID_A, fragments });
  });
});

describe('ScopeSync (scope_sync_message, server side)', () => {
  test('exactly {type, index, scopeIndex, fragments}: no atomic, no procedure', () => {
    const json = encodeFragments(fragments);
    exactly(encodeScopeSync(7, 0, json), { type: 'ScopeSync', index: 7, scopeIndex: 0, fragments });
  });
  test('one fragment list, many envelopes: the list text is shared, only index/scopeIndex differ', () => {
    const json = encodeFragments(fragments);
    const a = encodeScopeSync(7, 0, json);
    const b = encodeScopeSync(12, 3, json);
    assert.equal(a.replace('"index":7,"scopeIndex":0', ''), b.replace('"index":12,"scopeIndex":3', ''));
  });
});

describe('ScopeSyncReply (scope_sync_reply_message)', () => {
  test('exactly {type, index, replyTo, fragmentReplies}', () => {
    exactly(encodeScopeSyncReply(2, 1, []), {
      type: 'ScopeSyncReply',
      index: 2,
      replyTo: 1,
      fragmentReplies: [],
    });
  });
  test('accepted = {}, rejected = {error}, modifications kept', () => {
    const parsed = exactly(
      encodeScopeSyncReply(3, 2, [
        {},
        { error: { message: "No such class type 'Circle'" } },
        { error: { message: 'Could not apply', type: 'could-not-apply-sync-message' } },
        { modifications: { x: 5, tags: ['a'] } },
        { error: { message: 'e' }, modifications: { y: null } },
      ]),
      {
        type: 'ScopeSyncReply',
        index: 3,
        replyTo: 2,
        fragmentReplies: [
          {},
          { error: { message: "No such class type 'Circle'" } },
          { error: { message: 'Could not apply', type: 'could-not-apply-sync-message' } },
          { modifications: { x: 5, tags: ['a'] } },
          { error: { message: 'e' }, modifications: { y: null } },
        ],
      },
    );
    const replies = parsed.fragmentReplies as Array<Record<string, unknown>>;
    assertKeys(replies[0], []);
    assertKeys(replies[1], ['error']);
    assertKeys(replies[1]!.error, ['message']);
    assertKeys(replies[3], ['modifications']);
  });
  test('undefined fields of a reply entry are not sent', () => {
    const text = encodeScopeSyncReply(1, 1, [{ error: undefined, modifications: undefined }]);
    exactly(text, { type: 'ScopeSyncReply', index: 1, replyTo: 1, fragmentReplies: [{}] });
  });
});

describe('Ping (ping_message)', () => {
  test('exactly {type, index:0, ack, resendMissing}, resendMissing always present', () => {
    exactly(encodePing(1, true), { type: 'Ping', index: 0, ack: 1, resendMissing: true });
    exactly(encodePing(0, false), { type: 'Ping', index: 0, ack: 0, resendMissing: false });
  });
});

describe('encodeError', () => {
  test('only message and type, even from an Error carrying other fields', () => {
    const err = Object.assign(new Error('boom'), { type: 'rejected', code: 'X', stack: 'secret' });
    assert.deepEqual(JSON.parse(encodeError(err)), { message: 'boom', type: 'rejected' });
    assert.deepEqual(JSON.parse(encodeError({ message: 'm', extra: 1 } as { message: string })), {
      message: 'm',
    });
  });
  test('escapes quotes, control characters and unicode', () => {
    const message = 'He said "hi"\n\u0000 — ☕ \\';
    assert.deepEqual(JSON.parse(encodeError({ message })), { message });
  });
});

describe('encodeFragments', () => {
  test('exactly type, uuid, clsName, properties per fragment; missing properties → {}', () => {
    const parsed = JSON.parse(
      encodeFragments([
        { type: 'add', uuid: UUID_B, clsName: 'Shape' },
        {
          type: 'change',
          uuid: UUID_A,
          clsName: 'Canvas',
          properties: { a: 1 },
          extra: 'dropped',
        } as Fragment,
      ]),
    ) as Array<Record<string, unknown>>;
    assert.deepEqual(parsed, [
      { type: 'add', uuid: UUID_B, clsName: 'Shape', properties: {} },
      { type: 'change', uuid: UUID_A, clsName: 'Canvas', properties: { a: 1 } },
    ]);
    for (const f of parsed) assertKeys(f, ['type', 'uuid', 'clsName', 'properties']);
  });
  test('an empty list', () => {
    assert.equal(encodeFragments([]), '[]');
  });
  test('escapes strings', () => {
    const f: Fragment = { type: 'add', uuid: UUID_A, clsName: 'A"B', properties: { 'k"': 'v\n' } };
    assert.deepEqual(JSON.parse(encodeFragments([f])), [f]);
  });
});

describe('encodeFrame', () => {
  test('a JSON array of the messages, in order', () => {
    const frame = encodeFrame([
      encodeScopeFetchReply(1, 1, 0),
      encodeScopeState(2, 0, UUID_A, '[]'),
      encodePing(1, false),
    ]);
    const parsed = JSON.parse(frame) as Array<Record<string, unknown>>;
    assert.deepEqual(
      parsed.map((m) => [m.type, m.index]),
      [
        ['ScopeFetchReply', 1],
        ['ScopeState', 2],
        ['Ping', 0],
      ],
    );
  });
  test('one message is still an array; none is []', () => {
    assert.deepEqual(JSON.parse(encodeFrame([encodePing(0, false)])), [
      { type: 'Ping', index: 0, ack: 0, resendMissing: false },
    ]);
    assert.equal(encodeFrame([]), '[]');
  });
});

describe('numbers are checked: a bug elsewhere must not corrupt a frame', () => {
  test('NaN, negative, fractional indices throw', () => {
    for (const bad of [Number.NaN, -1, 1.5, Number.POSITIVE_INFINITY]) {
      assert.throws(() => encodePing(bad, false), TypeError);
      assert.throws(() => encodeScopeSync(bad, 0, '[]'), TypeError);
      assert.throws(() => encodeScopeSync(0, bad, '[]'), TypeError);
      assert.throws(() => encodeScopeFetchReply(0, bad, 0), TypeError);
      assert.throws(() => encodeScopeFetchReply(0, 0, bad), TypeError);
      assert.throws(() => encodeSessionCreateReply(bad, 't'), TypeError);
      assert.throws(() => encodeScopeSyncReply(0, bad, []), TypeError);
      assert.throws(() => encodeScopeState(bad, 0, UUID_A, '[]'), TypeError);
    }
  });
});
