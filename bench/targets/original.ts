// The original Jetstream server (npm jetstream@0.13.4, installed as `jetstream-original`) with
// the demo's Canvas/Shape models, accepting every session and every fetch of the one scope.
// Its logger is replaced by no-ops so that neither side pays for log output.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { CANVAS_NAME, runTarget, shapeValues } from './common.js';

type Callback = (err?: Error | null, result?: unknown) => void;
interface OriginalModelObject {
  [key: string]: unknown;
}
interface OriginalModelClass {
  new (init?: { uuid?: string }): OriginalModelObject;
  has(name: string, type: unknown): void;
}
interface OriginalScope {
  name: string;
  setRoot(root: OriginalModelObject, cb?: Callback): void;
}
interface OriginalSession {
  on(event: 'fetch', fn: (name: string, params: unknown, cb: Callback) => void): void;
}
interface OriginalServer {
  on(
    event: 'session',
    fn: (session: OriginalSession, connection: unknown, params: unknown, cb: Callback) => void,
  ): void;
}
interface OriginalModule {
  (options: { transports: unknown[] }): OriginalServer;
  model(name: string, fn: (this: OriginalModelClass) => void): OriginalModelClass;
  scope(options: { name: string }): OriginalScope;
  logger: { replaceLogger(logger: Record<string, (...args: unknown[]) => void>): void };
  transport: { WebsocketTransport: { configure(options: { server: unknown }): unknown } };
}

void runTarget(async (shapes) => {
  const jetstream = require('jetstream-original') as OriginalModule;
  const noop = (): void => {};
  jetstream.logger.replaceLogger({
    debug: noop,
    trace: noop,
    info: noop,
    warn: noop,
    error: noop,
    log: noop,
  });

  const Shape = jetstream.model('Shape', function () {
    this.has('x', Number);
    this.has('y', Number);
    this.has('width', Number);
    this.has('height', Number);
    this.has('type', Number);
  });
  const Canvas = jetstream.model('Canvas', function () {
    this.has('name', String);
    this.has('shapes', [Shape]);
  });

  const canvas = new Canvas();
  canvas.name = 'bench';
  const list: OriginalModelObject[] = [];
  for (let i = 0; i < shapes; i++) {
    const shape = new Shape();
    Object.assign(shape, shapeValues(i));
    list.push(shape);
  }
  canvas.shapes = list;
  const scope = jetstream.scope({ name: CANVAS_NAME });
  await new Promise<void>((resolve, reject) =>
    scope.setRoot(canvas, (err) => (err ? reject(err) : resolve())),
  );

  const http = createServer();
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  const transport = jetstream.transport.WebsocketTransport.configure({ server: http });
  const server = jetstream({ transports: [transport] });
  server.on('session', (session, _connection, _params, accept) => {
    accept();
    session.on('fetch', (name, _p, cb) =>
      name === scope.name ? cb(null, scope) : cb(new Error('No such scope')),
    );
  });
  return {
    port: (http.address() as AddressInfo).port,
    close: () => new Promise<void>((resolve) => http.close(() => resolve())),
  };
});
