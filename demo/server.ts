// The demo server (`npm start`): the two scopes of the original demos, the shapes canvas and
// the chat room, accepting every session. Port from PORT (default 3000). Scopes are durable:
// SQLite under JETSTREAM_DATA_DIR (default ./data), or PostgreSQL when DATABASE_URL is set.
// With REDIS_URL too, the process joins the other demo processes of that database and Redis as
// one cluster (docs/cluster.md).
import { createServer as createHttpServer } from 'node:http';
import type pino from 'pino';
import { processLogger } from '../src/cli/logger.js';
import {
  type ClusterOption,
  createServer,
  handleProbe,
  Inspector,
  Scope,
  type Server,
} from '../src/index.js';
import { type Store, storeFromEnv } from '../src/store/index.js';
import { type ChatService, startChatService } from './chat-service.js';
import { Canvas, ChatRoom, ChatRoomAttributes, ChatRoomStatus } from './models.js';
import { defineChatProcedures } from './procedures.js';
import { servePage } from './public/serve.js';

export interface DemoOptions {
  port?: number;
  host?: string;
  logger?: pino.Logger;
  /** Directory of the SQLite database when no `store` and no DATABASE_URL. Default `./data`. */
  dataDir?: string;
  /** The store to use (not yet opened); default `storeFromEnv({ dataDir })`. Closed by `close()`. */
  store?: Store;
  /** Join a cluster (docs/cluster.md); needs the PostgreSQL store. Default: REDIS_URL when set. */
  cluster?: ClusterOption;
  /** The inspector's admin token (docs/operations.md). Default: JETSTREAM_ADMIN_TOKEN, else random. */
  adminToken?: string;
}

/** The canvas scope's initial root. */
export function canvasRoot() {
  const root = new Canvas();
  root.assign({ name: 'Shapes Demo' });
  return root;
}

/** The chat scope's initial root. */
export function chatRoot() {
  const attributes = new ChatRoomAttributes();
  attributes.assign({ status: ChatRoomStatus.Open, topic: 'Welcome', tintColor: 0x3366ff, locale: 'en_US' });
  const room = new ChatRoom();
  room.assign({ name: 'Jetstream Chat', attributes });
  return room;
}

/** Builds the demo's scopes with their initial roots. */
export function demoScopes(): { canvas: Scope; chat: Scope } {
  const canvas = new Scope({ name: 'Canvas' });
  canvas.setRoot(canvasRoot());
  const chat = new Scope({ name: 'ChatRoom' });
  chat.setRoot(chatRoot());
  return { canvas, chat };
}

/** The token the chat scope hands its downstream service (`$scope.params.accessToken`). */
const CHAT_ACCESS_TOKEN = 'demo-access-token';

/** The chat scope of the most recent startDemo(), for the downstream's rename topic. */
let currentChat: Scope | null = null;
let chatService: Promise<ChatService> | null = null;

/**
 * The chat room's downstream service, started once per process on loopback, and the original's
 * three procedures (ChatRoom.setName, .postMessage, .userLogout) pointing at it. Procedures are
 * defined once per model class, hence one service per process, shared by every startDemo().
 */
function chatDownstream(): Promise<ChatService> {
  chatService ??= startChatService({
    accessToken: CHAT_ACCESS_TOKEN,
    roomName: (uuid) => currentChat?.get(uuid)?.get('name') as string | undefined,
  }).then((service) => {
    defineChatProcedures(ChatRoom, service.url);
    return service;
  });
  return chatService;
}

/** Starts the demo; resolves once it listens. */
export async function startDemo(options: DemoOptions = {}) {
  const logger = options.logger ?? processLogger();
  const store = options.store ?? storeFromEnv({ dataDir: options.dataDir ?? './data' });
  let listening: Server | null = null; // the probes answer 503 until the server exists
  let inspector: Inspector | null = null;
  const http = createHttpServer((req, res) => {
    if (handleProbe(req, res, listening)) return; // /healthz, /readyz, /metrics (docs/operations.md)
    if (inspector?.handle(req, res)) return; // /inspect (docs/operations.md)
    if (servePage(req, res)) return; // the demo page (demo/public/)
    res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' });
    res.end('Jetstream demo server: connect a Jetstream client to this address over WebSocket.\n');
  });
  const redisUrl = process.env.REDIS_URL;
  const cluster = options.cluster ?? (redisUrl ? { redis: redisUrl } : undefined);
  const server = await createServer({
    server: http,
    store,
    logger,
    metrics: true,
    ...(cluster ? { cluster } : {}),
  });
  inspector = new Inspector(server, options.adminToken === undefined ? {} : { token: options.adminToken });
  const canvas = await server.openScope({ name: 'Canvas', root: canvasRoot });
  const chatApi = await chatDownstream();
  const chat = await server.openScope({
    name: 'ChatRoom',
    params: { accessToken: CHAT_ACCESS_TOKEN },
    root: chatRoot,
  });
  currentChat = chat;
  listening = server; // ready (/readyz) once its scopes are loaded
  logger.info({ store: store.kind, cluster: cluster !== undefined }, 'scopes loaded');
  // The port may be taken: fail loudly. (ws re-emits the HTTP server's errors to its own
  // listener, so without this one an EADDRINUSE would leave the demo silently not listening.)
  try {
    await new Promise<void>((resolve, reject) => {
      http.once('error', reject);
      http.listen(options.port ?? 3000, options.host, () => {
        http.off('error', reject);
        resolve();
      });
    });
  } catch (err) {
    await server.close();
    await store.close();
    throw err;
  }
  const address = http.address();
  const port = typeof address === 'object' && address ? address.port : options.port;
  logger.info({ port }, `Jetstream demo listening on http://localhost:${port} (WebSocket on the same port)`);
  logger.info(`Inspector: ${inspector.url(`http://localhost:${port}`)}`);
  return {
    server,
    inspector,
    port: port as number,
    scopes: { canvas, chat },
    /** The chat procedures' downstream service (shared by every startDemo of the process). */
    chatApi,
    async close() {
      await server.close();
      await new Promise<void>((resolve) => http.close(() => resolve()));
      await store.close();
    },
  };
}

if (require.main === module) {
  startDemo({
    port: Number(process.env.PORT ?? 3000),
    dataDir: process.env.JETSTREAM_DATA_DIR || './data',
  }).then(
    (demo) => {
      // Everything acknowledged is already stored; closing cleanly also checkpoints SQLite's WAL.
      // A second signal (an impatient operator, or an orchestrator's escalation) exits at once.
      let stopping = false;
      const stop = () => {
        if (stopping) process.exit(1);
        stopping = true;
        void demo.close().finally(() => process.exit(0));
      };
      process.on('SIGINT', stop);
      process.on('SIGTERM', stop);
    },
    (err: Error & { code?: string }) => {
      // A configuration mistake (a bad DATABASE_URL, a busy port, a locked SQLite file) gets one
      // line that says what to fix; the stack only helps with something unexpected.
      const expected =
        err.name === 'StoreError' ||
        err.name === 'MissingDependencyError' || // a driver to install (README, "Install")
        err.name === 'TypeError' ||
        err.code === 'EADDRINUSE';
      if (expected && process.env.LOG_LEVEL !== 'debug') console.error(`jetstream: ${err.message}`);
      else console.error(err);
      process.exit(1);
    },
  );
}
