// A replica follows its owner's log on a real Redis (src/cluster/replica.ts).
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, test } from 'node:test';
import { Canvas, Shape } from '../../demo/models.js';
import { type LogEntry, LogReader, LogWriter } from '../../src/cluster/log.js';
import { Replica } from '../../src/cluster/replica.js';
import type { ModelClass } from '../../src/model/index.js';
import { restoreScope } from '../../src/persistence/restore.js';
import { encodeFragments } from '../../src/protocol/codec.js';
import { Scope } from '../../src/scope/index.js';
import type { AppliedFragment, ChangeContext } from '../../src/scope/types.js';
import { type TestRedis, testRedis } from '../helpers/redis.js';
import { waitFor } from '../helpers/wait.js';

const stateOf = (scope: Scope) => encodeFragments(scope.getState().fragments);

/** A copy of `owner` as a store would load it: its state, at its version. */
function copyOf(owner: Scope): Scope {
  const s = new Scope({ name: owner.name });
  const { rootUUID, fragments } = owner.getState();
  restoreScope(s, Canvas as ModelClass, {
    snapshot: { scope: owner.name, version: owner.version, rootUUID, fragments },
    changes: [],
    version: owner.version,
  });
  return s;
}

describe('Replica', () => {
  let redis: TestRedis;
  let reader: LogReader;
  beforeEach(async () => {
    redis = await testRedis();
    reader = new LogReader(redis.connect(), redis.connect(), { prefix: redis.prefix });
  });
  afterEach(async () => {
    await reader.close();
    await redis.cleanup();
  });

  /** An owner scope whose every change goes to the log, as the owning process does after commit. */
  function owner(name: string) {
    const canvas = new Canvas();
    const shape = new Shape();
    canvas.assign({ name: 'c', shapes: [shape] });
    const scope = new Scope({ name });
    scope.setRoot(canvas);
    const writer = new LogWriter(redis.connect(), { prefix: redis.prefix });
    const pending: Promise<void>[] = [];
    const skip = new Set<number>();
    scope.on('changes', (fragments: AppliedFragment[], context: ChangeContext) => {
      const entry: LogEntry = { version: scope.version, epoch: 1, fragments: encodeFragments(fragments) };
      if (typeof context.origin === 'string') entry.origin = context.origin;
      if (!skip.has(scope.version)) pending.push(writer.append(name, [entry]));
    });
    return { scope, canvas, shape, skip, flushed: () => Promise.all(pending) };
  }

  test('applies the owner changes in order and broadcasts them as replicated', async () => {
    const o = owner('room');
    const replica = copyOf(o.scope);
    const seen: ChangeContext[] = [];
    replica.on('changes', (_f, context) => seen.push(context));
    const r = new Replica(replica, reader, {
      reload: async () => assert.fail('no reload expected'),
      originOf: (origin) => (origin === 'p:1' ? 'local session' : undefined),
    });
    r.start();
    for (let x = 1; x <= 30; x++) o.shape.assign({ x });
    o.scope.flush();
    const added = new Shape();
    added.assign({ x: 99 });
    o.canvas.assign({ shapes: [added] }); // the first shape is removed
    o.scope.flush();
    o.scope.applyChangeset([{ type: 'change', uuid: added.uuid, clsName: 'Shape', properties: { y: 5 } }], {
      origin: 'p:1',
    });
    await o.flushed();
    await waitFor(() => replica.version === o.scope.version, { message: 'the replica catches up' });
    assert.equal(stateOf(replica), stateOf(o.scope));
    assert.ok(seen.every((c) => c.replicated === true));
    assert.equal(seen.at(-1)!.origin, 'local session', 'a forwarded change carries its local session');
    assert.equal(r.reloads, 0);
    r.stop();
  });

  test('a gap in the log makes the replica reload from the store, then follow again', async () => {
    const o = owner('room');
    const replica = copyOf(o.scope);
    let reloaded = 0;
    const r = new Replica(replica, reader, {
      reload: async (scope) => {
        reloaded++;
        // The store has everything the owner committed.
        const fresh = copyOf(o.scope);
        scope._reset();
        restoreScope(scope, Canvas as ModelClass, {
          snapshot: { scope: 'room', version: fresh.version, ...fresh.getState() },
          changes: [],
          version: fresh.version,
        });
      },
    });
    r.start();
    o.shape.assign({ x: 1 });
    o.scope.flush(); // version 1, logged
    o.skip.add(2); // version 2 never reaches the log
    o.shape.assign({ x: 2 });
    o.scope.flush();
    o.shape.assign({ x: 3 });
    o.scope.flush(); // version 3: the replica sees 3 after 1
    await o.flushed();
    await waitFor(() => reloaded === 1 && replica.version === 3, { message: 'reloaded at version 3' });
    await r.settled();
    assert.equal(stateOf(replica), stateOf(o.scope));
    o.shape.assign({ x: 4 });
    o.scope.flush();
    await o.flushed();
    await waitFor(() => replica.version === 4, { message: 'following again after the reload' });
    assert.equal(stateOf(replica), stateOf(o.scope));
    assert.equal(r.reloads, 1);
    r.stop();
  });
});
