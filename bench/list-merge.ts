// What merging a collection change costs (docs/protocol.md §7.10): an append to a 10,000-element
// collection, merged against the sending session's base, next to today's replace.
//
//   node --import tsx bench/list-merge.ts [--quick]
//
// A scope with a Canvas root and 10,000 Shapes. Each operation is one client changeset as the
// pipeline hands it to the engine: an `add` of a new Shape and a `change` of the canvas carrying
// the whole `shapes` list (10,001 uuids), applied with `scope.applyChangeset`. Fragments are built
// before timing. The bases come from the server's own records: a session's SeenCollections (what
// it acknowledged) and the scope's CollectionHistory. Scenarios:
//   replace            no base (today, and a changeset forwarded in a cluster): the list replaces
//   merged, idle       the base is the current list: the merge gives the client's list as sent
//   merged, behind     another session appended a shape since the base: the append-only merge
//   replace, rm+append the client removes its last shape and appends one; the list replaces
//   merged, rm+append  the same with another session's append since the base: the general merge
// Per scenario, ROUNDS rounds of OPS operations, each timed alone (the other session's append and
// the bookkeeping are not timed); the list is brought back to its 10,000 shapes between rounds.
// Reported: the median and the 90th percentile per operation, and the ratio of medians to the
// matching replace.
import { Canvas, Shape } from '../demo/models.js';
import type { ModelObject } from '../src/model/index.js';
import { uuidv4 } from '../src/model/uuid.js';
import { Scope } from '../src/scope/scope.js';
import type { Fragment, ListBase } from '../src/scope/types.js';
import { SeenCollections } from '../src/server/seen-collections.js';

const quick = process.argv.includes('--quick');
const SHAPES = 10_000;
const ROUNDS = quick ? 3 : 7;
const OPS = quick ? 60 : 200;
const WARMUP_OPS = quick ? 100 : 400;

type CanvasObj = ModelObject & { shapes: { toArray(): ModelObject[] } };

interface World {
  scope: Scope;
  canvas: CanvasObj;
  initial: string[];
  /** One session's record: what it acknowledged. */
  seen: SeenCollections;
  /** The session's next message index (messages it "received"). */
  index: number;
}

function world(): World {
  const shapes: ModelObject[] = [];
  for (let i = 0; i < SHAPES; i++) shapes.push(new Shape({ x: i, y: i, width: 10, height: 10, type: 1 }));
  const canvas = new Canvas({ name: 'bench', shapes }) as CanvasObj;
  const scope = new Scope({ name: 'bench' });
  scope.setRoot(canvas);
  const w: World = {
    scope,
    canvas,
    initial: shapes.map((s) => s.uuid),
    seen: new SeenCollections(),
    index: 1,
  };
  w.seen.stateSent(0, scope, w.index, scope.version);
  return w;
}

const current = (w: World) => w.canvas.shapes.toArray().map((s) => s.uuid);

function appendFragments(w: World, list: string[]): Fragment[] {
  const id = uuidv4();
  return [
    { type: 'add', uuid: id, clsName: 'Shape', properties: { x: 1, y: 2, width: 3, height: 4, type: 0 } },
    { type: 'change', uuid: w.canvas.uuid, clsName: 'Canvas', properties: { shapes: [...list, id] } },
  ];
}

/** The session has received and acknowledged everything so far. */
function catchUp(w: World): void {
  w.seen.delivered(0, w.scope, ++w.index, w.scope.version);
  w.seen.acknowledged(w.index);
}

/** Another session appends a shape (a replace: it saw the current list). */
function otherAppends(w: World): void {
  w.scope.applyChangeset(appendFragments(w, current(w)));
}

type Scenario = { name: string; merged: boolean; removes: boolean; behind: boolean };

const scenarios: Scenario[] = [
  { name: 'replace', merged: false, removes: false, behind: false },
  { name: 'merged, idle', merged: true, removes: false, behind: false },
  { name: 'merged, behind', merged: true, removes: false, behind: true },
  { name: 'replace, rm+append', merged: false, removes: true, behind: false },
  { name: 'merged, rm+append', merged: true, removes: true, behind: true },
];

/** One operation; its time in µs. */
function operation(w: World, s: Scenario): number {
  catchUp(w);
  let view = current(w);
  if (s.removes) view = view.slice(0, -1); // an appended shape: the initial ones stay
  if (s.behind) otherAppends(w);
  const fragments = appendFragments(w, view);
  const t0 = process.hrtime.bigint();
  const listBase: ListBase | undefined = s.merged ? w.seen.baseFor(0, w.scope) : undefined;
  const result = w.scope.applyChangeset(fragments, listBase ? { listBase } : {});
  const t1 = process.hrtime.bigint();
  if (result.results.some((r) => r !== null)) throw new Error(`rejected: ${JSON.stringify(result.results)}`);
  return Number(t1 - t0) / 1000;
}

/** Back to the initial 10,000 shapes (appended ones leave the scope). */
function resetList(w: World): void {
  w.scope.applyChangeset([
    { type: 'change', uuid: w.canvas.uuid, clsName: 'Canvas', properties: { shapes: w.initial } },
  ]);
}

function percentile(xs: number[], p: number): number {
  const s = xs.slice().sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(s.length * p))]!;
}

function main(): void {
  const w = world();
  for (let i = 0; i < WARMUP_OPS; i++) operation(w, scenarios[i % scenarios.length]!);
  resetList(w);
  const times = new Map<string, number[]>(scenarios.map((s) => [s.name, []]));
  for (let round = 0; round < ROUNDS; round++) {
    // Interleaved by round, so that drift (heap growth, other load) spreads over every scenario.
    for (const s of scenarios) {
      if (s.removes) w.scope.applyChangeset(appendFragments(w, current(w))); // a shape to remove first
      for (let i = 0; i < OPS; i++) times.get(s.name)!.push(operation(w, s));
      resetList(w);
    }
  }
  const med = (name: string) => percentile(times.get(name)!, 0.5);
  console.log(`Appending to a ${SHAPES.toLocaleString('en-US')}-element collection (µs per changeset)\n`);
  console.log('scenario              median      p90   × replace');
  for (const s of scenarios) {
    const xs = times.get(s.name)!;
    const base = s.removes ? med('replace, rm+append') : med('replace');
    const line = `${s.name.padEnd(20)} ${percentile(xs, 0.5).toFixed(0).padStart(7)} ${percentile(xs, 0.9).toFixed(0).padStart(8)}   ${(percentile(xs, 0.5) / base).toFixed(2).padStart(8)}`;
    console.log(line);
  }
  const h = w.scope._lists;
  console.log(`\nhistory kept: ${h.size} values, ${h.elements.toLocaleString('en-US')} elements (bounded)`);
}

main();
