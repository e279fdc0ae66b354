// A models file shared by the server and the browser imports the model layer from
// `jetstream/client` (browser-safe). The server, imported from `jetstream`, must accept those
// very classes: both entries of the built package share one copy of the model module (class
// identity, the registry of model names), from require() and from import alike. Checked end to
// end on the built package: a server serves a root of the models file's class, a client fetches
// it with the same classes and adds an object, which reaches the server as that class.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { type Install, installBuilt, lastJson } from './install.js';

/** The models file, in the form of the original DSL and of the typed one (`import` form). */
const MODELS_ESM = `
import { defineModel, enumeration, model } from 'jetstream/client';
export const Kind = enumeration('Kind', Number, { Square: 1, Circle: 2 });
export const Shape = defineModel('Shape', { x: Number, y: Number, kind: Kind });
export const Canvas = model('Canvas', function () {
  this.has('name', String);
  this.has('shapes', [Shape]);
});
`;
const MODELS_CJS = `
const { defineModel, enumeration, model } = require('jetstream/client');
const Kind = enumeration('Kind', Number, { Square: 1, Circle: 2 });
const Shape = defineModel('Shape', { x: Number, y: Number, kind: Kind });
const Canvas = model('Canvas', function () {
  this.has('name', String);
  this.has('shapes', [Shape]);
});
module.exports = { Kind, Shape, Canvas };
`;

/** The server and the client in one process; prints what the test checks. Uses `jetstream`,
 *  `client`, `WebSocket` and the models, bound by the CommonJS or ESM header. */
const RUN_BODY = `
const scope = new jetstream.Scope({ name: 'Canvas' });
scope.setRoot(new Canvas({ name: 'Shared' }));
const server = await jetstream.createServer({ port: 0, scopes: [scope] });
const c = await client.connect('ws://127.0.0.1:' + server.port + '/', { WebSocket });
const fetched = await c.fetch('Canvas', Canvas);
const synced = await fetched.transaction(() => {
  fetched.root.shapes.push(new Shape({ x: 1, y: 2, kind: Kind.Circle }));
});
const serverShape = scope.root.shapes.at(0);
const out = {
  sameModelObject: jetstream.ModelObject === client.ModelObject,
  sameDefineModel: jetstream.defineModel === client.defineModel,
  sameErrors: jetstream.JetstreamError === client.JetstreamError,
  sameFromRequire: require_('jetstream/client').ModelObject === client.ModelObject && require_('jetstream').Scope === jetstream.Scope,
  rootIsModelObject: scope.root instanceof jetstream.ModelObject,
  clientRootIsCanvas: fetched.root instanceof Canvas,
  clientRootName: fetched.root.name,
  synced: synced.ok,
  serverShapeIsShape: serverShape instanceof Shape,
  serverShape: serverShape && { x: serverShape.x, y: serverShape.y, kind: serverShape.kind },
};
c.close();
await server.close();
console.log(JSON.stringify(out));
`;
const RUN_CJS = `
const jetstream = require('jetstream');
const client = require('jetstream/client');
const { WebSocket } = require('ws');
const { Kind, Shape, Canvas } = require('./models.cjs');
const require_ = require;
(async () => {
${RUN_BODY}
})();
`;
const RUN_ESM = `
import * as jetstream from 'jetstream';
import * as client from 'jetstream/client';
import { createRequire } from 'node:module';
import { WebSocket } from 'ws';
import { Canvas, Kind, Shape } from './models.mjs';
const require_ = createRequire(import.meta.url);
${RUN_BODY}
`;

function assertShared(out: Record<string, unknown>): void {
  assert.deepEqual(out, {
    sameModelObject: true,
    sameDefineModel: true,
    sameErrors: true,
    sameFromRequire: true,
    rootIsModelObject: true,
    clientRootIsCanvas: true,
    clientRootName: 'Shared',
    synced: true,
    serverShapeIsShape: true,
    serverShape: { x: 1, y: 2, kind: 2 },
  });
}

describe('one model module behind jetstream and jetstream/client (built package)', () => {
  let install: Install;
  before(() => {
    install = installBuilt({ extra: ['ws'] });
    install.write('models.mjs', MODELS_ESM);
    install.write('models.cjs', MODELS_CJS);
    install.write('run.cjs', RUN_CJS);
    install.write('run.mjs', RUN_ESM);
  });
  after(() => install?.remove());

  test('require: the server accepts the classes of a models file written against jetstream/client', async () => {
    assertShared(lastJson(await install.node(['run.cjs'])));
  });

  test('import: the same, and ESM and CommonJS users of one process share the module too', async () => {
    assertShared(lastJson(await install.node(['run.mjs'])));
  });
});
