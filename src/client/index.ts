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
export { DEFAULT_CONNECT_TIMEOUT } from './connect-timeout.js';
export type { FetchedScope } from './fetched-scope.js';
export { FileOfflineStore, type FileOfflineStoreOptions, type FileStoreFs } from './file-store.js';
export { IndexedDBOfflineStore, type IndexedDBOfflineStoreOptions } from './indexeddb-store.js';
export type { OfflineOptions } from './offline.js';
export {
  MemoryOfflineStore,
  type OfflineChangeset,
  type OfflineClaim,
  type OfflineRecord,
  type OfflineScope,
  type OfflineSession,
  type OfflineState,
  type OfflineStore,
} from './offline-store.js';
export {
  type PresenceEvents,
  type PresencePeer,
  type PresenceState,
  ScopePresence,
} from './presence.js';
export { SchemaMismatchError } from './schema-check.js';
export {
  type ChangeSource,
  ClientScope,
  type ClientScopeEvents,
  type FragmentOutcome,
  type ScopeHost,
  type SyncOptions,
  type SyncResult,
} from './scope.js';
export { UndoManager, type UndoManagerEvents, type UndoManagerOptions } from './undo.js';
