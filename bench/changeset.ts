// Microbenchmark of the changeset engine and of memory per model object.
//
//   node --expose-gc --import tsx bench/changeset.ts [--quick]
//
// Throughput: a scope with a Canvas root and 10,000 Shapes; change fragments
// `{type:'change', uuid, clsName:'Shape', properties:{x, y}}` applied in changesets of 1, 10
// and 100 fragments. Fragments are built before timing (as a parsed message would hand them
// over) and alternate between two value sets, so every fragment really changes the object.
// Each configuration is warmed up, then measured 5 times for RUN_MS; the median is reported.
//
// Memory: heap used after gc for 100,000 Shapes with 5 numbers each, in a scope (with uuid and
// index entry, and the root's collection slot), divided by 100,000.
import { Canvas, Shape } from '../demo/models.js';
import { type ModelObject, uuidv4 } from '../src/model/index.js';
import { Scope } from '../src/scope/index.js';
import type { Fragment } from '../src/scope/types.js';

const quick = process.argv.includes('--quick');
const RUN_MS = quick ? 300 : 2000;
const WARMUP_MS = quick ? 200 : 1000;
const RUNS = 5;
const SHAPES = 10_000;

const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) {
  console.error('run with: node --expose-gc --import tsx bench/changeset.ts');
  process.exit(1);
}

function median(xs: number[]): number {
  const s = xs.slice().sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

function fmt(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

// ---- throughput ------------------------------------------------------------------------------

function buildScope(): { scope: Scope; uuids: string[] } {
  const canvas = new Canvas({ name: 'bench' });
  const shapes: ModelObject[] = [];
  for (let i = 0; i < SHAPES; i++) shapes.push(new Shape({ x: i, y: i, width: 10, height: 10, type: 1 }));
  canvas.assign({ shapes });
  const scope = new Scope({ name: 'bench' });
  scope.setRoot(canvas);
  return { scope, uuids: shapes.map((s) => s.uuid) };
}

function buildBatches(uuids: string[], size: number, offset: number): Fragment[][] {
  const batches: Fragment[][] = [];
  for (let i = 0; i < uuids.length; i += size) {
    const batch: Fragment[] = [];
    for (let j = i; j < i + size && j < uuids.length; j++) {
      batch.push({
        type: 'change',
        uuid: uuids[j]!,
        clsName: 'Shape',
        properties: { x: j + offset, y: j * 2 + offset },
      });
    }
    batches.push(batch);
  }
  return batches;
}

function throughput(size: number): { median: number; runs: number[] } {
  const { scope, uuids } = buildScope();
  let emitted = 0;
  scope.on('changes', (applied) => {
    emitted += applied.length;
  });
  const sets = [buildBatches(uuids, size, 1), buildBatches(uuids, size, 2)];
  let round = 0;
  const measure = (ms: number): number => {
    let fragments = 0;
    const start = performance.now();
    let now = start;
    while (now - start < ms) {
      const batches = sets[round++ & 1]!;
      for (let b = 0; b < batches.length; b++) {
        const r = scope.applyChangeset(batches[b]!);
        fragments += r.applied.length;
      }
      now = performance.now();
    }
    return fragments / ((now - start) / 1000);
  };
  measure(WARMUP_MS);
  const runs: number[] = [];
  for (let i = 0; i < RUNS; i++) runs.push(measure(RUN_MS));
  if (emitted === 0) throw new Error('nothing was applied');
  return { median: median(runs), runs };
}

// ---- memory ----------------------------------------------------------------------------------

const COUNT = 100_000;

function heap(): number {
  gc!();
  gc!();
  return process.memoryUsage().heapUsed;
}

type UuidSource = 'generated' | 'json';

function uuidText(): string {
  const list: string[] = [];
  for (let i = 0; i < COUNT; i++) list.push(uuidv4());
  const text = JSON.stringify(list);
  // JSON.stringify may return a rope that the first parse flattens: flatten it now, or the
  // freed rope would be subtracted from the objects' cost.
  JSON.parse(text);
  return text;
}

function emptyScope(): Scope {
  const scope = new Scope({ name: 'mem' });
  scope.setRoot(new Canvas({ name: 'mem' }));
  new Shape({ x: 1 }); // class and accessors warmed up before the baseline
  return scope;
}

function memoryPerObject(source: UuidSource, fractional: boolean): number {
  // For uuids parsed from JSON the text is made before the baseline (it stays alive through
  // the measurement, so it cancels out); the parse happens after it, so each string the
  // objects keep is counted, and the array that held them is dropped before measuring.
  // Setup runs in helper functions: a temporary left in a register of this frame would stay
  // alive across the baseline gc and make the figure too small.
  const text = source === 'json' ? uuidText() : '';
  const scope = emptyScope();
  const canvas = scope.root!;
  const before = heap();
  let parsed: string[] | null = source === 'json' ? (JSON.parse(text) as string[]) : null;
  let shapes: ModelObject[] | null = new Array(COUNT);
  const f = fractional ? 0.5 : 0;
  for (let i = 0; i < COUNT; i++) {
    const init: Record<string, unknown> = {
      x: i + f,
      y: i + 1 + f,
      width: 10 + f,
      height: 20 + f,
      type: (i % 5) + f,
    };
    if (parsed) init.uuid = parsed[i];
    shapes[i] = new Shape(init as { uuid?: string });
  }
  parsed = null;
  (canvas as unknown as { shapes: { setAsArray(v: ModelObject[]): void } }).shapes.setAsArray(shapes);
  shapes = null;
  scope.flush();
  const after = heap();
  if (scope.size !== COUNT + 1 || text.length % 1 !== 0) throw new Error(`scope holds ${scope.size}`);
  return (after - before) / COUNT;
}

// ---- report ----------------------------------------------------------------------------------

const rows: string[][] = [];
for (const size of [1, 10, 100]) {
  const r = throughput(size);
  rows.push([
    `changesets of ${size}`,
    `${fmt(r.median)} fragments/s`,
    `${fmt(r.median / size)} changesets/s`,
    r.runs.map((x) => fmt(x / 1000)).join(' / ') + ' k',
  ]);
}
console.log(
  `\nChangeset application (${SHAPES.toLocaleString('en-US')} Shapes, change {x, y}; median of ${RUNS} runs of ${RUN_MS} ms)\n`,
);
console.log('| configuration | throughput | changesets | runs |');
console.log('|---|---:|---:|---|');
for (const r of rows) console.log(`| ${r.join(' | ')} |`);

const mem: [string, number][] = [
  ['integers, generated uuids', memoryPerObject('generated', false)],
  ['integers, uuids parsed from JSON', memoryPerObject('json', false)],
  ['fractional numbers, generated uuids', memoryPerObject('generated', true)],
  ['fractional numbers, uuids parsed from JSON', memoryPerObject('json', true)],
];
console.log(
  `\nMemory per model object (${COUNT.toLocaleString('en-US')} Shapes × 5 numbers in a scope, heap after gc)\n`,
);
console.log('| objects | bytes/object |');
console.log('|---|---:|');
for (const [k, v] of mem) console.log(`| ${k} | ${Math.round(v)} |`);
console.log(`\nNode ${process.version}, ${process.arch}`);
