// Every expression form, bound into a real request to a loopback server (headers, URL params
// and JSON body), evaluated against the state before the changeset; plus parse and evaluation
// errors.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { DefinitionError } from '../../src/errors.js';
import { defineProcedure, Expression, ExpressionError, expr } from '../../src/procedures/index.js';
import type { ChangesetResult, Fragment } from '../../src/scope/types.js';
import {
  applySync,
  type ChatFixture,
  createChatRoom,
  makeChatModels,
  type RecordedRequest,
  startServer,
  type TestServer,
} from './helpers.js';

const m = makeChatModels();
let server: TestServer;
before(async () => {
  server = await startServer();
});
after(() => server.close());

let seq = 0;
/** Defines a procedure accepting anything (constraints off) whose JSON body is `body`. */
function probe(body: Record<string, unknown>, cases?: Record<string, Record<string, unknown>>): string {
  const name = `probe${++seq}`;
  defineProcedure(m.ChatRoom, name, {
    constraints: [],
    remote: { type: 'http', url: `${server.url}/probe`, method: 'POST', body, cases },
  });
  return `ChatRoom.${name}`;
}

async function call(
  f: ChatFixture,
  procedure: string,
  fragments: Fragment[],
): Promise<{ res: ChangesetResult; req: RecordedRequest | undefined }> {
  f.scope.disableProcedureConstraints = true;
  const count = server.requests.length;
  const res = await applySync(f.scope, { fragments, procedure });
  return { res, req: server.requests.length > count ? server.requests.at(-1) : undefined };
}

test('$incoming: uuid, a field, [N], [-1], [inserted[N]], [removed[N]], add fragments, last fragment wins', async () => {
  const f = createChatRoom(m);
  const [u0, u1] = f.users.map((u) => u.uuid) as [string, string];
  const msg0 = f.messages[0]!.uuid;
  const newMsg = crypto.randomUUID();
  const p = probe({
    uuid: expr('$incoming.ChatRoom.change.uuid'),
    name: expr('$incoming.ChatRoom.change.name'),
    first: expr('$incoming.ChatRoom.change.messages[0]'),
    last: expr('$incoming.ChatRoom.change.messages[-1]'),
    inserted: expr('$incoming.ChatRoom.change.messages[inserted[0]]'),
    insertedLast: expr('$incoming.ChatRoom.change.messages[inserted[-1]]'),
    removed: expr('$incoming.ChatRoom.change.users[removed[0]]'),
    addUuid: expr('$incoming.Message.add.uuid'),
    addText: expr('$incoming.Message.add.text'),
    addDate: expr('$incoming.Message.add.postedAt'),
    topic: expr('$incoming.ChatRoomAttributes.change.topic'),
  });
  const { res, req } = await call(f, p, [
    {
      type: 'change',
      uuid: f.room.uuid,
      clsName: 'ChatRoom',
      properties: { name: 'N', messages: [msg0, newMsg], users: [u0] },
    },
    {
      type: 'add',
      uuid: newMsg,
      clsName: 'Message',
      properties: { author: u1, postedAt: '2024-01-02T03:04:05Z', text: 'hi' },
    },
    {
      type: 'change',
      uuid: f.room.attributes.uuid,
      clsName: 'ChatRoomAttributes',
      properties: { topic: 'first' },
    },
    {
      type: 'change',
      uuid: f.room.attributes.uuid,
      clsName: 'ChatRoomAttributes',
      properties: { topic: 'second' },
    },
  ]);
  assert.deepEqual(res.results, [null, null, null, null]);
  assert.deepEqual(req?.body, {
    uuid: f.room.uuid,
    name: 'N',
    first: msg0,
    last: newMsg,
    inserted: newMsg,
    insertedLast: newMsg,
    removed: u1,
    addUuid: newMsg,
    addText: 'hi',
    addDate: '2024-01-02T03:04:05Z',
    topic: 'second',
  });
});

test('$incoming [inserted[N]] on an add fragment treats the whole array as inserted', async () => {
  const f = createChatRoom(m);
  const p = probe({ first: expr('$incoming.ChatRoom.add.users[inserted[0]]') });
  const uuid = crypto.randomUUID();
  const { req } = await call(f, p, [
    { type: 'add', uuid, clsName: 'ChatRoom', properties: { users: [f.users[1]!.uuid] } },
  ]);
  // The add itself fails (no parent), but the request was bound from it.
  assert.deepEqual(req?.body, { first: f.users[1]!.uuid });
});

test('$scope.name, $scope.uuid and $scope.params.<path>', async () => {
  const f = createChatRoom(m, { tenant: { id: 'acme', region: { code: 'eu' } }, zero: 0 });
  const p = probe({
    name: expr('$scope.name'),
    uuid: expr('$scope.uuid'),
    token: expr('$scope.params.accessToken'),
    code: expr('$scope.params.tenant.region.code'),
    tenant: expr('$scope.params.tenant'),
    zero: expr('$scope.params.zero'),
  });
  const { req } = await call(f, p, [
    { type: 'change', uuid: f.room.uuid, clsName: 'ChatRoom', properties: { name: 'x' } },
  ]);
  assert.deepEqual(req?.body, {
    name: 'TestScope',
    uuid: f.scope.uuid,
    token: f.accessToken,
    code: 'eu',
    tenant: { id: 'acme', region: { code: 'eu' } },
    zero: 0,
  });
});

test('$rootModel key paths see the state before the changeset; Dates are wire-encoded (seconds)', async () => {
  const f = createChatRoom(m);
  const p = probe({
    name: expr('$rootModel.name'),
    uuid: expr('$rootModel.uuid'),
    locale: expr('$rootModel.attributes.locale'),
    status: expr('$rootModel.attributes.status'),
    attributesUuid: expr('$rootModel.attributes.uuid'),
    firstUser: expr('$rootModel.users[0].username'),
    lastUserUuid: expr('$rootModel.users[-1].uuid'),
    author: expr('$rootModel.messages[0].author.username'),
    lastActive: expr('$rootModel.users[1].lastActive'),
    tint: expr('$rootModel.attributes.tintColor'),
  });
  const { res, req } = await call(f, p, [
    { type: 'change', uuid: f.room.uuid, clsName: 'ChatRoom', properties: { name: 'After' } },
  ]);
  assert.deepEqual(res.results, [null]);
  assert.deepEqual(req?.body, {
    name: 'TestChatRoom',
    uuid: f.room.uuid,
    locale: 'en_US',
    status: 0,
    attributesUuid: f.room.attributes.uuid,
    firstUser: f.users[0]!.username,
    lastUserUuid: f.users[1]!.uuid,
    author: f.users[0]!.username,
    lastActive: 1_700_000_001,
    tint: null,
  });
  assert.equal(f.room.name, 'After');
});

test('$model.find(<expr>).<keyPath>, including a nested find', async () => {
  const f = createChatRoom(m);
  const p = probe({
    author: expr('$model.find($incoming.ChatRoom.change.uuid).messages[-1].author.username'),
    text: expr('$model.find($incoming.ChatRoom.change.messages[0]).text'),
    nested: expr('$model.find($model.find($incoming.ChatRoom.change.uuid).attributes.uuid).locale'),
    byRoot: expr('$model.find($rootModel.users[1].uuid).color'),
  });
  const { req } = await call(f, p, [
    {
      type: 'change',
      uuid: f.room.uuid,
      clsName: 'ChatRoom',
      properties: { messages: [f.messages[0]!.uuid] },
    },
  ]);
  assert.deepEqual(req?.body, { author: f.users[0]!.username, text: 'Rarr', nested: 'en_US', byRoot: 1 });
});

test('$case.<name>(<expr>) maps a value through remote.cases', async () => {
  const f = createChatRoom(m);
  const p = probe(
    {
      status: expr('$case.statusValue($rootModel.attributes.status)'),
      incoming: expr('$case.color($incoming.User.change.color)'),
    },
    { statusValue: { 0: 'OPEN', 1: 'CLOSED' }, color: { 5: 'blue' } },
  );
  const { req } = await call(f, p, [
    { type: 'change', uuid: f.users[0]!.uuid, clsName: 'User', properties: { color: 5 } },
  ]);
  assert.deepEqual(req?.body, { status: 'OPEN', incoming: 'blue' });
});

test('evaluation errors reject the changeset with a message naming the expression', async () => {
  const cases = { statusValue: { 1: 'CLOSED' } };
  const f = createChatRoom(m);
  const room = f.room.uuid;
  const change: Fragment[] = [{ type: 'change', uuid: room, clsName: 'ChatRoom', properties: { name: 'x' } }];
  const expectations: [string, string, Fragment[]?][] = [
    ['$incoming.Message.add.uuid', "the changeset has no 'add' fragment of class 'Message'"],
    ['$incoming.ChatRoom.change.users', "the 'change' fragment of 'ChatRoom' has no property 'users'"],
    ['$incoming.ChatRoom.change.name[0]', "'name' is not an array"],
    [
      '$incoming.ChatRoom.change.users[removed[0]]',
      "index 0 is out of range for the removed elements of 'users' (length 0)",
      [
        {
          type: 'change',
          uuid: room,
          clsName: 'ChatRoom',
          properties: { users: f.users.map((u) => u.uuid) },
        },
      ],
    ],
    ['$rootModel.attributes', "'attributes' is a ChatRoomAttributes, not a value: use 'attributes.uuid'"],
    ['$rootModel.users.username', "'users' is a collection of User: index it, e.g. users[0]"],
    ['$rootModel.users[5].username', "index 5 is out of range for 'users' (length 2)"],
    ['$rootModel.nope', "ChatRoom has no property 'nope'"],
    ['$model.find($scope.name).name', "no ModelObject 'TestScope' in the scope"],
    ['$case.statusValue($rootModel.attributes.status)', "case 'statusValue' has no entry for 0"],
    ['$case.other($rootModel.attributes.status)', "the procedure has no case map 'other' (remote.cases)"],
  ];
  for (const [source, reason, fragments] of expectations) {
    const p = probe({ v: expr(source) }, cases);
    const count = server.requests.length;
    const { res } = await call(f, p, fragments ?? change);
    assert.equal(
      res.results[0]?.message,
      `Could not apply SyncMessage: Could not bind the request of procedure '${p}': Expression '${source}': ${reason}`,
      source,
    );
    assert.equal(server.requests.length, count, 'no request was sent');
  }
  assert.equal(f.changes.length, 0);
});

test('malformed expressions throw a DefinitionError when defined', () => {
  for (const source of [
    'noDot',
    '$unknown.x',
    '$incoming.ChatRoom.change',
    '$incoming.ChatRoom.remove.uuid',
    '$incoming.ChatRoom.change.name[first]',
    '$incoming.ChatRoom.change.uuid[0]',
    '$scope.other',
    '$scope.params.',
    '$rootModel.users[x]',
    '$model.name',
    '$model.find($scope.name)',
    '$model.find($scope.name.name',
    '$case.statusValue',
    '$case.9bad($scope.name)',
    '$case.x($nope.y)',
  ]) {
    assert.throws(() => expr(source), DefinitionError, source);
  }
  const e = expr('$incoming.ChatRoom.change.uuid');
  assert.ok(e instanceof Expression);
  assert.equal(e.type, '$incoming');
  assert.equal(JSON.stringify({ e }), '{"e":"$incoming.ChatRoom.change.uuid"}');
  assert.throws(
    () =>
      expr('$scope.params.a').evaluate({
        scope: { name: 's', uuid: 'u', params: {}, root: null, get: () => null },
        fragments: [],
      }),
    ExpressionError,
  );
});

test('an optional expression that cannot be bound leaves its key out (or uses its default); others still bind', async () => {
  const f = createChatRoom(m);
  const p = probe({
    missing: expr('$rootModel.users[5].username', { optional: true }),
    fallback: expr('$rootModel.users[5].username', { optional: true, default: 'nobody' }),
    present: expr('$rootModel.users[1].username', { optional: true }),
    name: expr('$incoming.ChatRoom.change.name'),
  });
  const { res, req } = await call(f, p, [
    { type: 'change', uuid: f.room.uuid, clsName: 'ChatRoom', properties: { name: 'renamed' } },
  ]);
  assert.equal(res.results[0], null, 'the changeset is accepted');
  assert.deepEqual(req?.body, { fallback: 'nobody', present: f.users[1]!.username, name: 'renamed' });
  assert.ok(!Object.hasOwn(req?.body as object, 'missing'));
});
