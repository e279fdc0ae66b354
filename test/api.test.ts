// The package's public surface: one curated list of names (src/api.ts), identical from
// `require('jetstream')` and `import … from 'jetstream'`. The built entry points are checked,
// as a user gets them (`npm test` builds dist/ first).
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { pathToFileURL } from 'node:url';

const PUBLIC = [
  'ArrayPropertyConstraint',
  'Collection',
  'DefinitionError',
  'DownstreamError',
  'ErrorCode',
  'ErrorType',
  'ExpressionError',
  'HasNewValuePropertyConstraint',
  'IncomingConnection',
  'Inspector',
  'JetstreamError',
  'MemoryStore',
  'MemoryTransport',
  'MissingDependencyError',
  'ModelObject',
  'OutcomeUnknownError',
  'PostgresStore',
  'QueryError',
  'Scope',
  'ScopeError',
  'Server',
  'Session',
  'SqliteStore',
  'StoreConflictError',
  'StoreError',
  'SyncError',
  'SyncProcedure',
  'ValidationError',
  'WebsocketTransport',
  'arrayPropertyConstraint',
  'constraint',
  'createServer',
  'createStore',
  'defineModel',
  'defineProcedure',
  'enumeration',
  'expr',
  'getProcedure',
  'handleProbe',
  'hasNewValuePropertyConstraint',
  'model',
  'registerRemoteProcedureType',
  'scope',
  'silentLogger',
  'storeFromEnv',
  'transport',
].sort();

const dist = join(__dirname, '..', 'dist');

describe('public API', () => {
  test("require('jetstream') is the original's callable, carrying exactly the public names", () => {
    const jetstream = createRequire(__filename)(join(dist, 'main.cjs'));
    assert.equal(typeof jetstream, 'function');
    assert.deepEqual(Object.keys(jetstream).sort(), PUBLIC);
    for (const name of PUBLIC) assert.notEqual(jetstream[name], undefined, name);
  });

  test("import … from 'jetstream' has the same callable as default and exactly the same named exports", async () => {
    const esm = await import(pathToFileURL(join(dist, 'index.mjs')).href);
    const cjs = createRequire(__filename)(join(dist, 'main.cjs'));
    assert.equal(esm.default, cjs);
    const named = Object.keys(esm).filter((k) => k !== 'default');
    assert.deepEqual(named.sort(), PUBLIC);
    for (const name of PUBLIC) assert.equal(esm[name], cjs[name], `${name}: one object, both ways`);
  });

  test('internals are not reachable through the package exports', () => {
    const pkg = createRequire(__filename)(join(__dirname, '..', 'package.json'));
    assert.deepEqual(Object.keys(pkg.exports).sort(), ['.', './client', './package.json']);
    const cjs = createRequire(__filename)(join(dist, 'main.cjs'));
    for (const internal of [
      'plan',
      'commit',
      'ScopeHub',
      'INVALID',
      'encodeFragments',
      'ChangesetPipeline',
    ]) {
      assert.equal(cjs[internal], undefined, internal);
    }
  });
});
