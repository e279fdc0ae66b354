// The remote `http` procedure against real HTTP servers on loopback: request building, the
// downstream contract (`_updates`, success codes, response key), a custom remote type, and
// every failure mode, each with its own message in every fragment's reply and nothing applied.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { DefinitionError } from '../../src/errors.js';
import { ModelObject } from '../../src/model/index.js';
import {
  defineProcedure,
  expr,
  hasNewValuePropertyConstraint,
  type ProcedureOptions,
  type RemoteOutcome,
  registerRemoteProcedureType,
  SyncProcedure,
} from '../../src/procedures/index.js';
import { Scope } from '../../src/scope/index.js';
import type { ChangesetResult } from '../../src/scope/types.js';
import {
  applySync,
  type ChatFixture,
  createChatRoom,
  makeChatModels,
  procedureHeaders,
  type RecordedRequest,
  respond,
  startServer,
  type TestServer,
  warnings,
} from './helpers.js';

const m = makeChatModels();
const { ChatRoom } = m;

// One server whose behaviour each test picks through the path.
let server: TestServer;
let slow: TestServer;
before(async () => {
  server = await startServer((req, res) => {
    const path = req.url.split('?')[0]!;
    switch (path) {
      case '/ok':
        return respond(res, 200, { ok: true });
      case '/empty':
        res.writeHead(200);
        return res.end();
      case '/created':
        return respond(res, 201, {});
      case '/status500':
        return respond(res, 500, { error: 'boom' });
      case '/not-json':
        res.writeHead(200, { 'Content-Type': 'text/plain' });
        return res.end('hello, not json');
      case '/array':
        return respond(res, 200, [1, 2]);
      case '/updates-object':
        return respond(res, 200, { _updates: { update: { $set: { name: 'x' } } } });
      case '/updates-bad-entry':
        return respond(res, 200, { _updates: [{ update: 'nope' }] });
      case '/topic':
        return respond(res, 200, {
          _updates: [{ update: { $set: { 'attributes.topic': `topic from ${req.method}` } } }],
        });
      case '/custom-key':
        return respond(res, 200, {
          changes: [{ query: {}, update: { $set: { 'attributes.locale': 'fr_FR' } } }],
        });
      case '/bad-update':
        return respond(res, 200, {
          _updates: [
            { update: { $set: { 'attributes.nope': 1 } } },
            { update: { $set: { 'attributes.topic': 'second' } } },
          ],
        });
      default:
        return respond(res, 404, { error: 'not found' });
    }
  });
  slow = await startServer((_req, res) => respond(res, 200, {}, 2000));
});
after(async () => {
  await server.close();
  await slow.close();
});

let seq = 0;
/** Defines a `change ChatRoom {name}` procedure with the given remote; returns its full name. */
function nameProcedure(
  remote: ProcedureOptions['remote'],
  constraints?: ProcedureOptions['constraints'],
): string {
  const name = `p${++seq}`;
  defineProcedure(ChatRoom, name, {
    constraints: constraints ?? [
      { type: 'change', clsName: 'ChatRoom', properties: { name: hasNewValuePropertyConstraint() } },
    ],
    remote,
  });
  return `ChatRoom.${name}`;
}

function rename(f: ChatFixture, procedure: string, name = 'Renamed', origin: unknown = 'sender') {
  return applySync(f.scope, {
    fragments: [{ type: 'change', uuid: f.room.uuid, clsName: 'ChatRoom', properties: { name } }],
    procedure,
    origin,
  }) as Promise<ChangesetResult>;
}

const wire = (message: string) => ({
  message: `Could not apply SyncMessage: ${message}`,
  type: 'could-not-apply-sync-message',
});

/** Asserts every fragment carries `message` and nothing was applied or broadcast. */
function assertRejected(f: ChatFixture, res: ChangesetResult, message: string | RegExp, count = 1): void {
  assert.equal(res.results.length, count);
  for (const r of res.results) {
    assert.ok(r, 'every fragment is rejected');
    assert.equal(r.type, 'could-not-apply-sync-message');
    if (typeof message === 'string') assert.equal(r.message, `Could not apply SyncMessage: ${message}`);
    else assert.match(r.message, message);
  }
  assert.deepEqual(res.applied, []);
  assert.equal(f.room.name, 'TestChatRoom');
  assert.equal(f.changes.length, 0, 'nothing broadcast');
}

// ---- success path ------------------------------------------------------------------------------

test('a successful call applies the changeset, then the `_updates`, broadcast without origin', async () => {
  const f = createChatRoom(m);
  const p = nameProcedure({ type: 'http', url: `${server.url}/topic`, method: 'PUT' });
  const res = await rename(f, p);
  assert.deepEqual(res.results, [null]);
  assert.equal(f.room.name, 'Renamed');
  assert.equal(f.room.attributes.topic, 'topic from PUT');
  assert.deepEqual(
    f.changes.map((c) => [c.context.origin, c.context.procedure, c.fragments[0]!.properties]),
    [
      ['sender', p, { name: 'Renamed' }],
      [undefined, undefined, { topic: 'topic from PUT' }],
    ],
  );
});

test('`_updates` are not applied when no fragment of the changeset was accepted', async () => {
  const f = createChatRoom(m);
  const p = nameProcedure({ type: 'http', url: `${server.url}/topic`, method: 'POST' });
  const res = await rename(f, p, 42 as unknown as string);
  assert.equal(res.results[0]?.type, 'invalid-fragment');
  assert.equal(f.room.attributes.topic, 'This is a test chat room');
  assert.equal(f.changes.length, 0);
});

test('an update that fails is logged and skipped; the others still apply', async () => {
  const f = createChatRoom(m);
  const p = nameProcedure({ type: 'http', url: `${server.url}/bad-update`, method: 'POST' });
  warnings.length = 0;
  const res = await rename(f, p);
  assert.deepEqual(res.results, [null]);
  assert.equal(f.room.attributes.topic, 'second');
  assert.equal(warnings.length, 1);
  assert.match(warnings[0]!.message, /procedure update (failed|had write errors)/);
});

test('an empty 200 body and a body without `_updates` are successes with no updates', async () => {
  for (const path of ['/empty', '/ok']) {
    const f = createChatRoom(m);
    const res = await rename(f, nameProcedure({ type: 'http', url: `${server.url}${path}`, method: 'POST' }));
    assert.deepEqual(res.results, [null]);
    assert.equal(f.changes.length, 1);
  }
});

test('successStatusCodes and updatesResponseKey are configurable', async () => {
  const f = createChatRoom(m);
  const created = nameProcedure({
    type: 'http',
    url: `${server.url}/created`,
    method: 'POST',
    successStatusCodes: [200, 201],
  });
  assert.deepEqual((await rename(f, created)).results, [null]);
  const key = nameProcedure({
    type: 'http',
    url: `${server.url}/custom-key`,
    method: 'POST',
    updatesResponseKey: 'changes',
  });
  assert.deepEqual((await rename(f, key, 'Again')).results, [null]);
  assert.equal(f.room.attributes.locale, 'fr_FR');
});

test('request building: placeholders URL-encoded, method upper-cased, user headers win, JSON body with nesting', async () => {
  const f = createChatRoom(m, { tenant: 'a/b c?', nested: { flag: true } });
  const p = nameProcedure({
    type: 'http',
    url: `${server.url}/echo/:tenant/:room?name=:newName`,
    method: 'patch',
    params: {
      tenant: expr('$scope.params.tenant'),
      room: expr('$incoming.ChatRoom.change.uuid'),
      newName: expr('$incoming.ChatRoom.change.name'),
    },
    headers: { 'content-type': 'application/vnd.test+json', 'X-Number': 7, 'X-Null': null },
    body: {
      outer: {
        name: expr('$incoming.ChatRoom.change.name'),
        list: [expr('$scope.name'), 1, { flag: expr('$scope.params.nested.flag') }],
      },
    },
  });
  const res = await rename(f, p, 'R&D #1');
  assert.equal(
    res.results[0]?.message,
    'Could not apply SyncMessage: Expected response 200 status code, received 404 status code',
  );
  const r = server.requests.at(-1) as RecordedRequest;
  assert.equal(r.method, 'PATCH');
  assert.equal(r.url, `/echo/a%2Fb%20c%3F/${f.room.uuid}?name=R%26D%20%231`);
  assert.deepEqual(procedureHeaders(r.headers), {
    'content-type': 'application/vnd.test+json',
    'x-number': '7',
  });
  assert.deepEqual(r.body, { outer: { name: 'R&D #1', list: ['TestScope', 1, { flag: true }] } });
});

test('a procedure without remote only validates, and a port in the URL is not a placeholder', async () => {
  const f = createChatRoom(m);
  const p = `ChatRoom.${
    (
      defineProcedure(ChatRoom, 'validateOnly', {
        constraints: [{ type: 'change', clsName: 'ChatRoom', properties: { name: 'Allowed' } }],
      }) as SyncProcedure
    ).name
  }`;
  assert.deepEqual((await rename(f, p, 'Allowed')).results, [null]);
  assert.equal(f.room.name, 'Allowed');
  assert.doesNotThrow(() => nameProcedure({ type: 'http', url: `http://127.0.0.1:${server.port}/x` }));
});

// ---- custom remote types ---------------------------------------------------------------------

test('a custom remote type (callback style) runs before the changeset and can return updates', async () => {
  const seen: string[] = [];
  class AuditRemote {
    constructor(readonly options: { name: string; remote: Record<string, unknown> }) {}
    execute(scope: Scope, fragments: readonly unknown[], cb: (err: Error | null, r?: RemoteOutcome) => void) {
      seen.push(
        `${this.options.name}:${(scope.root as unknown as { name: string }).name}:${fragments.length}`,
      );
      if (this.options.remote.fail) setImmediate(() => cb(new Error('audit refused')));
      else
        setImmediate(() => cb(null, { updates: [{ update: { $set: { 'attributes.topic': 'audited' } } }] }));
    }
  }
  registerRemoteProcedureType('audit', AuditRemote);
  assert.throws(() => registerRemoteProcedureType('audit', AuditRemote), /already registered/);
  const f = createChatRoom(m);
  const ok = nameProcedure({ type: 'audit' });
  assert.deepEqual((await rename(f, ok)).results, [null]);
  assert.deepEqual(seen, [`${ok}:TestChatRoom:1`], 'ran against the state before the changeset');
  assert.equal(f.room.attributes.topic, 'audited');
  const g = createChatRoom(m);
  const bad = nameProcedure({ type: 'audit', fail: true });
  assertRejected(g, await rename(g, bad), `Procedure '${bad}' failed: audit refused`);
  // Through the static form, as in the original.
  assert.equal(typeof ModelObject.registerRemoteProcedureType, 'function');
});

// ---- failure modes -----------------------------------------------------------------------------

test('no such model, no such procedure, malformed procedure name', async () => {
  const f = createChatRoom(m);
  assertRejected(
    f,
    await rename(f, 'Nope.setName'),
    "No such model 'Nope' for procedure call with procedure 'Nope.setName'",
  );
  assertRejected(f, await rename(f, 'ChatRoom.nope'), "No such procedure 'nope' for model 'ChatRoom'");
  assertRejected(f, await rename(f, 'setName'), 'Procedure must be of the format "ModelName.procedureName"');
  // A reachable model without that procedure.
  assertRejected(f, await rename(f, 'Message.setName'), "No such procedure 'setName' for model 'Message'");
});

test('constraints not met: every fragment rejected, no downstream call', async () => {
  const f = createChatRoom(m);
  const p = nameProcedure({ type: 'http', url: `${server.url}/ok`, method: 'POST' });
  const before = server.requests.length;
  const res = (await applySync(f.scope, {
    fragments: [
      { type: 'change', uuid: f.room.uuid, clsName: 'ChatRoom', properties: { name: 'x' } },
      {
        type: 'change',
        uuid: f.room.attributes.uuid,
        clsName: 'ChatRoomAttributes',
        properties: { topic: 'y' },
      },
    ],
    procedure: p,
  })) as ChangesetResult;
  assertRejected(f, res, 'Changes do not match the procedure constraints', 2);
  assert.equal(server.requests.length, before);
});

test('downstream timeout', async () => {
  const f = createChatRoom(m);
  const p = nameProcedure({ type: 'http', url: `${slow.url}/x`, method: 'POST', timeout: 100 });
  const started = Date.now();
  assertRejected(f, await rename(f, p), 'Downstream service did not answer within 100 ms');
  assert.ok(Date.now() - started < 1500, 'did not wait for the slow answer');
});

test('connection refused', async () => {
  const gone = await startServer();
  await gone.close();
  const f = createChatRoom(m);
  const p = nameProcedure({ type: 'http', url: `${gone.url}/x`, method: 'POST' });
  warnings.length = 0;
  assertRejected(f, await rename(f, p), 'Downstream service refused the connection');
  assert.equal(warnings[0]?.details.url, `${gone.url}/x`, 'the address is logged, not sent to the client');
});

test('non-success status', async () => {
  const f = createChatRoom(m);
  assertRejected(
    f,
    await rename(f, nameProcedure({ type: 'http', url: `${server.url}/status500`, method: 'POST' })),
    'Expected response 200 status code, received 500 status code',
  );
  assertRejected(
    f,
    await rename(f, nameProcedure({ type: 'http', url: `${server.url}/created`, method: 'POST' })),
    'Expected response 200 status code, received 201 status code',
  );
});

test('non-JSON response', async () => {
  const f = createChatRoom(m);
  assertRejected(
    f,
    await rename(f, nameProcedure({ type: 'http', url: `${server.url}/not-json`, method: 'POST' })),
    'Downstream response is not JSON',
  );
});

test('malformed response: not an object, or a malformed `_updates` entry', async () => {
  const f = createChatRoom(m);
  assertRejected(
    f,
    await rename(f, nameProcedure({ type: 'http', url: `${server.url}/array`, method: 'POST' })),
    'Downstream response is malformed: expected a JSON object, got an array',
  );
  assertRejected(
    f,
    await rename(f, nameProcedure({ type: 'http', url: `${server.url}/updates-bad-entry`, method: 'POST' })),
    "Downstream response is malformed: '_updates[0].update' is not an object",
  );
});

test('`_updates` not an array', async () => {
  const f = createChatRoom(m);
  assertRejected(
    f,
    await rename(f, nameProcedure({ type: 'http', url: `${server.url}/updates-object`, method: 'POST' })),
    "Downstream response '_updates' is not an array",
  );
});

test('a binding that cannot be evaluated rejects the changeset without calling downstream', async () => {
  const f = createChatRoom(m);
  const before = server.requests.length;
  const p = nameProcedure({
    type: 'http',
    url: `${server.url}/ok`,
    method: 'POST',
    headers: { 'X-Secret': expr('$scope.params.missing') },
  });
  assertRejected(
    f,
    await rename(f, p),
    `Could not bind the request of procedure '${p}': Expression '$scope.params.missing': scope 'TestScope' has no params.missing`,
  );
  assert.equal(server.requests.length, before);
});

test('a scope without root rejects a procedure call', async () => {
  const scope = new Scope({ name: 'empty' });
  const res = await applySync(scope, {
    fragments: [{ type: 'change', uuid: crypto.randomUUID(), clsName: 'ChatRoom', properties: {} }],
    procedure: 'ChatRoom.p1',
  });
  assert.deepEqual(res.results, [wire('No root model set')]);
});

// ---- definition errors -------------------------------------------------------------------------

test('definition errors', () => {
  const def = (name: string, options: unknown) => () =>
    defineProcedure(ChatRoom, name, options as ProcedureOptions);
  const c = [{ type: 'change' as const, clsName: 'ChatRoom' }];
  assert.throws(def('a1', {}), /Procedure 'a1' has no constraints/);
  assert.throws(def('a2', { constraints: c, remote: {} }), /has no remote type set/);
  assert.throws(def('a3', { constraints: c, remote: { type: 'ftp' } }), /has unknown remote type 'ftp'/);
  assert.throws(def('a4', { constraints: c, remote: { type: 'http' } }), /requires url/);
  assert.throws(
    def('a5', { constraints: c, remote: { type: 'http', url: 'http://h/:a/:b', params: { a: 1 } } }),
    /Params is missing some required keys: 'b'/,
  );
  assert.throws(
    def('a6', { constraints: c, remote: { type: 'http', url: 'http://h/', method: 'FETCH' } }),
    /method is not valid/,
  );
  assert.throws(
    def('a7', { constraints: c, remote: { type: 'http', url: 'http://h/', timeout: -1 } }),
    /timeout/,
  );
  assert.throws(
    def('a8', { constraints: c, remote: { type: 'http', url: 'http://h/', successStatusCodes: ['200'] } }),
    /successStatusCodes/,
  );
  assert.throws(
    def('a9', { constraints: c, remote: { type: 'http', url: 'http://h/', body: { a: 1 } } }),
    /GET request cannot have a body/,
  );
  assert.throws(def('a10', { constraints: [{ type: 'remove', clsName: 'ChatRoom' }] }), /type to be one of/);
  defineProcedure(ChatRoom, 'twice', { constraints: c });
  assert.throws(def('twice', { constraints: c }), /Procedure 'twice' already exists/);
  assert.throws(def('a11', { constraints: 'none' }), DefinitionError);
  assert.throws(
    () => defineProcedure(ModelObject as never, 'x', { constraints: c }),
    /requires a model class/,
  );
});

test('the static DSL: Model.defineProcedure / getProcedure, inherited by submodels', () => {
  const Base = m.ChatRoom.model('SpecialRoom', function () {
    this.has('special', Boolean);
  });
  const proc = ChatRoom.defineProcedure('viaStatic', {
    constraints: [{ type: 'change', clsName: 'ChatRoom' }],
  });
  assert.ok(proc instanceof SyncProcedure);
  assert.equal(proc.fullName, 'ChatRoom.viaStatic');
  assert.equal(ChatRoom.getProcedure('viaStatic'), proc);
  assert.equal(Base.getProcedure('viaStatic'), proc, 'a submodel sees its supermodel procedures');
  const own = Base.defineProcedure('viaStatic', { constraints: [] });
  assert.equal(Base.getProcedure('viaStatic'), own, 'and may shadow them');
  assert.equal(ChatRoom.getProcedure('viaStatic'), proc);
});
