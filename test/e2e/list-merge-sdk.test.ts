// SDK clients editing one list concurrently, under random interleavings (property-based, a few
// runs): three SDK clients append shapes to and remove shapes from `Canvas.shapes`, with moves,
// pauses, yields and socket drops in between, changesets never awaited. The SDK acknowledges,
// with every changeset, the server messages its edits were made on, so the server merges each
// list exactly (docs/protocol.md §7.10, docs/collaboration.md). After the system is quiet:
//   1. every client holds exactly the server's tree (the harness's `settle`);
//   2. every acknowledged append is in the final list, unless an acknowledged removal took that
//      shape out: concurrent appends are never lost;
//   3. every acknowledged removal holds: the shape is not in the final list (never undone);
//   4. the convergence fuzz test's checks of acknowledged changes (test/fuzz/convergence.fuzz.test.ts).
// The harness is the convergence fuzz test's (real server, real sockets, the SDK as shipped).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import WebSocket from 'ws';
import { connect } from '../../src/client/index.js';
import type { ModelObject } from '../../src/model/index.js';
import { createServer } from '../../src/server/server.js';
import { flakySocket, until } from '../client/helpers.js';
import {
  CLIENTS,
  checkAcknowledged,
  closeWorld,
  type Edit,
  runProgram,
  type Step,
  settle,
  startWorld,
  type World,
} from '../fuzz/convergence-helpers.js';
import { Canvas, canvasScope, Shape } from './fixture.js';

const SEED = Number(process.env.FUZZ_SEED ?? 0x5eed_11);
const RUNS = Number(process.env.LIST_MERGE_RUNS ?? 8);

const client = fc.integer({ min: 0, max: CLIENTS - 1 });
const pick = fc.nat({ max: 15 });

const edit: fc.Arbitrary<Edit> = fc.oneof(
  { weight: 5, arbitrary: fc.record({ kind: fc.constant('add' as const) }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('remove' as const), pick }) },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('move' as const),
      pick,
      prop: fc.constantFrom('x' as const, 'y' as const),
    }),
  },
);

const step: fc.Arbitrary<Step> = fc.oneof(
  { weight: 8, arbitrary: fc.record({ kind: fc.constant('edit' as const), client, edit }) },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('group' as const),
      client,
      atomic: fc.boolean(),
      edits: fc.array(edit, { minLength: 2, maxLength: 3 }),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('drop' as const), client }) },
  {
    weight: 3,
    arbitrary: fc.record({ kind: fc.constant('yield' as const), turns: fc.integer({ min: 1, max: 4 }) }),
  },
  {
    weight: 2,
    arbitrary: fc.record({ kind: fc.constant('pause' as const), ms: fc.integer({ min: 1, max: 10 }) }),
  },
);

const program = fc.array(step, { minLength: 5, maxLength: 30, size: 'max' });

/** Checks 2 and 3: acknowledged memberships against the final list. */
function checkMemberships(world: World): { appends: number; removals: number } {
  const root = world.scope.root as unknown as { shapes: { toArray(): { uuid: string }[] } };
  const final = new Set(root.shapes.toArray().map((s) => s.uuid));
  // The canvas's fragment accepted, and the shape's own fragment too (an append's add).
  const acknowledged = (s: World['sent'][number], uuid: string) => {
    const fragments = s.result?.fragments ?? [];
    return (
      fragments.some((f) => f.uuid === world.canvasUuid && !f.error) &&
      fragments.every((f) => f.uuid !== uuid || !f.error)
    );
  };
  const removed = new Set<string>();
  for (const s of world.sent) {
    for (const it of s.intents) {
      if (it.kind === 'member' && !it.present && acknowledged(s, it.uuid)) removed.add(it.uuid);
    }
  }
  let appends = 0;
  for (const s of world.sent) {
    for (const it of s.intents) {
      if (it.kind !== 'member' || !acknowledged(s, it.uuid)) continue;
      if (it.present) {
        appends++;
        if (!removed.has(it.uuid)) {
          assert.ok(
            final.has(it.uuid),
            `client ${s.client} step ${s.step}: appended ${it.uuid}, acknowledged and lost`,
          );
        }
      } else {
        assert.ok(
          !final.has(it.uuid),
          `client ${s.client} step ${s.step}: removed ${it.uuid}, acknowledged and undone`,
        );
      }
    }
  }
  return { appends, removals: removed.size };
}

test('SDK clients under random interleavings: appends never lost, removals never undone, all converge', {
  timeout: 300_000,
}, async (t) => {
  let appends = 0;
  let removals = 0;
  await fc.assert(
    fc.asyncProperty(program, async (steps) => {
      const world = await startWorld();
      try {
        await runProgram(world, steps);
        await settle(world);
        const counted = checkMemberships(world);
        appends += counted.appends;
        removals += counted.removals;
        checkAcknowledged(world);
      } finally {
        await closeWorld(world);
      }
    }),
    { seed: SEED, numRuns: RUNS, includeErrorInReport: true },
  );
  // Not an assertion on timing or counts: what the runs exercised, for whoever reads the log.
  t.diagnostic(`${RUNS} runs: ${appends} acknowledged appends, ${removals} acknowledged removals`);
  assert.ok(appends > 0 && removals > 0, 'the runs appended and removed');
});

type CanvasObj = ModelObject & {
  shapes: { toArray(): ModelObject[]; push(s: ModelObject): number; remove(s: ModelObject): number };
};

test('SDK: a removal made offline meets another client’s append on resume; both apply, both clients agree', async () => {
  const { scope } = canvasScope();
  const server = await createServer({ port: 0, scopes: [scope] });
  const url = `ws://127.0.0.1:${server.port}/`;
  const { FlakySocket, sockets } = flakySocket();
  const options = { minReconnectDelay: 5, maxReconnectDelay: 20, pingInterval: 50 };
  const a = await connect(url, { WebSocket, ...options });
  const b = await connect(url, { WebSocket: FlakySocket, ...options });
  try {
    const sa = await a.fetch('Canvas', Canvas);
    const sb = await b.fetch('Canvas', Canvas);
    const rootA = sa.root as unknown as CanvasObj;
    const rootB = sb.root as unknown as CanvasObj;
    const [s1, s2] = rootB.shapes.toArray();
    // B loses its socket; while it is away, A appends and B removes a shape.
    sockets.at(-1)!.terminate();
    const added = new Shape({ x: 7 });
    rootA.shapes.push(added);
    assert.ok((await sa.flush()).ok);
    rootB.shapes.remove(s1!);
    // On resume B first gets A's append (its removal pending), then its reply and the merged list.
    assert.ok((await sb.flush()).ok);
    const expected = [s2!.uuid, added.uuid];
    const server = () => (scope.root as unknown as CanvasObj).shapes.toArray().map((s) => s.uuid);
    assert.deepEqual(server(), expected);
    await until(() => JSON.stringify(rootB.shapes.toArray().map((s) => s.uuid)) === JSON.stringify(expected));
    await until(() => JSON.stringify(rootA.shapes.toArray().map((s) => s.uuid)) === JSON.stringify(expected));
    assert.equal(
      (sb.get(added.uuid) as unknown as { x: number }).x,
      7,
      'B holds the appended shape with its values',
    );
  } finally {
    a.close();
    b.close();
    await server.close();
  }
});
