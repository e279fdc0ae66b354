// The demo server (`npm start`): the two scopes of the original demos, the shapes canvas and
// the chat room, accepting every session. Port from PORT (default 3000).
import { createServer as createHttpServer } from 'node:http';
import pino from 'pino';
import { createServer, Scope } from '../src/index.js';
import { Canvas, ChatRoom, ChatRoomAttributes, ChatRoomStatus } from './models.js';

export interface DemoOptions {
  port?: number;
  host?: string;
  logger?: pino.Logger;
}

/** Builds the demo's scopes with their initial roots. */
export function demoScopes(): { canvas: Scope; chat: Scope } {
  const canvasRoot = new Canvas();
  canvasRoot.assign({ name: 'Shapes Demo' });
  const canvas = new Scope({ name: 'Canvas' });
  canvas.setRoot(canvasRoot);

  const attributes = new ChatRoomAttributes();
  attributes.assign({ status: ChatRoomStatus.Open, topic: 'Welcome', tintColor: 0x3366ff, locale: 'en_US' });
  const room = new ChatRoom();
  room.assign({ name: 'Jetstream Chat', attributes });
  const chat = new Scope({ name: 'ChatRoom' });
  chat.setRoot(room);
  return { canvas, chat };
}

/** Starts the demo; resolves once it listens. */
export async function startDemo(options: DemoOptions = {}) {
  const logger = options.logger ?? pino({ level: process.env.LOG_LEVEL ?? 'info' });
  const { canvas, chat } = demoScopes();
  const http = createHttpServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' });
    res.end('Jetstream demo server: connect a Jetstream client to this address over WebSocket.\n');
  });
  const server = await createServer({ server: http, scopes: [canvas, chat], logger });
  await new Promise<void>((resolve) => http.listen(options.port ?? 3000, options.host, resolve));
  const address = http.address();
  const port = typeof address === 'object' && address ? address.port : options.port;
  logger.info({ port }, `Jetstream demo listening on http://localhost:${port} (WebSocket on the same port)`);
  return {
    server,
    port: port as number,
    scopes: { canvas, chat },
    async close() {
      await server.close();
      await new Promise<void>((resolve) => http.close(() => resolve()));
    },
  };
}

if (require.main === module) {
  startDemo({ port: Number(process.env.PORT ?? 3000) }).catch((err) => {
    console.error(err);
    process.exit(1);
  });
}
