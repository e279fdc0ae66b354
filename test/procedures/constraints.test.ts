// Constraint matching: each constraint type (literal, hasNewValue, array insert/remove, empty
// properties, additional properties), "every fragment must match at least one constraint", and
// disableProcedureConstraints. The procedures call a real loopback server so a test can also see
// that a rejected changeset never reaches the downstream.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { defineModel } from '../../src/model/index.js';
import {
  ArrayPropertyConstraint,
  arrayPropertyConstraint,
  Constraint,
  type ConstraintSpec,
  constraint,
  defineProcedure,
  HasNewValuePropertyConstraint,
  hasNewValuePropertyConstraint,
} from '../../src/procedures/index.js';
import { Scope } from '../../src/scope/index.js';
import type { ChangesetResult, Fragment } from '../../src/scope/types.js';
import {
  applySync,
  type ChatFixture,
  createChatRoom,
  makeChatModels,
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
function proc(constraints: ConstraintSpec[]): string {
  const name = `c${++seq}`;
  defineProcedure(m.ChatRoom, name, {
    constraints,
    remote: { type: 'http', url: `${server.url}/ok`, method: 'POST' },
  });
  return `ChatRoom.${name}`;
}

async function accepted(f: ChatFixture, procedure: string, fragments: Fragment[]): Promise<boolean> {
  const count = server.requests.length;
  const res = (await applySync(f.scope, { fragments, procedure, atomic: true })) as ChangesetResult;
  const rejected = res.results.some(
    (r) => r?.message === 'Could not apply SyncMessage: Changes do not match the procedure constraints',
  );
  assert.equal(
    server.requests.length,
    rejected ? count : count + 1,
    'the downstream is called only when constraints match',
  );
  return !rejected;
}

const change = (f: ChatFixture, properties: Record<string, unknown>): Fragment => ({
  type: 'change',
  uuid: f.room.uuid,
  clsName: 'ChatRoom',
  properties,
});

test('a literal value matches by strict equality', async () => {
  const p = proc([{ type: 'change', clsName: 'ChatRoom', properties: { name: 'Exact' } }]);
  const f = createChatRoom(m);
  assert.equal(await accepted(f, p, [change(f, { name: 'Exact' })]), true);
  assert.equal(await accepted(f, p, [change(f, { name: 'Other' })]), false);
  assert.equal(
    await accepted(f, p, [change(f, { name: 'Exact', users: [] })]),
    false,
    'no additional properties by default',
  );
});

test('hasNewValue: the key must be present, any value', async () => {
  const p = proc([
    { type: 'change', clsName: 'ChatRoom', properties: { name: hasNewValuePropertyConstraint() } },
  ]);
  const f = createChatRoom(m);
  assert.equal(await accepted(f, p, [change(f, { name: 'A' })]), true);
  assert.equal(await accepted(f, p, [change(f, { name: null })]), true);
  assert.equal(await accepted(f, p, [change(f, {})]), false);
  assert.equal(
    await accepted(f, p, [{ ...change(f, { name: 'A' }), clsName: 'ChatRoomAttributes' }]),
    false,
    'clsName must be equal',
  );
  assert.equal(
    await accepted(f, p, [
      { type: 'add', uuid: crypto.randomUUID(), clsName: 'ChatRoom', properties: { name: 'A' } },
    ]),
    false,
    'type must be equal',
  );
});

test('array insert: the collection grows (change) or is non-empty (add)', async () => {
  const p = proc([
    {
      type: 'change',
      clsName: 'ChatRoom',
      properties: { users: arrayPropertyConstraint({ type: 'insert' }) },
    },
    { type: 'add', clsName: 'User', properties: { username: hasNewValuePropertyConstraint() } },
  ]);
  const f = createChatRoom(m);
  const [u0, u1] = f.users.map((u) => u.uuid) as [string, string];
  const nu = crypto.randomUUID();
  assert.equal(
    await accepted(f, p, [
      change(f, { users: [u0, u1, nu] }),
      { type: 'add', uuid: nu, clsName: 'User', properties: { username: 'new' } },
    ]),
    true,
  );
  assert.equal(f.room.users.length, 3);
  assert.equal(await accepted(f, p, [change(f, { users: [u0, u1, nu] })]), false, 'same length');
  assert.equal(await accepted(f, p, [change(f, { users: [u0] })]), false, 'shrinks');
  assert.equal(await accepted(f, p, [change(f, { users: 'x' })]), false, 'not an array');

  const q = proc([
    { type: 'add', clsName: 'ChatRoom', properties: { users: arrayPropertyConstraint({ type: 'insert' }) } },
  ]);
  const add = (users: string[]): Fragment => ({
    type: 'add',
    uuid: crypto.randomUUID(),
    clsName: 'ChatRoom',
    properties: { users },
  });
  assert.equal(await accepted(f, q, [add([u0])]), true);
  assert.equal(await accepted(f, q, [add([])]), false);
});

test('array remove: the collection shrinks (the original server tested "grows")', async () => {
  const p = proc([
    {
      type: 'change',
      clsName: 'ChatRoom',
      properties: { users: arrayPropertyConstraint({ type: 'remove' }) },
    },
  ]);
  const f = createChatRoom(m);
  const [u0, u1] = f.users.map((u) => u.uuid) as [string, string];
  assert.equal(await accepted(f, p, [change(f, { users: [u0, u1, u0] })]), false, 'grows');
  assert.equal(await accepted(f, p, [change(f, { users: [u1, u0] })]), false, 'same length');
  assert.equal(await accepted(f, p, [change(f, { users: [u1] })]), true);
  assert.equal(f.room.users.length, 1);
  assert.equal(await accepted(f, p, [change(f, { name: [] })]), false, 'not a collection property');
  assert.throws(
    () =>
      new Constraint({
        type: 'add',
        clsName: 'X',
        properties: { a: arrayPropertyConstraint({ type: 'remove' }) },
      }),
    /cannot remove/,
  );
  assert.throws(() => arrayPropertyConstraint({ type: 'grow' as 'insert' }), /Invalid array constraint type/);
});

test('no properties: only an empty fragment, unless additional properties are allowed', async () => {
  const strict = proc([{ type: 'change', clsName: 'ChatRoom' }]);
  const loose = proc([{ type: 'change', clsName: 'ChatRoom', allowAdditionalProperties: true }]);
  const f = createChatRoom(m);
  assert.equal(await accepted(f, strict, [change(f, {})]), true);
  assert.equal(
    await accepted(f, strict, [{ type: 'change', uuid: f.room.uuid, clsName: 'ChatRoom' }]),
    true,
    'missing properties = {}',
  );
  assert.equal(await accepted(f, strict, [change(f, { name: 'a' })]), false);
  assert.equal(await accepted(f, loose, [change(f, { name: 'a', users: [] })]), true);
});

test('allowAdditionalProperties with named properties; a constraint key the class lacks never matches', async () => {
  const p = proc([
    {
      type: 'change',
      clsName: 'ChatRoom',
      properties: { name: hasNewValuePropertyConstraint() },
      allowAdditionalProperties: true,
    },
  ]);
  const bogus = proc([
    { type: 'change', clsName: 'ChatRoom', properties: { nope: hasNewValuePropertyConstraint() } },
  ]);
  const f = createChatRoom(m);
  assert.equal(await accepted(f, p, [change(f, { name: 'a', messages: [f.messages[0]!.uuid] })]), true);
  assert.equal(await accepted(f, p, [change(f, { messages: [f.messages[0]!.uuid] })]), false);
  assert.equal(await accepted(f, bogus, [change(f, { nope: 1 })]), false);
});

test('every fragment must match at least one constraint; an unused constraint is fine', async () => {
  const p = proc([
    { type: 'change', clsName: 'ChatRoom', properties: { name: hasNewValuePropertyConstraint() } },
    { type: 'change', clsName: 'ChatRoomAttributes', properties: { topic: hasNewValuePropertyConstraint() } },
    { type: 'add', clsName: 'Message', properties: { text: hasNewValuePropertyConstraint() } },
  ]);
  const f = createChatRoom(m);
  const topic: Fragment = {
    type: 'change',
    uuid: f.room.attributes.uuid,
    clsName: 'ChatRoomAttributes',
    properties: { topic: 't' },
  };
  assert.equal(await accepted(f, p, [change(f, { name: 'a' }), topic]), true);
  assert.equal(await accepted(f, p, [topic]), true);
  assert.equal(
    await accepted(f, p, [change(f, { name: 'a' }), { ...topic, properties: { locale: 'x' } }]),
    false,
  );
});

test('disableProcedureConstraints skips matching; the remote still runs', async () => {
  const p = proc([{ type: 'change', clsName: 'ChatRoom', properties: { name: 'Only this' } }]);
  const f = createChatRoom(m);
  f.scope.disableProcedureConstraints = true;
  assert.equal(await accepted(f, p, [change(f, { name: 'Something else' })]), true);
  assert.equal(f.room.name, 'Something else');
});

test('constraint values are validated at definition', () => {
  assert.ok(hasNewValuePropertyConstraint() instanceof HasNewValuePropertyConstraint);
  assert.ok(arrayPropertyConstraint({ type: 'insert' }) instanceof ArrayPropertyConstraint);
  assert.throws(() => new Constraint({ type: 'change', clsName: '' }), /Requires clsName|requires clsName/);
  assert.throws(
    () => new Constraint({ type: 'change', clsName: 'X', properties: { a: {} as never } }),
    /a value must be a literal/,
  );
  assert.throws(
    () => new Constraint({ type: 'change', clsName: 'X', allowAdditionalProperties: 'yes' as never }),
    /allowAdditionalProperties/,
  );
});

test('the typed form: constraint(type, Model, properties) checks property names at compile time', async () => {
  const Note = defineModel('Note', { text: String, tags: [String] });
  const Board = defineModel('Board', { title: String, notes: [Note] });
  const spec = constraint('change', Board, { title: hasNewValuePropertyConstraint() });
  assert.deepEqual(spec, { type: 'change', clsName: 'Board', properties: { title: spec.properties!.title } });
  // @ts-expect-error: Board has no property 'nope'
  constraint('change', Board, { nope: 1 });
  const p = defineProcedure(Board, 'retitle', {
    constraints: [spec, constraint('add', Note, { text: 'x' }, { allowAdditionalProperties: true })],
  });
  const board = new Board({ title: 'T' });
  const scope = new Scope({ name: 'boards' });
  scope.setRoot(board);
  assert.deepEqual(
    (
      await applySync(scope, {
        fragments: [{ type: 'change', uuid: board.uuid, clsName: 'Board', properties: { title: 'U' } }],
        procedure: `Board.${p.name}`,
      })
    ).results,
    [null],
  );
  assert.equal(board.title, 'U');
});
