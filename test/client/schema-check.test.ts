// Schema checks (docs/client.md, "Schema checks"): a client whose models do not fit the
// server's learns it at fetch, with the class and property named, instead of holding an
// incomplete tree. End to end: a real server on a free port, the client over real sockets; the
// server's and the client's models are defined apart, as two deployments would.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import WebSocket from 'ws';
import {
  type Client,
  connect,
  defineModel,
  ErrorCode,
  enumeration,
  SchemaMismatchError,
} from '../../src/client/index.js';
import { Scope } from '../../src/scope/index.js';
import { createServer, type Server } from '../../src/server/index.js';
import { waitFor } from '../helpers/wait.js';

// ---- the server's models and scope ---------------------------------------------------------------
const Kind = enumeration('Kind', String, ['box', 'dot']);
const ServerShape = defineModel('Shape', { x: Number, label: String, kind: Kind, at: Date, tags: [String] });
const ServerCircle = defineModel('Circle', { radius: Number }, { extends: ServerShape });
const ServerCanvas = defineModel('Canvas', { name: String, shapes: [ServerShape], selected: ServerShape });

// ---- client models: one that fits, and ones that do not -------------------------------------------
const ClientKind = enumeration('Kind', String, ['box', 'dot']);
const Shape = defineModel('Shape', { x: Number, label: String, kind: ClientKind, at: Date, tags: [String] });
const Canvas = defineModel('Canvas', { name: String, shapes: [Shape], selected: Shape });

let server: Server;
let scope: Scope;
let url: string;
const clients: Client[] = [];

before(async () => {
  scope = new Scope({ name: 'Canvas' });
  const root = new ServerCanvas({ name: 'Shapes' });
  scope.setRoot(root);
  const shape = new ServerShape({
    x: 10,
    label: 'a',
    kind: 'box',
    at: new Date(1_600_000_000_000),
    tags: ['t'],
  });
  root.shapes.push(shape);
  root.selected = shape;
  server = await createServer({ port: 0, scopes: [scope] });
  url = `ws://127.0.0.1:${server.port}/`;
});

after(async () => {
  for (const c of clients) c.close();
  await server.close();
});

async function client(): Promise<Client> {
  const c = await connect(url, { WebSocket, connectTimeout: 10_000 });
  clients.push(c);
  return c;
}

/** Asserts that `fetch` rejects with a SchemaMismatchError naming `className`/`property`. */
async function rejectsWith(
  fetch: Promise<unknown>,
  className: string,
  property: string | null,
  message: RegExp,
): Promise<SchemaMismatchError> {
  let caught: unknown;
  await assert.rejects(fetch, (err) => {
    caught = err;
    return true;
  });
  assert.ok(caught instanceof SchemaMismatchError, String(caught));
  assert.equal(caught.code, ErrorCode.CLIENT_SCHEMA_MISMATCH);
  assert.equal(caught.type, 'schema-mismatch');
  assert.equal(caught.scope, 'Canvas');
  assert.equal(caught.className, className);
  assert.equal(caught.property, property);
  assert.match(caught.message, /^Scope 'Canvas': the server's data does not fit the client's models: /);
  assert.match(caught.message, message);
  return caught;
}

describe('schema checks at fetch (against the real server)', () => {
  test('models that fit: the fetch resolves with every object and value, and no error', async () => {
    const c = await client();
    const errors: Error[] = [];
    c.on('error', (e) => errors.push(e));
    const s = await c.fetch('Canvas', Canvas);
    assert.equal(s.root.name, 'Shapes');
    assert.equal(s.root.shapes.length, 1);
    const shape = s.root.shapes.at(0)!;
    assert.deepEqual(
      [shape.x, shape.label, shape.kind, shape.at?.getTime()],
      [10, 'a', 'box', 1_600_000_000_000],
    );
    assert.equal(s.root.selected, shape);
    assert.deepEqual(errors, []);
  });

  test('a root class that differs from the server’s rejects the fetch, naming both classes', async () => {
    const Todo = defineModel('Todo', { title: String });
    const c = await client();
    await rejectsWith(
      c.fetch('Canvas', Todo),
      'Canvas',
      null,
      /the scope's root is a Canvas, but fetch\(\) was given Todo/,
    );
  });

  test('an object of a class the client does not have rejects the fetch', async () => {
    const Blob = defineModel('Blob', { x: Number });
    const BlobCanvas = defineModel('Canvas', { name: String, shapes: [Blob], selected: Blob });
    const c = await client();
    const err = await rejectsWith(
      c.fetch('Canvas', BlobCanvas),
      'Shape',
      null,
      /the object [0-9a-f-]{36} is a Shape, a class the client's models \(from the root Canvas\) do not have/,
    );
    // The root's references to it are not reported again: the class is the problem.
    assert.equal(err.problems.length, 1);
  });

  test('a value the client model cannot hold rejects the fetch, naming class and property', async () => {
    const StringShape = defineModel('Shape', {
      x: String,
      label: String,
      kind: ClientKind,
      at: Date,
      tags: [String],
    });
    const StringCanvas = defineModel('Canvas', {
      name: String,
      shapes: [StringShape],
      selected: StringShape,
    });
    const c = await client();
    await rejectsWith(
      c.fetch('Canvas', StringCanvas),
      'Shape',
      'x',
      /'Shape\.x': the client's model expects String; the server sent number 10/,
    );
  });

  test('an enumeration without the server’s value, and a collection of another type, are mismatches too', async () => {
    const Narrow = enumeration('Kind', String, ['dot']);
    const NarrowShape = defineModel('Shape', {
      x: Number,
      label: String,
      kind: Narrow,
      at: Date,
      tags: [Number],
    });
    const NarrowCanvas = defineModel('Canvas', {
      name: String,
      shapes: [NarrowShape],
      selected: NarrowShape,
    });
    const c = await client();
    const err = await rejectsWith(
      c.fetch('Canvas', NarrowCanvas),
      'Shape',
      'kind',
      /'Shape\.kind'.*one of \[dot\]/,
    );
    assert.deepEqual(
      err.problems.map((p) => p.replace(/;.*/, '')),
      [
        "'Shape.kind': the client's model expects one of [dot]",
        "'Shape.tags': the client's model expects an array of Number",
      ],
    );
    assert.match(err.message, /\(and 1 more\)$/);
  });

  test('a property the client model does not declare rejects the fetch', async () => {
    const Short = defineModel('Shape', { x: Number, kind: ClientKind, at: Date, tags: [String] });
    const ShortCanvas = defineModel('Canvas', { name: String, shapes: [Short], selected: Short });
    const c = await client();
    await rejectsWith(
      c.fetch('Canvas', ShortCanvas),
      'Shape',
      'label',
      /'Shape\.label' is not a property of the client's Shape/,
    );
  });

  test('after a rejected fetch, the same client fetches the scope with the right models', async () => {
    const Todo = defineModel('Todo', { title: String });
    const c = await client();
    await assert.rejects(c.fetch('Canvas', Todo), SchemaMismatchError);
    const s = await c.fetch('Canvas', Canvas);
    assert.equal(s.root.name, 'Shapes');
    assert.equal(c.scopes.length, 1, 'the rejected scope is not listed');
  });

  test('a later change the client cannot hold emits a typed error on the client; what fits is applied', async () => {
    const c = await client();
    const errors: Error[] = [];
    c.on('error', (e) => errors.push(e));
    const s = await c.fetch('Canvas', Canvas);
    const root = scope.root as InstanceType<typeof ServerCanvas>;
    // A Circle: a subclass of Shape the client's models do not have.
    root.shapes.push(new ServerCircle({ x: 1, radius: 3 }));
    root.name = 'Renamed';
    await waitFor(() => errors.length > 0 && s.root.name === 'Renamed', {
      message: 'the change and the error',
    });
    const err = errors[0];
    assert.ok(err instanceof SchemaMismatchError, String(err));
    assert.equal(err.className, 'Circle');
    assert.equal(err.property, null);
    assert.match(
      err.message,
      /is a Circle, a class the client's models \(from the root Canvas\) do not have/,
    );
    assert.equal(s.root.shapes.length, 1, 'the unknown object is left out, as before');
    assert.equal(c.status.connected, true, 'the session goes on');
  });
});
