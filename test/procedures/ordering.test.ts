// Changesets to one scope stay strictly ordered while a downstream call is in flight: the next
// changeset waits and is validated against the state the previous one left. The idle path with
// no procedure stays synchronous.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import {
  arrayPropertyConstraint,
  defineProcedure,
  expr,
  hasNewValuePropertyConstraint,
} from '../../src/procedures/index.js';
import type { ChangesetResult } from '../../src/scope/types.js';
import {
  applySync,
  createChatRoom,
  isScopeBusy,
  makeChatModels,
  respond,
  startServer,
  type TestServer,
} from './helpers.js';

const m = makeChatModels();
const DELAY = 300;
let server: TestServer;
const answeredAt: number[] = [];

before(async () => {
  // /slow answers after DELAY ms with a topic update; /fast at once.
  server = await startServer((req, res) => {
    const slow = req.url.startsWith('/slow');
    const send = () => {
      answeredAt.push(Date.now());
      respond(res, 200, {
        _updates: [{ update: { $set: { 'attributes.topic': `after ${req.headers['x-name']}` } } }],
      });
    };
    if (slow) setTimeout(send, DELAY);
    else send();
  });
  for (const speed of ['slow', 'fast']) {
    defineProcedure(m.ChatRoom, `${speed}Rename`, {
      constraints: [
        { type: 'change', clsName: 'ChatRoom', properties: { name: hasNewValuePropertyConstraint() } },
      ],
      remote: {
        type: 'http',
        url: `${server.url}/${speed}`,
        method: 'POST',
        headers: { 'X-Name': expr('$incoming.ChatRoom.change.name'), 'X-Old': expr('$rootModel.name') },
      },
    });
  }
  defineProcedure(m.ChatRoom, 'slowPost', {
    constraints: [
      {
        type: 'change',
        clsName: 'ChatRoom',
        properties: { messages: arrayPropertyConstraint({ type: 'insert' }) },
      },
      { type: 'add', clsName: 'Message', allowAdditionalProperties: true },
    ],
    remote: { type: 'http', url: `${server.url}/slow`, method: 'POST', headers: { 'X-Name': 'post' } },
  });
});
after(() => server.close());

test('the idle path with no procedure is synchronous', () => {
  const f = createChatRoom(m);
  const res = applySync(f.scope, {
    fragments: [{ type: 'change', uuid: f.room.uuid, clsName: 'ChatRoom', properties: { name: 'sync' } }],
  });
  assert.ok(!(res instanceof Promise));
  assert.deepEqual((res as ChangesetResult).results, [null]);
  assert.equal(f.room.name, 'sync');
  assert.equal(isScopeBusy(f.scope), false);
});

test('a plain changeset waits behind a slow procedure and applies after it and its updates', async () => {
  const f = createChatRoom(m);
  const first = applySync(f.scope, {
    fragments: [{ type: 'change', uuid: f.room.uuid, clsName: 'ChatRoom', properties: { name: 'B' } }],
    procedure: 'ChatRoom.slowRename',
    origin: 'alice',
  });
  assert.ok(first instanceof Promise);
  assert.equal(isScopeBusy(f.scope), true);
  const second = applySync(f.scope, {
    fragments: [{ type: 'change', uuid: f.room.uuid, clsName: 'ChatRoom', properties: { name: 'C' } }],
    origin: 'bob',
  });
  assert.ok(second instanceof Promise, 'queued behind the in-flight procedure');
  assert.equal(f.room.name, 'TestChatRoom', 'nothing applied while the downstream call is in flight');
  const order: string[] = [];
  const [r1, r2] = await Promise.all([
    first.then((r) => {
      order.push('first');
      return r;
    }),
    second.then((r) => {
      order.push('second');
      return r;
    }),
  ]);
  assert.deepEqual(order, ['first', 'second']);
  assert.deepEqual(r1.results, [null]);
  assert.deepEqual(r2.results, [null]);
  assert.equal(f.room.name, 'C');
  assert.equal(f.room.attributes.topic, 'after B');
  assert.deepEqual(
    f.changes.map((c) => [c.context.origin, Object.values(c.fragments[0]!.properties)[0]]),
    [
      ['alice', 'B'],
      [undefined, 'after B'],
      ['bob', 'C'],
    ],
  );
  assert.equal(isScopeBusy(f.scope), false, 'the queue drains');
  assert.ok(!(applySync(f.scope, { fragments: [] }) instanceof Promise), 'and the fast path is back');
});

test('a queued changeset is validated against the state after the previous one', async () => {
  const f = createChatRoom(m);
  const msg = crypto.randomUUID();
  const post = applySync(f.scope, {
    fragments: [
      {
        type: 'change',
        uuid: f.room.uuid,
        clsName: 'ChatRoom',
        properties: { messages: [f.messages[0]!.uuid, msg] },
      },
      { type: 'add', uuid: msg, clsName: 'Message', properties: { author: f.users[0]!.uuid, text: 'hello' } },
    ],
    procedure: 'ChatRoom.slowPost',
  });
  // Edits the message that the in-flight changeset adds: valid only after it.
  const edit = applySync(f.scope, {
    fragments: [{ type: 'change', uuid: msg, clsName: 'Message', properties: { text: 'edited' } }],
  });
  assert.deepEqual((await post).results, [null, null]);
  assert.deepEqual((await edit).results, [null]);
  assert.equal((f.scope.get(msg) as unknown as { text: string }).text, 'edited');
});

test('procedure calls run one at a time: the second request is bound and sent after the first applied', async () => {
  const f = createChatRoom(m);
  const count = server.requests.length;
  answeredAt.length = 0;
  const a = applySync(f.scope, {
    fragments: [{ type: 'change', uuid: f.room.uuid, clsName: 'ChatRoom', properties: { name: 'A1' } }],
    procedure: 'ChatRoom.slowRename',
  });
  const b = applySync(f.scope, {
    fragments: [{ type: 'change', uuid: f.room.uuid, clsName: 'ChatRoom', properties: { name: 'A2' } }],
    procedure: 'ChatRoom.fastRename',
  });
  await Promise.all([a, b]);
  const [ra, rb] = server.requests.slice(count);
  assert.ok(ra && rb);
  assert.equal(ra.headers['x-old'], 'TestChatRoom');
  assert.equal(rb.headers['x-old'], 'A1', 'the second call saw the first changeset applied');
  assert.ok(rb.receivedAt >= answeredAt[0]!, 'the second request left after the first answer');
  assert.equal(f.room.name, 'A2');
  assert.equal(f.room.attributes.topic, 'after A2');
});

test('a failed procedure does not block the queue', async () => {
  const f = createChatRoom(m);
  const bad = applySync(f.scope, {
    fragments: [{ type: 'change', uuid: f.room.uuid, clsName: 'ChatRoom', properties: { name: 1 } }],
    procedure: 'ChatRoom.nope',
  });
  const next = applySync(f.scope, {
    fragments: [{ type: 'change', uuid: f.room.uuid, clsName: 'ChatRoom', properties: { name: 'ok' } }],
  });
  assert.equal((await bad).results[0]?.type, 'could-not-apply-sync-message');
  assert.deepEqual((await next).results, [null]);
  assert.equal(f.room.name, 'ok');
  assert.equal(isScopeBusy(f.scope), false);
});
