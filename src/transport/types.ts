import type { Emitter } from '../util/emitter.js';

/** Raw inbound frame data: text, or binary decoded as UTF-8 by the codec. */
export type InboundData = string | Uint8Array | ArrayBuffer;

export interface ConnectionEvents {
  message: (data: InboundData) => void;
  close: (code: number, reason: string) => void;
  // biome-ignore lint/suspicious/noExplicitAny: open-ended for transport-specific events
  [event: string]: (...args: any[]) => unknown;
}

/**
 * One client socket, as a transport hands it to the server. The server never touches the
 * underlying socket: everything goes through this interface, which a transport implements.
 */
export interface Connection extends Emitter<ConnectionEvents> {
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
  /** Frees what only the handshake needed (the request headers). */
  releaseHandshake(): void;
  readonly remoteAddress: string | undefined;
  readonly isOpen: boolean;
  /** Sends one text frame. A no-op once closed. */
  send(frame: string): void;
  /** Closes with a WebSocket close code; `reason` must fit 123 bytes. */
  close(code: number, reason?: string): void;
}

/** A source of connections: the WebSocket transport, the in-memory one, or your own. */
export interface Transport {
  /** Starts accepting; `onConnection` is called once per new socket. */
  listen(onConnection: (connection: Connection) => void): Promise<void>;
  /** Stops accepting and closes every socket. */
  close(): Promise<void>;
}
