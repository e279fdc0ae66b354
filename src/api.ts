// The package's public names: exactly what `import {…} from 'jetstream'` and the properties of
// `require('jetstream')` offer (index.ts attaches every value here to the callable). Anything not
// listed is internal, importable only by the package itself. test/api.test.ts checks both entry
// points against this list.

// Errors (docs/errors.md).
export {
  DefinitionError,
  ErrorCode,
  type ErrorCodeName,
  ErrorType,
  type ErrorTypeName,
  JetstreamError,
  MissingDependencyError,
  OutcomeUnknownError,
  QueryError,
  ScopeError,
  SyncError,
  ValidationError,
  type WireError,
} from './errors.js';
// Operations (docs/operations.md).
export { Inspector, type InspectorOptions } from './inspector/inspector.js';
// Models (docs/server.md, README).
export { Collection } from './model/collection.js';
export {
  defineModel,
  type Instance,
  type ModelInit,
  type PropertySpec,
  type Schema,
  type TypedModelClass,
} from './model/define.js';
export { type Enumeration, enumeration } from './model/enumeration.js';
export { type DynamicModelObject, type ModelClass, ModelObject, model } from './model/model-object.js';
export type { OpenScopeOptions } from './persistence/types.js';
// Procedures (docs/procedures.md).
export {
  ArrayPropertyConstraint,
  arrayPropertyConstraint,
  type ConstraintSpec,
  constraint,
  HasNewValuePropertyConstraint,
  hasNewValuePropertyConstraint,
} from './procedures/constraints.js';
export { ExpressionError, expr } from './procedures/expression.js';
export { DownstreamError, type HttpRemoteOptions } from './procedures/http.js';
export {
  defineProcedure,
  getProcedure,
  type ProcedureOptions,
  type RemoteOptions,
  registerRemoteProcedureType,
  SyncProcedure,
} from './procedures/procedure.js';
export type {
  ProcedureResult,
  ProcedureUpdate,
  RemoteOutcome,
  RemoteProcedure,
  RemoteProcedureType,
  RemoteTypeOptions,
} from './procedures/types.js';
export type { ProtocolLimits } from './protocol/codec.js';
export type { Fragment } from './protocol/messages.js';
// Scopes.
export { Scope, type ScopeEvents, type ScopeOptions, scope } from './scope/scope.js';
export type { AppliedFragment, ChangeContext, ChangesetResult } from './scope/types.js';
export type { QueryResult, UpdateOptions, UpdateQuery, UpdateSpec } from './scope/update.js';
// The server (docs/server.md).
export type {
  ChangesetInfo,
  ChangesetReport,
  ConnectionHook,
  FetchCallback,
  FetchGrant,
  FetchHook,
  HookCallback,
  ServerEvents,
  SessionEvents,
  SessionHook,
  SessionHookWithConnection,
  SyncHook,
} from './server/events.js';
export type { Clock, ClusterOption, RedisClient, ServerOptions } from './server/options.js';
export type { PresenceOptions } from './server/presence.js';
export { handleProbe } from './server/probes.js'; // docs/operations.md
export { createServer, IncomingConnection, type Readiness, Server } from './server/server.js';
export { Session } from './server/session.js';
// Stores (docs/persistence.md).
export { StoreConflictError, StoreError } from './store/errors.js';
export { createStore, type StoreFromEnvOptions, type StoreOptions, storeFromEnv } from './store/factory.js';
export { MemoryStore, type MemoryStoreOptions } from './store/memory.js';
export { PostgresStore, type PostgresStoreOptions } from './store/postgres.js';
export { SqliteStore, type SqliteStoreOptions } from './store/sqlite.js';
export type { Store, StoreKind } from './store/types.js';
// Transports.
export { MemoryTransport } from './transport/memory.js';
export type { Connection, Transport } from './transport/types.js';
export { WebsocketTransport } from './transport/websocket.js';
export { type Logger, silentLogger } from './util/logger.js';
