// This server (src/), with the demo models: a Canvas scope of BENCH_SHAPES shapes, served by name
// to every session. Reports `unavailable` when the server module cannot be loaded, so the suite
// still runs (and says so) while the server is being written.
import { runTarget, shapeValues } from './common.js';

interface OurServer {
  port?: number;
  close(): Promise<void>;
}
type CreateServer = (options: { port: number; scopes: unknown[] }) => Promise<OurServer>;

void runTarget(async (shapes) => {
  let createServer: CreateServer | undefined;
  try {
    const entry = (await import('../../src/index.js')) as unknown as { createServer?: CreateServer };
    createServer = entry.createServer;
    if (!createServer) {
      const server = (await import('../../src/server/index.js')) as unknown as {
        createServer?: CreateServer;
      };
      createServer = server.createServer;
    }
  } catch (e) {
    return `cannot load src/: ${(e as Error).message}`;
  }
  if (!createServer) return 'src/ exports no createServer yet';

  const { Canvas, Shape } = await import('../../demo/models.js');
  const { scope: createScope } = await import('../../src/scope/index.js');
  const canvas = new Canvas({ name: 'bench' });
  const list = [];
  for (let i = 0; i < shapes; i++) list.push(new Shape(shapeValues(i)));
  (canvas as unknown as { shapes: { setAsArray(v: unknown[]): void } }).shapes.setAsArray(list);
  const scope = createScope({ name: 'Canvas' });
  scope.setRoot(canvas);

  const server = await createServer({ port: 0, scopes: [scope] });
  if (typeof server.port !== 'number') return 'the server reports no port';
  return { port: server.port, close: () => server.close() };
});
