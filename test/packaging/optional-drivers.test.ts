// The drivers (better-sqlite3, pg, ioredis) are optional peer dependencies, loaded on first use
// (src/util/optional-module.ts): the built package loads without them, a memory store works, and
// the feature that needs a missing one fails with a MissingDependencyError naming the package
// and the version range to install, from both faces of the package (require and import).
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { ErrorCode, MissingDependencyError } from '../../src/errors.js';
import {
  BETTER_SQLITE3,
  IOREDIS,
  loadOptional,
  OPTIONAL_DEPENDENCIES,
  type OptionalDependency,
  PG,
} from '../../src/util/optional-module.js';
import { type Install, installBuilt, lastJson, pkg } from './install.js';

const DRIVERS = ['better-sqlite3', 'ioredis', 'pg'];

/**
 * What the probe prints for each attempt: `{ok: true}`, or the error's fields. The body uses
 * `jetstream`, bound by the first line of the CommonJS or the ESM file.
 */
const PROBE_BODY = `
const describeError = (err) => ({
  name: err.name,
  code: err.code,
  packageName: err.packageName,
  versionRange: err.versionRange,
  message: err.message,
  typed: err instanceof jetstream.MissingDependencyError,
});
async function attempt(fn) {
  try {
    await fn();
    return { ok: true };
  } catch (err) {
    return describeError(err);
  }
}
const cases = {
  memory: async () => {
    const store = jetstream.createStore({ kind: 'memory' });
    await store.open();
    await store.close();
  },
  sqlite: async () => {
    const store = new jetstream.SqliteStore({ filename: ':memory:' });
    await store.open();
    await store.close();
  },
  postgres: async () => {
    const store = new jetstream.PostgresStore({ connectionString: 'postgres://127.0.0.1:1/none', connectionTimeoutMillis: 2000 });
    try {
      await store.open();
    } finally {
      await store.close();
    }
  },
  cluster: async () => {
    const server = await jetstream.createServer({ port: 0, store: new jetstream.MemoryStore(), cluster: { redis: 'redis://127.0.0.1:1' } });
    await server.close();
  },
};
const out = {};
for (const name of process.argv.slice(2)) out[name] = await attempt(cases[name]);
console.log(JSON.stringify(out));
`;
const CJS_PROBE = `const jetstream = require('jetstream');\n(async () => {\n${PROBE_BODY}\n})();\n`;
const ESM_PROBE = `import * as jetstream from 'jetstream';\n${PROBE_BODY}`;

type Outcome = {
  ok?: true;
  name?: string;
  code?: string;
  packageName?: string;
  versionRange?: string;
  message?: string;
  typed?: boolean;
};

function assertMissing(
  outcome: Outcome | undefined,
  dep: OptionalDependency<unknown>,
  feature: RegExp,
): void {
  assert.ok(outcome, 'the probe ran the case');
  assert.equal(outcome.name, 'MissingDependencyError', JSON.stringify(outcome));
  assert.equal(outcome.code, ErrorCode.MISSING_DEPENDENCY);
  assert.equal(outcome.typed, true, 'an instance of the package’s MissingDependencyError');
  assert.equal(outcome.packageName, dep.name);
  assert.equal(outcome.versionRange, pkg.peerDependencies[dep.name]);
  assert.match(outcome.message!, feature);
  assert.ok(
    outcome.message!.includes(`is not installed: run \`npm install ${dep.name}@${dep.range}\``),
    outcome.message,
  );
}

describe('package.json', () => {
  test('the drivers are optional peer dependencies and devDependencies, not dependencies', () => {
    for (const name of DRIVERS) {
      assert.equal(pkg.dependencies[name], undefined, `${name} is not a dependency`);
      assert.equal(typeof pkg.peerDependencies[name], 'string', `${name} is a peer dependency`);
      assert.equal(pkg.peerDependenciesMeta[name]?.optional, true, `${name} is optional`);
      assert.equal(pkg.devDependencies[name], pkg.peerDependencies[name], `${name}: the same range in dev`);
    }
  });

  test('the loader asks for exactly the ranges of peerDependencies', () => {
    assert.deepEqual(
      Object.fromEntries(OPTIONAL_DEPENDENCIES.map((d) => [d.name, d.range])),
      pkg.peerDependencies,
    );
  });
});

describe('loadOptional (from the sources)', () => {
  test('loads an installed driver', () => {
    assert.equal(typeof loadOptional(BETTER_SQLITE3), 'function');
    assert.equal(typeof loadOptional(PG).Pool, 'function');
    assert.equal(typeof loadOptional(IOREDIS).Redis, 'function');
  });

  test('a package that is not installed is a MissingDependencyError naming it and its range', () => {
    const dep: OptionalDependency<unknown> = {
      name: 'jetstream-test-no-such-driver',
      range: '>=1 <3',
      feature: 'The test feature',
      require: () => require('jetstream-test-no-such-driver'),
    };
    assert.throws(
      () => loadOptional(dep),
      (err: unknown) => {
        assert.ok(err instanceof MissingDependencyError);
        assert.equal(err.code, ErrorCode.MISSING_DEPENDENCY);
        assert.equal(err.packageName, 'jetstream-test-no-such-driver');
        assert.equal(err.versionRange, '>=1 <3');
        assert.equal(
          err.message,
          "The test feature needs the package jetstream-test-no-such-driver, which is not installed: run `npm install jetstream-test-no-such-driver@'>=1 <3'`",
        );
        assert.equal((err.cause as { code?: string }).code, 'MODULE_NOT_FOUND');
        return true;
      },
    );
  });

  test("a missing dependency of the driver's own is not reported as the driver missing", () => {
    const dep: OptionalDependency<unknown> = {
      name: 'some-driver',
      range: '^1.0.0',
      feature: 'The test feature',
      require: () => require('jetstream-test-no-such-driver'),
    };
    assert.throws(
      () => loadOptional(dep),
      (err: unknown) => {
        assert.ok(err instanceof MissingDependencyError);
        assert.match(
          err.message,
          /^The test feature needs the package some-driver, which is installed but could not be loaded \(Cannot find module 'jetstream-test-no-such-driver'\)/,
        );
        return true;
      },
    );
  });
});

describe('the built package without the drivers', () => {
  let bare: Install;
  after(() => bare?.remove());

  test('require: loads, a memory store works, and each driver-backed feature names its package', async () => {
    bare = installBuilt();
    bare.write('probe.cjs', CJS_PROBE);
    const out = lastJson<Record<string, Outcome>>(
      await bare.node(['probe.cjs', 'memory', 'sqlite', 'postgres', 'cluster']),
    );
    assert.deepEqual(out.memory, { ok: true });
    assertMissing(out.sqlite, BETTER_SQLITE3, /^The SQLite store needs the package better-sqlite3,/);
    assertMissing(out.postgres, PG, /^The PostgreSQL store needs the package pg,/);
    assertMissing(
      out.cluster,
      IOREDIS,
      /^A cluster \(the `cluster.redis` option as a URL\) needs the package ioredis,/,
    );
  });

  test('import: the same', async () => {
    bare ??= installBuilt();
    bare.write('probe.mjs', ESM_PROBE);
    const out = lastJson<Record<string, Outcome>>(
      await bare.node(['probe.mjs', 'memory', 'sqlite', 'postgres', 'cluster']),
    );
    assert.deepEqual(out.memory, { ok: true });
    assertMissing(out.sqlite, BETTER_SQLITE3, /^The SQLite store needs/);
    assertMissing(out.postgres, PG, /^The PostgreSQL store needs/);
    assertMissing(out.cluster, IOREDIS, /^A cluster .* needs the package ioredis/);
  });
});

describe('the built package with a driver', () => {
  test('with better-sqlite3 and pg installed, their stores get as far as the database', async () => {
    const install = installBuilt({ extra: ['better-sqlite3', 'pg'] });
    try {
      install.write('probe.cjs', CJS_PROBE);
      const out = lastJson<Record<string, Outcome>>(await install.node(['probe.cjs', 'sqlite', 'postgres']));
      // SQLite opens (its worker, started from dist/, finds the driver too).
      assert.deepEqual(out.sqlite, { ok: true });
      // PostgreSQL: the driver loaded and tried to connect (nothing listens on port 1).
      assert.equal(out.postgres?.name, 'StoreError', JSON.stringify(out.postgres));
      assert.match(out.postgres!.message!, /^PostgreSQL store: /);
    } finally {
      install.remove();
    }
  });

  test('a driver that is installed but cannot be loaded (native module not built) says so', async () => {
    const install = installBuilt();
    try {
      // better-sqlite3 as it is when its install script did not run: the package is there, its
      // binary is not.
      const fake = join(install.dir, 'node_modules', 'better-sqlite3');
      mkdirSync(fake);
      writeFileSync(
        join(fake, 'package.json'),
        '{"name": "better-sqlite3", "version": "12.11.1", "main": "index.js"}\n',
      );
      writeFileSync(
        join(fake, 'index.js'),
        "throw new Error('Could not locate the bindings file. Tried:\\n → build/Release/better_sqlite3.node');\n",
      );
      install.write('probe.cjs', CJS_PROBE);
      const out = lastJson<Record<string, Outcome>>(await install.node(['probe.cjs', 'sqlite']));
      assert.equal(out.sqlite?.name, 'MissingDependencyError');
      assert.equal(out.sqlite?.packageName, 'better-sqlite3');
      assert.equal(
        out.sqlite?.message,
        'The SQLite store needs the package better-sqlite3, which is installed but could not be loaded ' +
          '(Could not locate the bindings file. Tried:): reinstall it (`npm install better-sqlite3@^12.11.1`) ' +
          'or rebuild it (`npm rebuild better-sqlite3`)',
      );
    } finally {
      install.remove();
    }
  });
});
