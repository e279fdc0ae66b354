// `npm run bench` — runs the suite against this server, the original and the raw broadcaster,
// writes bench/results/<date>.{json,md} and, after a full run, BENCHMARKS.md.
//
//   npm run bench                       full suite (a few minutes), rewrites BENCHMARKS.md
//   npm run bench -- --smoke            tiny sizes, ~1 s windows (also BENCH_SMOKE=1)
//   npm run bench -- --only fanout-2000,contention --targets jetstream,raw
//   npm run bench -- --rounds 3         each scenario 3 times per target, median reported
//   npm run bench -- --cpu-prof .tmp/prof   write a CPU profile of our server per scenario
//   npm run bench -- --no-quiet         do not wait for an idle machine before each window
//   npm run bench -- --quiet-cap 60000  wait up to 60 s (default 10 s) for an idle machine
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { goals, markdown } from './report.js';
import { TARGETS, type TargetName } from './scenarios.js';
import { runSuite } from './suite.js';

const root = resolve(__dirname, '..');

/** The blocks of BENCHMARKS.md that a full run keeps: hand-written notes, and the soak figures (npm run soak). */
const KEPT = [
  ['<!-- notes:start -->', '<!-- notes:end -->'],
  ['<!-- soak:start -->', '<!-- soak:end -->'],
] as const;

function keptBlock(old: string, [start, end]: readonly [string, string]): string {
  const a = old.indexOf(start);
  const b = old.indexOf(end);
  return a >= 0 && b > a ? old.slice(a, b + end.length) : `${start}\n${end}`;
}

function writeBenchmarksMd(table: string): void {
  const path = join(root, 'BENCHMARKS.md');
  let old = '';
  try {
    old = readFileSync(path, 'utf8');
  } catch {
    // first run
  }
  const [notes, soak] = KEPT.map((k) => keptBlock(old, k));
  const text = [
    '# Benchmarks',
    '',
    'Latest full run of `npm run bench` (see `bench/README.md` for what each',
    'scenario does and how the figures are taken). Three targets run in the same session, in',
    'alternation: **this server** (demo Canvas/Shape models), the **original** Jetstream server',
    '(npm `jetstream@0.13.4`, same models) and a **raw `ws` broadcaster** that only frames messages',
    '(no validation, no models): the practical ceiling on this machine.',
    '',
    notes,
    '',
    table,
    '',
    soak,
    '',
  ].join('\n');
  writeFileSync(path, text);
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      smoke: { type: 'boolean', default: process.env.BENCH_SMOKE === '1' },
      only: { type: 'string' },
      targets: { type: 'string' },
      rounds: { type: 'string', default: '1' },
      'cpu-prof': { type: 'string' },
      'no-quiet': { type: 'boolean', default: false },
      'quiet-cap': { type: 'string' },
      out: { type: 'string', default: join(root, 'bench', 'results') },
      write: { type: 'boolean' },
    },
  });
  const targets = values.targets?.split(',') as TargetName[] | undefined;
  for (const t of targets ?? []) if (!TARGETS.includes(t)) throw new Error(`unknown target ${t}`);
  const only = values.only?.split(',');
  const full = !values.smoke && !only && !targets;

  const res = await runSuite({
    smoke: values.smoke,
    ...(only ? { only } : {}),
    ...(targets ? { targets } : {}),
    rounds: Number(values.rounds),
    ...(values['no-quiet'] ? { quietThreshold: 0 } : {}),
    ...(values['quiet-cap'] ? { quietCapMs: Number(values['quiet-cap']) } : {}),
    ...(values['cpu-prof'] ? { cpuProfDir: resolve(values['cpu-prof']) } : {}),
    log: (line) => console.error(line),
  });
  const table = markdown(res);
  mkdirSync(values.out, { recursive: true });
  const stamp = res.date.replace(/[:.]/g, '-');
  writeFileSync(join(values.out, `${stamp}.json`), JSON.stringify({ ...res, goals: goals(res) }, null, 2));
  writeFileSync(join(values.out, `${stamp}.md`), table);
  writeFileSync(join(values.out, 'latest.json'), JSON.stringify({ ...res, goals: goals(res) }, null, 2));
  writeFileSync(join(values.out, 'latest.md'), table);
  if (values.write ?? full) writeBenchmarksMd(table);
  console.log(table);
  const failed = res.runs.filter((r) => !r.ok && !r.unavailable);
  if (failed.length) {
    console.error(`${failed.length} run(s) had errors`);
    process.exitCode = 1;
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
