// A browser app bundles its models file and the client SDK from the built package, as a user
// does (esbuild, platform browser: any Node built-in fails the build). Nothing of the server,
// no driver and no Node built-in gets in; the bundle runs. The main entry (`jetstream`) is the
// server: bundling it for a browser fails, which is why a shared models file imports the model
// layer from `jetstream/client`.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { build } from 'esbuild';
import { type Install, installBuilt } from './install.js';

const MODELS = `
import { defineModel, model } from 'jetstream/client';
export const Shape = defineModel('Shape', { x: Number, y: Number });
export const Canvas = model('Canvas', function () {
  this.has('name', String);
  this.has('shapes', [Shape]);
});
`;
const APP = `
import { connect, ModelObject } from 'jetstream/client';
import { Canvas, Shape } from './models.js';
export { Canvas, connect, ModelObject, Shape };
`;

const browser = {
  bundle: true,
  write: false,
  format: 'esm',
  platform: 'browser',
  target: 'es2022',
  metafile: true,
  logLevel: 'silent',
} as const;

describe('bundling for the browser from the built package', () => {
  let install: Install;
  before(() => {
    // Every driver installed: what keeps them out of the bundle is the import graph, not their absence.
    install = installBuilt({ extra: ['better-sqlite3', 'pg', 'ioredis'] });
    install.write('models.js', MODELS);
    install.write('app.js', APP);
    install.write('server-models.js', "export { model } from 'jetstream';\n");
  });
  after(() => install?.remove());

  test('a models file and the client SDK bundle with nothing of the server, and the bundle runs', async () => {
    const result = await build({
      ...browser,
      entryPoints: [`${install.dir}/app.js`],
      absWorkingDir: install.dir,
    });
    assert.deepEqual(result.errors, []);
    const inputs = Object.keys(result.metafile.inputs);
    const fromPackage = inputs.filter((f) => f.includes('node_modules/jetstream/'));
    assert.ok(
      fromPackage.some((f) => f.endsWith('dist/client/index.js')),
      inputs.join('\n'),
    );
    assert.ok(
      fromPackage.some((f) => f.includes('dist/model/')),
      'the model layer is bundled',
    );
    const forbidden = inputs.filter(
      (f) =>
        /node_modules\/jetstream\/dist\/(server|store|cluster|persistence|transport|cli|inspector)\//.test(
          f,
        ) || /node_modules\/(?!jetstream\/)/.test(f),
    );
    assert.deepEqual(forbidden, [], 'only the package’s client side, and no other package');
    assert.deepEqual(result.warnings, []);

    // Runs as an ES module: the models file's classes work.
    const file = install.write('bundle.mjs', result.outputFiles[0]!.text);
    const app = await import(pathToFileURL(file).href);
    const canvas = new app.Canvas({ name: 'Browser', shapes: [new app.Shape({ x: 1, y: 2 })] });
    assert.ok(canvas instanceof app.ModelObject);
    assert.equal(canvas.shapes.at(0).x, 1);
    assert.equal(typeof app.connect, 'function');
  });

  test('the main entry is the server: a browser bundle of it fails on Node built-ins', async () => {
    const failed = await build({
      ...browser,
      entryPoints: [`${install.dir}/server-models.js`],
      absWorkingDir: install.dir,
    }).then(
      () => null,
      (err: { errors: { text: string }[] }) => err.errors.map((e) => e.text),
    );
    assert.ok(failed, 'the build failed');
    assert.ok(
      failed.some((text) => /Could not resolve "(node:)?[a-z_]+"/.test(text)),
      failed.join('\n'),
    );
  });
});
