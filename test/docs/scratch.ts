// A scratch project in a temporary folder, set up as a user's project that depends on this
// package: "type": "module", and node_modules/jetstream pointing at this repository, so that
// `import … from 'jetstream'` and 'jetstream/client' resolve through package.json "exports" to
// the built dist/, exactly as for an installed package. The documentation's code runs there.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from './blocks.js';

/** Packages of this repository's node_modules that a scratch project may use besides jetstream. */
export type Dependency = 'ws' | 'tsx' | 'esbuild' | '@types';

export interface ScratchProject {
  dir: string;
  remove(): void;
}

/** dist/ is what the documentation's `jetstream` is: without it the tests fail, never skip. */
export function assertBuilt(): void {
  const built = ['dist/index.mjs', 'dist/index.d.ts', 'dist/client/index.js', 'dist/client/index.d.ts'].every(
    (f) => existsSync(join(ROOT, f)),
  );
  assert.ok(built, 'dist/ is missing: run `npm run build` (npm test does)');
}

export function scratchProject(dependencies: Dependency[]): ScratchProject {
  const dir = mkdtempSync(join(tmpdir(), 'jetstream-docs-'));
  writeFileSync(join(dir, 'package.json'), `${JSON.stringify({ private: true, type: 'module' }, null, 2)}\n`);
  mkdirSync(join(dir, 'node_modules'));
  symlinkSync(ROOT, join(dir, 'node_modules', 'jetstream'), 'dir');
  for (const dep of dependencies) {
    const target = join(ROOT, 'node_modules', dep);
    assert.ok(existsSync(target), `node_modules/${dep} is missing: npm install`);
    symlinkSync(target, join(dir, 'node_modules', dep), 'dir');
  }
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}
