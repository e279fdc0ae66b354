// flushInterval: under load, messages of several event-loop turns share one frame.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { withTwoClients } from '../helpers/two-clients.js';
import { startServer } from './fixture.js';

test('flushInterval batches the messages of several turns into one frame; 0 (default) does not wait', async () => {
  // A long interval, so that the two changesets below certainly fall into one window.
  const fx = await startServer({ flushInterval: 2_000 });
  try {
    await withTwoClients(fx.port, async ({ a, b }) => {
      const shape = fx.canvas.shapes.at(0)!;
      const move = (x: number) => [{ type: 'change', uuid: shape.uuid, clsName: 'Shape', properties: { x } }];
      const first = await a.sync(0, move(100));
      assert.deepEqual(first.fragmentReplies, [{}]);
      await b.waitFor((m) => m.type === 'ScopeSync' && m.fragments[0].properties.x === 100);
      const framesBefore = b.frames.length;
      // Two changesets in two separate socket frames, hence two event-loop turns on the server.
      await Promise.all([a.sync(0, move(101)), a.sync(0, move(102))]);
      await b.waitFor((m) => m.type === 'ScopeSync' && m.fragments[0].properties.x === 102);
      const newFrames = b.frames.slice(framesBefore) as { type: string }[][];
      const withSyncs = newFrames.filter((f) => f.some((m) => m.type === 'ScopeSync'));
      assert.equal(withSyncs.length, 1, 'both broadcasts arrived in one frame');
      assert.equal(withSyncs[0]!.filter((m) => m.type === 'ScopeSync').length, 2);
    });
  } finally {
    await fx.server.close();
  }
  await assert.rejects(startServer({ flushInterval: -1 }), /flushInterval/);
});
