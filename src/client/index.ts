// jetstream/client — the client SDK: connect to a Jetstream server, fetch scopes as live trees
// of model objects, edit them optimistically. Browser-safe: no Node built-ins (the WebSocket
// comes from the browser, or is passed in from the `ws` package in Node).

export { ErrorCode, ErrorType, JetstreamError, type WireError } from '../errors.js';
export {
  Collection,
  defineModel,
  type Enumeration,
  enumeration,
  type ModelClass,
  ModelObject,
  model,
} from '../model/index.js';
export {
  Client,
  type ClientEvents,
  type ConnectionState,
  type ConnectOptions,
  connect,
  JetstreamClientError,
  type SyncStatus,
  type WebSocketConstructor,
  type WebSocketLike,
} from './client.js';
export {
  type ChangeSource,
  ClientScope,
  type ClientScopeEvents,
  type FragmentOutcome,
  type ScopeHost,
  type SyncOptions,
  type SyncResult,
} from './scope.js';
