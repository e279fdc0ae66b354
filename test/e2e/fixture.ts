// Shared set-up for the end-to-end tests: the demo's models, a Canvas scope with a few shapes,
// and a server on a free port with short timers (never the production defaults).
import { Canvas, Shape } from '../../demo/models.js';
import { Scope } from '../../src/scope/scope.js';
import type { ServerOptions } from '../../src/server/options.js';
import { createServer, type Server } from '../../src/server/server.js';

export { Canvas, Shape };

export interface Fixture {
  server: Server;
  port: number;
  scope: Scope;
  canvas: InstanceType<typeof Canvas>;
}

/** A Canvas scope named `name` whose root has two shapes. */
export function canvasScope(name = 'Canvas'): { scope: Scope; canvas: InstanceType<typeof Canvas> } {
  const canvas = new Canvas();
  const s1 = new Shape();
  s1.assign({ x: 1, y: 2, width: 10, height: 10, type: 0 });
  const s2 = new Shape();
  s2.assign({ x: 3, y: 4, width: 20, height: 20, type: 1 });
  canvas.assign({ name: 'Shapes Demo', shapes: [s1, s2] });
  const scope = new Scope({ name });
  scope.setRoot(canvas);
  return { scope, canvas };
}

/** A listening server serving one Canvas scope by name (no hooks unless `options` adds them). */
export async function startServer(options: ServerOptions = {}): Promise<Fixture> {
  const { scope, canvas } = canvasScope();
  const server = await createServer({ port: 0, scopes: [scope], ...options });
  return { server, port: server.port!, scope, canvas };
}
