/** Raw inbound frame data: text, or binary decoded as UTF-8 by the codec. */
export type InboundData = string | Uint8Array | ArrayBuffer;

/**
 * Receives a connection's frames and its close. One handler at a time: the server's handshake,
 * then the session. An object with methods rather than event listeners, so that a live session
 * costs no closure or listener list per socket (memory per idle session matters at 10,000s).
 */
export interface ConnectionHandler {
  onMessage(connection: Connection, data: InboundData): void;
  onClose(connection: Connection, code: number, reason: string): void;
}

/**
 * One client socket, as a transport hands it to the server. The server never touches the
 * underlying socket: everything goes through this interface, which a transport implements.
 */
export interface Connection {
  /**
   * Connection parameters: every upgrade header and query key starting (case-insensitively)
   * with `x-jetstream-`, prefix removed (header names lowercased, query keys as sent).
   */
  readonly params: Record<string, string>;
  /**
   * Every request header, lowercased names, for `connection` hooks doing auth. Emptied by
   * releaseHandshake() once a session is attached: a live session should not pay for them.
   */
  readonly headers: Record<string, string | string[] | undefined>;
  readonly remoteAddress: string | undefined;
  readonly isOpen: boolean;
  /**
   * Bytes handed to `send` and not yet written to the network. The server stops writing to a
   * connection above its high-water mark (backpressure). A transport that cannot tell leaves it
   * undefined (taken as 0).
   */
  readonly bufferedAmount?: number;
  /**
   * Stops reading from the network until resumeReading (the client's writes then wait in its
   * socket): how the server throttles a client over its message rate. Optional: without it, such
   * a client is closed instead.
   */
  pauseReading?(): void;
  resumeReading?(): void;
  /** Where frames and the close go from now on; null drops them. */
  setHandler(handler: ConnectionHandler | null): void;
  /** Sends one text frame. A no-op once closed. */
  send(frame: string): void;
  /** Closes with a WebSocket close code; `reason` must fit 123 bytes. */
  close(code: number, reason?: string): void;
  /** Frees what only the handshake needed (the request headers). */
  releaseHandshake(): void;
}

/** A source of connections: the WebSocket transport, the in-memory one, or your own. */
export interface Transport {
  /** Starts accepting; `onConnection` is called once per new socket. */
  listen(onConnection: (connection: Connection) => void): Promise<void>;
  /** Stops accepting and closes every socket. */
  close(): Promise<void>;
  /**
   * Optional: starts counting the frames and bytes of every connection made from now on, into
   * the object returned (the server's metrics read it when scraped).
   */
  enableStats?(): TransportStats;
}

/**
 * Frames and bytes a transport moved, all its connections together. `bytesIn`/`bytesOut` count
 * the connections already closed; `live()`, when present, adds the open ones (read when asked,
 * so that counting bytes costs nothing per frame).
 */
export interface TransportStats {
  framesIn: number;
  bytesIn: number;
  framesOut: number;
  bytesOut: number;
  live?: () => { bytesIn: number; bytesOut: number };
}

export function transportStats(): TransportStats {
  return { framesIn: 0, bytesIn: 0, framesOut: 0, bytesOut: 0 };
}
