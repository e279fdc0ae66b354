// transport/: the Transport and Connection interfaces and their two implementations,
// WebSocket (ws) and in-memory. Knows nothing of sessions or scopes: it moves frames.
export { MemorySocket, MemoryTransport } from './memory.js';
export { connectionParams } from './params.js';
export type { Connection, ConnectionHandler, InboundData, Transport } from './types.js';
export { WebsocketTransport, type WebsocketTransportOptions } from './websocket.js';
