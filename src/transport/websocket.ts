// The WebSocket transport, on `ws`. One `ws` server, either on its own port or attached to an
// existing HTTP server (so the demo page and the sync endpoint share a port).
import {
  createServer as createHttpServer,
  type Server as HttpServer,
  type IncomingMessage,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { type RawData, type WebSocket, WebSocketServer } from 'ws';
import { connectionParams } from './params.js';
import {
  type Connection,
  type ConnectionHandler,
  type Transport,
  type TransportStats,
  transportStats,
} from './types.js';

export interface WebsocketTransportOptions {
  /** Listen on this port (0 = any free port). Exactly one of `port` and `server`. */
  port?: number;
  /** Host to bind with `port` (default: all interfaces). */
  host?: string;
  /** Attach to this HTTP server instead of listening on a port. */
  server?: HttpServer;
  /** Only accept upgrades on this path (default: any path). */
  path?: string;
  /** Largest frame accepted, in bytes; larger frames close the socket with 1009. Default 1 MiB + 1 KiB. */
  maxPayload?: number;
  /**
   * With `port`: answers the plain HTTP requests on that port (everything but WebSocket
   * upgrades), e.g. the server option `static`. Default: 426 Upgrade Required.
   */
  requestHandler?: (req: IncomingMessage, res: ServerResponse) => void;
}

const CONNECTION = Symbol('jetstream.connection');
/** How long a socket the server closes may take to finish the close handshake. */
const CLOSE_GRACE_MS = 1000;
type TaggedSocket = WebSocket & { [CONNECTION]: WebsocketConnection };

// Shared listeners (`this` is the ws socket): no closures per connection.
function onWsMessage(this: WebSocket, data: RawData, isBinary: boolean): void {
  const conn = (this as TaggedSocket)[CONNECTION];
  const stats = conn._stats;
  if (stats !== null) stats.framesIn++;
  // ws hands text frames as Buffers too; the codec decodes UTF-8 either way.
  conn._handler?.onMessage(conn, isBinary || !Buffer.isBuffer(data) ? toBytes(data) : data.toString('utf8'));
}
function onWsClose(this: WebSocket, code: number, reason: Buffer): void {
  const conn = (this as TaggedSocket)[CONNECTION];
  conn._handler?.onClose(conn, code, reason.toString());
}
// Socket errors (resets, protocol violations) end in 'close'; without a listener ws would throw.
function onWsError(): void {}

class WebsocketConnection implements Connection {
  readonly params: Record<string, string>;
  headers: Record<string, string | string[] | undefined>;
  readonly remoteAddress: string | undefined;
  /** @internal */ _handler: ConnectionHandler | null = null;
  /** @internal The transport's counts, when its server keeps metrics. */
  readonly _stats: TransportStats | null;

  readonly #ws: WebSocket;

  constructor(ws: WebSocket, req: IncomingMessage, stats: TransportStats | null, live: Set<Socket> | null) {
    this.#ws = ws;
    this._stats = stats;
    // Bytes are the socket's own counts (headers and framing included), read when the metrics
    // are scraped and added up when the socket closes: nothing to count per frame.
    if (stats !== null && live !== null) {
      const socket = req.socket;
      live.add(socket);
      socket.once('close', () => {
        live.delete(socket);
        stats.bytesIn += socket.bytesRead;
        stats.bytesOut += socket.bytesWritten;
      });
    }
    this.headers = req.headers;
    this.params = connectionParams(req.headers, req.url);
    this.remoteAddress = req.socket.remoteAddress;
    (ws as TaggedSocket)[CONNECTION] = this;
    ws.on('message', onWsMessage);
    ws.on('close', onWsClose);
    ws.on('error', onWsError);
  }

  get isOpen(): boolean {
    return this.#ws.readyState === this.#ws.OPEN;
  }

  get bufferedAmount(): number {
    return this.#ws.bufferedAmount;
  }

  setHandler(handler: ConnectionHandler | null): void {
    this._handler = handler;
  }

  pauseReading(): void {
    this.#ws.pause();
  }

  resumeReading(): void {
    this.#ws.resume();
  }

  releaseHandshake(): void {
    this.headers = {};
  }

  send(frame: string): void {
    if (this.#ws.readyState !== this.#ws.OPEN) return;
    const stats = this._stats;
    if (stats !== null) stats.framesOut++;
    this.#ws.send(frame);
  }

  close(code: number, reason?: string): void {
    const ws = this.#ws;
    if (ws.readyState === ws.OPEN || ws.readyState === ws.CONNECTING) {
      ws.close(code, reason);
      // Until the client answers the close frame, ws keeps reading (and parsing) whatever the
      // client sends: a flooding client closed for a limit would keep costing CPU for ws's whole
      // close timeout (30 s). Give the handshake a short grace period, then cut the socket.
      const cut = setTimeout(() => ws.terminate(), CLOSE_GRACE_MS);
      cut.unref?.();
      ws.once('close', () => clearTimeout(cut));
    }
  }
}

function toBytes(data: RawData): Uint8Array {
  if (Array.isArray(data)) return Buffer.concat(data);
  return data instanceof ArrayBuffer ? new Uint8Array(data) : data;
}

export class WebsocketTransport implements Transport {
  #wss: WebSocketServer | null = null;
  /** The HTTP server this transport made for `requestHandler` (ws makes its own otherwise). */
  #http: HttpServer | null = null;
  /** Frames and bytes in and out, once enableStats() was called (the server's metrics do). */
  stats: TransportStats | null = null;
  /** Open sockets, while stats are kept: their bytes so far. */
  #live: Set<Socket> | null = null;

  constructor(readonly options: WebsocketTransportOptions) {
    const hasPort = options.port !== undefined;
    const hasServer = options.server !== undefined;
    if (hasPort === hasServer)
      throw new TypeError('WebsocketTransport requires exactly one of port or server');
    if (hasPort && (!Number.isInteger(options.port) || options.port! < 0 || options.port! > 65535)) {
      throw new TypeError(`Invalid port: ${String(options.port)}`);
    }
    if (hasServer && options.requestHandler)
      throw new TypeError(
        'WebsocketTransport: requestHandler needs port (the given server answers its own requests)',
      );
  }

  /** The original API: `WebsocketTransport.configure({port})`, handed to the server's `transports`. */
  static configure(options: WebsocketTransportOptions): WebsocketTransport {
    return new WebsocketTransport(options);
  }

  listen(onConnection: (connection: Connection) => void): Promise<void> {
    const { port, host, server, path } = this.options;
    const maxPayload = this.options.maxPayload ?? 1024 * 1024 + 1024;
    const handler = this.options.requestHandler;
    return new Promise((resolve, reject) => {
      if (handler) {
        const http = createHttpServer(handler);
        this.#http = http;
        http.once('error', reject);
        http.listen(port, host, () => {
          http.off('error', reject);
          resolve();
        });
      }
      const attachTo = server ?? this.#http;
      const wss = attachTo
        ? new WebSocketServer({ server: attachTo, path, maxPayload })
        : new WebSocketServer({ port, host, path, maxPayload }, () => resolve());
      this.#wss = wss;
      wss.on('connection', (ws, req) =>
        onConnection(new WebsocketConnection(ws, req, this.stats, this.#live)),
      );
      wss.on('error', reject);
      if (server) resolve();
    });
  }

  /** Starts counting frames and bytes (before listen: connections made earlier are not counted). */
  enableStats(): TransportStats {
    if (this.stats === null) {
      const live = new Set<Socket>();
      this.#live = live;
      this.stats = transportStats();
      this.stats.live = () => {
        let bytesIn = 0;
        let bytesOut = 0;
        for (const s of live) {
          bytesIn += s.bytesRead;
          bytesOut += s.bytesWritten;
        }
        return { bytesIn, bytesOut };
      };
    }
    return this.stats;
  }

  /** The bound port (after listen). */
  get port(): number | undefined {
    const wss = this.#wss;
    if (!wss) return undefined;
    const http = this.options.server ?? this.#http;
    if (http) return (http.address() as AddressInfo | null)?.port;
    return (wss.address() as AddressInfo).port;
  }

  /**
   * Stops accepting connections, closes the open sockets with 1001 (going away) and gives their
   * close handshakes up to a second before cutting the rest: a client still writing then sees a
   * clean 1001, the cue to reconnect elsewhere, rather than 1006.
   */
  async close(): Promise<void> {
    const wss = this.#wss;
    this.#wss = null;
    if (!wss) return;
    // ws calls back once its own HTTP server (if any) has no connection left.
    const stopped = new Promise<void>((resolve) => wss.close(() => resolve()));
    const open = [...wss.clients].filter((ws) => ws.readyState !== ws.CLOSED);
    const handshakes = open.map((ws) => {
      if (ws.readyState === ws.OPEN) ws.close(1001, 'Server shutting down');
      return new Promise<void>((resolve) => ws.once('close', () => resolve()));
    });
    let grace: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      Promise.all(handshakes),
      new Promise<void>((resolve) => {
        grace = setTimeout(resolve, CLOSE_GRACE_MS);
      }),
    ]);
    clearTimeout(grace);
    for (const ws of wss.clients) ws.terminate();
    await stopped;
    const http = this.#http;
    this.#http = null;
    if (http) {
      // Like ws's own server: stop listening, and drop idle keep-alive connections of the page.
      const closed = new Promise<void>((resolve) => http.close(() => resolve()));
      http.closeAllConnections();
      await closed;
    }
  }
}
