// Property: random interleavings of edits, socket drops and resumes across 3 clients converge to
// the server's state, and nothing acknowledged is lost.
//
// Each run starts a real server (port 0) with a fresh Canvas scope (two shapes), connects 3 SDK
// clients over `ws` sockets, and runs a random program. Per step, one of:
//   - a client edits: moves a shape (x or y), adds a shape (push), removes a shape, renames the
//     canvas; as plain assignments followed by `flush()` (one changeset), or a group of 2–3
//     such edits in one `transaction()`, atomic or not. Every value written is unique in the run;
//   - a client's socket is terminated (no close handshake): the SDK reconnects and resumes its
//     session with its token;
//   - the test yields a few event-loop turns, or pauses a few ms (pacing, never an assertion).
// Changesets are not awaited: edits, drops, replies and broadcasts interleave freely.
//
// After the program, it waits (bounded, 5 s) until the system is quiet: every client connected,
// every changeset answered (SDK status: no pending changeset), and every server session with
// nothing unacknowledged (so each client has applied all the server sent it). Then it asserts:
//   1. Convergence: every client's objects equal `scope.getState()` of the server: same uuids,
//      classes and wire property values (lists in the same order).
//   2. Every client kept its one session through the drops (sessions === 1), and every change
//      the server applied came from one of the clients.
//   3. Acknowledged ⇔ applied: per client, the server's 'changes' events from its session are
//      exactly its changesets with at least one accepted fragment, in the client's order, each
//      once, each with exactly the fragments the SDK reported accepted (SyncResult).
//   4. Every edit was sent (edits of a shape that the same changeset removes are not, by design),
//      and a rejected edit's value never reached the server.
//   5. Nothing acknowledged is lost: an accepted edit appears in its server event as sent, and
//      in the final server state (the property has that value; a shape added is in the list; a
//      shape removed is not), unless a later accepted changeset in server order wrote the same
//      property (for a list: any later change of canvas.shapes; for a shape's x/y: also a later
//      change of canvas.shapes that removed the shape).
//   6. The server's final state is the last value of every property in server order: replaying
//      the initial state and the 'changes' events gives every property of every final object.
// Not asserted: that two concurrent appends to canvas.shapes both survive. Collections travel
// whole (protocol v1), so the later changeset wins (docs/client.md, Limits); 5 allows for it.
//
// Seeded (fast-check, fixed seed; FUZZ_SEED=<n> picks another). FUZZ_RUNS_CONVERGENCE=<n> runs more
// programs.
import { test } from 'node:test';
import fc from 'fast-check';
import {
  CLIENTS,
  checkAcknowledged,
  closeWorld,
  type Edit,
  runProgram,
  type Stats,
  type Step,
  settle,
  startWorld,
} from './convergence-helpers.js';

const SEED = Number(process.env.FUZZ_SEED ?? 0x5eed_c0de);
const RUNS = Number(process.env.FUZZ_RUNS_CONVERGENCE ?? 100);

const client = fc.integer({ min: 0, max: CLIENTS - 1 });
const pick = fc.nat({ max: 15 });

const edit: fc.Arbitrary<Edit> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant('move' as const),
      pick,
      prop: fc.constantFrom('x' as const, 'y' as const),
    }),
  },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('add' as const) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('remove' as const), pick }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('rename' as const) }) },
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
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('drop' as const), client }) },
  {
    weight: 3,
    arbitrary: fc.record({ kind: fc.constant('yield' as const), turns: fc.integer({ min: 1, max: 4 }) }),
  },
  {
    weight: 2,
    arbitrary: fc.record({ kind: fc.constant('pause' as const), ms: fc.integer({ min: 1, max: 15 }) }),
  },
);

const program = fc.array(step, { minLength: 1, maxLength: 40, size: 'max' });

test('convergence: random edits, socket drops and resumes across 3 clients', {
  timeout: 300_000,
}, async (t) => {
  const total: Stats = { changesets: 0, accepted: 0, rejectedFragments: 0, drops: 0, sockets: 0 };
  const started = Date.now();
  await fc.assert(
    fc.asyncProperty(program, async (steps) => {
      const world = await startWorld();
      try {
        await runProgram(world, steps);
        await settle(world);
        checkAcknowledged(world);
      } finally {
        await closeWorld(world);
        for (const k of Object.keys(total) as (keyof Stats)[]) total[k] += world.stats[k];
      }
    }),
    { seed: SEED, numRuns: RUNS, includeErrorInReport: true },
  );
  t.diagnostic(
    `${RUNS} runs in ${Date.now() - started} ms: ${total.changesets} changesets (${total.accepted} with an accepted fragment, ${total.rejectedFragments} fragments rejected), ${total.drops} sockets terminated, ${total.sockets} sockets opened`,
  );
});
