// Runs every test file under test/ with node:test, under c8 coverage of src/.
// Node 20's `--test` does not expand globs or find .ts files by itself, so the file list is
// built here and passed explicitly. Extra arguments narrow the run: `npm test -- test/model`.
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

const root = join(import.meta.dirname, '..');
const args = process.argv.slice(2);
const roots = args.length ? args : ['test'];

function collect(p, out) {
  const s = statSync(p);
  if (s.isDirectory()) for (const e of readdirSync(p).sort()) collect(join(p, e), out);
  else if (/\.test\.ts$/.test(p)) out.push(relative(root, p));
  return out;
}
const files = roots.flatMap((r) => collect(join(root, r), []));
if (files.length === 0) {
  console.error('no test files found under', roots.join(' '));
  process.exit(1);
}
const full = args.length === 0;
const c8 = [
  join(root, 'node_modules/c8/bin/c8.js'),
  '--include=src/**',
  '--exclude=src/**/*.d.ts',
  '--reporter=text-summary',
  '--reporter=lcov',
  ...(full ? ['--check-coverage', '--lines=90'] : []),
];
// No --test-force-exit: on Node 20 its forced exit can cut a test file's report stream short
// (the parent then counts fewer tests and may miss a failure, still exiting 0; nodejs/node#64833).
// A file that leaks a handle must be fixed instead. --test-timeout bounds any single test.
const r = spawnSync(
  process.execPath,
  [
    ...c8,
    process.execPath,
    '--import',
    'tsx',
    '--test',
    '--test-timeout=180000',
    '--test-reporter=spec',
    ...files,
  ],
  { cwd: root, stdio: 'inherit', env: { ...process.env, NODE_ENV: 'test' } },
);
process.exit(r.status ?? 1);
