// The update operators (docs/protocol.md §10; the cases of the original's
// test/query/*_query_operation.js), plus what the original did not test or got wrong.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ChatRoom, ChatRoomAttributes, ChatRoomStatus, Message, User } from '../../demo/models.js';
import { QueryError } from '../../src/errors.js';
import { type Collection, type ModelObject, model } from '../../src/model/index.js';
import {
  type AppliedFragment,
  type ChangeContext,
  type QueryResult,
  Scope,
  type UpdateSpec,
  update,
} from '../../src/scope/index.js';

// ---- fixtures --------------------------------------------------------------------------------

type Obj = ModelObject & Record<string, unknown>;
interface Room extends Obj {
  name: string | null;
  attributes: Obj | null;
  users: Collection<Obj>;
  messages: Collection<Obj>;
}

/** A message subclass, to exercise `$cls`. */
const SystemMessage = Message.model('SystemMessage', function () {
  this.has('level', Number);
});

/** Scalar collections (the chat models have none). */
const Board = model('UpdateTestBoard', function () {
  this.has('title', String);
  this.has('tags', [String]);
  this.has('scores', [Number]);
  this.has('stamps', [Date]);
  this.has('statuses', [ChatRoomStatus]);
});

let userCount = 0;
function createUser(): Obj {
  const user = new User() as Obj;
  user.username = `chatmonster${++userCount}`;
  user.lastActive = new Date(1_700_000_000_000);
  return user;
}

function createMessage(author: Obj, text = 'Rarr'): Obj {
  const message = new Message() as Obj;
  message.author = author;
  message.postedAt = new Date(1_700_000_100_000);
  message.text = text;
  return message;
}

/** A room with attributes, one user and one message by that user, as the root of a scope. */
function createRoom(): { scope: Scope; room: Room; user: Obj; message: Obj } {
  const user = createUser();
  const attributes = new ChatRoomAttributes() as Obj;
  attributes.status = ChatRoomStatus.Open;
  attributes.topic = 'This is a test chat room';
  attributes.locale = 'en_US';
  const room = new ChatRoom() as Room;
  room.name = 'TestChatRoom';
  room.attributes = attributes;
  room.users = [user] as unknown as Collection<Obj>;
  const message = createMessage(user);
  room.messages = [message] as unknown as Collection<Obj>;
  const scope = new Scope({ name: 'ChatRoomScope' });
  scope.setRoot(room);
  return { scope, room, user, message };
}

function createBoard(): { scope: Scope; board: Obj } {
  const board = new Board() as Obj;
  board.tags = ['a', 'b', 'a'];
  board.scores = [1, 2];
  board.stamps = [new Date(1_000_000)];
  const scope = new Scope({ name: 'BoardScope' });
  scope.setRoot(board);
  return { scope, board };
}

/** Records every 'changes' emission of a scope. */
function record(scope: Scope): { fragments: AppliedFragment[]; context: ChangeContext }[] {
  const events: { fragments: AppliedFragment[]; context: ChangeContext }[] = [];
  scope.on('changes', (fragments, context) => {
    events.push({ fragments: structuredClone(fragments), context });
  });
  return events;
}

const entry = (o: ModelObject) => ({ uuid: o.uuid, clsName: o.typeName });
const uuids = (c: Collection<Obj>) => c.map((o) => o.uuid);
const NEW_UUID = 'f4c1b3a2-7d6e-4f10-9a8b-0c1d2e3f4a5b';

function throwsQuery(fn: () => unknown, pattern: RegExp | string): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof QueryError, `expected a QueryError, got ${String(e)}`);
    if (typeof pattern === 'string') assert.equal(e.message, pattern);
    else assert.match(e.message, pattern);
    return true;
  });
}

// ---- $set (§9.18) ----------------------------------------------------------------------------

describe('$set', () => {
  test('sets a property of the root: matched and modified = [root]', () => {
    const { scope, room } = createRoom();
    const result = scope.update({}, { $set: { name: 'RoomNameAfterSetQuery' } });
    assert.equal(room.name, 'RoomNameAfterSetQuery');
    assert.deepEqual(result, {
      matched: [entry(room)],
      created: [],
      modified: [entry(room)],
      writeErrors: [],
    });
  });

  test('replaces a collection with inline objects: created in order, modified = [root]', () => {
    const { scope, room, user, message } = createRoom();
    const postedAt = new Date(1_700_000_200_123);
    const result = scope.update(null, {
      $set: {
        messages: [
          { author: user.uuid, postedAt, text: 'First' },
          { author: user.uuid, postedAt, text: 'Second' },
        ],
      },
    });
    assert.equal(room.messages.length, 2);
    const [m0, m1] = room.messages.toArray();
    assert.equal(m0!.author, user);
    assert.equal(m1!.author, user);
    assert.ok(m0!.postedAt instanceof Date);
    assert.equal((m0!.postedAt as Date).getTime(), postedAt.getTime());
    assert.deepEqual(
      room.messages.map((m) => m.text),
      ['First', 'Second'],
    );
    assert.deepEqual(result.matched, [entry(room)]);
    assert.deepEqual(result.created, [
      { uuid: m0!.uuid, clsName: 'Message' },
      { uuid: m1!.uuid, clsName: 'Message' },
    ]);
    assert.deepEqual(result.modified, [entry(room)]);
    // The replaced message lost its last parent and left the scope.
    assert.equal(scope.get(message.uuid), null);
    assert.match(m0!.uuid, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });

  test("'messages[0].author': null nulls the first message's author; modified = [message]", () => {
    const { scope, room, message } = createRoom();
    const result = scope.update({}, { $set: { 'messages[0].author': null } });
    assert.equal(message.author, null);
    assert.deepEqual(result.matched, [entry(room)]);
    assert.deepEqual(result.created, []);
    assert.deepEqual(result.modified, [entry(message)]);
  });

  test("'messages[-1]' addresses the last message, in both notations", () => {
    const { scope, room, user } = createRoom();
    const last = createMessage(user, 'last');
    room.messages.push(last);
    scope.flush();
    scope.update(null, { $set: { 'messages[-1].text': 'edited' } });
    assert.equal(last.text, 'edited');
    scope.update(null, { $set: { 'messages.-1.text': 'again' } });
    assert.equal(last.text, 'again');
    assert.equal(room.messages.at(0)!.text, 'Rarr');
  });

  test("a trailing index replaces that element: 'messages[-1]'", () => {
    const { scope, room, user, message } = createRoom();
    const result = scope.update(null, {
      $set: { 'messages[-1]': { author: user.uuid, text: 'replacement' } },
    });
    assert.equal(room.messages.length, 1);
    const replacement = room.messages.at(0)!;
    assert.notEqual(replacement, message);
    assert.equal(replacement.text, 'replacement');
    assert.deepEqual(result.created, [entry(replacement)]);
    assert.deepEqual(result.modified, [entry(room)]);
    throwsQuery(
      () => scope.update(null, { $set: { 'messages[3]': message.uuid } }),
      "Illegal $set modification at keyPath 'messages[3]' has no element at index 3",
    );
  });

  test('paths with the same owner are grouped into one change fragment', () => {
    const { scope, room } = createRoom();
    const events = record(scope);
    const attributes = room.attributes!;
    const result = scope.update(null, {
      $set: { 'attributes.topic': 'New topic', name: 'Renamed', 'attributes.status': ChatRoomStatus.Closed },
    });
    assert.equal(events.length, 1);
    assert.deepEqual(events[0]!.fragments, [
      {
        type: 'change',
        uuid: attributes.uuid,
        clsName: 'ChatRoomAttributes',
        properties: { topic: 'New topic', status: ChatRoomStatus.Closed },
      },
      { type: 'change', uuid: room.uuid, clsName: 'ChatRoom', properties: { name: 'Renamed' } },
    ]);
    assert.deepEqual(result.modified, [entry(attributes), entry(room)]);
  });

  test('a single reference takes a uuid (any case), a ModelObject, or an inline object', () => {
    const { scope, room, user, message } = createRoom();
    const other = createUser();
    room.users.push(other);
    scope.flush();
    scope.update(null, { $set: { 'messages[0].author': other.uuid.toUpperCase() } });
    assert.equal(message.author, other);
    scope.update(null, { $set: { 'messages[0].author': user } });
    assert.equal(message.author, user);
    const result = scope.update(null, { $set: { 'messages[0].author': { username: 'inline' } } });
    const created = message.author as Obj;
    assert.equal(created.username, 'inline');
    assert.equal(scope.get(created.uuid), created);
    assert.deepEqual(result.created, [entry(created)]);
    assert.deepEqual(result.modified, [entry(message)]);
  });

  test('an inline object with a new $uuid is created with that uuid; with $cls as that class', () => {
    const { scope, room } = createRoom();
    const result = scope.update(null, {
      $set: { messages: [{ $uuid: NEW_UUID.toUpperCase(), $cls: 'SystemMessage', text: 'sys', level: 2 }] },
    });
    const m = room.messages.at(0)!;
    assert.equal(m.uuid, NEW_UUID);
    assert.ok(m instanceof SystemMessage);
    assert.equal(m.level, 2);
    assert.deepEqual(result.created, [{ uuid: NEW_UUID, clsName: 'SystemMessage' }]);
  });

  test('an inline object whose $uuid exists becomes a change on it', () => {
    const { scope, room, message } = createRoom();
    const events = record(scope);
    const result = scope.update(null, {
      $set: { messages: [{ $uuid: message.uuid, text: 'changed' }, { text: 'new' }] },
    });
    assert.equal(room.messages.at(0), message);
    assert.equal(message.text, 'changed');
    const created = room.messages.at(1)!;
    assert.deepEqual(result.created, [entry(created)]);
    assert.deepEqual(result.modified, [entry(room), entry(message)]);
    // Adds first, then the owner's change, then changes of existing inline objects.
    assert.deepEqual(
      events[0]!.fragments.map((f) => [f.type, f.uuid]),
      [
        ['add', created.uuid],
        ['change', room.uuid],
        ['change', message.uuid],
      ],
    );
  });

  test('nested inline objects are created too', () => {
    const { scope, room } = createRoom();
    const result = scope.update(null, {
      $push: { messages: { text: 'by a new user', author: { username: 'newcomer', color: 3 } } },
    });
    const m = room.messages.at(-1)!;
    const author = m.author as Obj;
    assert.equal(author.username, 'newcomer');
    assert.deepEqual(result.created, [entry(m), entry(author)]);
  });

  test('Dates are accepted as Date, milliseconds or ISO string, and sent as seconds', () => {
    const { scope, user } = createRoom();
    const events = record(scope);
    scope.update({ $uuid: user.uuid, $cls: 'User' }, { $set: { lastActive: 1_600_000_000_500 } });
    assert.equal((user.lastActive as Date).getTime(), 1_600_000_000_500);
    assert.equal(events[0]!.fragments[0]!.properties.lastActive, 1_600_000_000.5);
    scope.update({ $uuid: user.uuid, $cls: 'User' }, { $set: { lastActive: '2020-01-02T03:04:05.000Z' } });
    assert.equal((user.lastActive as Date).toISOString(), '2020-01-02T03:04:05.000Z');
    scope.update({ $uuid: user.uuid, $cls: 'User' }, { $set: { lastActive: new Date(5000) } });
    assert.equal(events[2]!.fragments[0]!.properties.lastActive, 5);
  });

  test('$uuid or $cls at the top level is rejected', () => {
    const { scope } = createRoom();
    throwsQuery(
      () => scope.update(null, { $set: { $uuid: NEW_UUID, name: 'x' } }),
      'Illegal $set modification, $uuid or $cls cannot be set for an existing ModelObject',
    );
    throwsQuery(
      () => scope.update(null, { $set: { $cls: 'ChatRoom' } }),
      'Illegal $set modification, $uuid or $cls cannot be set for an existing ModelObject',
    );
  });

  test('value shape errors', () => {
    const { scope, room, user } = createRoom();
    throwsQuery(
      () => scope.update(null, { $set: { messages: 'not an array' } }),
      "Illegal $set modification at keyPath 'messages' expected array for collection property",
    );
    throwsQuery(
      () => scope.update(null, { $set: { messages: [{ nope: 1 }] } }),
      "Illegal $set modification at keyPath 'messages' has no property at 'nope'",
    );
    throwsQuery(
      () => scope.update(null, { $set: { messages: [{ $cls: 'User' }] } }),
      "Illegal $set modification at keyPath 'messages' no such $cls 'User'",
    );
    throwsQuery(
      () => scope.update(null, { $set: { messages: [{ $uuid: user.uuid, text: 'x' }] } }),
      `Illegal $set modification for ModelObject '${user.uuid}' has conflicting type 'User' with type being set 'Message'`,
    );
    throwsQuery(
      () => scope.update(null, { $set: { attributes: 42 } }),
      "Illegal $set modification at keyPath 'attributes' expected a uuid or an object for ModelObject type 'ChatRoomAttributes'",
    );
    throwsQuery(
      () => scope.update(null, { $set: { nope: 1 } }),
      /^Illegal \$set modification at keyPath 'nope': No property 'nope'/,
    );
    throwsQuery(
      () => scope.update(null, { $set: { 'name.length': 1 } }),
      /^Illegal \$set modification at keyPath 'name.length': Property 'name' is not a ModelObject property/,
    );
    throwsQuery(() => scope.update(null, { $set: { 'messages.text': 1 } }), /No index found/);
    throwsQuery(
      () => scope.update(null, { $set: { 'messages[4].text': 'x' } }),
      /^Illegal \$set modification at keyPath 'messages\[4\].text' no such ModelObject exists at keyPath: No ModelObject instance at index 4/,
    );
    room.attributes = null;
    scope.flush();
    throwsQuery(
      () => scope.update(null, { $set: { 'attributes.topic': 'x' } }),
      /No ModelObject instance on property 'attributes'/,
    );
  });
});

// ---- $push (§9.19) ---------------------------------------------------------------------------

describe('$push', () => {
  test('appends an inline object with $uuid: created = [new], modified = [root]', () => {
    const { scope, room, user } = createRoom();
    const postedAt = new Date(1_700_000_300_000);
    const result = scope.update(null, {
      $push: { messages: { $uuid: NEW_UUID, author: user.uuid, postedAt, text: 'pushed' } },
    });
    assert.equal(room.messages.length, 2);
    const m = room.messages.at(1)!;
    assert.equal(m.uuid, NEW_UUID);
    assert.equal(m.author, user);
    assert.ok(m.postedAt instanceof Date);
    assert.equal((m.postedAt as Date).getTime(), postedAt.getTime());
    assert.deepEqual(result.created, [{ uuid: NEW_UUID, clsName: 'Message' }]);
    assert.deepEqual(result.modified, [entry(room)]);
  });

  test('appends an existing uuid again: the same object twice', () => {
    const { scope, room, message } = createRoom();
    const result = scope.update(null, { $push: { messages: message.uuid } });
    assert.equal(room.messages.length, 2);
    assert.equal(room.messages.at(0), message);
    assert.equal(room.messages.at(1), message);
    assert.deepEqual(result.created, []);
    assert.deepEqual(result.modified, [entry(room)]);
  });

  test('an inline object with an existing $uuid is appended and changed: modified = [root, message]', () => {
    const { scope, room, message } = createRoom();
    const result = scope.update(null, {
      $push: { messages: { $uuid: message.uuid, text: 'Overwrite message' } },
    });
    assert.equal(room.messages.length, 2);
    assert.equal(room.messages.at(0)!.text, 'Overwrite message');
    assert.equal(room.messages.at(1)!.text, 'Overwrite message');
    assert.deepEqual(result.created, []);
    assert.deepEqual(result.modified, [entry(room), entry(message)]);
  });

  test('$each appends several values in order', () => {
    const { scope, room, user, message } = createRoom();
    const other = createUser();
    const result = scope.update(null, {
      $push: {
        users: { $each: [{ username: 'a' }, { username: 'b' }] },
        messages: { $each: [message.uuid] },
      },
    });
    assert.deepEqual(
      room.users.map((u) => u.username),
      [user.username, 'a', 'b'],
    );
    assert.equal(room.messages.length, 2);
    assert.equal(result.created.length, 2);
    assert.deepEqual(result.modified, [entry(room)]);
    // An empty $each changes nothing.
    const none = scope.update(null, { $push: { users: { $each: [] } } });
    assert.deepEqual(none.modified, []);
    assert.equal(other.scope, null);
  });

  test('works for scalar collections [fix: the original treated values as uuids]', () => {
    const { scope, board } = createBoard();
    const events = record(scope);
    const result = scope.update(null, {
      $push: {
        tags: 'c',
        scores: { $each: [3, 2] },
        stamps: new Date(2_000_000),
        statuses: ChatRoomStatus.Closed,
      },
    });
    assert.deepEqual((board.tags as Collection).toArray(), ['a', 'b', 'a', 'c']);
    assert.deepEqual((board.scores as Collection).toArray(), [1, 2, 3, 2]);
    assert.deepEqual(
      (board.stamps as Collection<Date>).map((d) => d.getTime()),
      [1_000_000, 2_000_000],
    );
    assert.deepEqual((board.statuses as Collection).toArray(), [ChatRoomStatus.Closed]);
    assert.deepEqual(result.modified, [entry(board)]);
    assert.deepEqual(events[0]!.fragments[0]!.properties, {
      tags: ['a', 'b', 'a', 'c'],
      scores: [1, 2, 3, 2],
      stamps: [1000, 2000],
      statuses: [ChatRoomStatus.Closed],
    });
  });

  test('errors', () => {
    const { scope } = createRoom();
    throwsQuery(
      () => scope.update(null, { $push: { name: 'x' } }),
      "Illegal $push modification at keyPath 'name' can only add values to a collection property",
    );
    throwsQuery(
      () => scope.update(null, { $push: { messages: { $each: [], text: 'x' } } }),
      "Illegal $push modification at keyPath 'messages' can only use $each without any other keys on object",
    );
    throwsQuery(
      () => scope.update(null, { $push: { messages: { $each: 'x' } } }),
      "Illegal $push modification at keyPath 'messages' $each expects an array value",
    );
    throwsQuery(
      () => scope.update(null, { $push: { messages: ['x'] } }),
      "Illegal $push modification at keyPath 'messages' expects a single value; use {$each: [...]} to add several",
    );
    throwsQuery(
      () => scope.update(null, { $push: { 'messages[0]': 'x' } }),
      "Illegal $push modification at keyPath 'messages[0]' must name the collection itself, not an element",
    );
  });
});

// ---- $addToSet (§9.21) -----------------------------------------------------------------------

describe('$addToSet', () => {
  test('does not duplicate an existing uuid, and reports nothing modified', () => {
    const { scope, room, message, user } = createRoom();
    const events = record(scope);
    const result = scope.update(null, { $addToSet: { messages: message.uuid } });
    assert.equal(room.messages.length, 1);
    assert.equal(room.messages.at(0), message);
    assert.equal(message.text, 'Rarr');
    assert.equal(message.author, user);
    assert.deepEqual(result.matched, [entry(room)]);
    assert.deepEqual(result.created, []);
    // The original reported modified = [root] here : nothing changed.
    assert.deepEqual(result.modified, []);
    assert.equal(events.length, 0);
  });

  test('adds what is missing, skipping duplicates within $each', () => {
    const { scope, room, message, user } = createRoom();
    const extra = createUser();
    room.users.push(extra);
    scope.flush();
    const result = scope.update(null, {
      $addToSet: {
        users: { $each: [user.uuid, { username: 'new' }] },
        messages: { $each: [message.uuid, message.uuid] },
      },
    });
    assert.deepEqual(
      room.users.map((u) => u.username),
      [user.username, extra.username, 'new'],
    );
    assert.equal(room.messages.length, 1);
    assert.equal(result.created.length, 1);
    assert.deepEqual(result.modified, [entry(room)]);
  });

  test('an existing inline $uuid is not added again but its properties still change', () => {
    const { scope, room, message } = createRoom();
    const result = scope.update(null, { $addToSet: { messages: { $uuid: message.uuid, text: 'edited' } } });
    assert.equal(room.messages.length, 1);
    assert.equal(message.text, 'edited');
    assert.deepEqual(result.modified, [entry(message)]);
  });

  test('works for scalar collections, comparing by value (Dates by time)', () => {
    const { scope, board } = createBoard();
    const result = scope.update(null, {
      $addToSet: { tags: { $each: ['a', 'c', 'c'] }, stamps: new Date(1_000_000), scores: 2 },
    });
    assert.deepEqual((board.tags as Collection).toArray(), ['a', 'b', 'a', 'c']);
    assert.equal((board.stamps as Collection).length, 1);
    assert.deepEqual((board.scores as Collection).toArray(), [1, 2]);
    assert.deepEqual(result.modified, [entry(board)]);
    const none = scope.update(null, { $addToSet: { tags: 'b', scores: { $each: [1, 2] } } });
    assert.deepEqual(none.modified, []);
  });
});

// ---- $pull (§9.20) ---------------------------------------------------------------------------

describe('$pull', () => {
  test('removes by $uuid: modified = [root]; the object leaves the scope', () => {
    const { scope, room, message } = createRoom();
    const result = scope.update(null, { $pull: { messages: { $uuid: message.uuid } } });
    assert.equal(room.messages.length, 0);
    assert.deepEqual(result.matched, [entry(room)]);
    assert.deepEqual(result.created, []);
    assert.deepEqual(result.modified, [entry(room)]);
    assert.equal(scope.get(message.uuid), null);
  });

  test('filters by property equality (scalars, references, Dates), with $each', () => {
    const { scope, room, user, message } = createRoom();
    const other = createUser();
    room.users.push(other);
    const m2 = createMessage(other, 'hello');
    const m3 = createMessage(user, 'hello');
    m3.postedAt = new Date(42_000);
    room.messages.push(m2, m3);
    scope.flush();

    scope.update(null, { $pull: { messages: { text: 'hello', author: other.uuid } } });
    assert.deepEqual(uuids(room.messages), [message.uuid, m3.uuid]);
    scope.update(null, {
      $pull: { messages: { $each: [{ postedAt: new Date(42_000) }, { $uuid: 'no-such' }] } },
    });
    assert.deepEqual(uuids(room.messages), [message.uuid]);
    scope.update(null, { $pull: { messages: { author: user, text: 'Rarr' } } });
    assert.equal(room.messages.length, 0);
  });

  test('a pull that removes nothing is no change', () => {
    const { scope, room } = createRoom();
    const events = record(scope);
    const result = scope.update(null, {
      $pull: { messages: { text: 'not there' }, users: { $uuid: NEW_UUID } },
    });
    assert.equal(room.messages.length, 1);
    assert.deepEqual(result, { matched: [entry(room)], created: [], modified: [], writeErrors: [] });
    assert.equal(events.length, 0);
  });

  test('removes every equal scalar from a value collection', () => {
    const { scope, board } = createBoard();
    const result = scope.update(null, {
      $pull: { tags: 'a', scores: { $each: [2, 7] }, stamps: new Date(1_000_000) },
    });
    assert.deepEqual((board.tags as Collection).toArray(), ['b']);
    assert.deepEqual((board.scores as Collection).toArray(), [1]);
    assert.equal((board.stamps as Collection).length, 0);
    assert.deepEqual(result.modified, [entry(board)]);
  });

  test('errors', () => {
    const { scope } = createRoom();
    const board = createBoard();
    throwsQuery(
      () => scope.update(null, { $pull: { name: 'x' } }),
      "Illegal $pull modification at keyPath 'name' can only pull values from a collection property",
    );
    throwsQuery(
      () => scope.update(null, { $pull: { messages: 'x' } }),
      "Illegal $pull modification at keyPath 'messages' need to specify object to filter collection of ModelObjects",
    );
    throwsQuery(
      () => scope.update(null, { $pull: { messages: { nope: 1 } } }),
      "Illegal $pull modification at keyPath 'messages' bad field to match ModelObject specified 'Message' has no property 'nope'",
    );
    throwsQuery(
      () => board.scope.update(null, { $pull: { tags: { a: 1 } } }),
      "Illegal $pull modification at keyPath 'tags' need to specify scalar value to filter collection of values, not an object",
    );
  });
});

// ---- the query (selector), arguments, operators ----------------------------------------------

describe('update: selector and arguments', () => {
  test('{$uuid, $cls} selects that object; uuids compare case-insensitively', () => {
    const { scope, message } = createRoom();
    const result = scope.update(
      { $uuid: message.uuid.toUpperCase(), $cls: 'Message' },
      { $set: { text: 'direct' } },
    );
    assert.equal(message.text, 'direct');
    assert.deepEqual(result, {
      matched: [entry(message)],
      created: [],
      modified: [entry(message)],
      writeErrors: [],
    });
  });

  test('a $cls that does not match the object is an error', () => {
    const { scope, message } = createRoom();
    throwsQuery(
      () => scope.update({ $uuid: message.uuid, $cls: 'User' }, { $set: { text: 'x' } }),
      `ModelObject with uuid '${message.uuid}' has type name 'Message' and does not match $cls 'User'`,
    );
  });

  test('an unknown uuid is not an error: empty result', () => {
    const { scope } = createRoom();
    const events = record(scope);
    const result = scope.update({ $uuid: NEW_UUID, $cls: 'Message' }, { $set: { text: 'x' } });
    assert.deepEqual(result, { matched: [], created: [], modified: [], writeErrors: [] });
    assert.equal(events.length, 0);
  });

  test('other selectors and bad arguments are errors', () => {
    const { scope, message } = createRoom();
    const only = 'Supports only updating by root or $uuid and $cls';
    throwsQuery(() => scope.update({ $uuid: message.uuid } as never, { $set: { text: 'x' } }), only);
    throwsQuery(() => scope.update({ name: 'x' } as never, { $set: { text: 'x' } }), only);
    throwsQuery(
      () => scope.update({ $uuid: message.uuid, $cls: 'Message', x: 1 } as never, { $set: {} }),
      only,
    );
    throwsQuery(() => scope.update('root' as never, { $set: {} }), 'Requires query as update object or null');
    throwsQuery(() => scope.update(null, null as never), 'Requires update as update object');
    throwsQuery(() => scope.update(null, { $set: {} }, 'x' as never), 'Requires options as object');
    throwsQuery(() => update({} as never, null, { $set: {} }), 'Requires scope to be a valid scope');
    throwsQuery(
      () => new Scope({ name: 'empty' }).update(null, { $set: {} }),
      'No root ModelObject for scope',
    );
    throwsQuery(
      () => scope.update(null, { $set: 'x' } as never),
      'Illegal $set modification, must be object',
    );
  });

  test("an unknown operator is an error, and nothing is applied: Unrecognized operator '$inc'", () => {
    const { scope, room } = createRoom();
    const events = record(scope);
    throwsQuery(
      () => scope.update(null, { $set: { name: 'changed' }, $inc: { x: 1 } }),
      "Unrecognized operator '$inc'",
    );
    assert.equal(room.name, 'TestChatRoom');
    assert.equal(events.length, 0);
  });

  test('a malformed later operator applies nothing of the earlier ones', () => {
    const { scope, room } = createRoom();
    throwsQuery(
      () => scope.update(null, { $set: { name: 'changed' }, $push: { name: 'x' } }),
      /can only add values/,
    );
    assert.equal(room.name, 'TestChatRoom');
  });

  test('an empty update matches and changes nothing', () => {
    const { scope, room } = createRoom();
    assert.deepEqual(scope.update(null, {}), {
      matched: [entry(room)],
      created: [],
      modified: [],
      writeErrors: [],
    });
  });

  test('the callback form answers (err, result) and does not throw', () => {
    const { scope, room } = createRoom();
    let answer: [Error | null, QueryResult | undefined] | undefined;
    const ret = scope.update(null, { $set: { name: 'cb' } }, (err, result) => {
      answer = [err, result];
    });
    assert.equal(ret, undefined);
    assert.equal(answer![0], null);
    assert.deepEqual(answer![1]!.modified, [entry(room)]);

    let failure: unknown;
    let failed: QueryResult | undefined;
    scope.update(null, { $nope: {} }, {}, (err, result) => {
      failure = err;
      failed = result;
    });
    assert.ok(failure instanceof QueryError);
    assert.equal(failure.message, "Unrecognized operator '$nope'");
    assert.equal(failed, undefined);
  });

  test('the standalone update(scope, …) is the same operation', () => {
    const { scope, room } = createRoom();
    const result = update(scope, null, { $set: { name: 'standalone' } });
    assert.equal(room.name, 'standalone');
    assert.deepEqual(result.modified, [entry(room)]);
  });
});

describe('update: several operators', () => {
  test('run in sequence, each seeing the previous; results merged', () => {
    const { scope, room, message } = createRoom();
    const events = record(scope);
    const result = scope.update(null, {
      $set: { name: 'Merged', messages: [] },
      $push: { messages: { $uuid: NEW_UUID, text: 'only one' } },
      $addToSet: { messages: NEW_UUID },
    });
    assert.equal(room.name, 'Merged');
    assert.deepEqual(uuids(room.messages), [NEW_UUID]);
    assert.equal(scope.get(message.uuid), null);
    assert.deepEqual(result.matched, [entry(room)]);
    assert.deepEqual(result.created, [{ uuid: NEW_UUID, clsName: 'Message' }]);
    assert.deepEqual(result.modified, [entry(room)]);
    assert.deepEqual(result.writeErrors, []);
    assert.equal(events.length, 2, 'one changeset per operator that changed something');
  });

  test('a later operator whose key path no longer resolves reports a write error', () => {
    const { scope, room, message } = createRoom();
    const result = scope.update(null, {
      $pull: { messages: { $uuid: message.uuid } },
      $set: { 'messages[0].text': 'too late' },
    });
    assert.equal(room.messages.length, 0);
    assert.deepEqual(result.modified, [entry(room)]);
    assert.equal(result.writeErrors.length, 1);
    assert.match(
      result.writeErrors[0]!.message,
      /^Illegal \$set modification at keyPath 'messages\[0\].text' no such ModelObject/,
    );
  });
});

describe('update: validation, atomicity and broadcast', () => {
  test('changes are broadcast through "changes" with no origin, wire-encoded', () => {
    const { scope, room, user } = createRoom();
    const events = record(scope);
    const postedAt = new Date(1_700_000_400_250);
    scope.update(null, { $push: { messages: { $uuid: NEW_UUID, author: user, postedAt, text: 'hi' } } });
    assert.equal(events.length, 1);
    const { fragments, context } = events[0]!;
    assert.equal(context.origin, undefined);
    assert.ok(!('origin' in context));
    assert.deepEqual(fragments, [
      {
        type: 'add',
        uuid: NEW_UUID,
        clsName: 'Message',
        properties: { author: user.uuid, postedAt: 1_700_000_400.25, text: 'hi' },
      },
      {
        type: 'change',
        uuid: room.uuid,
        clsName: 'ChatRoom',
        properties: { messages: [room.messages.at(0)!.uuid, NEW_UUID] },
      },
    ]);
    // The scope's state agrees with what was broadcast.
    assert.equal(scope.get(NEW_UUID), room.messages.at(1));
  });

  test('an invalid value is a write error and nothing of the update is applied', () => {
    const { scope, room } = createRoom();
    const events = record(scope);
    const attributes = room.attributes!;
    const result = scope.update(null, { $set: { name: 'Should not apply', 'attributes.topic': 42 } });
    assert.equal(room.name, 'TestChatRoom');
    assert.equal(attributes.topic, 'This is a test chat room');
    assert.equal(events.length, 0);
    assert.deepEqual(result.modified, []);
    assert.equal(result.writeErrors.length, 1);
    assert.match(result.writeErrors[0]!.message, /topic/);
    assert.equal(result.writeErrors[0]!.type, 'invalid-fragment');
  });

  test('an invalid inline object creates nothing', () => {
    const { scope, room, message } = createRoom();
    const before = scope.size;
    const result = scope.update(null, {
      $push: { messages: { $each: [{ text: 'fine' }, { text: 'bad', postedAt: 'yesterday' }] } },
    });
    assert.deepEqual(uuids(room.messages), [message.uuid]);
    assert.equal(scope.size, before);
    assert.deepEqual(result.created, []);
    // Every fragment the engine rejected is reported, the cause and its consequences (the root's
    // change references the bad add; the good add then has no parent).
    assert.equal(result.writeErrors.length, 3);
    assert.ok(result.writeErrors.some((e) => e.message === "Not valid type at 'postedAt', should be Date"));
  });

  test('a reference to an unknown uuid is a write error', () => {
    const { scope, message } = createRoom();
    const result = scope.update(null, { $set: { 'messages[0].author': NEW_UUID } });
    assert.equal(result.writeErrors.length, 1);
    assert.match(result.writeErrors[0]!.message, new RegExp(NEW_UUID));
    assert.notEqual(message.author, null);
  });

  test('an existing object of another scope cannot be referenced', () => {
    const a = createRoom();
    const b = createRoom();
    const result = a.scope.update(null, { $push: { users: b.user.uuid } });
    assert.equal(result.writeErrors.length, 1);
    assert.equal(a.room.users.length, 1);
  });

  test('with atomic: false, fragments succeed or fail one by one', () => {
    const { scope, room } = createRoom();
    const result = scope.update(
      null,
      { $set: { name: 'Applied', 'attributes.topic': 42 } } satisfies UpdateSpec,
      { atomic: false },
    );
    assert.equal(room.name, 'Applied');
    assert.deepEqual(result.modified, [entry(room)]);
    assert.equal(result.writeErrors.length, 1);
  });

  test('pending server-side edits are emitted before the update', () => {
    const { scope, room } = createRoom();
    const events = record(scope);
    room.name = 'direct edit';
    scope.update(null, { $set: { 'attributes.topic': 'after' } });
    assert.equal(events.length, 2);
    assert.deepEqual(events[0]!.fragments[0]!.properties, { name: 'direct edit' });
    assert.deepEqual(events[1]!.fragments[0]!.properties, { topic: 'after' });
  });
});
