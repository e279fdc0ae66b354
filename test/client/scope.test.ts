// ClientScope without a network: batching, rollback rules, remote application, reconciliation,
// recovery. A fake host records what would be sent and lets each test answer.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Canvas, ChatRoom, type Message, Shape, User } from '../../demo/models.js';
import { ClientScope, type ScopeHost, type SyncOptions } from '../../src/client/index.js';
import type { ModelObject } from '../../src/model/index.js';
import type { Fragment, FragmentReply, InboundFragment } from '../../src/protocol/index.js';

const ROOT = '0b7c2d0e-6a0c-4a8e-9c2f-4f7e4b1d9a10';
const S1 = '5d1e9b9a-3c44-4f0b-8d7a-0f2b6c1e2a33';
const S2 = 'a9f0c1d2-7b3e-4c5d-9e8f-1a2b3c4d5e6f';
const S3 = 'c3f0c1d2-7b3e-4c5d-9e8f-1a2b3c4d5e60';

interface Sent {
  fragments: Fragment[];
  options: SyncOptions;
  reply: (r: FragmentReply[] | null) => void;
}

class FakeHost implements ScopeHost {
  sent: Sent[] = [];
  _sendSync(_s: ClientScope, fragments: Fragment[], options: SyncOptions, reply: Sent['reply']): void {
    this.sent.push({ fragments, options, reply });
  }
  _pendingChanged(): void {}
  /** Answers the oldest unanswered changeset. */
  answer(replies?: FragmentReply[] | null): void {
    const s = this.sent.shift();
    assert.ok(s, 'nothing was sent');
    s.reply(replies === undefined ? s.fragments.map(() => ({})) : replies);
  }
}

const tick = () => new Promise<void>((r) => setTimeout(r, 0));

function shapeFrag(uuid: string, x: number, y = 0): InboundFragment {
  return { type: 'add', uuid, clsName: 'Shape', properties: { x, y, width: 10, height: 10, type: 0 } };
}

function canvasState(shapes: string[], name = 'Shapes'): InboundFragment[] {
  return [
    { type: 'change', uuid: ROOT, clsName: 'Canvas', properties: { name, shapes } },
    ...shapes.map((u, i) => shapeFrag(u, i * 10)),
  ];
}

function canvasScope(shapes: string[] = [S1, S2]) {
  const host = new FakeHost();
  const scope = new ClientScope('Canvas', Canvas, {}, host);
  scope._applyState(ROOT, canvasState(shapes));
  scope._fetched(0);
  const root = scope.root as ModelObject & {
    name: string;
    shapes: {
      toArray(): ModelObject[];
      push(...o: ModelObject[]): number;
      remove(o: ModelObject): number;
      length: number;
    };
  };
  const shape = (uuid: string) => scope.get(uuid) as ModelObject & { x: number; y: number; type: number };
  return { host, scope, root, shape };
}

describe('change batching', () => {
  test('edits of one turn go out as one changeset, one fragment per object', async () => {
    const { host, shape } = canvasScope();
    shape(S1).x = 1;
    shape(S1).y = 2;
    shape(S2).x = 3;
    assert.equal(host.sent.length, 0, 'nothing is sent before the turn ends');
    await tick();
    assert.equal(host.sent.length, 1);
    assert.deepEqual(host.sent[0]!.fragments, [
      { type: 'change', uuid: S1, clsName: 'Shape', properties: { x: 1, y: 2 } },
      { type: 'change', uuid: S2, clsName: 'Shape', properties: { x: 3 } },
    ]);
  });

  test('a new object is an add with all its properties plus a change of its parent; later edits merge', async () => {
    const { host, root } = canvasScope([]);
    const s = new Shape({ x: 5, y: 6 }) as ModelObject & { width: number };
    root.shapes.push(s);
    s.width = 50;
    await tick();
    const [f] = host.sent;
    assert.deepEqual(f!.fragments, [
      {
        type: 'add',
        uuid: s.uuid,
        clsName: 'Shape',
        properties: { x: 5, y: 6, width: 50, height: null, type: null },
      },
      { type: 'change', uuid: ROOT, clsName: 'Canvas', properties: { shapes: [s.uuid] } },
    ]);
  });

  test('an add detached in the same turn cancels out; a net-zero change is dropped', async () => {
    const { host, root, shape, scope } = canvasScope();
    const s = new Shape({ x: 1 });
    root.shapes.push(s);
    root.shapes.remove(s);
    shape(S1).x = 99;
    shape(S1).x = 0;
    await tick();
    assert.equal(host.sent.length, 0);
    assert.equal(scope.pendingCount, 0);
    assert.equal(scope.get(s.uuid), null);
  });

  test('moving an object within one turn is a change, not a remove and an add', async () => {
    const host = new FakeHost();
    const scope = new ClientScope('ChatRoom', ChatRoom, {}, host);
    const U = S1;
    scope._applyState(ROOT, [
      {
        type: 'change',
        uuid: ROOT,
        clsName: 'ChatRoom',
        properties: { name: 'r', users: [U], messages: [] },
      },
      {
        type: 'add',
        uuid: U,
        clsName: 'User',
        properties: { username: 'ann', color: 1, lastActive: 1700000000.5 },
      },
    ]);
    scope._fetched(0);
    const room = scope.root as ModelObject & {
      users: { toArray(): ModelObject[]; clear(): void; push(o: ModelObject): void };
    };
    const user = scope.get(U)!;
    assert.equal(
      (user as unknown as { lastActive: Date }).lastActive.getTime(),
      1700000000500,
      'Dates arrive as seconds',
    );
    room.users.clear();
    room.users.push(user);
    await tick();
    assert.equal(host.sent.length, 0, 'same value after the move: nothing to send');
    assert.equal(scope.get(U), user);
  });

  test('transaction(): its own changeset with atomic/procedure; resolves with the reply', async () => {
    const { host, shape } = canvasScope();
    shape(S2).y = 7; // belongs to the turn's default batch, sent before the block
    const done = scopeOf(shape(S1)).transaction(
      () => {
        shape(S1).x = 42;
      },
      { procedure: 'Canvas.move', atomic: true },
    );
    assert.equal(host.sent.length, 2);
    assert.deepEqual(host.sent[0]!.fragments[0]!.properties, { y: 7 });
    assert.deepEqual(host.sent[1]!.options, { procedure: 'Canvas.move', atomic: true });
    host.answer();
    host.answer();
    const r = await done;
    assert.equal(r.status, 'completed');
    assert.equal(r.procedure, 'Canvas.move');
    assert.deepEqual(r.fragments, [{ type: 'change', uuid: S1, clsName: 'Shape' }]);
  });

  test('a transaction block that throws undoes its edits and sends nothing', async () => {
    const { host, shape, scope } = canvasScope();
    assert.throws(() =>
      scope.transaction(() => {
        shape(S1).x = 1;
        throw new Error('boom');
      }),
    );
    assert.equal(shape(S1).x, 0);
    await tick();
    assert.equal(host.sent.length, 0);
  });
});

function scopeOf(o: ModelObject): ClientScope {
  return o.scope as unknown as ClientScope;
}

describe('replies and rollback', () => {
  test('a rejected fragment rolls back exactly its properties; accepted ones stay', async () => {
    const { host, shape, scope } = canvasScope();
    shape(S1).x = 1;
    shape(S2).x = 2;
    const done = scope.flush();
    const changes: string[] = [];
    scope.on('change', (o, props, source) =>
      changes.push(`${o.uuid === S1 ? 'S1' : 'S2'}:${props}:${source}`),
    );
    host.answer([{ error: { message: 'no' } }, {}]);
    const r = await done;
    assert.equal(r.status, 'partiallyReverted');
    assert.deepEqual(r.errors, [{ message: 'no' }]);
    assert.equal(shape(S1).x, 0);
    assert.equal(shape(S2).x, 2);
    assert.deepEqual(changes, ['S1:x:rollback']);
  });

  test('a rollback skips properties a newer change touched, which then inherits the old value', async () => {
    const { host, shape, scope } = canvasScope();
    shape(S1).x = 1;
    shape(S1).y = 1;
    scope.flush();
    shape(S1).x = 2;
    scope.flush();
    host.answer([{ error: { message: 'no' } }]);
    assert.equal(shape(S1).x, 2, 'newer change kept');
    assert.equal(shape(S1).y, 0, 'untouched by the newer change: rolled back');
    host.answer([{ error: { message: 'no again' } }]);
    assert.equal(shape(S1).x, 0, 'the newer change restores the value before both');
  });

  test('modifications of an accepted fragment are applied', async () => {
    const { host, shape, scope } = canvasScope();
    shape(S1).x = 13;
    const done = scope.flush();
    host.answer([{ modifications: { x: 10, y: 20 } }]);
    assert.equal((await done).status, 'completed');
    assert.equal(shape(S1).x, 10);
    assert.equal(shape(S1).y, 20);
  });

  test('atomic: one rejection rolls back the whole block', async () => {
    const { host, shape, scope } = canvasScope();
    const done = scope.transaction(
      () => {
        shape(S1).x = 1;
        shape(S2).x = 2;
      },
      { atomic: true },
    );
    host.answer([{}, { error: { message: 'bad' } }]);
    const r = await done;
    assert.equal(r.status, 'reverted');
    assert.equal(shape(S1).x, 0);
    assert.equal(shape(S2).x, 10);
  });

  test('a reply with the wrong number of entries reverts the whole changeset', async () => {
    const { host, shape, scope } = canvasScope();
    shape(S1).x = 1;
    const done = scope.flush();
    host.answer([]);
    assert.equal((await done).status, 'reverted');
    assert.equal(shape(S1).x, 0);
  });

  test('rejecting an add removes the object again; rejecting a removal brings it back', async () => {
    const { host, root, shape, scope } = canvasScope();
    const removed: string[] = [];
    const added: string[] = [];
    scope.on('remove', (o) => removed.push(o.uuid));
    scope.on('add', (o) => added.push(o.uuid));
    const s = new Shape({ x: 1 });
    root.shapes.push(s);
    root.shapes.remove(shape(S2));
    await tick();
    assert.equal(scope.get(S2), null);
    assert.deepEqual(removed, [S2]);
    host.answer([{ error: { message: 'no' } }, { error: { message: 'no' } }]);
    assert.equal(scope.get(s.uuid), null);
    assert.ok(scope.get(S2));
    assert.deepEqual(
      root.shapes.toArray().map((o) => o.uuid),
      [S1, S2],
    );
    assert.deepEqual(added, [s.uuid, S2]);
    assert.deepEqual(removed, [S2, s.uuid]);
  });
});

describe('remote changes', () => {
  test('ScopeSync: adds (referring forward) then properties; per-object and per-property events; no echo', async () => {
    const { host, root, scope, shape } = canvasScope([S1]);
    const events: string[] = [];
    scope.on('add', (o, source) => events.push(`add ${o.uuid === S3 ? 'S3' : o.uuid} ${source}`));
    scope.on('change', (o, props, source) =>
      events.push(`change ${o === root ? 'root' : 'S1'} ${props} ${source}`),
    );
    const onX: string[][] = [];
    scope.observe(shape(S1), 'x', (props) => onX.push(props));
    scope.observe(shape(S1), 'y', () => assert.fail('y did not change'));
    scope._applySync([
      { type: 'change', uuid: ROOT, clsName: 'Canvas', properties: { shapes: [S1, S3] } },
      shapeFrag(S3, 7),
      { type: 'change', uuid: S1, clsName: 'Shape', properties: { x: 50 } },
    ]);
    assert.deepEqual(
      root.shapes.toArray().map((o) => o.uuid),
      [S1, S3],
    );
    assert.equal(shape(S3).x, 7);
    assert.equal(shape(S1).x, 50);
    assert.deepEqual(events, ['add S3 remote', 'change root shapes remote', 'change S1 x remote']);
    assert.deepEqual(onX, [['x']]);
    await tick();
    assert.equal(host.sent.length, 0, 'remote changes are not echoed');
  });

  test('a remote value for a property with an unanswered local change does not overwrite it', async () => {
    const { host, shape, scope } = canvasScope();
    shape(S1).x = 1;
    scope.flush();
    scope._applySync([{ type: 'change', uuid: S1, clsName: 'Shape', properties: { x: 77, y: 5 } }]);
    assert.equal(shape(S1).x, 1, 'ours was applied after theirs on the server');
    assert.equal(shape(S1).y, 5);
    host.answer([{ error: { message: 'no' } }]);
    assert.equal(shape(S1).x, 77, 'a rollback restores the remote value');
  });

  test('ScopeState reconciles: objects absent from it leave; present ones are reused', () => {
    const { scope, shape } = canvasScope([S1, S2]);
    const s1 = shape(S1);
    const removed: string[] = [];
    scope.on('remove', (o) => removed.push(o.uuid));
    scope._applyState(ROOT, canvasState([S1, S3]));
    assert.equal(scope.get(S1), s1);
    assert.equal(scope.get(S2), null);
    assert.ok(scope.get(S3));
    assert.deepEqual(removed, [S2]);
    assert.equal(scope.size, 3);
  });

  test('ScopeState on a scope with another root uuid re-keys the root', () => {
    const { scope, root } = canvasScope([]);
    const other = '11111111-2222-4333-8444-555555555555';
    scope._applyState(other, [
      { type: 'change', uuid: other, clsName: 'Canvas', properties: { name: 'x', shapes: [] } },
    ]);
    assert.equal(scope.root, root);
    assert.equal(root.uuid, other);
    assert.equal(scope.get(other), root);
  });

  test('invalid remote values are skipped, valid ones applied', () => {
    const { scope, shape } = canvasScope([S1]);
    scope._applySync([
      { type: 'change', uuid: S1, clsName: 'Shape', properties: { x: 'nope', y: 3, nope: 1 } },
    ]);
    assert.equal(shape(S1).x, 0);
    assert.equal(shape(S1).y, 3);
  });
});

describe('objects outside the tree while a local change is unanswered', () => {
  const shapes = (root: { shapes: { toArray(): ModelObject[] } }) => root.shapes.toArray().map((o) => o.uuid);
  const rejectAll = (host: FakeHost) =>
    host.answer(host.sent[0]!.fragments.map(() => ({ error: { message: 'no' } })));
  /**
   * Our list change is unanswered while the server's list, applied before it, adds S3 (x 5):
   * S3 is known but not in our tree.
   */
  const hiddenRemoteShape = () => {
    const fixture = canvasScope();
    fixture.root.shapes.push(new Shape({ x: 1 }));
    fixture.scope.flush();
    fixture.scope._applySync([
      { type: 'change', uuid: ROOT, clsName: 'Canvas', properties: { shapes: [S1, S2, S3] } },
      shapeFrag(S3, 5),
    ]);
    return fixture;
  };

  test('a shape another client added stays known while hidden: a later list change and a rollback keep it', () => {
    // The server applied, before our list change: [S1, S2, S3] (S3 added), then [S2, S3].
    const { host, root, scope } = hiddenRemoteShape();
    assert.equal(scope.get(S3), null, 'our unanswered list wins: S3 is not in the tree');
    scope._applySync([{ type: 'change', uuid: ROOT, clsName: 'Canvas', properties: { shapes: [S2, S3] } }]);
    rejectAll(host);
    assert.deepEqual(shapes(root), [S2, S3], 'the rollback restores the server list, S3 included');
    assert.equal((scope.get(S3) as ModelObject & { x: number }).x, 5);
  });

  test('a property change of a hidden remote shape is applied to it, and shows once it attaches', () => {
    const { host, root, scope } = hiddenRemoteShape();
    scope._applySync([{ type: 'change', uuid: S3, clsName: 'Shape', properties: { x: 77 } }]);
    rejectAll(host);
    assert.deepEqual(shapes(root), [S1, S2, S3]);
    assert.equal((scope.get(S3) as ModelObject & { x: number }).x, 77);
  });

  test('a shape our rejected change removed comes back, in the list other clients changed meanwhile', () => {
    const { host, root, scope, shape } = canvasScope();
    const s1 = shape(S1);
    scope.transaction(() => root.shapes.remove(s1), { procedure: 'Canvas.nope' });
    assert.equal(scope.get(S1), null);
    // Others changed the list (which still names S1 on the server) and moved S1.
    scope._applySync([
      { type: 'change', uuid: ROOT, clsName: 'Canvas', properties: { shapes: [S1, S2, S3] } },
      shapeFrag(S3, 5),
      { type: 'change', uuid: S1, clsName: 'Shape', properties: { x: 55 } },
    ]);
    assert.deepEqual(shapes(root), [S2]);
    rejectAll(host);
    assert.deepEqual(shapes(root), [S1, S2, S3]);
    assert.equal(scope.get(S1), s1, 'the same object comes back');
    assert.equal(s1.x, 55, 'with the remote change it missed while removed');
  });

  test('edits of an object the same changeset removes are not sent, and do not survive a rollback', async () => {
    const { host, root, scope, shape } = canvasScope();
    const s2 = shape(S2);
    const done = scope.transaction(
      () => {
        s2.x = 99;
        root.shapes.remove(s2);
      },
      { procedure: 'Canvas.nope' },
    );
    assert.deepEqual(
      host.sent[0]!.fragments.map((f) => `${f.type} ${f.uuid}`),
      [`change ${ROOT}`],
    );
    rejectAll(host);
    assert.equal((await done).status, 'reverted');
    assert.equal(scope.get(S2), s2);
    assert.equal(s2.x, 10, 'the value the server has, not the unsent edit');
  });

  test('once nothing is pending, objects that left are forgotten: a later add creates a new one', async () => {
    const { host, root, scope, shape } = canvasScope();
    const s1 = shape(S1);
    root.shapes.remove(s1);
    scope.flush();
    host.answer();
    await tick(); // a later frame: objects held outside the tree are let go once the reply's frame is read
    // The server re-adds an object with that uuid: it is a new object with the fragment's values.
    scope._applySync([
      { type: 'change', uuid: ROOT, clsName: 'Canvas', properties: { shapes: [S2, S1] } },
      shapeFrag(S1, 3),
    ]);
    assert.notEqual(scope.get(S1), s1);
    assert.equal((scope.get(S1) as ModelObject & { x: number }).x, 3);
  });
});

describe('recovery after a lost session', () => {
  test('unanswered changesets are re-applied on top of the new state, keeping others’ additions', async () => {
    const { host, root, shape, scope } = canvasScope([S1]);
    const mine = new Shape({ x: 1, y: 1 });
    root.shapes.push(mine);
    shape(S1).x = 5;
    const first = scope.flush();
    scope._suspend();
    host.sent = [];
    shape(S1).y = 9; // an edit made while the session is being re-created
    await tick();
    assert.equal(host.sent.length, 0, 'held while not fetched');
    // The new state: someone else added S3; our changes never arrived.
    scope._recover(0, ROOT, canvasState([S1, S3]));
    assert.deepEqual(
      root.shapes.toArray().map((o) => o.uuid),
      [S1, S3, mine.uuid],
    );
    assert.equal(shape(S1).x, 5);
    assert.equal(shape(S1).y, 9);
    assert.equal(host.sent.length, 2);
    const frags = host.sent[0]!.fragments;
    assert.deepEqual(
      frags.map((f) => `${f.type} ${f.clsName}`),
      ['add Shape', 'change Canvas', 'change Shape'],
    );
    assert.deepEqual(frags[1]!.properties, { shapes: [S1, S3, mine.uuid] });
    host.answer();
    host.answer();
    assert.equal(
      (await first).status,
      'completed',
      'the original promise settles with the re-sent changeset',
    );
  });

  test('changes the old session did apply are not sent twice', async () => {
    const { host, root, shape, scope } = canvasScope([S1]);
    const mine = new Shape({ x: 1 });
    root.shapes.push(mine);
    shape(S1).x = 5;
    const first = scope.flush();
    scope._suspend();
    host.sent = [];
    const state = canvasState([S1, mine.uuid]);
    (state[1]!.properties as Record<string, unknown>).x = 5;
    (state[2]!.properties as Record<string, unknown>).x = 1;
    (state[2]!.properties as Record<string, unknown>).y = null;
    (state[2]!.properties as Record<string, unknown>).width = null;
    (state[2]!.properties as Record<string, unknown>).height = null;
    (state[2]!.properties as Record<string, unknown>).type = null;
    scope._recover(0, ROOT, state);
    assert.equal(host.sent.length, 0);
    assert.equal((await first).status, 'completed');
    assert.equal(scope.get(mine.uuid), mine);
  });
});

describe('misc', () => {
  test('Message/User references resolve across fragments of one ScopeSync', () => {
    const host = new FakeHost();
    const scope = new ClientScope('ChatRoom', ChatRoom, {}, host);
    scope._applyState(ROOT, [
      { type: 'change', uuid: ROOT, clsName: 'ChatRoom', properties: { name: 'r', users: [], messages: [] } },
    ]);
    scope._applySync([
      { type: 'change', uuid: ROOT, clsName: 'ChatRoom', properties: { users: [S1], messages: [S2] } },
      { type: 'add', uuid: S2, clsName: 'Message', properties: { author: S1, postedAt: 1.5, text: 'hi' } },
      { type: 'add', uuid: S1, clsName: 'User', properties: { username: 'ann' } },
    ]);
    const m = scope.get(S2) as InstanceType<typeof Message> & { author: ModelObject; postedAt: Date };
    assert.equal(m.author, scope.get(S1));
    assert.ok(m.author instanceof User);
    assert.equal(m.postedAt.getTime(), 1500);
  });
});
