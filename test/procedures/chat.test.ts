// The chat demo's three procedures (demo/procedures.ts) against the demo's own downstream
// service (demo/chat-service.ts): requests exactly as the original's procedures send them, and
// the setName `_updates` applied and broadcast (docs/protocol.md §9.5).
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { type ChatService, startChatService } from '../../demo/chat-service.js';
import { ChatRoom, ChatRoomAttributes, Message, User } from '../../demo/models.js';
import { defineChatProcedures } from '../../demo/procedures.js';
import type { ChangesetResult } from '../../src/scope/types.js';
import { applySync, createChatRoom, procedureHeaders } from './helpers.js';

let service: ChatService;
let currentRoomName: ((uuid: string) => string | undefined) | undefined;

before(async () => {
  service = await startChatService({ roomName: (uuid) => currentRoomName?.(uuid) });
  defineChatProcedures(ChatRoom, service.url);
});
after(() => service.close());

const models = { User, Message, ChatRoomAttributes, ChatRoom };

function lastRequest() {
  const r = service.requests.at(-1);
  assert.ok(r, 'the chat service received a request');
  return r;
}

test('setName: POST /room/<uuid>, exactly Content-Type, Authorization and X-ChatRoom-SetName, no body; topic updated', async () => {
  const f = createChatRoom(models);
  currentRoomName = (uuid) => (f.scope.get(uuid) as { name?: string } | null)?.name;
  const before = service.requests.length;
  const res = await applySync(f.scope, {
    fragments: [{ type: 'change', uuid: f.room.uuid, clsName: 'ChatRoom', properties: { name: 'New name' } }],
    procedure: 'ChatRoom.setName',
    origin: 'session-1',
  });
  assert.deepEqual(res.results, [null]);
  assert.equal(service.requests.length, before + 1);
  const r = lastRequest();
  assert.equal(r.url, `/room/${f.room.uuid}`);
  assert.equal(r.method, 'POST');
  assert.deepEqual(procedureHeaders(r.headers), {
    'content-type': 'application/json',
    authorization: f.accessToken,
    'x-chatroom-setname': 'New name',
  });
  assert.equal(r.body, null);
  assert.equal(f.room.name, 'New name');
  assert.equal(f.room.attributes.topic, 'Room renamed "TestChatRoom" to "New name"');
  // The changeset went out with its origin (not echoed to the sender); the update has none,
  // so it reaches every session, the sender included.
  assert.equal(f.changes.length, 2);
  assert.equal(f.changes[0]!.context.origin, 'session-1');
  assert.deepEqual(f.changes[0]!.fragments[0]!.properties, { name: 'New name' });
  assert.equal(f.changes[1]!.context.origin, undefined);
  assert.deepEqual(f.changes[1]!.fragments, [
    {
      type: 'change',
      uuid: f.room.attributes.uuid,
      clsName: 'ChatRoomAttributes',
      properties: { topic: 'Room renamed "TestChatRoom" to "New name"' },
    },
  ]);
});

test('postMessage: URL, headers bound from case, root model, last/inserted element and pre-change find; JSON body', async () => {
  const f = createChatRoom(models);
  const previousAuthor = f.messages[0]!.author.username as string;
  const newUUID = crypto.randomUUID();
  const postedAt = Date.now();
  const res = (await applySync(f.scope, {
    fragments: [
      {
        type: 'change',
        uuid: f.room.uuid,
        clsName: 'ChatRoom',
        properties: { messages: [f.messages[0]!.uuid, newUUID] },
      },
      {
        type: 'add',
        uuid: newUUID,
        clsName: 'Message',
        properties: { author: f.users[0]!.uuid, postedAt, text: 'This is a new message' },
      },
    ],
    procedure: 'ChatRoom.postMessage',
  })) as ChangesetResult;
  assert.deepEqual(res.results, [null, null]);
  const r = lastRequest();
  assert.equal(r.url, `/room/${f.room.uuid}/messages`);
  assert.equal(r.method, 'POST');
  assert.deepEqual(procedureHeaders(r.headers), {
    'content-type': 'application/json',
    authorization: f.accessToken,
    'x-chatroom-status': 'OPEN',
    'x-chatroom-locale': 'en_US',
    'x-chatroom-messageid': newUUID,
    'x-chatroom-insertedmessageid': newUUID,
    'x-chatroom-previousmessageauthorusername': previousAuthor,
  });
  assert.deepEqual(r.body, {
    uuid: newUUID,
    authorUUID: f.users[0]!.uuid,
    postedAt,
    text: 'This is a new message',
    tags: ['staticValue0', 'staticValue1'],
  });
  assert.equal(f.room.messages.length, 2);
  assert.equal(f.room.messages.at(-1).text, 'This is a new message');
  assert.equal(f.changes.length, 1, 'no updates: only the changeset was broadcast');
});

test('userLogout: the removed user in the URL (URL-encoded) and body; Authorization and Locale headers', async () => {
  const f = createChatRoom(models);
  const leaving = f.users[1]!;
  const res = await applySync(f.scope, {
    fragments: [
      { type: 'change', uuid: f.room.uuid, clsName: 'ChatRoom', properties: { users: [f.users[0]!.uuid] } },
    ],
    procedure: 'ChatRoom.userLogout',
  });
  assert.deepEqual(res.results, [null]);
  const r = lastRequest();
  assert.equal(r.url, `/room/${f.room.uuid}/users/${leaving.uuid}/logout`);
  assert.equal(r.method, 'POST');
  assert.deepEqual(procedureHeaders(r.headers), {
    'content-type': 'application/json',
    authorization: f.accessToken,
    'x-chatroom-locale': 'en_US',
  });
  assert.deepEqual(r.body, { uuid: leaving.uuid });
  assert.equal(f.room.users.length, 1);
  assert.equal(leaving.scope, null, 'the logged-out user left the scope');
});

test('userLogout rejects a change that adds a user (remove = the collection shrinks)', async () => {
  const f = createChatRoom(models);
  const before = service.requests.length;
  const res = await applySync(f.scope, {
    fragments: [
      {
        type: 'change',
        uuid: f.room.uuid,
        clsName: 'ChatRoom',
        properties: { users: [f.users[0]!.uuid, f.users[1]!.uuid, f.users[0]!.uuid] },
      },
    ],
    procedure: 'ChatRoom.userLogout',
  });
  assert.deepEqual(res.results, [
    {
      message: 'Could not apply SyncMessage: Changes do not match the procedure constraints',
      type: 'could-not-apply-sync-message',
    },
  ]);
  assert.equal(service.requests.length, before, 'no downstream call');
  assert.equal(f.room.users.length, 2);
});

test('the chat service remembers the previous name when no reader is given', async () => {
  const svc = await startChatService();
  try {
    const call = (name: string) =>
      fetch(`${svc.url}/room/r1`, { method: 'POST', headers: { 'X-ChatRoom-SetName': name } }).then((r) =>
        r.json(),
      );
    assert.deepEqual(await call('A'), {
      _updates: [{ update: { $set: { 'attributes.topic': 'Room renamed to "A"' } } }],
    });
    assert.deepEqual(await call('B'), {
      _updates: [{ update: { $set: { 'attributes.topic': 'Room renamed "A" to "B"' } } }],
    });
    assert.equal(svc.requests.length, 2);
  } finally {
    await svc.close();
  }
});
