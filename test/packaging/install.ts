// The built package as a user's project gets it, without npm: a temporary folder whose
// node_modules holds `jetstream` (a copy of package.json and dist/, plus demo/build/ when asked)
// and links to the packages named, from this repository's node_modules: the runtime
// dependencies of package.json, plus whichever optional drivers a test wants. Nothing else is
// reachable from there (the folder is outside the repository), so a driver or devDependency the
// package needs but does not declare fails to load, as it would for a user.
import assert from 'node:assert/strict';
import { type SpawnOptions, spawn } from 'node:child_process';
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

export const root = join(__dirname, '..', '..');
export const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
  scripts: Record<string, string>;
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
  peerDependencies: Record<string, string>;
  peerDependenciesMeta: Record<string, { optional?: boolean }>;
};

/** These tests need the build (npm test builds first); without it they fail, never skip. */
export function assertBuilt(): void {
  for (const file of ['dist/main.cjs', 'dist/index.mjs', 'dist/client/index.js', 'demo/build/server.js']) {
    assert.ok(existsSync(join(root, file)), `${file} is missing: run \`npm run build\` (npm test does)`);
  }
}

export interface Install {
  /** The project folder (its node_modules has `jetstream`). */
  dir: string;
  /** The installed package's folder. */
  packageDir: string;
  /** Writes a file of the project. */
  write(name: string, text: string): string;
  /** Runs `node args…` in the project folder; exit code, stdout, stderr. */
  node(
    args: string[],
    options?: SpawnOptions,
  ): Promise<{ code: number | null; stdout: string; stderr: string }>;
  remove(): void;
}

/**
 * A project with the built package installed, its runtime dependencies, and `extra` (driver
 * names, or `ws` for a Node client). `demo`: also copy demo/build/ (what `npm start` runs).
 */
export function installBuilt(options: { extra?: string[]; demo?: boolean } = {}): Install {
  assertBuilt();
  const dir = mkdtempSync(join(tmpdir(), 'jetstream-install-'));
  const modules = join(dir, 'node_modules');
  const packageDir = join(modules, 'jetstream');
  try {
    mkdirSync(packageDir, { recursive: true });
    cpSync(join(root, 'package.json'), join(packageDir, 'package.json'));
    cpSync(join(root, 'dist'), join(packageDir, 'dist'), { recursive: true });
    if (options.demo)
      cpSync(join(root, 'demo', 'build'), join(packageDir, 'demo', 'build'), { recursive: true });
    for (const name of new Set([...Object.keys(pkg.dependencies), ...(options.extra ?? [])])) {
      const target = join(root, 'node_modules', name);
      assert.ok(existsSync(target), `${name} is not installed in this repository`);
      mkdirSync(dirname(join(modules, name)), { recursive: true });
      symlinkSync(target, join(modules, name), 'dir');
    }
    writeFileSync(join(dir, 'package.json'), '{"name": "consumer", "private": true}\n');
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  return {
    dir,
    packageDir,
    write(name, text) {
      const file = join(dir, name);
      writeFileSync(file, text);
      return file;
    },
    node(args, spawnOptions = {}) {
      const child = spawn(process.execPath, args, {
        cwd: dir,
        stdio: ['ignore', 'pipe', 'pipe'],
        ...spawnOptions,
        // No NODE_OPTIONS from the test runner (tsx, coverage): plain `node`, as a user runs it.
        env: { ...process.env, NODE_OPTIONS: '', ...spawnOptions.env },
      });
      let stdout = '';
      let stderr = '';
      child.stdout!.on('data', (d: Buffer) => (stdout += d));
      child.stderr!.on('data', (d: Buffer) => (stderr += d));
      return new Promise((resolve) => child.once('exit', (code) => resolve({ code, stdout, stderr })));
    },
    remove() {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** The last line of stdout, as JSON (what the scripts run by these tests print). */
export function lastJson<T = Record<string, unknown>>(run: {
  code: number | null;
  stdout: string;
  stderr: string;
}): T {
  assert.equal(run.code, 0, `exit ${run.code}; stderr: ${run.stderr}`);
  const line = run.stdout.trim().split('\n').pop() ?? '';
  return JSON.parse(line) as T;
}
