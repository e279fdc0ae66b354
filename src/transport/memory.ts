// An in-memory transport for tests and embedding: no sockets, same semantics. Frames are
// delivered asynchronously (next macrotask), as a socket would.
import { Emitter } from '../util/emitter.js';
import { connectionParams } from './params.js';
import type { Connection, ConnectionHandler, InboundData, Transport } from './types.js';

const OPEN = 1;
const CLOSED = 3;

const later: (fn: () => void) => void = (fn) => setImmediate(fn);

/** The client end of an in-memory connection: a tiny WebSocket look-alike. */
export class MemorySocket extends Emitter<{
  message: (data: string) => void;
  close: (code: number, reason: string) => void;
}> {
  readyState = OPEN;
  /** @internal */ _peer!: MemoryConnection;

  send(data: string): void {
    if (this.readyState !== OPEN) return;
    const peer = this._peer;
    // Sent while open: delivered even if a close follows at once (as a socket delivers the data
    // frames before the close frame).
    later(() => peer._receive(data));
  }

  close(code = 1000, reason = ''): void {
    if (this.readyState !== OPEN) return;
    this.readyState = CLOSED;
    this._peer._closed(code, reason, false);
    later(() => this.emit('close', code, reason));
  }
}

class MemoryConnection implements Connection {
  readonly params: Record<string, string>;
  readonly remoteAddress = 'memory';
  #open = true;
  #handler: ConnectionHandler | null = null;
  readonly #socket: MemorySocket;
  /** @internal The transport's bookkeeping. */
  _onClosed: (() => void) | null = null;

  constructor(
    public headers: Record<string, string | string[] | undefined>,
    url: string,
    socket: MemorySocket,
  ) {
    this.#socket = socket;
    // Header names lowercased, as Node's HTTP server hands them to the WebSocket transport.
    this.headers = Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v]));
    this.params = connectionParams(this.headers, url);
  }

  setHandler(handler: ConnectionHandler | null): void {
    this.#handler = handler;
  }

  get isOpen(): boolean {
    return this.#open;
  }

  releaseHandshake(): void {
    this.headers = {};
  }

  send(frame: string): void {
    if (!this.#open) return;
    const socket = this.#socket;
    later(() => socket.emit('message', frame)); // sent while open: delivered before any close
  }

  close(code: number, reason = ''): void {
    if (!this.#open) return;
    this._closed(code, reason, true);
  }

  /** @internal */
  _closed(code: number, reason: string, fromServer: boolean): void {
    if (!this.#open) return;
    this.#open = false;
    if (fromServer) {
      const socket = this.#socket;
      socket.readyState = CLOSED;
      later(() => socket.emit('close', code, reason));
    }
    this._onClosed?.();
    later(() => this.#handler?.onClose(this, code, reason));
  }

  /** @internal A frame from the client end (tests also send binary frames through it). */
  _receive(data: InboundData): void {
    this.#handler?.onMessage(this, data);
  }
}

export class MemoryTransport implements Transport {
  #onConnection: ((c: Connection) => void) | null = null;
  #connections = new Set<MemoryConnection>();

  listen(onConnection: (connection: Connection) => void): Promise<void> {
    this.#onConnection = onConnection;
    return Promise.resolve();
  }

  /** Opens a client socket; `url` may carry `?x-jetstream-…` query parameters. */
  connect(options: { headers?: Record<string, string>; url?: string } = {}): MemorySocket {
    if (!this.#onConnection) throw new Error('MemoryTransport is not listening');
    const socket = new MemorySocket();
    const conn = new MemoryConnection(options.headers ?? {}, options.url ?? '/', socket);
    socket._peer = conn;
    this.#connections.add(conn);
    conn._onClosed = () => this.#connections.delete(conn);
    this.#onConnection(conn);
    return socket;
  }

  close(): Promise<void> {
    for (const c of this.#connections) c.close(1001, 'Server closing');
    this.#onConnection = null;
    return Promise.resolve();
  }
}
